"""Signatures of webhook requests: HMAC-SHA256 of ``"{timestamp}.{body}"`` with the endpoint's secret, sent as

    CountingHouse-Signature: t=1764380000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

``t`` is the Unix time of the attempt (a retry is signed again with its own time), ``v1`` the hex digest. A
receiver recomputes the digest over the raw body it received, compares it in constant time and refuses a
timestamp older than a few minutes (a replayed request). :data:`VERIFY_SNIPPET` is the code the page shows."""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time

SIGNATURE_HEADER = "CountingHouse-Signature"
EVENT_ID_HEADER = "CountingHouse-Event-Id"
EVENT_TYPE_HEADER = "CountingHouse-Event-Type"
DELIVERY_HEADER = "CountingHouse-Delivery-Id"
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def header_value(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: int | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """What a receiver does (the same as :data:`VERIFY_SNIPPET`)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((int(time.time()) if now is None else int(now)) - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, v) for k, v in (item.split("=", 1) for item in header.split(","))
               if k == "v1")


VERIFY_SNIPPET = '''\
import hashlib, hmac, json, time

SECRET = "whsec_..."  # the endpoint's signing secret, shown once when it was created or rotated

def verify(raw_body: bytes, signature_header: str, tolerance: int = 300) -> dict:
    """raw_body: the request body exactly as received (before any JSON parsing);
    signature_header: the value of the CountingHouse-Signature header."""
    parts = dict(item.split("=", 1) for item in signature_header.split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        raise ValueError("timestamp too old: possibly a replayed request")
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + raw_body,
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts["v1"]):
        raise ValueError("bad signature: not sent by Counting House, or the wrong secret")
    event = json.loads(raw_body)
    # event["id"] is the same on every retry and replay: skip an id you have already processed
    return event
'''
