"""Payments page, driven as finance would: pick the customer, type the amount, accept the suggested allocation,
record it — the invoice is paid and the rest sits in the wallet; a bad amount is named; viewers only read."""
from __future__ import annotations

from decimal import Decimal

from sqlmodel import select

from core.auth import SYSTEM
from core.db import make_engine, session_scope
from core.invoicing.service import amount_due, approve_invoice
from core.models import Invoice
from tests.ui.conftest import texts


def _approved(url: str) -> tuple[int, int, Decimal]:
    """A USD October draft approved, of a customer who owes nothing else (the demo's July–September invoices of
    some customers are still open, and a payment would settle those first): that invoice is all they owe."""
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            owing = select(Invoice.customer_id).where(Invoice.status.in_(("approved", "partially_paid")))
            inv = s.exec(select(Invoice).where(Invoice.currency == "USD", Invoice.status == "draft",
                                               Invoice.customer_id.not_in(owing)).order_by(Invoice.id)).first()
            approve_invoice(s, SYSTEM, inv.id)
            assert s.exec(select(Invoice.id).where(Invoice.customer_id == inv.customer_id,
                                                   Invoice.status.in_(("approved", "partially_paid")))
                          ).all() == [inv.id]
            return inv.id, inv.customer_id, inv.total
    finally:
        engine.dispose()


def _invoice(url: str, inv_id: int) -> tuple[str, Decimal]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            inv = s.get(Invoice, inv_id)
            return inv.status, amount_due(inv)
    finally:
        engine.dispose()


def test_record_a_payment_that_pays_an_invoice_and_tops_up_the_wallet(open_page, demo_db):
    inv_id, cust_id, total = _approved(demo_db)
    at = open_page("pages/payments.py", role="finance")
    assert not at.exception
    at.selectbox(key="payments_customer_0").set_value(cust_id).run()
    at.text_input(key="payments_amount_0").set_value(str(total + 100)).run()
    at.text_input(key="payments_ref_0").set_value("WIRE 4471").run()
    assert "goes to the wallet" in texts(at) and "$100.00" in texts(at)
    at.button(key="payments_save_0").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "kept in their wallet" in " ".join(s.value for s in at.success)
    assert _invoice(demo_db, inv_id) == ("paid", Decimal("0"))
    table = next(df.value for df in at.dataframe if "Reference" in df.value.columns)
    assert list(table.iloc[0][["Reference", "To wallet", "By"]]) == ["WIRE 4471", "$100.00", "finance-user"]


def test_a_bad_amount_is_named_and_nothing_is_recorded(open_page, demo_db):
    inv_id, cust_id, _ = _approved(demo_db)
    at = open_page("pages/payments.py", role="finance")
    at.selectbox(key="payments_customer_0").set_value(cust_id).run()
    at.text_input(key="payments_amount_0").set_value("12,5x").run()
    assert "amount: '12,5x' is not a number" in " ".join(e.value for e in at.error)
    assert at.button(key="payments_save_0").disabled
    assert _invoice(demo_db, inv_id)[0] == "approved"


def test_viewers_read_payments_but_cannot_record_them(open_page):
    at = open_page("pages/payments.py", role="viewer")
    assert not at.exception
    assert "cannot record" not in texts(at) and "but not record them" in texts(at)
    assert not [sb for sb in at.selectbox if sb.label == "Customer"]


def test_issue_a_credit_note_from_the_invoice(open_page, demo_db):
    inv_id, _, total = _approved(demo_db)
    at = open_page("pages/invoices.py", role="finance")
    next(sb for sb in at.selectbox if sb.label == "Open an invoice").set_value(inv_id).run()
    at.text_input(key=f"cn_amount_{inv_id}").set_value("10.00").run()
    at.button(key=f"cn_issue_{inv_id}").click().run()
    assert "reason: say why" in " ".join(e.value for e in at.error)  # nothing issued without a reason
    assert _invoice(demo_db, inv_id) == ("approved", total)
    at.text_input(key=f"cn_reason_{inv_id}").set_value("Service credit for the 3 Oct outage").run()
    at.button(key=f"cn_issue_{inv_id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Credit note CN-000001 issued for $10.00" in texts(at)
    assert _invoice(demo_db, inv_id) == ("partially_paid", total - 10)
    history = next(df.value for df in at.dataframe if "Details" in df.value.columns)
    assert list(history.iloc[0][["What", "Details", "Amount"]]) == \
        ["Credit note CN-000001", "Service credit for the 3 Oct outage", "$10.00"]


def test_change_a_draft_line_and_add_one(open_page, demo_db):
    engine = make_engine(demo_db)
    with session_scope(engine) as s:
        inv = s.exec(select(Invoice).where(Invoice.currency == "USD", Invoice.status == "draft")
                     .order_by(Invoice.id)).first()
        inv_id, total = inv.id, inv.total
    engine.dispose()
    at = open_page("pages/invoices.py", role="finance")
    next(sb for sb in at.selectbox if sb.label == "Open an invoice").set_value(inv_id).run()
    at.text_input(key=f"da_desc_{inv_id}").set_value("Onboarding workshop").run()
    at.text_input(key=f"da_price_{inv_id}").set_value("250").run()
    at.button(key=f"da_add_{inv_id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Line “Onboarding workshop” added to the draft." in texts(at)
    status, due = _invoice(demo_db, inv_id)
    assert status == "draft" and due >= total + 250  # plus its tax, if the customer is taxed
    assert "Changed by hand: finance-user" in texts(at)
    at.text_input(key=f"da_price_{inv_id}").set_value("abc").run()
    at.button(key=f"da_add_{inv_id}").click().run()
    assert "unit price: 'abc' is not a number" in " ".join(e.value for e in at.error)
    assert _invoice(demo_db, inv_id)[1] == due
