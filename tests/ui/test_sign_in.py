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


def test_two_factor_sign_in_asks_for_the_code_and_an_admin_change_counts_at_once(demo_db, monkeypatch):
    """Password, then the authenticator code; a wrong code is refused; a role change an admin makes while the user
    is signed in applies on the next page load; a deactivated user is signed out."""
    import time

    import pyotp
    from sqlmodel import select

    from core.auth import Actor, enable_totp, set_role
    from core.db import make_engine, session_scope
    from core.models import User

    monkeypatch.setenv("PORTAL_SECRET", "sign-in-challenge-secret-0123456789abcdef")
    _admin()
    secret = pyotp.random_base32()
    engine = make_engine()
    with session_scope(engine) as s:
        enable_totp(s, Actor("jane", "admin"), secret=secret, code=pyotp.TOTP(secret).at(time.time() - 30))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at.text_input[0].input("jane")
    at.text_input[1].input("correct horse battery")
    at.button[0].click().run()
    assert "actor" not in at.session_state
    [code] = [t for t in at.text_input if t.label == "Code from your authenticator app"]
    code.input("000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert "not right" in " ".join(e.value for e in at.error) and "actor" not in at.session_state
    [code] = [t for t in at.text_input if t.label == "Code from your authenticator app"]
    code.input(pyotp.TOTP(secret).now())
    next(b for b in at.button if b.label == "Sign in").click().run()
    assert at.session_state["actor"].username == "jane" and "Overview" in texts(at)
    with session_scope(engine) as s:
        from core.auth import create_user

        create_user(s, Actor("jane", "admin"), username="kim", password="correct horse battery", role="finance")
    def load_as_kim_signed_in_as_finance() -> AppTest:
        """A page load by kim's browser session, which signed in while kim was finance."""
        kim = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        kim.session_state["actor"] = Actor("kim", "finance")
        return kim.run()

    with session_scope(engine) as s:
        set_role(s, Actor("jane", "admin"), username="kim", role="viewer")
    kim = load_as_kim_signed_in_as_finance()
    assert kim.session_state["actor"].role == "viewer" and "Viewer" in texts(kim)
    with session_scope(engine) as s:
        s.exec(select(User).where(User.username == "kim")).one().active = False
    kim = load_as_kim_signed_in_as_finance()
    assert "actor" not in kim.session_state and "sign in to continue" in texts(kim).lower()
    engine.dispose()
