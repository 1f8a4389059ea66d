"""Stripe: customers, saved cards, charging approved invoices, refunds — through the real ``stripe`` library.

Settings come from the environment, read on every call (so a change needs no restart, and tests can point the
app at localstripe):

``STRIPE_API_KEY``         the secret key (``sk_test_…`` or ``sk_live_…``); unset → Stripe is "not set up" and
                           every action here says so instead of failing.
``STRIPE_WEBHOOK_SECRET``  the signing secret of the webhook endpoint (``whsec_…``), for POST /v1/stripe/webhook.
``STRIPE_API_BASE``        another address for the API (a local fake such as localstripe); default Stripe's own.

Every action checks the actor's permission first (``customers:write`` to sync a customer and save a card,
``invoices:write`` to charge and to refund), is audited, and turns every Stripe error into either a readable
:class:`~core.errors.UserError` (nothing happened) or a recorded failure (a declined charge, a refused refund) —
never a traceback. The caller commits, as with every service; a charge's outcome is recorded in the session, so
commit it even when the charge was declined (:func:`charge_after_approval` commits per invoice itself).

The rules (amount conversion, recording once, webhooks) are in :mod:`core.payments_stripe`.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import stripe
from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.models import AuditLog, Customer, Invoice, Payment, Refund, utcnow
from core.money import format_money
from core.payments_stripe import (
    PROVIDER,
    ChargePlan,
    from_minor,
    plan_charge,
    record_declined,
    record_succeeded,
    settle_refund,
    to_minor,
)

log = logging.getLogger("connectors.stripe")

#: test card numbers offered in test mode, with what Stripe (and localstripe) do with them
TEST_CARDS: dict[str, str] = {
    "4242424242424242": "Visa — charges succeed",
    "4000000000000341": "Visa — saves, but every charge is declined",
    "4000000000000002": "Visa — declined (Stripe refuses to save it)",
    "4000002500003155": "Visa — needs the customer's authentication (3-D Secure)",
}
# Stripe's test PaymentMethods for some of them: these work on real Stripe in test mode too (raw card numbers
# are refused there unless the account may send card data itself)
_TEST_PAYMENT_METHODS = {"4242424242424242": "pm_card_visa", "4000000000000002": "pm_card_visa_chargeDeclined",
                         "4000000000000341": "pm_card_chargeCustomerFail"}


# ---------------------------------------------------------------------------------------------------------------
# settings and the client


@dataclass(frozen=True)
class StripeSettings:
    api_key: str = ""
    webhook_secret: str = ""
    api_base: str = ""

    @classmethod
    def from_env(cls) -> StripeSettings:
        return cls(api_key=os.environ.get("STRIPE_API_KEY", "").strip(),
                   webhook_secret=os.environ.get("STRIPE_WEBHOOK_SECRET", "").strip(),
                   api_base=os.environ.get("STRIPE_API_BASE", "").strip().rstrip("/"))

    @property
    def configured(self) -> bool:
        return bool(self.api_key)

    @property
    def test_mode(self) -> bool:
        return self.api_key.startswith(("sk_test_", "rk_test_")) or bool(self.api_base)


def settings() -> StripeSettings:
    return StripeSettings.from_env()


@functools.lru_cache(maxsize=8)
def _client(api_key: str, api_base: str) -> stripe.StripeClient:
    # Retries are safe: every request that creates something carries an idempotency key.
    return stripe.StripeClient(api_key, base_addresses={"api": api_base} if api_base else None,
                               max_network_retries=2)


def client(cfg: StripeSettings | None = None) -> stripe.StripeClient:
    cfg = cfg or settings()
    if not cfg.configured:
        raise UserError("Stripe is not set up: set STRIPE_API_KEY (a secret key from the Stripe dashboard) in the "
                        "app's environment")
    return _client(cfg.api_key, cfg.api_base)


def _dict(obj: Any) -> dict:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def readable(exc: stripe.StripeError, doing: str) -> str:
    """A sentence for a person: what we were doing and what Stripe said."""
    said = (getattr(exc, "user_message", None) or str(exc) or "").strip() or type(exc).__name__
    if isinstance(exc, stripe.AuthenticationError):
        return f"Stripe refused the API key while {doing}: check STRIPE_API_KEY"
    if isinstance(exc, stripe.PermissionError):
        return f"the Stripe API key may not do this ({doing}): {said}"
    if isinstance(exc, stripe.APIConnectionError):
        return (f"Stripe could not be reached while {doing}; nothing is recorded — try again (a retry never "
                "charges twice)")
    if isinstance(exc, stripe.RateLimitError):
        return f"Stripe is busy (too many requests) while {doing}; try again in a minute"
    if isinstance(exc, stripe.IdempotencyError):
        return f"Stripe refused a repeated request while {doing}: {said}"
    if isinstance(exc, stripe.InvalidRequestError) and exc.http_status == 404:
        return f"Stripe does not know what was asked for while {doing} ({said}): check the id"
    if isinstance(exc, stripe.CardError):
        return f"the card was declined while {doing}: {said}"
    return f"Stripe refused while {doing}: {said}"


def _key(*parts: object) -> str:
    return "countinghouse-" + "-".join(str(p) for p in parts)


def _digest(params: dict) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _customer(session: Session, customer_id: int) -> Customer:
    cust = session.get(Customer, customer_id)
    if cust is None:
        raise NotFound(f"there is no customer #{customer_id}")
    return cust


# ---------------------------------------------------------------------------------------------------------------
# customers and payment methods


def _customer_params(cust: Customer) -> dict:
    params: dict[str, Any] = {"name": cust.name, "metadata": {"counting_house_id": str(cust.id),
                                                              "external_id": cust.external_id}}
    if cust.email:
        params["email"] = cust.email
    address = {k: v for k, v in (("line1", cust.address_line1), ("city", cust.city), ("state", cust.region),
                                 ("postal_code", cust.postal_code), ("country", cust.country)) if v}
    if address:
        params["address"] = address
    return params


def sync_customer(session: Session, actor: Actor, customer_id: int) -> Customer:
    """Create the customer at Stripe (first time) or bring its name, email and address up to date; stores the
    Stripe id (``cus_…``) on the customer."""
    require(actor, "customers:write")
    cust = _customer(session, customer_id)
    params = _customer_params(cust)
    sc = client()
    created = not cust.stripe_customer_id
    try:
        if created:
            found = sc.v1.customers.create(params=params,
                                           options={"idempotency_key": _key("customer", cust.id, _digest(params))})
        else:
            found = sc.v1.customers.update(cust.stripe_customer_id, params=params)
    except stripe.StripeError as exc:
        raise UserError(readable(exc, f"syncing {cust.name} to Stripe")) from None
    cust.stripe_customer_id = found.id
    cust.updated_at = utcnow()
    session.add(cust)
    session.flush()
    audit.record(session, actor=actor.username, action="customer.stripe_sync", entity_type="customer",
                 entity_id=cust.id, details={"customer": cust.external_id, "stripe_customer": found.id,
                                             "created": created})
    return cust


def save_payment_method(session: Session, actor: Actor, customer_id: int, payment_method_id: str) -> Customer:
    """Attach a PaymentMethod (``pm_…``, e.g. from a SetupIntent or the dashboard) to the customer at Stripe,
    make it the default for invoices there, and store it as the card charged here. Syncs the customer first
    when it is not at Stripe yet."""
    require(actor, "customers:write")
    pm_id = (payment_method_id or "").strip()
    if not pm_id.startswith(("pm_", "card_", "src_")):
        raise UserError("payment method: paste the id of a Stripe PaymentMethod (it starts with pm_)")
    cust = _customer(session, customer_id)
    if not cust.stripe_customer_id:
        sync_customer(session, actor, cust.id)
    sc = client()
    try:
        pm = sc.v1.payment_methods.attach(pm_id, params={"customer": cust.stripe_customer_id})
        sc.v1.customers.update(cust.stripe_customer_id,
                               params={"invoice_settings": {"default_payment_method": pm.id}})
    except stripe.StripeError as exc:
        raise UserError(readable(exc, f"saving the card of {cust.name}")) from None
    card = _dict(pm).get("card") or {}
    before = cust.stripe_payment_method
    cust.stripe_payment_method = pm.id
    cust.updated_at = utcnow()
    session.add(cust)
    session.flush()
    audit.record(session, actor=actor.username, action="customer.payment_method", entity_type="customer",
                 entity_id=cust.id, details={"customer": cust.external_id, "before": before, "after": pm.id,
                                             "brand": card.get("brand"), "last4": card.get("last4")})
    return cust


def save_test_card(session: Session, actor: Actor, customer_id: int, number: str) -> Customer:
    """Test mode only: save one of Stripe's test cards (see :data:`TEST_CARDS`) as the customer's card —
    for demos and tests. Known numbers go through Stripe's test PaymentMethods (``pm_card_visa`` …), others
    are created from the number (localstripe accepts any 16-digit number)."""
    require(actor, "customers:write")
    cfg = settings()
    if not cfg.test_mode:
        raise UserError("test cards are for test mode only (a sk_test_… key); ask the customer for their card")
    number = "".join(ch for ch in str(number or "") if ch.isdigit())
    if len(number) != 16:
        raise UserError("card number: 16 digits, e.g. 4242 4242 4242 4242")
    pm_id = _TEST_PAYMENT_METHODS.get(number)
    if pm_id is None:
        try:
            pm_id = client(cfg).v1.payment_methods.create(params={
                "type": "card", "card": {"number": number, "exp_month": 12, "exp_year": utcnow().year + 5,
                                         "cvc": "123"}}).id
        except stripe.StripeError as exc:
            raise UserError(readable(exc, "making the test card")) from None
    return save_payment_method(session, actor, customer_id, pm_id)


# ---------------------------------------------------------------------------------------------------------------
# charges


@dataclass(frozen=True)
class ChargeResult:
    invoice_id: int
    status: str  # succeeded | failed | processing
    payment: Payment | None
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


def _payment_intent_of_decline(sc: stripe.StripeClient, exc: stripe.CardError) -> str:
    """The PaymentIntent a declined charge belongs to: Stripe names it in the error; localstripe names only the
    charge, whose ``payment_intent`` says it."""
    err = exc.error
    pi = getattr(err, "payment_intent", None) if err is not None else None
    if pi is not None:
        return pi if isinstance(pi, str) else getattr(pi, "id", "") or ""
    charge = getattr(err, "charge", None) if err is not None else None
    if charge:
        try:
            return _dict(sc.v1.charges.retrieve(charge)).get("payment_intent") or ""
        except stripe.StripeError:
            return ""
    return ""


def charge_invoice(session: Session, actor: Actor, invoice_id: int) -> ChargeResult:
    """Charge what is due on an approved invoice to its customer's saved card (off session: the customer is not
    there). Succeeded → a Stripe payment allocated to the invoice; declined → a failed payment with Stripe's
    reason, the invoice left open for dunning; not sent (Stripe not set up, unreachable, a bad key) → UserError
    and nothing recorded."""
    plan: ChargePlan = plan_charge(session, actor, invoice_id)
    sc = client()
    params = {"amount": plan.amount_minor, "currency": plan.currency.lower(), "customer": plan.stripe_customer,
              "payment_method": plan.payment_method, "payment_method_types": ["card"], "confirm": True,
              "off_session": True, "metadata": plan.metadata}
    shown = format_money(plan.amount, plan.currency)
    try:
        pi = _dict(sc.v1.payment_intents.create(params=params, options={"idempotency_key": plan.idempotency_key}))
    except stripe.CardError as exc:
        failure = (exc.user_message or str(exc) or "declined").strip()
        if exc.code and exc.code not in failure:
            failure = f"{failure} ({exc.code})"
        payment, _new = record_declined(session, actor, customer_id=plan.customer_id, invoice_id=plan.invoice_id,
                                        provider_id=_payment_intent_of_decline(sc, exc), currency_code=plan.currency,
                                        amount=plan.amount, failure=failure)
        return ChargeResult(plan.invoice_id, "failed", payment,
                            f"The card was declined: {failure}. Invoice {plan.invoice_label} stays open.")
    except stripe.StripeError as exc:
        raise UserError(readable(exc, f"charging {shown} for invoice {plan.invoice_label}")) from None

    status = pi.get("status")
    if status == "succeeded":
        amount = from_minor(pi.get("amount_received") or pi["amount"], pi["currency"])
        try:
            payment, new = record_succeeded(session, actor, customer_id=plan.customer_id,
                                            invoice_id=plan.invoice_id, provider_id=pi["id"],
                                            currency_code=plan.currency, amount=amount)
        except UserError as exc:
            raise UserError(f"Stripe took {format_money(amount, plan.currency)} ({pi['id']}) for invoice "
                            f"{plan.invoice_label}, but it could not be recorded: {exc}. Record the payment by "
                            "hand with that reference") from None
        audit.record(session, actor=actor.username, action="invoice.charge", entity_type="invoice",
                     entity_id=plan.invoice_id, details={"invoice": plan.invoice_label, "amount": amount,
                                                         "payment_intent": pi["id"], "payment": payment.id,
                                                         "attempt": plan.attempt, "already_recorded": not new})
        return ChargeResult(plan.invoice_id, "succeeded", payment,
                            f"{format_money(amount, plan.currency)} charged to the saved card for invoice "
                            f"{plan.invoice_label}.")
    if status in ("processing", "requires_capture"):
        audit.record(session, actor=actor.username, action="invoice.charge", entity_type="invoice",
                     entity_id=plan.invoice_id, details={"invoice": plan.invoice_label, "amount": plan.amount,
                                                         "payment_intent": pi["id"], "status": status})
        return ChargeResult(plan.invoice_id, "processing", None,
                            f"Stripe is processing the charge of {shown} for invoice {plan.invoice_label}; it is "
                            "recorded when Stripe confirms it.")
    # requires_action (the bank wants the customer to authenticate), requires_payment_method (declined) …
    error = pi.get("last_payment_error") or {}
    failure = error.get("message") or ("the card needs the customer's authentication (3-D Secure), which an "
                                       "automatic charge cannot give" if status == "requires_action"
                                       else f"Stripe left the payment {str(status).replace('_', ' ')}")
    if status == "requires_action":
        try:  # nobody will authenticate it: do not leave it hanging at Stripe
            sc.v1.payment_intents.cancel(pi["id"])
        except stripe.StripeError as exc:
            log.warning("could not cancel %s: %s", pi["id"], exc)
    payment, _new = record_declined(session, actor, customer_id=plan.customer_id, invoice_id=plan.invoice_id,
                                    provider_id=pi["id"], currency_code=plan.currency, amount=plan.amount,
                                    failure=failure)
    return ChargeResult(plan.invoice_id, "failed", payment,
                        f"The charge did not go through: {failure}. Invoice {plan.invoice_label} stays open.")


def charge_after_approval(session: Session, actor: Actor, invoice_ids: list[int]) -> list[ChargeResult]:
    """Auto-charge: after invoices were approved (and that transaction committed), charge each one whose customer
    opted in (``auto_charge`` with a saved card). Commits after each invoice — a charge is money moved at
    Stripe, so its record must not wait for (or roll back with) the next one. An invoice that cannot be charged
    (Stripe unreachable, not set up, nothing due) gives a failed result with the reason instead of raising, so
    the approval that came before is never reported as failed. Invoices of customers who did not opt in are
    left out of the result. Stripe not set up at all → nothing is tried, an empty list."""
    if not settings().configured or not invoice_ids:
        return []
    results = []
    for invoice_id in sorted(set(invoice_ids)):
        inv = session.get(Invoice, invoice_id)
        cust = session.get(Customer, inv.customer_id) if inv is not None else None
        if cust is None or not cust.auto_charge or not cust.stripe_payment_method:
            continue
        try:
            result = charge_invoice(session, actor, invoice_id)
            session.commit()
        except UserError as exc:
            session.rollback()
            result = ChargeResult(invoice_id, "failed", None,
                                  f"Invoice {inv.number or '#' + str(inv.id)} was not charged: {exc}")
        results.append(result)
    return results


# ---------------------------------------------------------------------------------------------------------------
# refunds


def refund_payment(session: Session, actor: Actor, refund: Refund) -> Refund:
    """Send a pending refund of a Stripe payment back to the card (a Stripe refund on the payment's
    PaymentIntent) and mark it succeeded (or pending, when Stripe says so) with the refund's id — or failed, with
    Stripe's reason (then pay it back by hand, or retry with :func:`retry_refund`). Never raises for Stripe's
    errors: the credit note that asked for the refund stands either way."""
    require(actor, "invoices:write")
    payment = session.get(Payment, refund.payment_id) if refund.payment_id else None
    if payment is None or payment.provider != PROVIDER or not payment.provider_id:
        return refund  # not a Stripe payment: paid back by hand
    if refund.status == "succeeded":
        return refund
    session.flush()  # the refund needs its id for the idempotency key
    # a refusal is final for its key at Stripe: a retry after one goes with a new key; a retry after a time-out
    # (status still pending, no Stripe id) with the same key, so it can never refund twice
    refusals = len(session.exec(select(AuditLog.id).where(AuditLog.action == "refund.failed",
                                                          AuditLog.entity_type == "refund",
                                                          AuditLog.entity_id == str(refund.id))).all())
    try:
        sc = client()
        params = {"payment_intent": payment.provider_id, "amount": to_minor(refund.amount, refund.currency),
                  "metadata": {"refund_id": str(refund.id), "credit_note_id": str(refund.credit_note_id or "")}}
        if payment.provider_id.startswith("ch_"):
            params["charge"] = params.pop("payment_intent")
        found = _dict(sc.v1.refunds.create(params=params, options={"idempotency_key": _key("refund", refund.id, refusals)}))
    except stripe.APIConnectionError as exc:  # it may or may not have reached Stripe: leave it pending
        refund.failure = readable(exc, "refunding the card")[:500]
        session.add(refund)
        session.flush()
        return refund
    except stripe.StripeError as exc:
        return settle_refund(session, refund, status="failed", failure=readable(exc, "refunding the card"),
                             actor=actor.username)
    except UserError as exc:  # not set up, an amount Stripe cannot take
        return settle_refund(session, refund, status="failed", failure=str(exc), actor=actor.username)
    return settle_refund(session, refund, status=found.get("status") or "succeeded", provider_id=found["id"],
                         failure=found.get("failure_reason") or "", actor=actor.username)


def stripe_refunder(actor: Actor) -> Callable[[Session, Refund], None]:
    """The ``refund_through`` callback for :func:`core.invoicing.credit_notes.issue_credit_note`:
    ``issue_credit_note(s, me, inv_id, ..., excess="refund", refund_through=stripe_refunder(me))``."""

    def refund_through(session: Session, refund: Refund) -> None:
        refund_payment(session, actor, refund)

    return refund_through


def retry_refund(session: Session, actor: Actor, refund_id: int) -> Refund:
    """Send a failed (or still pending) Stripe refund again."""
    require(actor, "invoices:write")
    refund = session.get(Refund, refund_id)
    if refund is None:
        raise NotFound(f"there is no refund #{refund_id}")
    if refund.status == "succeeded":
        raise UserError(f"refund #{refund.id} already succeeded")
    if refund.provider_id and refund.status == "pending":
        raise UserError(f"refund #{refund.id} is at Stripe already ({refund.provider_id}); wait for Stripe to settle it")
    return refund_payment(session, actor, refund)


__all__ = ["TEST_CARDS", "ChargeResult", "StripeSettings", "charge_after_approval", "charge_invoice", "client",
           "readable", "refund_payment", "retry_refund", "save_payment_method", "save_test_card", "settings",
           "stripe_refunder", "sync_customer"]
