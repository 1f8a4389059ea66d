"""Users and Audit log pages: an admin adds a colleague (who can then sign in), changes a role, and finds both
changes in the audit log; other roles see the list but no way to change it, and never a password."""
from __future__ import annotations

import pytest

from core.auth import authenticate
from core.db import make_engine, session_scope
from core.errors import UserError
from tests.ui.conftest import texts

USERS = "pages/users.py"
AUDIT = "pages/audit.py"
PASSWORD = "correct horse battery"


def _sign_in(url: str, username: str, password: str):
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            return authenticate(s, username=username, password=password)
    finally:
        engine.dispose()


def _fill(at, label: str, value: str) -> None:
    next(w for w in at.text_input if w.label.startswith(label)).input(value)


def _press(at, label: str):
    return next(b for b in at.button if b.label == label).click().run()


def test_admin_adds_a_user_who_can_then_sign_in(open_page, demo_db):
    at = open_page(USERS, role="admin", username="admin")
    assert not at.exception
    assert "nobody — not even an admin — can see them" in texts(at)

    _fill(at, "Username", "Jane")
    _fill(at, "Full name", "Jane Doe")
    next(s for s in at.selectbox if s.label == "Role").set_value("finance")
    _fill(at, "Password", PASSWORD)
    _fill(at, "Repeat the password", PASSWORD + "x")
    _press(at, "Add the user")
    assert "The two passwords differ; type the same password twice." in [e.value for e in at.error]
    with pytest.raises(UserError):
        _sign_in(demo_db, "jane", PASSWORD)

    _fill(at, "Repeat the password", PASSWORD)
    _press(at, "Add the user")
    assert not at.exception
    assert "User jane added as Finance." in texts(at)
    table = at.dataframe[0].value
    jane = table[table["Username"] == "jane"].iloc[0]
    assert jane["Full name"] == "Jane Doe"
    assert jane["Role"].startswith("Finance — ")
    assert not any(PASSWORD in str(v) or "argon2" in str(v) for v in table.to_numpy().ravel())
    assert _sign_in(demo_db, "jane", PASSWORD).role == "finance"

    next(s for s in at.selectbox if s.label == "User").set_value("jane")
    next(s for s in at.selectbox if s.label == "New role").set_value("viewer")
    _press(at, "Change the role")
    assert "jane is now Viewer." in texts(at)
    assert _sign_in(demo_db, "jane", PASSWORD).role == "viewer"

    at.switch_page(AUDIT).run()
    assert not at.exception
    log = at.dataframe[0].value
    assert list(log["Action"][:2]) == ["User role changed", "User created"]
    assert log["Details"].iloc[0] == "finance → viewer"
    assert log["Details"].iloc[1] == "username: jane · role: finance"
    assert set(log["Who"][:2]) == {"admin"}


def test_a_short_password_is_refused_with_the_reason(open_page):
    at = open_page(USERS, role="admin", username="admin")
    _fill(at, "Username", "sam")
    _fill(at, "Password", "short")
    _fill(at, "Repeat the password", "short")
    _press(at, "Add the user")
    assert any("at least 10 characters" in e.value for e in at.error)
    assert "sam" not in set(at.dataframe[0].value["Username"])


def test_finance_reads_users_but_cannot_change_them(open_page):
    at = open_page(USERS, role="finance")
    assert not at.exception
    assert len(at.dataframe) == 1
    assert not [b for b in at.button if b.label in ("Add the user", "Change the role")]
    assert "Only an admin can add users or change roles." in texts(at)


def test_audit_filters_by_action_and_actor(open_page):
    at = open_page(AUDIT, role="finance")
    assert not at.exception
    everything = at.dataframe[0].value
    assert {"Customers imported", "Usage imported", "Metric created"} <= set(everything["Action"])
    at.selectbox(key="audit_action").set_value("customers.import").run()
    only = at.dataframe[0].value
    assert set(only["Action"]) == {"Customers imported"}
    assert "filename: customers.csv" in only["Details"].iloc[0]
    at.selectbox(key="audit_action").set_value(None)
    at.selectbox(key="audit_actor").set_value("system").run()
    assert set(at.dataframe[0].value["Who"]) == {"system"}
    assert "entries" in texts(at)


def test_admin_deactivates_a_colleague_who_then_cannot_sign_in(open_page, demo_db):
    at = open_page(USERS, role="admin", username="admin")
    _fill(at, "Username", "leaver")
    _fill(at, "Password", PASSWORD)
    _fill(at, "Repeat the password", PASSWORD)
    _press(at, "Add the user")
    assert _sign_in(demo_db, "leaver", PASSWORD).role == "viewer"
    next(s for s in at.selectbox if s.key == "users_active_who").set_value("leaver").run()
    _press(at, "Deactivate")
    assert not at.exception
    assert "leaver can no longer sign in." in texts(at)
    table = at.dataframe[0].value
    assert table[table["Username"] == "leaver"].iloc[0]["Can sign in"] == "no"
    with pytest.raises(UserError):
        _sign_in(demo_db, "leaver", PASSWORD)
    _press(at, "Let them sign in again")
    assert "leaver can sign in again." in texts(at)
    assert _sign_in(demo_db, "leaver", PASSWORD).role == "viewer"
    at.switch_page(AUDIT).run()
    log = at.dataframe[0].value
    assert list(log["Action"][:2]) == ["User may sign in again", "User deactivated"]
    assert log["Details"].iloc[1] == "active → deactivated"
