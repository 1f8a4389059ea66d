"""Card payments through Stripe — the rules, without the network (the calls to Stripe are in
:mod:`connectors.stripe_gateway`; this module never imports ``stripe``, ``fastapi`` or ``streamlit``).

- Amounts: Decimal in the app, integers of the currency's minor units at Stripe (:func:`to_minor`,
  :func:`from_minor`), with Stripe's own exceptions: ISK is sent with two (zero) decimals, and the three-decimal
  currencies (BHD, JOD, KWD, OMR, TND) only in multiples of ten.
- A charge that Stripe took is recorded once, as a ``Payment`` with ``provider="stripe"`` and ``provider_id`` the
  PaymentIntent's id, allocated to its invoice (the rest, if the invoice was settled meanwhile, to the wallet) —
  whichever comes first, the synchronous answer or the ``payment_intent.succeeded`` webhook. Both lock the
  invoice (or the customer) and then look for that provider id, so the second finds the first's payment.
- A decline is recorded as a failed payment (for dunning and the customer's history); the invoice stays open.
- A refund of a card payment (the excess of a credit note on a paid invoice) is never sent inside the credit
  note's transaction: the credit note commits it as a ``Refund`` "pending"; then :func:`plan_refund` (may it be
  sent, with which idempotency key), the call (:func:`connectors.stripe_gateway.send_refund`), and
  :func:`record_refund_answer` (succeeded, or failed with Stripe's message) in a short transaction of its own. The key is the refund's id and
  its attempt — the attempt moves on only after a refusal Stripe answered, so a retry after a time-out or a crash
  can never refund twice. No answer at all leaves it pending (:func:`record_refund_unanswered`).
- A webhook event is processed once: its id is stored as a ``ProviderEvent`` in the same transaction as what it
  did, and the same id again is answered as a duplicate.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session, select

from core import audit, wallet
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.invoicing import settlement
from core.invoicing.payments import record_failed_payment, record_payment
from core.models import AuditLog, Customer, Invoice, Payment, ProviderEvent, Refund, utcnow
from core.money import ZERO, MoneyError, currency, format_money, round_money

PROVIDER = "stripe"
#: who the webhook acts as (finance may record payments; the audit log shows "stripe-webhook")
WEBHOOK_ACTOR = Actor("stripe-webhook", "finance")

# Stripe's exceptions to ISO 4217 minor units (docs.stripe.com/currencies, "special cases")
_STRIPE_EXPONENT = {"ISK": 2}  # zero-decimal, but sent as a two-decimal amount ending in 00
_MULTIPLE_OF_TEN = {"BHD", "JOD", "KWD", "OMR", "TND"}  # three decimals, the last one 0


def _exponent(code: str) -> int:
    return _STRIPE_EXPONENT.get(code, currency(code).minor_units)


def to_minor(amount: Decimal, code: str) -> int:
    """``Decimal('12.34'), 'USD'`` → ``1234``; ``Decimal('500'), 'JPY'`` → ``500``. Refuses a float, an amount
    with more decimals than the currency has, and what Stripe cannot charge."""
    if isinstance(amount, float) or not isinstance(amount, (Decimal, int)):
        raise UserError(f"amount {amount!r}: give a Decimal, not a {type(amount).__name__}")
    try:
        cur = currency(code)
    except MoneyError as exc:
        raise UserError(str(exc)) from None
    amount = Decimal(amount)
    if amount != round_money(amount, cur.code):
        raise UserError(f"{amount} has more decimals than {cur.code} allows ({cur.minor_units})")
    minor = amount.scaleb(_exponent(cur.code))
    if minor != minor.to_integral_value():  # cannot happen after the check above; kept as a guard
        raise UserError(f"{amount} {cur.code} is not a whole number of minor units")
    if cur.code in _MULTIPLE_OF_TEN and int(minor) % 10:
        raise UserError(f"Stripe charges {cur.code} only to two decimals: {format_money(amount, cur.code)} "
                        "cannot be charged by card")
    return int(minor)


def from_minor(minor: int, code: str) -> Decimal:
    """``1234, 'usd'`` → ``Decimal('12.34')`` (exact)."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise UserError(f"Stripe amount {minor!r} is not a whole number of minor units")
    cur = currency(code.upper())
    return round_money(Decimal(minor).scaleb(-_exponent(cur.code)), cur.code)


