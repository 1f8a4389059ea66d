"""localstripe (PyPI: a fake but stateful Stripe server) started and stopped by the tests themselves.

:func:`start_localstripe` runs it as a subprocess on a free port of 127.0.0.1, waits until it answers, and
returns a :class:`LocalStripe` (its ``url``, ``stop()``, ``register_webhook()``). The fixtures ``localstripe``
(one server per test session) and ``stripe_env`` (STRIPE_API_KEY / STRIPE_API_BASE / STRIPE_WEBHOOK_SECRET
pointing the app's connector at it) are in tests/connectors/conftest.py; tests/api/test_stripe_webhook.py
imports them from here.

Two deviations from the ``localstripe --port N`` command line, both in :data:`_BOOT`:
- it listens on 127.0.0.1 only (the command binds every interface, IPv4 and IPv6);
- it keeps its state in memory only: the command pickles its whole store to the fixed path
  /tmp/localstripe.pickle after every write, which servers of parallel test runs would share.
Everything else — routes, resources, test cards, webhooks — is localstripe's own code.

localstripe missing (not installed): the tests that need it are skipped with a reason, or fail when the CI
environment variable is set — CI must never pass by skipping Stripe.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import pytest

API_KEY = "sk_test_12345"
WEBHOOK_SECRET = "whsec_test_counting_house"

_BOOT = """
import sys
from aiohttp import web
from localstripe import resources, server
resources.Store.dump_to_disk = lambda self: None   # in memory only (see tests/stripe_server.py)
web.run_app(server.app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
"""


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_localstripe() -> None:
    """Skip (or, on CI, fail) when localstripe is not installed."""
    try:
        import localstripe  # noqa: F401
    except ImportError:
        message = ("localstripe is not installed: no Stripe server to test against "
                   "(`pip install -r requirements.txt` installs it)")
        if _on_ci():
            pytest.fail(f"CI is set but {message}", pytrace=False)
        pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalStripe:
    port: int
    proc: subprocess.Popen
    log_path: str
    api_key: str = API_KEY
    webhook_secret: str = WEBHOOK_SECRET
    webhooks: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as fh:
                return fh.read()[-4000:]
        except OSError:
            return ""

    def _post(self, path: str, data: bytes, method: str = "POST") -> int:
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status

    def register_webhook(self, url: str, *, secret: str | None = None, events: list[str] | None = None,
                         name: str = "countinghouse") -> None:
        """localstripe's own route: POST /_config/webhooks/<name> {url, secret, events}. It then signs and
        posts every event (one second after it happens) to ``url``."""
        import json

        body = {"url": url, "secret": secret or self.webhook_secret}
        if events is not None:
            body["events"] = events
        self._post(f"/_config/webhooks/{name}", json.dumps(body).encode())
        self.webhooks.append(name)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # this process only, by its handle
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        try:
            os.unlink(self.log_path)
        except OSError:
            pass


def _answers(url: str) -> bool:
    req = urllib.request.Request(url + "/v1/balance", headers={"Authorization": f"Bearer {API_KEY}"})
    try:
        with urllib.request.urlopen(req, timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start_localstripe(timeout: float = 30.0) -> LocalStripe:
    """Start localstripe on a free port (three tries: another process may take the port meanwhile)."""
    require_localstripe()
    problems = []
    for _attempt in range(3):
        port = free_port()
        fd, log_path = tempfile.mkstemp(prefix="localstripe-", suffix=".log")
        with os.fdopen(fd, "wb") as log:
            proc = subprocess.Popen([sys.executable, "-c", _BOOT, str(port)], stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=tempfile.gettempdir())
        server = LocalStripe(port=port, proc=proc, log_path=log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(server.url):
                return server
            time.sleep(0.1)
        problems.append(f"port {port}: " + (server.log().strip() or "no answer")[-800:])
        server.stop()
    pytest.fail("localstripe did not start:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def localstripe():
    """One localstripe for the whole test session (tests make their own customers, so they do not collide)."""
    server = start_localstripe()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def stripe_env(localstripe, monkeypatch: pytest.MonkeyPatch) -> LocalStripe:
    """Point the connector (connectors.stripe_gateway, which reads these on every call) at localstripe."""
    monkeypatch.setenv("STRIPE_API_KEY", localstripe.api_key)
    monkeypatch.setenv("STRIPE_API_BASE", localstripe.url)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", localstripe.webhook_secret)
    return localstripe
