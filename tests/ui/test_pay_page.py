"""The public pay page (pages/pay.py) an invoice's payment link opens, through app.py as a visitor who has not
signed in: a valid token shows that invoice and nothing of the back office; a changed, expired or another
invoice's token, or none, shows one message and nothing else; the customer pays with the saved card (against
localstripe) or reads the seller's payment instructions.
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from connectors import stripe_gateway as gw
from core.auth import SYSTEM
from core.catalog import update_entity
from core.db import make_engine, session_scope
from core.invoicing.service import amount_due, approve_invoice
from core.models import AuditLog, BusinessEntity, Customer, Invoice, Payment
from core.portal_links import NOT_VALID, invoice_token, make_token
from tests.stripe_server import localstripe, stripe_env  # noqa: F401 - the fixtures
from tests.ui.conftest import APP, TIMEOUT, texts

INSTRUCTIONS = "Bank transfer to Northwind Cloud Inc., IBAN US00 0000 1111 2222, BIC NWCLUS33."


@pytest.fixture
def portal(demo_db, monkeypatch):
    monkeypatch.setenv("PORTAL_SECRET", "a-secret-for-the-pay-page-tests-0123456789")
    monkeypatch.setenv("APP_BASE_URL", "http://localhost:8501")
    return demo_db


def _approved(url: str, n: int = 2, *, instructions: str = "") -> list[dict]:
    """n approved USD invoices of different customers, with their token and what the page should show."""
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            out, seen = [], set()
            for inv in s.exec(select(Invoice).where(Invoice.currency == "USD", Invoice.status == "draft")
                              .order_by(Invoice.id)).all():
                if inv.customer_id in seen:
                    continue
                seen.add(inv.customer_id)
                inv = approve_invoice(s, SYSTEM, inv.id)
                if instructions:
                    update_entity(s, SYSTEM, inv.entity_id, {"payment_instructions": instructions})
                out.append({"id": inv.id, "number": inv.number, "customer_id": inv.customer_id,
                            "customer": s.get(Customer, inv.customer_id).name,
                            "seller": s.get(BusinessEntity, inv.entity_id).name,
                            "token": invoice_token(s, inv.id), "due": amount_due(inv)})
                if len(out) == n:
                    return out
    finally:
        engine.dispose()
    raise AssertionError("the demo pilot has too few USD drafts")


def _visit(token: str | None) -> AppTest:
    """app.py as a visitor who has not signed in, at /pay?token=…"""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if token is not None:
        at.query_params["token"] = token
    at.run()
    at.switch_page("pages/pay.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _only_the_message(at: AppTest, message: str, *hidden: str) -> None:
    assert [e.value for e in at.error] == [message]
    assert [t.value for t in at.title] == ["Pay an invoice"]
    assert not (at.table or at.dataframe or at.metric or at.button or at.text_input or at.checkbox
                or at.get("download_button") or at.subheader or at.markdown or at.success or at.info)
    shown = texts(at)
    for word in hidden:
        assert word not in shown


def test_a_valid_link_shows_that_invoice_and_nothing_of_the_back_office(portal):
    first, second = _approved(portal)
    at = _visit(first["token"])
    assert at.title[0].value == f"Invoice {first['number']}"
    shown = texts(at)
    assert first["customer"] in shown and first["seller"] in shown
    assert second["number"] not in shown and second["customer"] not in shown
    assert at.metric[0].label == "Amount due" and at.metric[0].value == f"${first['due']:,.2f}"
    [lines] = at.table
    assert len(lines.value) >= 1 and list(lines.value.columns) == ["Description", "Service period", "Quantity",
                                                                   "Amount"]
    [pdf] = at.get("download_button")
    assert "PDF" in pdf.proto.label
    assert not at.text_input and not at.sidebar.button  # no sign-in form, no navigation, no sign-out
    assert "Sign in" not in shown


@pytest.mark.parametrize("how", ["another invoice's id", "changed signature", "expired", "unknown invoice",
                                 "cut short", "none"])
def test_a_bad_link_shows_only_a_message(portal, how):
    first, second = _approved(portal)
    inv_id, cust_id, stamp, sig = first["token"].split(".")
    token = {
        "another invoice's id": f"{second['id']}.{cust_id}.{stamp}.{sig}",
        "changed signature": f"{inv_id}.{cust_id}.{stamp}.{'A' if sig[0] != 'A' else 'B'}{sig[1:]}",
        "expired": make_token(first["id"], first["customer_id"], datetime.now(UTC) - timedelta(days=1)),
        "unknown invoice": make_token(987654, first["customer_id"], int(stamp)),
        "cut short": first["token"][:20],
        "none": None,
    }[how]
    at = _visit(token)
    if how == "expired":
        message = at.error[0].value
        assert message.startswith("This payment link expired on ") and "Ask the sender" in message
    elif how == "none":
        message = at.error[0].value
        assert message.startswith("This page opens from the payment link on an invoice")
    else:
        message = NOT_VALID
    _only_the_message(at, message, first["number"], second["number"], first["customer"], second["customer"],
                      first["seller"])


def test_pay_with_the_saved_card(portal, stripe_env):  # noqa: F811
    [inv] = _approved(portal, 1, instructions=INSTRUCTIONS)
    engine = make_engine(portal)
    try:
        with session_scope(engine) as s:
            gw.save_test_card(s, SYSTEM, inv["customer_id"], "4242424242424242")
    finally:
        engine.dispose()
    at = _visit(inv["token"])
    due = f"${inv['due']:,.2f}"
    assert "Visa ending 4242" in texts(at)
    assert at.button(key="pay_card").disabled  # not before the customer agrees
    at.checkbox(key="pay_authorise").check().run()
    at.button(key="pay_card").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [s.value for s in at.success] == [f"Thank you: {due} was charged to Visa ending 4242."]
    assert not [b for b in at.button if b.key == "pay_card"]  # nothing left to pay
    at.run()  # later visits: the invoice says it is paid
    assert [s.value for s in at.success] == [f"Invoice {inv['number']} is paid. Thank you."]
    assert at.metric[0].value == "$0.00"
    engine = make_engine(portal)
    try:
        with session_scope(engine) as s:
            assert s.get(Invoice, inv["id"]).status == "paid"
            [payment] = s.exec(select(Payment).where(Payment.customer_id == inv["customer_id"],
                                                     Payment.provider == "stripe")).all()
            assert (payment.created_by, str(payment.amount)) == ("payment-link", str(inv["due"]))
            [audit] = s.exec(select(AuditLog).where(AuditLog.action == "invoice.link_payment")).all()
            assert (audit.actor, audit.details["status"]) == ("payment-link", "succeeded")
    finally:
        engine.dispose()


def test_without_a_saved_card_the_seller_s_instructions_are_shown(portal, stripe_env):  # noqa: F811
    [inv] = _approved(portal, 1, instructions=INSTRUCTIONS)
    at = _visit(inv["token"])
    assert not [b for b in at.button if b.key == "pay_card"]
    assert any(INSTRUCTIONS in i.value and inv["number"] in i.value for i in at.info)


def test_staff_signed_in_see_the_link_on_the_invoice(open_page, portal):
    [inv] = _approved(portal, 1)
    at = open_page("pages/invoices.py", role="viewer")
    next(sb for sb in at.selectbox if sb.label == "Open an invoice").set_value(inv["id"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [c.value for c in at.code] == [f"http://localhost:8501/pay?token={inv['token']}"]
    at.switch_page("pages/pay.py").run()  # the pay page is there for them too (not listed), needing a token
    assert at.error[0].value.startswith("This page opens from the payment link")
