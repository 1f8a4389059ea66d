"""The Payments page's Refunds and Stripe events sections on the demo pilot, driven as finance would: a card refund
Stripe refused is retried (against localstripe) and succeeds; a bank-transfer refund is marked paid out with its
reference; the webhook events received are listed with what they did; viewers see it all and can press nothing.
"""
from __future__ import annotations

from datetime import date

from sqlmodel import select

from connectors import stripe_gateway as gw
from core.auth import SYSTEM
from core.db import make_engine, session_scope
from core.invoicing.credit_notes import issue_credit_note
from core.invoicing.payments import record_payment
from core.invoicing.service import approve_invoice
from core.models import AuditLog, Invoice, Payment, Refund
from core.payments_stripe import handle_event
from tests.stripe_server import localstripe, stripe_env  # noqa: F401 - the fixtures
from tests.ui.conftest import texts


def _usd_invoices(s, n: int) -> list[Invoice]:
    invs = s.exec(select(Invoice).where(Invoice.currency == "USD", Invoice.status == "draft")
                  .order_by(Invoice.id)).all()
    seen, picked = set(), []
    for inv in invs:  # one invoice per customer
        if inv.customer_id not in seen:
            seen.add(inv.customer_id)
            picked.append(approve_invoice(s, SYSTEM, inv.id))
        if len(picked) == n:
            break
    return picked


def _failed_card_refund(url: str) -> tuple[int, str]:
    """An invoice paid by card, a credit note refunding $25 of it, and Stripe refusing that refund."""
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            [inv] = _usd_invoices(s, 1)
            gw.save_test_card(s, SYSTEM, inv.customer_id, "4242424242424242")
            s.commit()
            payment = gw.charge_invoice(s, SYSTEM, inv.id).payment
            real_pi, payment.provider_id = payment.provider_id, "pi_unknownAtStripe"
            s.add(payment)
            note = issue_credit_note(s, SYSTEM, inv.id, reason="Outage on 3 Oct", amount="25", excess="refund")
            s.commit()
            [refund] = gw.send_refunds(s, SYSTEM, note.id)
            assert refund.status == "failed"
            payment = s.get(Payment, payment.id)
            payment.provider_id = real_pi  # the next try will find the payment
            s.add(payment)
            return refund.id, note.number
    finally:
        engine.dispose()


def _manual_refund(url: str) -> tuple[int, str]:
    """An invoice paid by bank transfer, and a credit note refunding $40 of it: to pay out by hand."""
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            [inv] = _usd_invoices(s, 1)
            record_payment(s, SYSTEM, customer_id=inv.customer_id, currency_code="USD", amount=inv.total,
                           method="bank_transfer", received_on=date(2026, 11, 20), allocations={inv.id: inv.total})
            note = issue_credit_note(s, SYSTEM, inv.id, reason="Billed twice", amount="40", excess="refund")
            refund = s.exec(select(Refund).where(Refund.credit_note_id == note.id)).one()
            return refund.id, note.number
    finally:
        engine.dispose()


def _refund(url: str, refund_id: int) -> tuple[Refund, list[AuditLog]]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            audits = s.exec(select(AuditLog).where(AuditLog.entity_type == "refund",
                                                   AuditLog.entity_id == str(refund_id)).order_by(AuditLog.id)).all()
            return s.get(Refund, refund_id), audits
    finally:
        engine.dispose()


def _table(at, column: str):
    return next(df.value for df in at.dataframe if column in df.value.columns)


