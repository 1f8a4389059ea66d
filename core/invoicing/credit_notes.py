"""Credit notes: take money back from an approved invoice — per line or as an amount — with a reason.

A credit note is numbered in its seller's own gapless sequence (``CN-000001``), is final once issued (a wrong one
is corrected by issuing another invoice), and links both ways: the invoice lists its credit notes, each credit
note names its invoice. Where the money goes is :mod:`core.invoicing.settlement`'s rule: first the amount due;
the excess (the invoice was already paid) to the customer's wallet or refunded; credit notes covering the whole
invoice make it void.

A refund is a :class:`~core.models.Refund` that starts "pending" in the credit note's transaction and never
leaves it from there: a card payment's refund goes to Stripe after that transaction committed
(:mod:`connectors.stripe_gateway`: ``send_refunds``, ``retry_refund``); a bank transfer, cheque or cash payment's
refund is paid out by a person, who marks it paid out here (:func:`mark_refund_paid_out`) — as they do for a card
refund Stripe refused and they paid back by other means. :func:`refunds` lists them with what can be done next.

Per line, the line's share of the invoice's tax is credited with it (a separate tax line on the credit note), so
crediting a $100 line on an invoice taxed at 18 % credits $118. An amount is taken as tax-inclusive and split the
same way. A line can be credited up to what it really billed (its amount less the discounts and credits shown under
it) minus what was credited on it before; the invoice up to what is left of its total.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, update
from sqlmodel import Session, select

from core import audit, wallet
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.invoicing import settlement
from core.models import BusinessEntity, CreditNote, CreditNoteLine, Invoice, InvoiceLine, Refund, utcnow
from core.money import ZERO, MoneyError, currency, format_money, round_money, to_decimal

EXCESS = {"wallet": "Keep it as credit in the customer's wallet", "refund": "Refund it to the customer"}
CREDITABLE_KINDS = ("usage", "fixed", "one_time", "true_up", "service_fee", "adjustment")


def _next_number(session: Session, entity_id: int) -> str:
    stmt = (update(BusinessEntity).where(BusinessEntity.id == entity_id)
            .values(next_credit_note_number=BusinessEntity.next_credit_note_number + 1)
            .returning(BusinessEntity.next_credit_note_number, BusinessEntity.credit_note_prefix))
    new_next, prefix = session.connection().execute(stmt).one()
    return f"{prefix}{new_next - 1:06d}"


def _money(value, code: str, what: str):  # noqa: ANN001, ANN202
    try:
        d = to_decimal(value, field=what)
    except MoneyError as exc:
        raise UserError(str(exc)) from None
    if d != round_money(d, code):
        raise UserError(f"{what}: {value} has more decimals than {code} allows ({currency(code).minor_units})")
    if d <= 0:
        raise UserError(f"{what}: must be more than zero")
    return d


def credited_by_line(session: Session, invoice_id: int) -> dict[int, object]:
    rows = session.exec(select(CreditNoteLine.invoice_line_id, func.sum(CreditNoteLine.amount))
                        .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
                        .where(CreditNote.invoice_id == invoice_id, CreditNoteLine.invoice_line_id.is_not(None))
                        .group_by(CreditNoteLine.invoice_line_id)).all()
    return {line_id: (total if total is not None else ZERO) for line_id, total in rows}


def net_by_line(lines: list[InvoiceLine], code: str) -> dict[int, object]:
    """What each charge line really billed: its amount with the discounts and credits shown under it (indented
    steps that follow it) — the most a credit note can give back on that line. Lines in invoice order."""
    net: dict[int, object] = {}
    owner = None
    for ln in lines:
        if ln.kind in CREDITABLE_KINDS and not (ln.indent and ln.kind in ("true_up", "service_fee")):
            owner = ln.id
            net[ln.id] = round_money(ln.amount, code)
        elif ln.kind in ("discount", "credit_grant") and owner is not None and ln.indent:
            net[owner] += round_money(ln.amount, code)
    return {k: max(v, ZERO) for k, v in net.items()}


def _tax_share(inv: Invoice, net, code: str):  # noqa: ANN001, ANN202
    """The tax that goes with ``net`` of this invoice's lines (the invoice's own tax/subtotal ratio)."""
    if not inv.tax or inv.subtotal <= 0:
        return ZERO
    return round_money(net * inv.tax / inv.subtotal, code)


def issue_credit_note(session: Session, actor: Actor, invoice_id: int, *, reason: str,
                      lines: dict[int, object] | None = None, amount=None, excess: str = "wallet",
                      issue_date: date | None = None) -> CreditNote:
    """Issue a credit note on an approved, partially paid or paid invoice.

    ``lines`` maps invoice line ids to the (pre-tax) amount credited on each; or ``amount`` credits that much
    of the invoice (tax included). ``excess`` says where money beyond the amount due goes: ``wallet`` or
    ``refund``. A refund is recorded here as a pending :class:`~core.models.Refund` and nothing else: one of a
    card payment is sent to Stripe after this transaction commits
    (:func:`connectors.stripe_gateway.send_refunds`), one of a bank transfer, cheque or cash payment is paid out by
    a person, who then marks it paid out (:func:`mark_refund_paid_out`).
    """
    require(actor, "invoices:approve")
    reason = (reason or "").strip()
    problems = []
    if not reason:
        problems.append("reason: say why the customer is credited (it is printed on the credit note)")
    elif len(reason) > 500:
        problems.append("reason: at most 500 characters")
    if (lines is None) == (amount is None):
        problems.append("credit either chosen lines or an amount, not both and not neither")
    if excess not in EXCESS:
        problems.append(f"excess: choose {' or '.join(EXCESS)}")
    if problems:
        raise UserError("; ".join(problems))
    inv = settlement.lock_invoices(session, [invoice_id]).get(invoice_id)
    if inv is None:
        raise NotFound(f"there is no invoice #{invoice_id}")
    settlement.require_settleable(inv, "a credit note")
    code = inv.currency
    creditable = inv.total - (inv.amount_credited or ZERO)
    note_lines: list[CreditNoteLine] = []
    if lines is not None:
        if not lines:
            raise UserError("lines: choose at least one line to credit")
        invoice_lines = {ln.id: ln for ln in session.exec(select(InvoiceLine).where(
            InvoiceLine.invoice_id == inv.id).order_by(InvoiceLine.sort_order, InvoiceLine.id))}
        net = net_by_line(list(invoice_lines.values()), code)
        already = credited_by_line(session, inv.id)
        net_total = ZERO
        for line_id, value in lines.items():
            ln = invoice_lines.get(line_id)
            if ln is None:
                raise UserError(f"line #{line_id} is not a line of invoice {settlement.label(inv)}")
            value = _money(value, code, f"line “{ln.description}”")
            left = net.get(ln.id, ZERO) - already.get(ln.id, ZERO)
            if ln.kind not in CREDITABLE_KINDS or ln.amount <= 0:
                raise UserError(f"line “{ln.description}”: only charges can be credited (not discounts, credits "
                                "or tax — tax is credited with its line)")
            if value > left:
                raise UserError(f"line “{ln.description}”: {format_money(value, code)} is more than the "
                                f"{format_money(left, code)} left to credit on it")
            note_lines.append(CreditNoteLine(invoice_line_id=ln.id, description=ln.description,
                                             quantity=ln.quantity if value == round_money(ln.amount, code) else ZERO,
                                             amount=value))
            net_total += value
        tax = _tax_share(inv, net_total, code)
        tax_line = next((ln for ln in invoice_lines.values() if ln.kind == "tax"), None)
        if tax:
            note_lines.append(CreditNoteLine(invoice_line_id=tax_line.id if tax_line else None,
                                             description=tax_line.description if tax_line else "Tax", amount=tax))
    else:
        gross = _money(amount, code, "amount")
        tax = ZERO if inv.total <= 0 else round_money(gross * inv.tax / inv.total, code)
        note_lines.append(CreditNoteLine(description=f"Credit on invoice {settlement.label(inv)}", amount=gross - tax))
        if tax:
            note_lines.append(CreditNoteLine(description="Tax", amount=tax))
    total = sum((ln.amount for ln in note_lines), ZERO)
    if total > creditable:
        raise UserError(f"the credit note ({format_money(total, code)}) is more than the "
                        f"{format_money(creditable, code)} of invoice {settlement.label(inv)} not yet credited")

    owed = max(settlement.due(inv), ZERO)
    applied = min(total, owed)
    extra = total - applied
    note = CreditNote(entity_id=inv.entity_id, customer_id=inv.customer_id, invoice_id=inv.id,
                      number=_next_number(session, inv.entity_id), currency=code, reason=reason, total=total,
                      applied=applied, issue_date=issue_date or utcnow().date(), created_by=actor.username)
    session.add(note)
    session.flush()
    for ln in note_lines:
        ln.credit_note_id = note.id
    session.add_all(note_lines)
    inv.amount_credited = (inv.amount_credited or ZERO) + total
    refunds: list[Refund] = []
    if extra > 0:
        from_payments = min(extra, inv.amount_paid)
        from_prepaid = extra - from_payments  # paid with wallet credit at approval: it can only go back there
        if from_prepaid:
            inv.credits_applied -= from_prepaid
        taken = settlement.take_back(session, inv, from_payments) if from_payments else []
        to_wallet = from_prepaid + (from_payments if excess == "wallet" else ZERO)
        for payment, part in taken:
            if excess == "wallet":
                payment.unallocated += part
            else:
                payment.refunded += part
                refunds.append(Refund(customer_id=inv.customer_id, payment_id=payment.id, credit_note_id=note.id,
                                      currency=code, amount=part, method=payment.method, status="pending",
                                      created_by=actor.username))
            session.add(payment)
        if to_wallet:
            wallet.add_credit(session, actor, customer_id=inv.customer_id, currency=code, amount=to_wallet,
                              kind="credit_note", note=f"Credit note {note.number} on invoice {settlement.label(inv)}")
        note.to_wallet = to_wallet
        note.refunded = extra - to_wallet
    before = inv.status
    inv.status = settlement.derive_status(inv)
    session.add_all([inv, note, *refunds])
    session.flush()
    from core.ledger.events import credit_note_entry, refund_entry

    credit_note_entry(session, note, inv, posted_by=actor.username)
    for refund in refunds:
        if refund.status == "succeeded":  # paid back by hand at once (cash, cheque, transfer)
            refund_entry(session, refund, posted_by=actor.username, entity_id=inv.entity_id)
    audit.record(session, actor=actor.username, action="credit_note.issue", entity_type="invoice", entity_id=inv.id,
                 details={"credit_note": note.number, "total": total, "reason": reason, "applied": applied,
                          "to_wallet": note.to_wallet, "refunded": note.refunded, "before": before,
                          "after": inv.status})
    from core.webhooks import outbox, payloads

    outbox.emit(session, "credit_note.created", lambda: payloads.credit_note(session, note, inv))
    if inv.status != before and inv.status in ("void", "paid"):  # credited in full, or what was left is settled
        outbox.emit(session, "invoice.voided" if inv.status == "void" else "invoice.paid",
                    lambda: payloads.invoices(session, [inv])[0])
    return note


def credit_notes_of(session: Session, invoice_id: int) -> list[CreditNote]:
    return list(session.exec(select(CreditNote).where(CreditNote.invoice_id == invoice_id).order_by(CreditNote.id)))


def credit_note_lines(session: Session, credit_note_id: int) -> list[CreditNoteLine]:
    return list(session.exec(select(CreditNoteLine).where(CreditNoteLine.credit_note_id == credit_note_id)
                             .order_by(CreditNoteLine.id)))


def get_credit_note(session: Session, credit_note_id: int) -> CreditNote:
    note = session.get(CreditNote, credit_note_id)
    if note is None:
        raise NotFound(f"there is no credit note #{credit_note_id}")
    return note


# ---------------------------------------------------------------------------------------------------------------
# refunds: the list and "mark as paid out"


@dataclass(frozen=True)
class RefundRow:
    """A refund as the Refunds list shows it, with what may be done with it next."""

    id: int
    customer_id: int
    customer: str
    credit_note: str
    invoice: str
    currency: str
    amount: object
    method: str
    through_stripe: bool
    status: str  # pending | succeeded | failed
    state: str  # in words: "Sent to Stripe", "To pay out by hand", "Failed" …
    failure: str
    provider_id: str
    created_at: datetime
    created_by: str
    can_retry: bool  # a Stripe refund that failed, or was not sent / not answered: send it (again, same key)
    can_mark_paid_out: bool  # paid back by hand: a manual refund still to pay, or a Stripe refund that failed


def _state(status: str, through_stripe: bool, provider_id: str, failure: str) -> str:
    if status == "succeeded":
        return "Refunded to the card" if through_stripe and provider_id else "Paid out"
    if status == "failed":
        return "Failed at Stripe" if through_stripe else "Failed"
    if not through_stripe:
        return "To pay out by hand"
    if provider_id:
        return "At Stripe, not settled yet"
    return "No answer from Stripe: send it again" if failure else "Not sent to Stripe yet"


def refunds(session: Session, actor: Actor, *, customer_id: int | None = None, limit: int = 500) -> list[RefundRow]:
    """Refunds, newest first, with their customer, credit note and what can be done next."""
    from core.models import Customer, Payment

    require(actor, "invoices:read")
    q = (select(Refund, Customer.name, CreditNote.number, Invoice.number, Invoice.id, Payment.provider,
                Payment.provider_id)
         .join(Customer, Customer.id == Refund.customer_id)
         .join(CreditNote, CreditNote.id == Refund.credit_note_id, isouter=True)
         .join(Invoice, Invoice.id == CreditNote.invoice_id, isouter=True)
         .join(Payment, Payment.id == Refund.payment_id, isouter=True)
         .order_by(Refund.created_at.desc(), Refund.id.desc()).limit(limit))
    if customer_id is not None:
        q = q.where(Refund.customer_id == customer_id)
    rows = []
    for refund, customer, note_number, invoice_number, invoice_id, provider, provider_payment in session.exec(q):
        stripe_ = provider == "stripe" and bool(provider_payment)
        unanswered = refund.status == "pending" and not refund.provider_id
        rows.append(RefundRow(
            id=refund.id, customer_id=refund.customer_id, customer=customer, credit_note=note_number or "",
            invoice=invoice_number or (f"#{invoice_id}" if invoice_id else ""), currency=refund.currency,
            amount=refund.amount, method=refund.method, through_stripe=stripe_, status=refund.status,
            state=_state(refund.status, stripe_, refund.provider_id, refund.failure), failure=refund.failure,
            provider_id=refund.provider_id, created_at=refund.created_at, created_by=refund.created_by,
            can_retry=stripe_ and (refund.status == "failed" or unanswered),
            can_mark_paid_out=(not stripe_ and refund.status == "pending") or (stripe_ and refund.status == "failed")))
    return rows


def mark_refund_paid_out(session: Session, actor: Actor, refund_id: int, *, reference: str = "",
                         paid_on: date | None = None) -> Refund:
    """A person paid the refund back (a bank transfer, a cheque, cash — or by hand after Stripe refused it):
    the refund succeeds, with the reference of that payment, audited."""
    require(actor, "invoices:write")
    reference = (reference or "").strip()
    if len(reference) > 200:
        raise UserError("reference: at most 200 characters")
    refund = session.exec(select(Refund).where(Refund.id == refund_id).with_for_update()
                          .execution_options(populate_existing=True)).first()
    if refund is None:
        raise NotFound(f"there is no refund #{refund_id}")
    from core.payments_stripe import is_stripe_refund

    stripe_ = is_stripe_refund(session, refund)
    shown = format_money(refund.amount, refund.currency)
    if refund.status == "succeeded":
        raise UserError(f"refund #{refund.id} ({shown}) is already paid out")
    if stripe_ and refund.status == "pending":
        raise UserError(f"refund #{refund.id} ({shown}) goes back to the card through Stripe and has not failed: "
                        "wait for Stripe's answer, or retry it if it has none")
    paid_on = paid_on or utcnow().date()
    if paid_on > utcnow().date():
        raise UserError(f"paid on: {paid_on:%-d %b %Y} is in the future; give the day the money left")
    before, failure = refund.status, refund.failure
    refund.status = "succeeded"
    refund.failure = ""
    session.add(refund)
    session.flush()
    from core.ledger.events import refund_entry

    refund_entry(session, refund, posted_by=actor.username, on=paid_on)  # paid by hand: from Cash, that day
    audit.record(session, actor=actor.username, action="refund.paid_out", entity_type="refund", entity_id=refund.id,
                 details={"before": before, "after": refund.status, "amount": refund.amount,
                          "currency": refund.currency,
                          "method": refund.method, "reference": reference, "paid_on": paid_on,
                          "by_hand_after_stripe": stripe_, "stripe_failure": failure if stripe_ else ""})
    return refund
