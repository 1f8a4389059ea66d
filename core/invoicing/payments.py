"""Payments received: recorded by hand (bank transfer, cheque, cash) or by a provider (Stripe), allocated across
one customer's open invoices, the unallocated rest put in the customer's wallet. Rules in
:mod:`core.invoicing.settlement`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from core import audit, wallet
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.invoicing import settlement
from core.models import Customer, Invoice, Payment, PaymentAllocation, utcnow
from core.money import ZERO, MoneyError, currency, format_money, round_money, to_decimal

METHODS = {"bank_transfer": "Bank transfer", "cheque": "Cheque", "cash": "Cash", "card": "Card",
           "other": "Other"}
MANUAL_METHODS = ("bank_transfer", "cheque", "cash", "other")


@dataclass(frozen=True)
class OpenInvoice:
    id: int
    number: str
    issue_date: date
    due_date: date
    currency: str
    total: Decimal
    due: Decimal


def open_invoices(session: Session, customer_id: int, currency_code: str | None = None) -> list[OpenInvoice]:
    """The customer's approved invoices with something still due, oldest due date first."""
    q = select(Invoice).where(Invoice.customer_id == customer_id,
                              Invoice.status.in_(("approved", "partially_paid")))
    if currency_code:
        q = q.where(Invoice.currency == currency_code)
    rows = [inv for inv in session.exec(q.order_by(Invoice.due_date, Invoice.id)) if settlement.due(inv) > 0]
    return [OpenInvoice(i.id, i.number or "", i.issue_date, i.due_date, i.currency, i.total, settlement.due(i))
            for i in rows]


def _amount(value, code: str, what: str) -> Decimal:  # noqa: ANN001
    try:
        d = to_decimal(value, field=what)
    except MoneyError as exc:
        raise UserError(str(exc)) from None
    if d != round_money(d, code):
        raise UserError(f"{what}: {value} has more decimals than {code} allows ({currency(code).minor_units})")
    return d


def record_payment(session: Session, actor: Actor, *, customer_id: int, currency_code: str, amount,
                   method: str, received_on: date, reference: str = "",
                   allocations: dict[int, object] | None = None, provider: str = "", provider_id: str = "",
                   ) -> Payment:
    """Record money received and allocate it. ``allocations`` maps invoice ids to amounts; ``None`` settles the
    customer's open invoices oldest due first. Whatever is not allocated goes to the wallet. All or nothing:
    any problem and nothing is recorded."""
    require(actor, "invoices:write")
    cust = session.get(Customer, customer_id)
    if cust is None:
        raise NotFound(f"there is no customer #{customer_id}")
    problems = []
    try:
        code = currency(currency_code).code
    except MoneyError as exc:
        raise UserError(str(exc)) from None
    total = _amount(amount, code, "amount")
    if total <= 0:
        problems.append("amount: must be more than zero")
    if method not in METHODS:
        problems.append(f"method: choose one of {', '.join(METHODS.values())}")
    reference = (reference or "").strip()
    if len(reference) > 200:
        problems.append("reference: at most 200 characters")
    if received_on > utcnow().date():
        problems.append(f"received on: {received_on:%-d %b %Y} is in the future")
    if problems:
        raise UserError("; ".join(problems))

    if allocations is None:  # oldest first
        plan, left = {}, total
        for oi in open_invoices(session, cust.id, code):
            if left <= 0:
                break
            plan[oi.id] = min(oi.due, left)
            left -= plan[oi.id]
    else:
        plan = {int(k): _amount(v, code, "allocation") for k, v in allocations.items()}
    plan = {k: v for k, v in plan.items() if v != 0}
    invoices = settlement.lock_invoices(session, list(plan))
    for inv_id, part in plan.items():
        inv = invoices.get(inv_id)
        if inv is None:
            problems.append(f"invoice #{inv_id}: there is no such invoice")
            continue
        name = settlement.label(inv)
        if inv.customer_id != cust.id:
            problems.append(f"invoice {name}: it belongs to another customer")
        elif inv.currency != code:
            problems.append(f"invoice {name}: it is in {inv.currency}, the payment in {code}")
        elif inv.status not in ("approved", "partially_paid"):
            problems.append(f"invoice {name}: it is {inv.status.replace('_', ' ')}; nothing is due on it")
        elif part < 0:
            problems.append(f"invoice {name}: an allocation cannot be negative")
        elif part > settlement.due(inv):
            problems.append(f"invoice {name}: {format_money(part, code)} is more than the "
                            f"{format_money(settlement.due(inv), code)} due on it")
    allocated = sum(plan.values(), ZERO)
    if allocated > total:
        problems.append(f"the allocations ({format_money(allocated, code)}) add up to more than the payment "
                        f"({format_money(total, code)})")
    if problems:
        raise UserError("; ".join(problems))

    payment = Payment(entity_id=cust.entity_id, customer_id=cust.id, currency=code, amount=total, method=method,
                      reference=reference, received_on=received_on, unallocated=total - allocated,
                      provider=provider, provider_id=provider_id, created_by=actor.username)
    session.add(payment)
    session.flush()
    changes = []
    for inv_id, part in plan.items():
        inv = invoices[inv_id]
        session.add(PaymentAllocation(payment_id=payment.id, invoice_id=inv_id, amount=part))
        before = inv.status
        inv.amount_paid += part
        inv.status = settlement.derive_status(inv)
        session.add(inv)
        changes.append({"invoice": settlement.label(inv), "amount": part, "before": before, "after": inv.status})
    if payment.unallocated > 0:
        wallet.add_credit(session, actor, customer_id=cust.id, currency=code, amount=payment.unallocated,
                          kind="payment", note=f"Unallocated part of payment #{payment.id}"
                                               + (f" ({reference})" if reference else ""),
                          effective_date=received_on)
    session.flush()
    from core.ledger.events import payment_entry

    payment_entry(session, payment, plan, posted_by=actor.username)
    audit.record(session, actor=actor.username, action="payment.record", entity_type="payment", entity_id=payment.id,
                 details={"customer": cust.external_id, "amount": total, "currency": code, "method": method,
                          "reference": reference, "allocations": changes, "to_wallet": payment.unallocated})
    from core.webhooks import outbox, payloads

    outbox.emit(session, "payment.received",
                lambda: payloads.payment(session, payment, plan, {i: invoices[i].number for i in plan}))
    for inv_id, change in zip(plan, changes):
        if change["after"] == "paid" and change["before"] != "paid":
            outbox.emit(session, "invoice.paid", lambda inv=invoices[inv_id]: payloads.invoice(inv, cust.external_id))
    return payment


