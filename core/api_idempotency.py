"""Idempotency-Key for the REST API's POST requests: a retried request gets the stored answer, never a second
action.

A POST sent with the header ``Idempotency-Key: <value>`` (1 to 255 printable characters, unique per API key —
a UUID is a good choice) is looked up before anything is done:

- not seen (or seen more than :data:`TTL` ago): the action runs and its answer (status, JSON body) is stored with
  the key's id, the header's value, the method and path and a SHA-256 of the request — in the SAME transaction as
  the action, so the answer is stored exactly when the action is;
- seen, same method, path and request: the stored answer is returned as it was (the API adds the header
  ``Idempotent-Replayed: true``); nothing runs again;
- seen with another method, path or request: :class:`IdempotencyMismatch` (the API answers 422) — a key names one
  request, so reusing it for another one is a client bug that must not silently do nothing or do it twice.

Requests that fail (a refused input, a missing permission) store nothing: the client may fix the request and send
it again with the same key. Answers older than :data:`TTL` are dropped: when their key comes again, and now and
then when an answer is stored (:func:`purge`). Two identical requests racing each other: the second one's insert
hits the unique constraint, its transaction is rolled back, and the caller then finds and replays the first one's
answer (:func:`lookup` again after the rollback).
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, select

from core.errors import UserError
from core.models import utcnow
from core.models.api import ApiIdempotency

TTL = timedelta(hours=24)
PURGE_CHANCE = 0.01  # one stored answer in a hundred also deletes the expired ones (see remember)
MAX_KEY_LENGTH = ApiIdempotency.__table__.c.idempotency_key.type.length or 255
MAX_METHOD_PATH = ApiIdempotency.__table__.c.method_path.type.length or 300


class IdempotencyMismatch(UserError):
    """The Idempotency-Key was already used for a different request."""


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: str
    created_at: datetime


def clean_key(value: str | None) -> str | None:
    """The header's value, checked: None when absent; UserError naming the header when unusable."""
    if value is None:
        return None
    key = value.strip()
    if not key:
        raise UserError("Idempotency-Key: the header is empty; send a unique value per request (a UUID) or leave "
                        "the header out")
    if len(key) > MAX_KEY_LENGTH:
        raise UserError(f"Idempotency-Key: {len(key)} characters long; at most {MAX_KEY_LENGTH} are accepted")
    if any(not ch.isprintable() for ch in key):
        raise UserError("Idempotency-Key: only printable characters are accepted (a UUID is a good choice)")
    return key


def request_hash(method_path: str, payload: bytes) -> str:
    """SHA-256 of what was asked: the method, the path and the request's canonical payload."""
    digest = hashlib.sha256()
    digest.update(method_path.encode("utf-8"))
    digest.update(b"\0")
    digest.update(payload)
    return digest.hexdigest()


def lookup(session: Session, *, api_key_id: int, key: str, method_path: str, req_hash: str,
           now: datetime | None = None) -> StoredAnswer | None:
    """The stored answer to replay, None when this key was not used (or its answer expired and is dropped), or
    :class:`IdempotencyMismatch` when it was used for another request."""
    row = session.exec(select(ApiIdempotency).where(ApiIdempotency.api_key_id == api_key_id,
                                                    ApiIdempotency.idempotency_key == key)).first()
    if row is None:
        return None
    now = now or utcnow()
    if row.created_at < now - TTL:
        session.delete(row)
        session.flush()
        return None
    if row.method_path != method_path[:MAX_METHOD_PATH] or row.request_hash != req_hash:
        raise IdempotencyMismatch(
            f"Idempotency-Key: '{key}' was already used on {row.created_at:%d %b %Y %H:%M} UTC for "
            + (f"another request ({row.method_path})" if row.method_path != method_path[:MAX_METHOD_PATH]
               else "the same endpoint with a different body")
            + "; use a new key for a new request (nothing was done)")
    return StoredAnswer(row.status_code, row.response_body, row.created_at)


def remember(session: Session, *, api_key_id: int, key: str, method_path: str, req_hash: str, status_code: int,
             body: str) -> None:
    """Store the answer in the caller's transaction (the one that did the action); the caller commits. A
    concurrent twin makes the flush (or the commit) fail on the unique constraint."""
    if random.random() < PURGE_CHANCE:  # keep the table small without a cron job: now and then, drop expired answers
        purge(session)
    session.add(ApiIdempotency(api_key_id=api_key_id, idempotency_key=key, method_path=method_path[:MAX_METHOD_PATH],
                               request_hash=req_hash, status_code=status_code, response_body=body))
    session.flush()


def purge(session: Session, *, now: datetime | None = None) -> int:
    """Delete the answers older than :data:`TTL`; returns how many (the caller commits)."""
    cutoff = (now or utcnow()) - TTL
    result = session.execute(delete(ApiIdempotency).where(ApiIdempotency.created_at < cutoff))
    return result.rowcount or 0
