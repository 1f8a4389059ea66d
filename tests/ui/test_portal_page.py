"""The customer portal (pages/portal.py, core/portal.py) through app.py as a visitor who has not signed in: a valid
portal link shows that one customer's invoices, payments, usage and contracts and nothing of anyone else's; a
tampered, expired, other customer's or invoice-link token shows one message and nothing else; the customer corrects
its billing details (validated, audited as the portal); a staff member without customers:write cannot make links.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from core import portal as portal_core
from core.auth import SYSTEM, Actor
from core.errors import PermissionDenied, UserError
from core.models import AuditLog, Customer, Invoice
from core.portal_links import LinkInvalid, invoice_token
from tests.ui.conftest import APP, TIMEOUT, in_db, texts


@pytest.fixture
def portal_db(demo_db, monkeypatch):
    monkeypatch.setenv("PORTAL_SECRET", "a-secret-for-the-portal-tests-0123456789abc")
    monkeypatch.setenv("APP_BASE_URL", "http://localhost:8501")
    return demo_db


_db = in_db  # fn(session) on the page's database, in a transaction of its own


def _customer_with_history(s):
    """A demo customer with issued invoices, and another one (whose data must never show)."""
    rows = s.exec(select(Invoice.customer_id).where(Invoice.status.in_(("approved", "partially_paid", "paid")))
                  .order_by(Invoice.customer_id)).all()
    ids = sorted(set(rows))
    a, b = s.get(Customer, ids[0]), s.get(Customer, ids[1])
    mine = s.exec(select(Invoice.number).where(Invoice.customer_id == a.id, Invoice.number.is_not(None))).all()
    theirs = s.exec(select(Invoice.number).where(Invoice.customer_id == b.id, Invoice.number.is_not(None))).all()
    return {"id": a.id, "name": a.name, "other_id": b.id, "other": b.name, "mine": sorted(mine),
            "theirs": sorted(theirs), "link": portal_core.create_link(s, SYSTEM, a.id)}


def _visit(token: str | None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if token is not None:
        at.query_params["token"] = token
    at.run()
    at.switch_page("pages/portal.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_portal_link_shows_that_customer_only(portal_db):
    c = _db(portal_db, _customer_with_history)
    assert c["link"].url == f"http://localhost:8501/portal?token={c['link'].token}"
    at = _visit(c["link"].token)
    assert at.title[0].value == f"{c['name']} — billing portal"
    [invoices] = [d for d in at.dataframe if "Invoice" in d.value.columns]
    assert sorted(invoices.value["Invoice"]) == c["mine"]
    shown = texts(at)
    assert c["other"] not in shown and not set(c["theirs"]) & set(invoices.value["Invoice"])
    assert [m.label for m in at.metric] == ["Amount due", "Overdue invoices", "Invoices"]
    assert at.metric[2].value == str(len(c["mine"]))
    [pdf] = at.get("download_button")
    assert "PDF" in pdf.proto.label
    assert not at.sidebar.button and "Sign in" not in shown  # no navigation, no back office
    [log] = _db(portal_db, lambda s: s.exec(select(AuditLog).where(AuditLog.action == "portal.link")).all())
    assert log.actor == "system" and log.entity_id == str(c["id"])


@pytest.mark.parametrize("how", ["tampered", "other customer", "expired", "invoice link", "none"])
def test_a_bad_portal_link_shows_only_a_message(portal_db, how):
    c = _db(portal_db, _customer_with_history)
    cid, stamp, sig = c["link"].token.split(".")
    token = {
        "tampered": f"{cid}.{stamp}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}",
        "other customer": f"c{c['other_id']}.{stamp}.{sig}",
        "expired": portal_core.make_token(c["id"], datetime.now(UTC) - timedelta(seconds=5)),
        "invoice link": _db(portal_db, lambda s: invoice_token(s, s.exec(select(Invoice.id).where(
            Invoice.customer_id == c["id"], Invoice.number.is_not(None))).first())),
        "none": None,
    }[how]
    at = _visit(token)
    [message] = [e.value for e in at.error]
    if how == "expired":
        assert message.startswith("This portal link expired on ")
    elif how == "none":
        assert message.startswith("This page opens from the link to your billing portal")
    else:
        assert "not valid" in message
    assert not (at.dataframe or at.metric or at.get("download_button") or at.text_input)
    shown = texts(at)
    for word in (c["name"], c["other"], *c["mine"][:3]):
        assert word not in shown


def test_the_customer_corrects_its_billing_details(portal_db):
    c = _db(portal_db, _customer_with_history)
    at = _visit(c["link"].token)
    at.text_input(key="portal_email").input("not-an-email")
    [save] = [b for b in at.button if b.label == "Save my details"]
    save.click().run()
    assert at.error and "email" in at.error[0].value  # refused, naming the field
    assert _db(portal_db, lambda s: s.get(Customer, c["id"]).email) != "not-an-email"
    at.text_input(key="portal_email").input("ap@billing.example")
    at.text_input(key="portal_city").input("Springfield")
    [save] = [b for b in at.button if b.label == "Save my details"]
    save.click().run()
    assert "Your billing details are saved." in [s.value for s in at.success]

    def check(s):
        cust = s.get(Customer, c["id"])
        [log] = s.exec(select(AuditLog).where(AuditLog.action == "customer.update",
                                              AuditLog.entity_id == str(c["id"]))).all()
        return cust.email, cust.city, log.actor

    assert _db(portal_db, check) == ("ap@billing.example", "Springfield", f"portal:{_ext(portal_db, c['id'])}")


def _ext(url, cid):
    return _db(url, lambda s: s.get(Customer, cid).external_id)


def test_only_the_editable_fields_and_only_staff_who_may_write_customers(portal_db):
    c = _db(portal_db, _customer_with_history)

    def attempts(s):
        with pytest.raises(UserError, match="cannot be changed from the portal"):
            portal_core.update_details(s, c["link"].token, {"payment_terms_days": "0"})
        with pytest.raises(PermissionDenied):
            portal_core.create_link(s, Actor("vic", "viewer"), c["id"])
        with pytest.raises(UserError, match="whole number of days"):
            portal_core.create_link(s, SYSTEM, c["id"], days=365)
        with pytest.raises(LinkInvalid):
            portal_core.invoice_pdf(s, c["link"].token, s.exec(select(Invoice.id).where(
                Invoice.customer_id == c["other_id"], Invoice.number.is_not(None))).first())
        return True

    assert _db(portal_db, attempts)


def test_staff_make_a_portal_link_from_the_customers_page(portal_db, open_page):
    c = _db(portal_db, _customer_with_history)
    at = open_page("pages/customers.py", "finance")
    at.selectbox(key="customers_edit_id").set_value(c["id"]).run()
    at.button(key=f"portal_make_{c['id']}").click().run()
    [code] = [x for x in at.code if "/portal?token=" in x.value]
    token = code.value.split("token=")[1]
    assert _visit(token).title[0].value == f"{c['name']} — billing portal"
    viewer = open_page("pages/customers.py", "viewer")
    viewer.selectbox(key="customers_edit_id").set_value(c["id"]).run()
    assert not [b for b in viewer.button if (b.key or "").startswith("portal_make_")]


def test_the_portal_shows_the_customers_entitlements(portal_db):
    """The demo grants ACME a quantity of API requests near its limit: its portal shows that balance, and Globex's
    grants never appear in ACME's portal."""
    def acme(s):
        cust = s.exec(select(Customer).where(Customer.external_id == "ACME-001")).one()
        return portal_core.create_link(s, SYSTEM, cust.id).token

    at = _visit(_db(portal_db, acme))
    at.tabs  # noqa: B018 - every tab renders in AppTest
    [ents] = [d for d in at.dataframe if "Entitlement" in d.value.columns]
    assert len(ents.value) >= 1 and set(ents.value.columns) == {"Entitlement", "Used", "Limit", "Left", "Status"}
    from core.models import EntitlementGrant

    names = _db(portal_db, lambda s: [g.name for g in s.exec(select(EntitlementGrant).join(
        Customer, Customer.id == EntitlementGrant.customer_id).where(Customer.external_id != "ACME-001"))])
    assert not set(names) & set(ents.value["Entitlement"]) - set(
        _db(portal_db, lambda s: [g.name for g in s.exec(select(EntitlementGrant).join(
            Customer, Customer.id == EntitlementGrant.customer_id).where(Customer.external_id == "ACME-001"))]))
