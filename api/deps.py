"""What every request needs: the process's engine, a session (one transaction per request) and the caller.

One engine per process and per DATABASE_URL, built on first use (and the schema brought to head, as the app
does). Tests point DATABASE_URL at their own database (monkeypatch) and call :func:`reset_engines` afterwards,
or override :func:`get_engine` through ``app.dependency_overrides``.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from api.errors import ApiError
from core.apikeys import ApiKeyActor, KeyRefused, authenticate_key
from core.db import database_url, make_engine, upgrade

_engines: dict[str, Engine] = {}
_lock = threading.Lock()
bearer = HTTPBearer(auto_error=False, description="An API key made on the API keys page: "
                                                  "`Authorization: Bearer ch_live_…`")


def get_engine() -> Engine:
    url = database_url()
    engine = _engines.get(url)
    if engine is None:
        with _lock:
            engine = _engines.get(url)
            if engine is None:
                engine = make_engine(url)
                upgrade(engine)
                _engines[url] = engine
    return engine


def reset_engines() -> None:
    """Dispose every engine this process built (tests, or after DATABASE_URL changed)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def db_session(engine: Engine = Depends(get_engine)) -> Iterator[Session]:
    """The request's session. The route commits; anything not committed is rolled back on close."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()


def key_actor(session: Session | Connection, secret: str, scope: str) -> ApiKeyActor:
    """The key's actor, or ApiError 401 (unknown/revoked key) / 403 (the key lacks ``scope``)."""
    try:
        actor = authenticate_key(session, secret)
    except KeyRefused as exc:
        raise ApiError(401, "unauthorized", str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
    if not actor.can(scope):
        raise ApiError(403, "forbidden", f"this API key lacks the scope '{scope}'; an admin can create a key "
                                         "with it on the API keys page")
    return actor


def authenticated(scope: str) -> Callable[..., ApiKeyActor]:
    """A dependency: the key's actor, or 401 (missing/invalid/revoked key) / 403 (key lacks ``scope``)."""

    def dependency(credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
                   session: Session = Depends(db_session)) -> ApiKeyActor:
        if credentials is None:
            raise ApiError(401, "unauthorized", "an API key is required: send the header "
                                                "'Authorization: Bearer <key>'",
                           headers={"WWW-Authenticate": "Bearer"})
        return key_actor(session, credentials.credentials, scope)

    dependency.__name__ = f"authenticated_{scope.replace(':', '_')}"
    return dependency