# ---------------------------------------------------------------------------------------------------------------
# settings the customer page changes


def set_auto_charge(session: Session, actor: Actor, customer_id: int, on: bool) -> Customer:
    """Turn charging the saved card on approval on or off (needs a saved payment method to turn it on)."""
    require(actor, "customers:write")
    cust = session.get(Customer, customer_id)
    if cust is None:
        raise NotFound(f"there is no customer #{customer_id}")
    if on and not (cust.stripe_customer_id and cust.stripe_payment_method):
        raise UserError(f"{cust.name} has no saved card: save a payment method first, then turn on automatic "
                        "charging")
    if cust.auto_charge != bool(on):
        cust.auto_charge = bool(on)
        cust.updated_at = utcnow()
        session.add(cust)
        session.flush()
        audit.record(session, actor=actor.username, action="customer.auto_charge", entity_type="customer",
                     entity_id=cust.id, details={"customer": cust.external_id, "auto_charge": cust.auto_charge,
                                                 "before": not cust.auto_charge, "after": cust.auto_charge})
    return cust


# ---------------------------------------------------------------------------------------------------------------
# what a charge needs and what it did


@dataclass(frozen=True)
class ChargePlan:
    invoice_id: int
    invoice_label: str
    customer_id: int
    stripe_customer: str
    payment_method: str
    currency: str
    amount: Decimal
    amount_minor: int
    attempt: int

    @property
    def idempotency_key(self) -> str:
        """Same invoice, same attempt, same amount → the same key: a retry after a time-out gets Stripe's first
        answer back instead of a second charge. A recorded decline moves on to the next attempt."""
        return f"countinghouse-invoice-{self.invoice_id}-attempt-{self.attempt}-{self.amount_minor}"

    @property
    def metadata(self) -> dict[str, str]:
        return {"invoice_id": str(self.invoice_id), "invoice_number": self.invoice_label,
                "customer_id": str(self.customer_id), "attempt": str(self.attempt)}


def failed_reference(invoice_id: int) -> str:
    return f"invoice #{invoice_id}"  # what core.invoicing.payments.record_failed_payment writes


def attempts_of(session: Session, invoice_id: int) -> list[Payment]:
    """The card charges tried on an invoice (declined ones; a succeeded one is an allocation)."""
    inv = session.get(Invoice, invoice_id)
    if inv is None:
        return []
    return list(session.exec(select(Payment).where(
        Payment.customer_id == inv.customer_id, Payment.provider == PROVIDER, Payment.status == "failed",
        Payment.reference == failed_reference(invoice_id)).order_by(Payment.id)))


def plan_charge(session: Session, actor: Actor, invoice_id: int) -> ChargePlan:
    """Check that the invoice can be charged to its customer's saved card, and say how much."""
    require(actor, "invoices:write")
    inv = session.get(Invoice, invoice_id)
    if inv is None:
        raise NotFound(f"there is no invoice #{invoice_id}")
    name = settlement.label(inv)
    if inv.status not in ("approved", "partially_paid"):
        state = "a draft: approve it first" if inv.status == "draft" else inv.status.replace("_", " ")
        raise UserError(f"invoice {name} is {state}; only an approved invoice with something due can be charged")
    due = settlement.due(inv)
    if due <= 0:
        raise UserError(f"nothing is due on invoice {name}")
    cust = session.get(Customer, inv.customer_id)
    if not cust.stripe_customer_id:
        raise UserError(f"{cust.name} is not synced to Stripe yet: sync the customer and save a card first")
    if not cust.stripe_payment_method:
        raise UserError(f"{cust.name} has no saved card: save a payment method on the customer first")
    return ChargePlan(invoice_id=inv.id, invoice_label=name, customer_id=cust.id,
                      stripe_customer=cust.stripe_customer_id, payment_method=cust.stripe_payment_method,
                      currency=inv.currency, amount=due, amount_minor=to_minor(due, inv.currency),
                      attempt=len(attempts_of(session, inv.id)) + 1)


def _lock(session: Session, customer_id: int, invoice_id: int | None) -> Invoice | None:
    """Serialise the two ways a Stripe payment arrives (the charge's answer and the webhook)."""
    if invoice_id is not None:
        inv = settlement.lock_invoices(session, [invoice_id]).get(invoice_id)
        if inv is not None:
            return inv
    wallet.lock_customers(session, [customer_id])
    return None