def test_retry_a_card_refund_stripe_refused(open_page, demo_db, stripe_env):  # noqa: F811
    refund_id, note_number = _failed_card_refund(demo_db)
    at = open_page("pages/payments.py", role="finance")
    assert not at.exception, [e.value for e in at.exception]
    table = _table(at, "Credit note")
    row = table[table["Credit note"] == note_number].iloc[0]
    assert (row["Amount"], row["Method"], row["Status"]) == ("$25.00", "Card", "Failed at Stripe")
    assert row["Failure"].startswith("Stripe does not know what was asked for while refunding $25.00 to the card")
    assert "1 refund to act on" in texts(at)

    at.button(key=f"refund_retry_{refund_id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "$25.00 refunded to" in " ".join(s.value for s in at.success)
    refund, audits = _refund(demo_db, refund_id)
    assert (refund.status, refund.failure) == ("succeeded", "") and refund.provider_id.startswith("re_")
    assert [(a.action, a.actor) for a in audits] == [("refund.failed", "system"), ("refund.succeeded", "finance-user")]
    row = _table(at, "Credit note").iloc[0]
    assert (row["Status"], row["Stripe refund"]) == ("Refunded to the card", refund.provider_id)
    assert not [b for b in at.button if b.key and b.key.startswith("refund_retry_")]  # nothing left to retry


def test_mark_a_bank_transfer_refund_as_paid_out(open_page, demo_db):
    refund_id, note_number = _manual_refund(demo_db)
    at = open_page("pages/payments.py", role="finance")
    row = _table(at, "Credit note").iloc[0]
    assert (row["Credit note"], row["Amount"], row["Method"], row["Status"]) == \
        (note_number, "$40.00", "Bank transfer", "To pay out by hand")
    assert not [b for b in at.button if b.key == f"refund_retry_{refund_id}"]  # not a Stripe refund: no retry

    at.text_input(key=f"refund_ref_{refund_id}").set_value("WIRE 5521").run()
    at.button(key=f"refund_paid_{refund_id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "marked as paid out" in " ".join(s.value for s in at.success)
    refund, audits = _refund(demo_db, refund_id)
    assert refund.status == "succeeded"
    [paid] = [a for a in audits if a.action == "refund.paid_out"]
    assert (paid.actor, paid.details["reference"], paid.details["paid_on"]) == \
        ("finance-user", "WIRE 5521", date.today().isoformat())
    assert _table(at, "Credit note").iloc[0]["Status"] == "Paid out"
    assert "to act on" not in texts(at)


def test_stripe_events_received_are_listed_with_what_they_did(open_page, demo_db):
    engine = make_engine(demo_db)
    try:
        with session_scope(engine) as s:
            handle_event(s, {"id": "evt_ui_1", "type": "payment_intent.succeeded",
                             "data": {"object": {"id": "pi_stranger", "object": "payment_intent", "amount": 500,
                                                 "currency": "usd", "customer": "cus_nobody"}}})
            handle_event(s, {"id": "evt_ui_2", "type": "customer.created", "data": {"object": {"id": "cus_x"}}})
    finally:
        engine.dispose()
    at = open_page("pages/payments.py", role="viewer")
    assert not at.exception, [e.value for e in at.exception]
    events = _table(at, "What it did")
    assert list(events.columns) == ["When (UTC)", "Event", "Type", "What it did"]
    got = {r["Event"]: (r["Type"], r["What it did"]) for _, r in events.iterrows()}
    assert got == {"evt_ui_1": ("payment_intent.succeeded", "ignored: pi_stranger is not for a customer of ours"),
                   "evt_ui_2": ("customer.created", "ignored: not an event Counting House acts on")}


def test_viewers_see_refunds_but_cannot_act_on_them(open_page, demo_db):
    refund_id, _ = _manual_refund(demo_db)
    at = open_page("pages/payments.py", role="viewer")
    assert not at.exception, [e.value for e in at.exception]
    assert _table(at, "Credit note").iloc[0]["Status"] == "To pay out by hand"
    assert not [b for b in at.button if b.key and b.key.startswith("refund_")]
    assert "1 refund needs someone in Finance" in texts(at)
    assert "No Stripe event received yet" in texts(at)
    assert _refund(demo_db, refund_id)[0].status == "pending"


def test_no_refunds_yet(open_page):
    at = open_page("pages/payments.py", role="finance")
    assert not at.exception
    assert "No refund yet" in texts(at)  # said, rather than an empty table
