"""Payments and credit notes against invoices — spec section 5's examples as tests, on SQLite and PostgreSQL:
statuses follow the amounts, unallocated money and credit beyond what is due go to the wallet (or are refunded),
every problem is named and nothing is written."""
import re
from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import select

from core import tax, wallet
from core.auth import SYSTEM, Actor
from core.billing.contracts import LineSpec
from core.errors import PermissionDenied, UserError
from core.invoicing.credit_notes import credit_note_lines, credit_notes_of, issue_credit_note
from core.invoicing.payments import open_invoices, record_payment
from core.invoicing.service import amount_due, approve_invoice, generate_drafts, invoice_lines
from core.models import AuditLog, CreditNote, Invoice, Payment, Refund
from tests.db import factories as f

OCT = {"period_start": date(2026, 10, 1), "period_end": date(2026, 11, 1)}
D = Decimal


def _invoices(session, *fees: str, customer="C1", country=""):
    """One approved invoice per fee (a contract each, a flat monthly fee in arrears), in the order given."""
    if customer == "C1":
        f.seller(session)
    cust = f.customer(session, customer, country=country) if country else f.customer(session, customer)
    for fee in fees:
        f.contract(session, customer, [LineSpec(f"Fee {fee}", "flat_fee", {"amount": fee})], start=date(2026, 1, 1))
    created = generate_drafts(session, SYSTEM, **OCT).created
    invs = [approve_invoice(session, SYSTEM, i) for i in created]
    return cust, sorted(invs, key=lambda i: [D(x) for x in fees].index(i.total - i.tax))


def _get(session, inv):
    return session.get(Invoice, inv.id)


def test_one_payment_settles_two_invoices_paid_and_partially_paid(session):
    cust, (a, b) = _invoices(session, "1000", "800")
    record_payment(session, SYSTEM, customer_id=cust.id, currency_code="USD", amount="1500", method="bank_transfer",
                   received_on=date(2026, 11, 10), reference="WIRE 991", allocations={a.id: "1000", b.id: "500"})
    a, b = _get(session, a), _get(session, b)
    assert (a.status, amount_due(a)) == ("paid", D("0"))
    assert (b.status, amount_due(b)) == ("partially_paid", D("300"))


def test_unallocated_money_goes_to_the_wallet_and_oldest_invoices_are_paid_first(session):
    cust, (a, b) = _invoices(session, "1000", "800")
    payment = record_payment(session, SYSTEM, customer_id=cust.id, currency_code="USD", amount="2000",
                             method="cheque", received_on=date(2026, 11, 10))
    assert (_get(session, a).status, _get(session, b).status) == ("paid", "paid")
    assert payment.unallocated == D("200") and wallet.balance(session, cust.id, "USD") == D("200")
    assert open_invoices(session, cust.id) == []


def test_credit_note_on_a_partly_paid_invoice_the_specs_example(session):
    """Invoice $1,000, paid $400, credit note $700 → $600 clears the due amount, $100 to the wallet, paid."""
    cust, (inv,) = _invoices(session, "1000")
    record_payment(session, SYSTEM, customer_id=cust.id, currency_code="USD", amount="400", method="bank_transfer",
                   received_on=date(2026, 11, 5), allocations={inv.id: "400"})
    note = issue_credit_note(session, SYSTEM, inv.id, reason="Outage on 3 Oct", amount="700")
    inv = _get(session, inv)
    assert (note.number, note.total, note.applied, note.to_wallet, note.refunded) == \
        ("CN-000001", D("700"), D("600"), D("100"), D("0"))
    assert (inv.status, amount_due(inv), inv.amount_paid) == ("paid", D("0"), D("300"))
    assert wallet.balance(session, cust.id, "USD") == D("100")
    assert credit_notes_of(session, inv.id) == [note]


def test_the_excess_can_be_refunded_instead(session):
    cust, (inv,) = _invoices(session, "1000")
    payment = record_payment(session, SYSTEM, customer_id=cust.id, currency_code="USD", amount="400",
                             method="bank_transfer", received_on=date(2026, 11, 5), allocations={inv.id: "400"})
    note = issue_credit_note(session, SYSTEM, inv.id, reason="Overcharge", amount="700", excess="refund")
    [refund] = session.exec(select(Refund)).all()
    assert (refund.amount, refund.method, refund.status, refund.payment_id, refund.credit_note_id) == \
        (D("100"), "bank_transfer", "pending", payment.id, note.id)  # paid out by a person, who marks it so
    assert session.get(Payment, payment.id).refunded == D("100")
    assert wallet.balance(session, cust.id, "USD") == D("0")


def test_credit_notes_covering_the_full_amount_void_the_invoice(session):
    cust, (inv,) = _invoices(session, "1000")
    issue_credit_note(session, SYSTEM, inv.id, reason="Billed in error", amount="250")
    assert _get(session, inv).status == "partially_paid"
    second = issue_credit_note(session, SYSTEM, inv.id, reason="Billed in error", amount="750")
    inv = _get(session, inv)
    assert (second.number, inv.status, amount_due(inv)) == ("CN-000002", "void", D("0"))
    with pytest.raises(UserError, match="is void; a credit note only applies to approved invoices"):
        issue_credit_note(session, SYSTEM, inv.id, reason="again", amount="1")


