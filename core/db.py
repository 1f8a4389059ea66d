"""The database: engine from DATABASE_URL (default: a SQLite file under data/), schema via Alembic.

Services never open sessions of their own: callers (a page action, an API request, a CLI command)
open one with :func:`session_scope` so each action is one transaction.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
DEFAULT_URL = f"sqlite:///{DATA_DIR / 'countinghouse.db'}"


_workspace_url: Callable[[], str | None] | None = None


def main_database_url() -> str:
    """The installation's own database: DATABASE_URL, or the SQLite file under data/."""
    return os.environ.get("DATABASE_URL") or DEFAULT_URL


def set_workspace_resolver(resolver: Callable[[], str | None] | None) -> None:
    """The app's hook (ui.state): the database of the workspace the current browser session chose (a demo
    workspace, core.workspaces), or None for the main one. Everything that asks :func:`database_url` during that
    session's script run — the engine, cache keys, background jobs it enqueues — then uses that database."""
    global _workspace_url
    _workspace_url = resolver


def database_url() -> str:
    if _workspace_url is not None and (url := _workspace_url()):
        return url
    return main_database_url()


def make_engine(url: str | None = None) -> Engine:
    url = url or database_url()
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and ":memory:" not in url:
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def _head_revision() -> str | None:
    """The newest revision in migrations/versions, read from the files (no Alembic import needed)."""
    revisions, parents = set(), set()
    for path in (ROOT / "migrations" / "versions").glob("*.py"):
        text = path.read_text()
        rev = re.search(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
        down = re.search(r"^down_revision\s*=\s*(.+)$", text, re.M)
        if rev:
            revisions.add(rev.group(1))
        if down:
            parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (the app does this on start). A database already at
    the head is left alone without loading Alembic, which keeps the app's start fast."""
    head = _head_revision()
    if head is not None and current_revision(engine) == head:
        return
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error (nothing half-written)."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
