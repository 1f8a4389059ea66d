"""Writing off what a customer will not pay (bad debt).

What is left due on an approved or partly paid invoice is written off with a reason: the invoice becomes
``written_off`` (nothing is due on it any more; it stays in the customer's history and in billed revenue), and
the ledger posts Dr Bad Debt / Cr Accounts Receivable for that amount on the write-off date. The customer is
not credited — that is what a credit note is for. Money that arrives later for a written-off invoice is
recorded as a payment to the customer's wallet.
"""
from __future__ import annotations

from datetime import date

from sqlmodel import Session

from core import audit
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.invoicing import settlement
from core.ledger.accounts import chart
from core.ledger.posting import Draft, post
from core.models import Customer, Invoice, utcnow
from core.money import format_money


def write_off(session: Session, actor: Actor, invoice_id: int, *, reason: str, on: date | None = None) -> Invoice:
    require(actor, "invoices:approve")
    reason = (reason or "").strip()
    if not reason:
        raise UserError("reason: say why the amount cannot be collected (it goes to the audit log and the ledger)")
    if len(reason) > 300:
        raise UserError("reason: at most 300 characters")
    inv = settlement.lock_invoices(session, [invoice_id]).get(invoice_id)
    if inv is None:
        raise NotFound(f"there is no invoice #{invoice_id}")
    if inv.status not in ("approved", "partially_paid"):
        raise UserError(f"invoice {settlement.label(inv)} is {settlement.STATUS_LABELS.get(inv.status, inv.status)}"
                        "; only an approved or partly paid invoice with something due can be written off")
    amount = settlement.due(inv)
    if amount <= 0:
        raise UserError(f"nothing is due on invoice {settlement.label(inv)}")
    when = on or utcnow().date()
    if when > utcnow().date():
        raise UserError(f"date: {when:%-d %b %Y} is in the future")
    before = inv.status
    inv.amount_written_off = (inv.amount_written_off or 0) + amount
    inv.status = settlement.derive_status(inv)
    session.add(inv)
    session.flush()
    accounts = chart(session)
    d = Draft(entity_id=inv.entity_id, entry_date=when, memo=f"Invoice {settlement.label(inv)} written off: {reason}",
              source_type="write_off", source_id=inv.id, source_key=f"invoice:{inv.id}:write_off")
    who = {"customer_id": inv.customer_id, "invoice_id": inv.id}
    d.debit(accounts.key("bad_debt"), inv.currency, amount, description=reason, **who)
    d.credit(accounts.key("accounts_receivable"), inv.currency, amount, description=f"Written off: {reason}", **who)
    post(session, d, posted_by=actor.username)
    audit.record(session, actor=actor.username, action="invoice.write_off", entity_type="invoice", entity_id=inv.id,
                 details={"number": inv.number, "amount": amount, "currency": inv.currency, "reason": reason,
                          "before": before, "after": inv.status,
                          "shown": format_money(amount, inv.currency)})
    from core.webhooks import outbox, payloads

    outbox.emit(session, "invoice.written_off", lambda: {
        **payloads.invoice(inv, session.get(Customer, inv.customer_id).external_id),
        "written_off": payloads.money(amount, inv.currency), "reason": reason})
    return inv