def _existing(session: Session, provider_id: str, status: str) -> Payment | None:
    return session.exec(select(Payment).where(Payment.provider == PROVIDER, Payment.provider_id == provider_id,
                                              Payment.status == status).order_by(Payment.id)).first()


def record_succeeded(session: Session, actor: Actor, *, customer_id: int, invoice_id: int | None,
                     provider_id: str, currency_code: str, amount: Decimal) -> tuple[Payment, bool]:
    """Record money Stripe took (a PaymentIntent that succeeded), once. Returns (payment, newly recorded).
    Allocated to ``invoice_id`` up to what it still owes; anything else goes to the wallet."""
    inv = _lock(session, customer_id, invoice_id)
    found = _existing(session, provider_id, "succeeded")
    if found is not None:
        return found, False
    allocations: dict[int, object] = {}
    if inv is not None and inv.customer_id == customer_id and inv.currency == currency_code.upper() \
            and inv.status in ("approved", "partially_paid"):
        part = min(settlement.due(inv), amount)
        if part > 0:
            allocations[inv.id] = part
    payment = record_payment(session, actor, customer_id=customer_id, currency_code=currency_code, amount=amount,
                             method="card", received_on=utcnow().date(), reference=f"Stripe {provider_id}",
                             allocations=allocations, provider=PROVIDER, provider_id=provider_id)
    return payment, True


def record_declined(session: Session, actor: Actor, *, customer_id: int, invoice_id: int | None,
                    provider_id: str, currency_code: str, amount: Decimal, failure: str) -> tuple[Payment, bool]:
    """Record a declined charge, once per PaymentIntent (or once, when Stripe gave no id)."""
    _lock(session, customer_id, invoice_id)
    if provider_id:
        found = _existing(session, provider_id, "failed")
        if found is not None:
            return found, False
    payment = record_failed_payment(session, actor, customer_id=customer_id, invoice_id=invoice_id,
                                    currency_code=currency_code.upper(), amount=amount, method="card",
                                    failure=failure, provider=PROVIDER, provider_id=provider_id)
    return payment, True


def settle_refund(session: Session, refund: Refund, *, status: str, provider_id: str = "", failure: str = "",
                  actor: str = "stripe", details: dict | None = None) -> Refund:
    """Set a Refund's outcome from Stripe's refund status (succeeded | pending | failed | canceled …); audited
    when something changed — and every failure, so each refusal counts as an attempt (:func:`refund_attempt`)."""
    mapped = {"succeeded": "succeeded", "pending": "pending", "requires_action": "pending",
              "failed": "failed", "canceled": "failed"}.get(status, "pending")
    before = refund.status
    refund.status = mapped
    if provider_id:
        refund.provider_id = provider_id
    refund.failure = (failure or ("" if mapped != "failed" else f"Stripe: refund {status}"))[:500]
    session.add(refund)
    session.flush()
    if (before == "succeeded") != (refund.status == "succeeded"):  # paid out now, or a paid-out refund failed
        from core.ledger.events import refund_entry

        refund_entry(session, refund, posted_by=actor, provider=PROVIDER, undo=before == "succeeded")
    if before != refund.status or provider_id or refund.status == "failed":
        audit.record(session, actor=actor, action=f"refund.{refund.status}", entity_type="refund",
                     entity_id=refund.id, details={"before": before, "after": refund.status, "amount": refund.amount,
                                                   "currency": refund.currency, "provider_id": refund.provider_id,
                                                   "failure": refund.failure, **(details or {})})
    return refund


# ---------------------------------------------------------------------------------------------------------------
# refunds: plan → call (connectors.stripe_gateway, after the credit note committed) → record


@dataclass(frozen=True)
class RefundPlan:
    refund_id: int
    credit_note_id: int | None
    payment_id: int
    provider_payment: str  # the PaymentIntent (pi_…) or, for older payments, the charge (ch_…) refunded
    currency: str
    amount: Decimal
    attempt: int

    @property
    def idempotency_key(self) -> str:
        """Same refund, same attempt → the same key: sending it again after a time-out (or a crash before its
        answer was recorded) gets Stripe's first refund back instead of a second one. Only a refusal Stripe
        answered moves on to the next attempt (a refused key would answer the same refusal for ever)."""
        return f"countinghouse-refund-{self.refund_id}-attempt-{self.attempt}"

    @property
    def metadata(self) -> dict[str, str]:
        return {"refund_id": str(self.refund_id), "credit_note_id": str(self.credit_note_id or "")}