def test_a_line_credit_takes_its_tax_with_it(session):
    f.seller(session)
    tax.set_rate(session, SYSTEM, country="IN", name="GST", percent="18")
    cust, (inv,) = _invoices(session, "100", customer="IN1", country="IN")
    assert inv.total == D("118.00")
    fee = next(ln for ln in invoice_lines(session, inv.id) if ln.kind == "fixed")
    tax_line = next(ln for ln in invoice_lines(session, inv.id) if ln.kind == "tax")
    note = issue_credit_note(session, SYSTEM, inv.id, reason="Fee waived", lines={fee.id: "100"})
    assert [(ln.description, ln.amount) for ln in credit_note_lines(session, note.id)] == \
        [("Fee 100", D("100")), (tax_line.description, D("18"))]
    assert note.total == D("118") and _get(session, inv).status == "void"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"reason": "", "amount": "10"}, "reason: say why"),
    ({"reason": "x"}, "credit either chosen lines or an amount"),
    ({"reason": "x", "amount": "10.001"}, "amount: 10.001 has more decimals than USD allows"),
    ({"reason": "x", "amount": "-5"}, "amount: must be more than zero"),
    ({"reason": "x", "amount": "1000.01"}, "is more than the $1,000.00 of invoice"),
    ({"reason": "x", "amount": "10", "excess": "cash"}, "excess: choose wallet or refund"),
])
def test_bad_credit_notes_are_refused_and_nothing_is_written(session, kwargs, message):
    _, (inv,) = _invoices(session, "1000")
    with pytest.raises(UserError, match=re.escape(message)):
        issue_credit_note(session, SYSTEM, inv.id, **kwargs)
    assert session.exec(select(CreditNote)).all() == []
    assert _get(session, inv).status == "approved"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"amount": "0"}, "amount: must be more than zero"),
    ({"amount": "100", "method": "barter"}, "method: choose one of"),
    ({"amount": "100", "currency_code": "EUR"}, "it is in USD, the payment in EUR"),
    ({"amount": "2000", "allocations": "OVER"}, "is more than the $1,000.00 due on it"),
    ({"amount": "100", "allocations": "SPLIT"}, "add up to more than the payment"),
    ({"amount": "100", "received_on": date(2099, 1, 1)}, "is in the future"),
])
def test_bad_payments_are_refused_and_nothing_is_written(session, kwargs, message):
    kwargs = dict(kwargs)  # the parameters are shared by the SQLite and PostgreSQL runs
    cust, (a, b) = _invoices(session, "1000", "800")
    allocations = {"OVER": {a.id: "1500"}, "SPLIT": {a.id: "60", b.id: "60"}}.get(kwargs.pop("allocations", None),
                                                                                 {a.id: kwargs["amount"]})
    args = {"customer_id": cust.id, "currency_code": "USD", "method": "bank_transfer",
            "received_on": date(2026, 11, 5), "allocations": allocations, **kwargs}
    with pytest.raises(UserError, match=re.escape(message)):
        record_payment(session, SYSTEM, **args)
    assert session.exec(select(Payment)).all() == []
    assert (_get(session, a).status, wallet.balance(session, cust.id, "USD")) == ("approved", D("0"))


def test_drafts_take_no_money_and_roles_are_enforced(session):
    f.seller(session)
    cust = f.customer(session, "C1")
    f.contract(session, "C1", [LineSpec("Fee", "flat_fee", {"amount": "100"})], start=date(2026, 1, 1))
    [draft_id] = generate_drafts(session, SYSTEM, **OCT).created
    with pytest.raises(UserError, match="is a draft: approve it first"):
        issue_credit_note(session, SYSTEM, draft_id, reason="x", amount="1")
    with pytest.raises(UserError, match="it is draft; nothing is due on it"):
        record_payment(session, SYSTEM, customer_id=cust.id, currency_code="USD", amount="100", method="cash",
                       received_on=date(2026, 11, 1), allocations={draft_id: "100"})
    with pytest.raises(PermissionDenied):
        record_payment(session, Actor("v", "viewer"), customer_id=cust.id, currency_code="USD", amount="1",
                       method="cash", received_on=date(2026, 11, 1))
    with pytest.raises(PermissionDenied):
        issue_credit_note(session, Actor("s", "sales"), draft_id, reason="x", amount="1")


def test_every_change_is_audited(session):
    cust, (inv,) = _invoices(session, "1000")
    record_payment(session, SYSTEM, customer_id=cust.id, currency_code="USD", amount="1000", method="cash",
                   received_on=date(2026, 11, 1))
    issue_credit_note(session, SYSTEM, inv.id, reason="Goodwill", amount="50")
    actions = [a.action for a in session.exec(select(AuditLog).order_by(AuditLog.id))]
    assert actions[-3:] == ["payment.record", "wallet.credit", "credit_note.issue"]
    detail = session.exec(select(AuditLog).where(AuditLog.action == "credit_note.issue")).one().details
    assert (detail["before"], detail["after"], D(str(detail["to_wallet"]))) == ("paid", "paid", D("50"))


def test_a_line_is_credited_at_most_what_it_billed_after_its_discount(session):
    f.seller(session)
    cust = f.customer(session, "C1")
    f.contract(session, "C1", [LineSpec("Seats", "per_unit", {"unit_price": "10"}, fixed_quantity="10",
                                        modifiers={"discounts": [{"type": "percent", "value": "20"}]})],
               start=date(2026, 1, 1))
    [inv_id] = generate_drafts(session, SYSTEM, **OCT).created
    inv = approve_invoice(session, SYSTEM, inv_id)
    assert inv.total == D("80")
    seats = next(ln for ln in invoice_lines(session, inv.id) if ln.kind == "fixed")
    with pytest.raises(UserError, match=re.escape("$100.00 is more than the $80.00 left to credit on it")):
        issue_credit_note(session, SYSTEM, inv.id, reason="x", lines={seats.id: "100"})
    issue_credit_note(session, SYSTEM, inv.id, reason="Seats not used", lines={seats.id: "80"})
    assert _get(session, inv).status == "void" and cust.id
