"""The demo workspace switch (ui/workspace.py): one click loads a demo into a workspace of its own, the banner says
so in the sidebar and on the page, the pages show the demo's data, the main database is untouched but for the
audit entry, and one click brings you back; a reset starts the demo afresh; who is signed in is always read from
the main database.

AppTest runs app.py (with st.navigation) only on a test app's first run; later runs run the page alone, so the
sidebar's buttons cannot be clicked through app.py. The clicks go through a small script that draws the same sidebar
(``switch``) and shows which database the session reads; the whole app is then opened afresh with the browser
session's state, as a page load does (``reload``), to see the banner and the pages."""
from __future__ import annotations

import pytest
from sqlmodel import func, select
from streamlit.testing.v1 import AppTest

from core.auth import SYSTEM, Actor, create_user
from core.models import AuditLog, Customer, User
from core.workspaces import workspace_path
from tests.ui.conftest import APP, TIMEOUT, in_db, texts

BANNER = "DEMO — Logistics — not your real data"


@pytest.fixture(autouse=True)
def _workspaces(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSPACES_DIR", str(tmp_path / "workspaces"))


def _counts(s):  # noqa: ANN001, ANN202
    return (s.exec(select(func.count()).select_from(Customer)).one(),
            s.exec(select(func.count()).select_from(AuditLog)).one())


def _switch_script() -> None:
    """The sidebar of app.py (ui.workspace.sidebar), and what the session's database holds."""
    import streamlit as st
    from sqlmodel import select

    from core.models import Customer
    from ui.state import session
    from ui.workspace import sidebar

    sidebar(st.session_state["actor"])
    with session() as s:
        st.write("customers: " + ", ".join(sorted(s.exec(select(Customer.external_id)).all())))


def switch(role: str = "sales", username: str | None = None) -> AppTest:
    at = AppTest.from_function(_switch_script, default_timeout=TIMEOUT)
    at.session_state["actor"] = Actor(username or f"{role}-user", role)
    at.run()
    assert not at.exception
    return at


def _load(at, key: str = "logistics"):  # noqa: ANN001, ANN202
    at.selectbox(key="workspace_pick").set_value(key)
    at.button(key="workspace_load").click().run()
    assert not at.exception
    return at


def shown_customers(at) -> str:  # noqa: ANN001
    return next(str(m.value) for m in at.markdown if str(m.value).startswith("customers: "))


def reload(at, page: str | None = None) -> AppTest:  # noqa: ANN001
    """The same browser session, the page loaded again (its sidebar in the tree)."""
    fresh = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key in ("actor", "workspace"):
        if key in at.session_state:
            fresh.session_state[key] = at.session_state[key]
    fresh.run()
    if page:
        fresh.switch_page(page)
        fresh.run()
    assert not fresh.exception
    return fresh


def _sidebar_warnings(at) -> str:  # noqa: ANN001
    return "\n".join(str(w.value) for w in at.sidebar.warning)


def _customer_ids(at, page: str = "pages/customers.py") -> set[str]:  # noqa: ANN001
    at.switch_page(page)
    at.run()
    assert not at.exception
    return set(at.dataframe[0].value["Customer id"])


def test_load_a_demo_see_it_and_come_back(open_page, demo_db):
    customers_before, audit_before = in_db(demo_db, _counts)
    at = switch()
    assert "ACME-001" in shown_customers(at)
    assert at.button(key="workspace_load").label == "Load the demo"
    _load(at)
    assert at.session_state["workspace"] == "logistics"
    assert "HOLLANDIA-001" in shown_customers(at) and "ACME-001" not in shown_customers(at)
    assert BANNER in _sidebar_warnings(at)
    assert any(BANNER in str(h.proto.body) for h in at.get("html"))  # the strip on top of every page
    assert "The Logistics demo (Meridian Freight Cloud B.V.) is loaded." in [str(t.value) for t in at.toast]
    # the real data: not a row more, but the audit entry of the load
    assert in_db(demo_db, _counts) == (customers_before, audit_before + 1)
    entry = in_db(demo_db, lambda s: s.exec(select(AuditLog).order_by(AuditLog.id.desc())).first())
    assert (entry.action, entry.actor) == ("workspace.demo_load", "sales-user")
    # the whole app, opened in that browser session: the banner in the sidebar, the demo's customers on the page
    app = reload(at)
    assert BANNER in _sidebar_warnings(app)
    app.switch_page("pages/customers.py")
    app.run()
    ids = set(app.dataframe[0].value["Customer id"])
    assert "HOLLANDIA-001" in ids and "ACME-001" not in ids and "15 customers" in texts(app)

    at.button(key="workspace_leave").click().run()
    assert not at.exception and "workspace" not in at.session_state
    assert "ACME-001" in shown_customers(at) and BANNER not in _sidebar_warnings(at)
    assert "You are back in your real data." in [str(t.value) for t in at.toast]
    app = reload(at)
    assert BANNER not in _sidebar_warnings(app) and app.button(key="workspace_load")


def test_a_reset_throws_away_what_was_done_in_the_demo(demo_db):
    at = _load(switch("admin"))
    demo_url = f"sqlite:///{workspace_path('logistics')}"
    in_db(demo_url, lambda s: s.add(Customer(external_id="TRIED-IT", name="Tried it", entity_id=1)))
    at.run()
    assert "TRIED-IT" in shown_customers(at)
    at.button(key="workspace_reset").click().run()  # asks first
    assert "is thrown away" in texts(at) and "TRIED-IT" in shown_customers(at)
    at.button(key="workspace_reset_confirm_yes").click().run()
    assert not at.exception
    assert at.session_state["workspace"] == "logistics" and BANNER in _sidebar_warnings(at)
    assert "TRIED-IT" not in shown_customers(at) and "HOLLANDIA-001" in shown_customers(at)
    assert in_db(demo_db, lambda s: s.exec(select(AuditLog.action).order_by(AuditLog.id.desc())).first()
                 ) == "workspace.demo_reset"


@pytest.mark.parametrize("role", ["ops", "viewer"])
def test_no_demo_loader_without_pilot_write(open_page, role):
    at = open_page(None, role=role)
    assert not at.exception and at.sidebar.button  # the sidebar is there (Sign out)…
    assert not [b for b in at.button if b.key == "workspace_load"]  # …without the demo loader


def test_who_is_signed_in_is_read_from_the_main_database_in_a_demo(demo_db):
    in_db(demo_db, lambda s: create_user(s, SYSTEM, username="sam", password="a-long-password-9", role="sales"))
    at = _load(switch("sales", "sam"))
    assert at.session_state["workspace"] == "logistics"
    assert in_db(f"sqlite:///{workspace_path('logistics')}",
                 lambda s: s.exec(select(func.count()).select_from(User)).one()) == 0  # no accounts in a demo

    def promote(s):  # noqa: ANN001, ANN202
        s.exec(select(User).where(User.username == "sam")).one().role = "finance"

    in_db(demo_db, promote)
    app = reload(at)
    assert app.session_state["actor"] == Actor("sam", "finance")  # an admin's change counts in the demo too
    assert BANNER in _sidebar_warnings(app)

    def deactivate(s):  # noqa: ANN001, ANN202
        s.exec(select(User).where(User.username == "sam")).one().active = False

    in_db(demo_db, deactivate)
    app = reload(app)
    assert "actor" not in app.session_state and "workspace" not in app.session_state  # signed out, demo left
