"""Editing drafts by hand and one-off invoices: totals and tax follow every change, approved invoices cannot be
edited, every change is audited with before and after, bad values are named and change nothing."""
from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import select

from core import tax
from core.auth import SYSTEM, Actor
from core.billing.contracts import LineSpec
from core.errors import PermissionDenied, UserError
from core.invoicing.drafts import add_draft_line, create_one_off_invoice, delete_draft_line, edit_draft_line
from core.invoicing.service import approve_invoice, generate_drafts, invoice_lines
from core.models import AuditLog, Invoice
from tests.db import factories as f

OCT = {"period_start": date(2026, 10, 1), "period_end": date(2026, 11, 1)}
D = Decimal


def _draft(session, country="IN"):
    f.seller(session)
    tax.set_rate(session, SYSTEM, country="IN", name="GST", percent="18")
    f.customer(session, "C1", country=country)
    f.contract(session, "C1", [LineSpec("Seats", "per_unit", {"unit_price": "10"}, fixed_quantity="5")],
               start=date(2026, 1, 1))
    [inv_id] = generate_drafts(session, SYSTEM, **OCT).created
    return session.get(Invoice, inv_id)


def _line(session, inv, kind):
    return next(ln for ln in invoice_lines(session, inv.id) if ln.kind == kind)


def test_edit_quantity_and_price_recomputes_tax_and_total(session):
    inv = _draft(session)
    assert (inv.subtotal, inv.tax, inv.total) == (D("50"), D("9"), D("59"))
    seats = _line(session, inv, "fixed")
    edit_draft_line(session, SYSTEM, seats.id, description="Seats (12 users)", quantity="12", unit_price="9.5")
    inv = session.get(Invoice, inv.id)
    assert (inv.subtotal, inv.tax, inv.total) == (D("114"), D("20.52"), D("134.52"))
    seats = _line(session, inv, "fixed")
    assert (seats.description, seats.quantity, seats.amount, seats.edited_by) == \
        ("Seats (12 users)", D("12"), D("114"), SYSTEM.username)
    [log] = session.exec(select(AuditLog).where(AuditLog.action == "invoice.line_edit")).all()
    assert D(str(log.details["before"]["amount"])) == D("50") and D(str(log.details["after"]["amount"])) == D("114")


def test_add_and_remove_a_one_off_line(session):
    inv = _draft(session)
    extra = add_draft_line(session, SYSTEM, inv.id, description="Onboarding workshop", quantity="2",
                           unit_price="250")
    inv = session.get(Invoice, inv.id)
    assert inv.total == D("649.00")  # (50 + 500) × 1.18
    kinds = [ln.kind for ln in invoice_lines(session, inv.id)]
    assert kinds[-1] == "tax" and "manual" in kinds  # tax stays last
    delete_draft_line(session, SYSTEM, extra.id)
    assert session.get(Invoice, inv.id).total == D("59.00")


@pytest.mark.parametrize(("change", "message"), [
    ({"quantity": "-1", "unit_price": "10"}, "quantity: cannot be negative"),
    ({"unit_price": "ten"}, "unit price: 'ten' is not a number"),
    ({"amount": "1.234"}, "amount: 1.234 has more decimals than USD allows"),
    ({"description": "  "}, "description: a line needs a description"),
    ({"quantity": "3"}, "unit price: give the unit price with the quantity"),
])
def test_bad_edits_are_named_and_change_nothing(session, change, message):
    inv = _draft(session, country="US")
    seats = _line(session, inv, "fixed")
    with pytest.raises(UserError, match=message):
        edit_draft_line(session, SYSTEM, seats.id, **change)
    assert session.get(Invoice, inv.id).total == D("50")


def test_approved_invoices_and_computed_lines_cannot_be_edited(session):
    inv = _draft(session)
    with pytest.raises(UserError, match="computed from the other lines"):
        edit_draft_line(session, SYSTEM, _line(session, inv, "tax").id, amount="1")
    approve_invoice(session, SYSTEM, inv.id)
    with pytest.raises(UserError, match="only drafts can be edited; correct an approved invoice with a credit note"):
        edit_draft_line(session, SYSTEM, _line(session, inv, "fixed").id, amount="1")
    with pytest.raises(PermissionDenied):
        add_draft_line(session, Actor("v", "viewer"), inv.id, description="x", unit_price="1")


def test_one_off_invoice_outside_a_contract_is_taxed_and_approved_like_any_other(session):
    f.seller(session)
    tax.set_rate(session, SYSTEM, country="IN", name="GST", percent="18")
    cust = f.customer(session, "C9", country="IN", payment_terms_days=15)
    inv = create_one_off_invoice(session, SYSTEM, customer_id=cust.id, issue_date=date(2026, 11, 20),
                                 lines=[{"description": "Data migration", "quantity": "3", "unit_price": "400"}])
    assert (inv.contract_id, inv.subtotal, inv.tax, inv.total, inv.due_date) == \
        (None, D("1200"), D("216"), D("1416"), date(2026, 12, 5))
    assert approve_invoice(session, SYSTEM, inv.id).number == "INV-000001"
    with pytest.raises(UserError, match="line 1 unit price"):
        create_one_off_invoice(session, SYSTEM, customer_id=cust.id, lines=[{"description": "x", "unit_price": ""}])


def test_the_invoice_view_says_what_is_overdue_and_which_lines_have_their_own_period(session):
    from datetime import date

    from core.invoicing.service import invoice_view

    f.seller(session)
    f.customer(session, "V1")
    f.contract(session, "V1", [LineSpec("Fee", "flat_fee", {"amount": "100"}, cadence="quarterly",
                                        timing="advance")], start=date(2026, 1, 1))
    [inv_id] = generate_drafts(session, SYSTEM, period_start=date(2025, 12, 1), period_end=date(2026, 1, 1)).created
    view = invoice_view(session, inv_id, today=date(2027, 1, 1))
    assert not view.overdue  # a draft is never overdue
    [fee] = [ln for ln in view.lines if ln.kind == "fixed"]
    assert view.has_quantity(fee) and view.own_period(fee)  # the quarter, not the invoice's month
    assert dict(view.totals())["Amount due"] == view.due == view.invoice.total
    approve_invoice(session, SYSTEM, inv_id)
    assert invoice_view(session, inv_id, today=date(2027, 1, 1)).overdue
    assert not invoice_view(session, inv_id, today=view.invoice.due_date).overdue  # due today is not late