def is_stripe_refund(session: Session, refund: Refund) -> bool:
    """A refund that goes back to the card through Stripe (the payment it returns was taken by Stripe)."""
    payment = session.get(Payment, refund.payment_id) if refund.payment_id else None
    return payment is not None and payment.provider == PROVIDER and bool(payment.provider_id)


def refund_attempt(session: Session, refund_id: int) -> int:
    """The attempt a refund is at: 1 + the refusals recorded for it (each is audited as ``refund.failed``)."""
    refusals = session.exec(select(AuditLog.id).where(AuditLog.action == "refund.failed",
                                                      AuditLog.entity_type == "refund",
                                                      AuditLog.entity_id == str(refund_id))).all()
    return len(refusals) + 1


def plan_refund(session: Session, actor: Actor, refund_id: int) -> RefundPlan:
    """Check that a refund can be sent to Stripe (again), and with which idempotency key."""
    require(actor, "invoices:write")
    refund = session.get(Refund, refund_id)
    if refund is None:
        raise NotFound(f"there is no refund #{refund_id}")
    if refund.status == "succeeded":
        raise UserError(f"refund #{refund.id} already succeeded" + (f" ({refund.provider_id})" if refund.provider_id
                                                                    else "") + ": there is nothing to send")
    if not is_stripe_refund(session, refund):
        raise UserError(f"refund #{refund.id} returns a {refund.method.replace('_', ' ')} payment, not a card payment "
                        "taken through Stripe: pay it back by hand, then mark it as paid out")
    if refund.status == "pending" and refund.provider_id:
        raise UserError(f"refund #{refund.id} is at Stripe already ({refund.provider_id}); Stripe settles it and "
                        "tells us by webhook — there is nothing to send again")
    payment = session.get(Payment, refund.payment_id)
    return RefundPlan(refund_id=refund.id, credit_note_id=refund.credit_note_id, payment_id=payment.id,
                      provider_payment=payment.provider_id, currency=refund.currency, amount=refund.amount,
                      attempt=refund_attempt(session, refund.id))


def _lock_refund(session: Session, refund_id: int) -> Refund:
    refund = session.exec(select(Refund).where(Refund.id == refund_id).with_for_update()
                          .execution_options(populate_existing=True)).first()
    if refund is None:
        raise NotFound(f"there is no refund #{refund_id}")
    return refund


def record_refund_answer(session: Session, actor: Actor, plan: RefundPlan, *, status: str, provider_id: str = "",
                         failure: str = "") -> Refund:
    """Record what Stripe answered to a refund (its status and id, or its refusal), audited. A refund the webhook
    settled meanwhile is left as the webhook left it."""
    require(actor, "invoices:write")
    refund = _lock_refund(session, plan.refund_id)
    if refund.status == "succeeded":
        return refund  # the webhook settled it first
    if refund.status == "pending" and refund.provider_id and refund.provider_id != provider_id:
        return refund  # another attempt's refund is at Stripe already: do not lose track of it
    return settle_refund(session, refund, status=status, provider_id=provider_id, failure=failure,
                         actor=actor.username, details={"attempt": plan.attempt, "key": plan.idempotency_key})


def record_refund_unanswered(session: Session, actor: Actor, plan: RefundPlan, problem: str) -> Refund:
    """Stripe did not answer (unreachable, a time-out, a server error): the refund may or may not have been made
    there, so it is pending (again, when it had failed before: it must not be paid back by hand now) with the
    problem shown, and the next try uses the same idempotency key."""
    require(actor, "invoices:write")
    refund = _lock_refund(session, plan.refund_id)
    if refund.status == "succeeded" or (refund.status == "pending" and refund.provider_id):
        return refund  # settled (or at Stripe) meanwhile, by the webhook
    before = refund.status
    refund.status = "pending"
    refund.failure = problem[:500]
    session.add(refund)
    session.flush()
    audit.record(session, actor=actor.username, action="refund.unanswered", entity_type="refund",
                 entity_id=refund.id, details={"before": before, "after": refund.status, "amount": refund.amount,
                                               "currency": refund.currency, "attempt": plan.attempt,
                                               "key": plan.idempotency_key, "problem": refund.failure})
    return refund


