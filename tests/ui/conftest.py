"""Fixtures for the page tests (streamlit.testing.v1.AppTest).

``demo_db``   a temp-file SQLite database holding the demo pilot (seeded once per run into a template,
              copied per test), set as DATABASE_URL, with Streamlit's cached engine cleared around the test.
``open_page`` runs app.py for a signed-in user of a role and switches to a page file; the sign-in form is
              bypassed by putting the Actor into session state, as a successful sign-in does.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
ROLES = ("admin", "finance", "ops", "sales", "viewer")
TIMEOUT = 60


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from core.auth import SYSTEM
    from core.db import make_engine, session_scope, upgrade
    from core.demo import seed_demo

    path = tmp_path_factory.mktemp("ui-demo") / "demo.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
        with session_scope(engine) as s:
            seed_demo(s, SYSTEM)
    finally:
        engine.dispose()  # closing the last connection checkpoints the WAL into the file we copy
    return path


@pytest.fixture
def demo_db(_demo_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "app.db"
    shutil.copyfile(_demo_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("DATABASE_URL", url)
    st.cache_resource.clear()
    yield url
    st.cache_resource.clear()


@pytest.fixture
def open_page(demo_db: str):
    def _open(page: str | None, role: str = "admin", username: str | None = None) -> AppTest:
        from core.auth import Actor

        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        at.session_state["actor"] = Actor(username or f"{role}-user", role)
        at.run()
        if page:
            at.switch_page(page)
            at.run()
        return at

    return _open


def texts(at: AppTest) -> str:
    """Everything a user reads on the page (markdown, captions, alerts, titles), as one string."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "success", "warning", "error",
                 "toast"):
        parts.extend(str(el.value) for el in getattr(at, kind))
    return "\n".join(parts)


def in_db(url: str, fn):  # noqa: ANN001, ANN201
    """fn(session) on the page's database, in a transaction of its own (committed), with an engine of its own."""
    from core.db import make_engine, session_scope

    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            return fn(s)
    finally:
        engine.dispose()
