"""Fixtures for the API tests: the app on a fresh database (SQLite and PostgreSQL), seeded customers and metrics,
and keys made through core.apikeys.

``api``   a ``TestClient`` of ``api.main.app`` whose engine is built from DATABASE_URL (set to this test's
          ``db_url``); it exposes ``.engine`` for reading the database back, and ``.key(scopes)`` for a secret.
"""
from __future__ import annotations

import warnings
from datetime import datetime, timedelta

import pytest

with warnings.catch_warnings():  # starlette's note about httpx2; the TestClient works as it is
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from core.auth import SYSTEM
from core.db import session_scope
from tests.db import factories


class Api(TestClient):
    engine = None

    def key(self, scopes=("usage:write",), name: str | None = None) -> str:
        from core.apikeys import create_key

        with session_scope(self.engine) as s:
            _key, secret = create_key(s, SYSTEM, name or f"key-{len(scopes)}-{id(scopes)}", list(scopes))
        return secret

    def auth(self, secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def api(db_url: str, monkeypatch: pytest.MonkeyPatch):
    from api import deps
    from api.main import app

    monkeypatch.setenv("DATABASE_URL", db_url)
    deps.reset_engines()
    engine = deps.get_engine()
    with session_scope(engine) as s:
        factories.seller(s)
        for cid in ("acme", "globex"):
            factories.customer(s, cid)
        factories.metric(s, "api_calls", "api_call", "sum")
    client = Api(app)
    client.engine = engine
    try:
        yield client
    finally:
        client.close()
        deps.reset_engines()


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def recent(days: int = 1) -> str:
    return iso(datetime.utcnow().replace(microsecond=0) - timedelta(days=days))
