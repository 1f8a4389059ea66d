"""A stand-in AvaTax on 127.0.0.1: a threading http.server at a free port serving the recorded responses
in tests/fixtures/avatax/ (AvaTax has no offline server; the client takes a base URL).

Routing, like the real service:
  GET  /api/v2/utilities/ping           ping.json (authenticated false without the right credentials)
  POST /api/v2/transactions/create      401 error_authentication.json  wrong account id / license key
                                        400 error_invalid_address.json  shipTo postal code "00000"
                                        404 error_company_not_found.json  companyCode "NOPE"
                                        503 an HTML page                customerCode "BROKEN"
                                        (answers after 0.5 s)           customerCode "SLOW"
                                        201 transaction_create.json     otherwise
Every answer carries an ``x-correlation-id`` header. Requests are kept (path, headers, exact JSON body).
"""
from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "avatax"
ACCOUNT_ID = "2000123456"
LICENSE_KEY = "1A2B3C4D5E6F7A8B"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict
    body: dict | None


@dataclass
class FakeAvaTax:
    url: str
    account_id: str = ACCOUNT_ID
    license_key: str = LICENSE_KEY
    requests: list[Recorded] = field(default_factory=list)
    correlation_ids: list[str] = field(default_factory=list)


def _handler(state: FakeAvaTax):
    expected = "Basic " + base64.b64encode(f"{ACCOUNT_ID}:{LICENSE_KEY}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _answer(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            cid = str(uuid.uuid4())
            state.correlation_ids.append(cid)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-correlation-id", cid)
            self.end_headers()
            self.wfile.write(body)

        def _fixture(self, status: int, name: str) -> None:
            self._answer(status, (FIXTURES / name).read_bytes())

        def _record(self) -> dict | None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw, parse_float=Decimal) if raw else None
            state.requests.append(Recorded(self.command, self.path, dict(self.headers), body))
            return body

        def do_GET(self):  # noqa: N802
            self._record()
            if self.path != "/api/v2/utilities/ping":
                return self._answer(404, b'{"error": {"code": "EntityNotFoundError", "message": "Not found."}}')
            ping = json.loads((FIXTURES / "ping.json").read_text())
            if self.headers.get("Authorization") != expected:
                ping.update(authenticated=False, authenticationType="None", authenticatedAccountId=0)
            self._answer(200, json.dumps(ping).encode())

        def do_POST(self):  # noqa: N802
            body = self._record() or {}
            if self.path != "/api/v2/transactions/create":
                return self._answer(404, b'{"error": {"code": "EntityNotFoundError", "message": "Not found."}}')
            if self.headers.get("Authorization") != expected:
                return self._fixture(401, "error_authentication.json")
            ship_to = (body.get("addresses") or {}).get("shipTo") or (body.get("addresses") or {}).get(
                "singleLocation") or {}
            if ship_to.get("postalCode") == "00000":
                return self._fixture(400, "error_invalid_address.json")
            if body.get("companyCode") == "NOPE":
                return self._fixture(404, "error_company_not_found.json")
            if body.get("customerCode") == "BROKEN":
                return self._answer(503, b"<html><body>Service Unavailable</body></html>", "text/html")
            if body.get("customerCode") == "SLOW":
                time.sleep(0.5)
            self._fixture(201, "transaction_create.json")

    return Handler


@pytest.fixture
def avatax_server():
    state = FakeAvaTax(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# localstripe (a fake Stripe, from PyPI) for tests/connectors/test_stripe.py: started by the tests themselves
from tests.stripe_server import localstripe, stripe_env  # noqa: E402,F401