def record_failed_payment(session: Session, actor: Actor, *, customer_id: int, invoice_id: int | None,
                          currency_code: str, amount, method: str, failure: str, provider: str = "",
                          provider_id: str = "") -> Payment:
    """A declined charge: kept (for dunning and the customer's history), settles nothing."""
    require(actor, "invoices:write")
    cust = session.get(Customer, customer_id)
    if cust is None:
        raise NotFound(f"there is no customer #{customer_id}")
    payment = Payment(entity_id=cust.entity_id, customer_id=cust.id, currency=currency_code,
                      amount=to_decimal(amount), method=method, received_on=utcnow().date(), status="failed",
                      failure=(failure or "declined")[:500], provider=provider, provider_id=provider_id,
                      reference=f"invoice #{invoice_id}" if invoice_id else "", created_by=actor.username)
    session.add(payment)
    session.flush()
    audit.record(session, actor=actor.username, action="payment.failed", entity_type="payment", entity_id=payment.id,
                 details={"customer": cust.external_id, "invoice_id": invoice_id, "amount": payment.amount,
                          "failure": payment.failure, "provider": provider})
    from core.webhooks import outbox, payloads

    outbox.emit(session, "payment.failed", lambda: payloads.failed_payment(session, payment, invoice_id))
    return payment


def payments_of(session: Session, *, customer_id: int | None = None, invoice_id: int | None = None,
                limit: int = 500) -> list[Payment]:
    q = select(Payment).order_by(Payment.received_on.desc(), Payment.id.desc()).limit(limit)
    if customer_id is not None:
        q = q.where(Payment.customer_id == customer_id)
    if invoice_id is not None:
        q = q.where(Payment.id.in_(select(PaymentAllocation.payment_id)
                                   .where(PaymentAllocation.invoice_id == invoice_id)))
    return list(session.exec(q))


def allocations_of(session: Session, invoice_id: int) -> list[tuple[PaymentAllocation, Payment]]:
    return list(session.exec(select(PaymentAllocation, Payment).join(Payment, Payment.id == PaymentAllocation.payment_id)
                             .where(PaymentAllocation.invoice_id == invoice_id, PaymentAllocation.amount > 0)
                             .order_by(PaymentAllocation.id)))
