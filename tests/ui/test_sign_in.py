"""The gate: first start creates the admin (no default password); sign-in; nothing is reachable signed out."""
from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.ui.conftest import APP, TIMEOUT, texts


@pytest.fixture
def empty_db(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def test_first_start_asks_for_the_admin_then_signs_in(empty_db):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert "Welcome to Counting House" in texts(at)
    assert "no default password" in texts(at)
    at.text_input[0].input("jane")
    at.text_input[2].input("short")
    at.text_input[3].input("short")
    at.button[0].click().run()
    assert "at least 10 characters" in " ".join(e.value for e in at.error)
    at.text_input[2].input("correct horse battery")
    at.text_input[3].input("correct horse battery")
    at.button[0].click().run()
    assert at.session_state["actor"].username == "jane"
    assert "Overview" in texts(at)


def _admin() -> None:
    from core.auth import create_first_admin
    from core.db import make_engine, session_scope

    engine = make_engine()
    with session_scope(engine) as s:
        create_first_admin(s, username="jane", password="correct horse battery")
    engine.dispose()


def test_signed_out_visitor_sees_only_the_sign_in_form(demo_db):
    _admin()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert "sign in to continue" in texts(at).lower()
    # no page of the app is offered (Streamlit would otherwise list every file in pages/)
    with pytest.raises(Exception):
        at.switch_page("pages/invoices.py").run()


def test_wrong_password_is_refused_with_a_plain_message(demo_db):
    _admin()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at.text_input[0].input("jane")
    at.text_input[1].input("nope")
    at.button[0].click().run()
    assert "unknown username or wrong password" in " ".join(e.value for e in at.error)
    assert "actor" not in at.session_state
    at.text_input[1].input("correct horse battery")
    at.button[0].click().run()
    assert at.session_state["actor"].role == "admin"