# ---------------------------------------------------------------------------------------------------------------
# webhooks


@dataclass(frozen=True)
class EventResult:
    event_id: str
    type: str
    duplicate: bool
    outcome: str


def _customer_for(session: Session, obj: dict) -> Customer | None:
    stripe_id = obj.get("customer")
    if isinstance(stripe_id, dict):
        stripe_id = stripe_id.get("id")
    if stripe_id:
        cust = session.exec(select(Customer).where(Customer.stripe_customer_id == stripe_id)).first()
        if cust is not None:
            return cust
    meta = obj.get("metadata") or {}
    if str(meta.get("customer_id", "")).isdigit():
        cust = session.get(Customer, int(meta["customer_id"]))
        if cust is not None and (not stripe_id or not cust.stripe_customer_id or cust.stripe_customer_id == stripe_id):
            return cust
    return None


def _invoice_id(obj: dict) -> int | None:
    value = str((obj.get("metadata") or {}).get("invoice_id", ""))
    return int(value) if value.isdigit() else None


def _pi_amount(obj: dict) -> int:
    received = obj.get("amount_received")
    return received if isinstance(received, int) and received > 0 else obj.get("amount")


def _on_pi_succeeded(session: Session, obj: dict) -> str:
    cust = _customer_for(session, obj)
    if cust is None:
        return f"ignored: {obj.get('id')} is not for a customer of ours"
    code = str(obj.get("currency", "")).upper()
    amount = from_minor(_pi_amount(obj), code)
    payment, new = record_succeeded(session, WEBHOOK_ACTOR, customer_id=cust.id, invoice_id=_invoice_id(obj),
                                    provider_id=obj["id"], currency_code=code, amount=amount)
    if not new:
        return f"already recorded as payment #{payment.id}"
    return f"recorded payment #{payment.id} of {format_money(amount, code)}"


def _on_pi_failed(session: Session, obj: dict) -> str:
    cust = _customer_for(session, obj)
    if cust is None:
        return f"ignored: {obj.get('id')} is not for a customer of ours"
    code = str(obj.get("currency", "")).upper()
    error = obj.get("last_payment_error") or {}
    failure = error.get("message") or error.get("code") or "the charge failed"
    payment, new = record_declined(session, WEBHOOK_ACTOR, customer_id=cust.id, invoice_id=_invoice_id(obj),
                                   provider_id=obj["id"], currency_code=code,
                                   amount=from_minor(obj.get("amount"), code), failure=failure)
    return f"recorded failed payment #{payment.id}: {failure}" if new else \
        f"failure already recorded as payment #{payment.id}"


def _refunds_of_payment(session: Session, pi_id: str) -> list[Refund]:
    payment_ids = select(Payment.id).where(Payment.provider == PROVIDER, Payment.provider_id == pi_id)
    return list(session.exec(select(Refund).where(Refund.payment_id.in_(payment_ids)).order_by(Refund.id)))


def _on_charge_refunded(session: Session, obj: dict) -> str:
    pi_id = obj.get("payment_intent")
    if isinstance(pi_id, dict):
        pi_id = pi_id.get("id")
    ours = _refunds_of_payment(session, pi_id) if pi_id else []
    if not ours:
        return f"ignored: no refund of ours on charge {obj.get('id')}"
    listed = (obj.get("refunds") or {}).get("data")
    done = []
    if listed:  # the event lists the charge's refunds: settle ours by their ids
        by_id = {r.get("id"): r for r in listed if isinstance(r, dict)}
        for refund in ours:
            stripe_refund = by_id.get(refund.provider_id)
            if stripe_refund and refund.status != "succeeded":
                settle_refund(session, refund, status=stripe_refund.get("status", "succeeded"),
                              failure=stripe_refund.get("failure_reason") or "", actor=WEBHOOK_ACTOR.username)
                done.append(refund)
    else:  # newer API versions leave the list out: a refunded charge settles the refunds sent to Stripe
        for refund in ours:
            if refund.status == "pending" and refund.provider_id:
                settle_refund(session, refund, status="succeeded", actor=WEBHOOK_ACTOR.username)
                done.append(refund)
    return f"settled refund(s) {', '.join('#' + str(r.id) for r in done)}" if done else "refunds already settled"


def _on_refund_updated(session: Session, obj: dict) -> str:
    refund = session.exec(select(Refund).where(Refund.provider_id == obj.get("id"))).first() if obj.get("id") \
        else None
    if refund is None:  # a refund whose answer never reached us (a time-out): known by the id in its metadata
        ours = str((obj.get("metadata") or {}).get("refund_id", ""))
        candidate = session.get(Refund, int(ours)) if ours.isdigit() else None
        if candidate is not None and not candidate.provider_id and candidate.status == "pending" \
                and is_stripe_refund(session, candidate):
            refund = candidate
            settle_refund(session, refund, status=obj.get("status", "pending"), provider_id=str(obj.get("id") or ""),
                          failure=obj.get("failure_reason") or "", actor=WEBHOOK_ACTOR.username)
            return f"refund #{refund.id} is {refund.status}"
    if refund is None:
        return f"ignored: refund {obj.get('id')} was not made here"
    settle_refund(session, refund, status=obj.get("status", "pending"), failure=obj.get("failure_reason") or "",
                  actor=WEBHOOK_ACTOR.username)
    return f"refund #{refund.id} is {refund.status}"


HANDLERS = {
    "payment_intent.succeeded": _on_pi_succeeded,
    "payment_intent.payment_failed": _on_pi_failed,
    "charge.refunded": _on_charge_refunded,
    "refund.created": _on_refund_updated,
    "refund.updated": _on_refund_updated,
    "refund.failed": _on_refund_updated,
    "charge.refund.updated": _on_refund_updated,
}


def handle_event(session: Session, event: dict) -> EventResult:
    """Process a verified Stripe event (its JSON as a dict) once. The caller commits; a second delivery of the
    same id is a duplicate (on PostgreSQL, a concurrent one fails on the primary key at flush or commit: the
    caller rolls back and answers it as a duplicate too). A refusal (a payment the rules do not allow) is
    kept as the event's outcome rather than raised, so Stripe does not send it again and again."""
    event_id, kind = str(event.get("id") or ""), str(event.get("type") or "")
    if not event_id.startswith("evt_") or not kind:
        raise UserError("not a Stripe event: it needs an id (evt_…) and a type")
    seen = session.get(ProviderEvent, event_id)
    if seen is not None:
        return EventResult(event_id, kind, True, seen.outcome)
    record = ProviderEvent(id=event_id, provider=PROVIDER, type=kind[:100])
    session.add(record)
    session.flush()
    handler = HANDLERS.get(kind)
    obj = ((event.get("data") or {}).get("object")) or {}
    if handler is None:
        outcome = "ignored: not an event Counting House acts on"
    else:
        try:
            with session.begin_nested():
                outcome = handler(session, obj)
        except UserError as exc:
            outcome = f"refused: {exc}"
    record.outcome = outcome[:500]
    session.add(record)
    session.flush()
    if handler is not None:
        audit.record(session, actor=WEBHOOK_ACTOR.username, action="stripe.webhook", entity_type="provider_event",
                     entity_id=event_id, details={"type": kind, "object": obj.get("id"), "outcome": record.outcome})
    return EventResult(event_id, kind, False, record.outcome)


def events(session: Session, limit: int = 200) -> list[ProviderEvent]:
    return list(session.exec(select(ProviderEvent).order_by(ProviderEvent.received_at.desc()).limit(limit)))


def received_events(session: Session, actor: Actor, limit: int = 200) -> list[ProviderEvent]:
    """The webhook events received, newest first, for people who may read invoices (the Payments page)."""
    require(actor, "invoices:read")
    return events(session, limit)


__all__ = [
    "PROVIDER",
    "WEBHOOK_ACTOR",
    "ZERO",
    "ChargePlan",
    "EventResult",
    "attempts_of",
    "from_minor",
    "handle_event",
    "plan_charge",
    "RefundPlan",
    "is_stripe_refund",
    "plan_refund",
    "received_events",
    "record_declined",
    "record_refund_answer",
    "record_refund_unanswered",
    "record_succeeded",
    "refund_attempt",
    "set_auto_charge",
    "settle_refund",
    "to_minor",
]
