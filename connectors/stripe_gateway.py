"""Stripe: customers, saved cards, charging approved invoices, refunds — through the real ``stripe`` library.

Settings come from the environment, read on every call (so a change needs no restart, and tests can point the
app at localstripe):

``STRIPE_API_KEY``         the secret key (``sk_test_…`` or ``sk_live_…``); unset → Stripe is "not set up" and
                           every action here says so instead of failing.
``STRIPE_WEBHOOK_SECRET``  the signing secret of the webhook endpoint (``whsec_…``), for POST /v1/stripe/webhook.
``STRIPE_API_BASE``        another address for the API (a local fake such as localstripe); default Stripe's own.

Refunds are sent only after the credit note that made them committed (:func:`send_refunds`; retried with
:func:`retry_refund`): see :mod:`core.payments_stripe` for the plan → call → record steps and the idempotency key.

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
from dataclasses import dataclass
from typing import Any

import stripe
from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.models import Customer, Invoice, Payment, Refund, utcnow
from core.money import format_money
from core.payments_stripe import (
    ChargePlan,
    RefundPlan,
    from_minor,
    is_stripe_refund,
    plan_charge,
    plan_refund,
    record_declined,
    record_refund_answer,
    record_refund_unanswered,
    record_succeeded,
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
# paying from the invoice's link (the public page, pages/pay.py)

#: who a payment made from an invoice's link acts as (the audit log shows "payment-link")
PAY_LINK_ACTOR = Actor("payment-link", "finance")


def link_card(session: Session, token: str) -> str | None:
    """The saved card a link's visitor may pay the invoice with ("Visa ending 4242"), or None: Stripe not set up,
    no saved card, nothing due. Checks the token first."""
    from core import portal_links

    inv = portal_links.verify(session, token)
    if not settings().configured or inv.status not in ("approved", "partially_paid"):
        return None
    from core.invoicing import settlement

    cust = session.get(Customer, inv.customer_id)
    if settlement.due(inv) <= 0 or not (cust.stripe_customer_id and cust.stripe_payment_method):
        return None
    try:
        card = _dict(client().v1.payment_methods.retrieve(cust.stripe_payment_method)).get("card") or {}
    except stripe.StripeError as exc:
        log.warning("could not look up %s: %s", cust.stripe_payment_method, exc)
        card = {}
    if card.get("last4"):
        return f"{str(card.get('brand') or 'card').replace('_', ' ').title()} ending {card['last4']}"
    return "the card you saved with us"


def pay_by_link(session: Session, token: str) -> ChargeResult:
    """The visitor of an invoice's link pays what is due with the customer's saved card: the same charge as
    "Charge the saved card" (one idempotency key per attempt, recorded once), as :data:`PAY_LINK_ACTOR`. The token
    is checked again here — nothing the page kept is trusted. Not payable (paid meanwhile, no card) → UserError;
    Stripe not reachable → a failed result worded for the customer (the real reason is audited and logged)."""
    from core import portal_links
    from core.invoicing import settlement

    inv = portal_links.verify(session, token)
    name = settlement.label(inv)
    if inv.status not in ("approved", "partially_paid") or settlement.due(inv) <= 0:
        raise UserError(f"Nothing is due on invoice {name} any more" + (": it is paid." if inv.status == "paid"
                                                                         else "."))
    if link_card(session, token) is None:
        raise UserError(f"Invoice {name} cannot be paid by card here: use the payment instructions on the invoice.")
    try:
        result = charge_invoice(session, PAY_LINK_ACTOR, inv.id)
    except UserError as exc:
        log.warning("paying invoice %s from its link: %s", name, exc)
        audit.record(session, actor=PAY_LINK_ACTOR.username, action="invoice.link_payment", entity_type="invoice",
                     entity_id=inv.id, details={"invoice": name, "status": "not sent", "problem": str(exc)})
        return ChargeResult(inv.id, "failed", None, "Your card could not be charged just now: the payment service "
                            "did not take the request, so nothing was charged. Try again in a few minutes, or pay "
                            "with the instructions on the invoice.")
    audit.record(session, actor=PAY_LINK_ACTOR.username, action="invoice.link_payment", entity_type="invoice",
                 entity_id=inv.id, details={"invoice": name, "status": result.status,
                                            "payment": result.payment.id if result.payment else None})
    return result


# ---------------------------------------------------------------------------------------------------------------
# refunds


@dataclass(frozen=True)
class _RefundAnswer:
    status: str  # Stripe's refund status, or "failed" (refused), or "" (no answer: it may or may not be made)
    provider_id: str = ""
    failure: str = ""


def _ask_for_refund(plan: RefundPlan) -> _RefundAnswer:
    """The one network call of a refund (no database here)."""
    doing = f"refunding {format_money(plan.amount, plan.currency)} to the card"
    try:
        amount_minor = to_minor(plan.amount, plan.currency)
        sc = client()
    except UserError as exc:  # Stripe not set up, an amount Stripe cannot refund: nothing was sent
        return _RefundAnswer("failed", failure=str(exc))
    ref_key = "charge" if plan.provider_payment.startswith("ch_") else "payment_intent"
    params = {ref_key: plan.provider_payment, "amount": amount_minor, "metadata": plan.metadata}
    try:
        found = _dict(sc.v1.refunds.create(params=params, options={"idempotency_key": plan.idempotency_key}))
    except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
        # no answer, or Stripe's own trouble: it may or may not have been made — same key next time
        why = (getattr(exc, "user_message", None) or str(exc) or type(exc).__name__).strip()
        said = "could not be reached" if isinstance(exc, stripe.APIConnectionError) else \
            f"did not answer properly ({why})"
        return _RefundAnswer("", failure=f"Stripe {said} while {doing}: the refund is still to be sent — send it "
                                         "again (a retry never refunds twice)")
    except stripe.StripeError as exc:
        return _RefundAnswer("failed", failure=readable(exc, doing))
    return _RefundAnswer(found.get("status") or "succeeded", provider_id=found.get("id") or "",
                         failure=found.get("failure_reason") or "")


def _record_refund(session: Session, actor: Actor, plan: RefundPlan, answer: _RefundAnswer) -> Refund:
    if not answer.status:
        return record_refund_unanswered(session, actor, plan, answer.failure)
    return record_refund_answer(session, actor, plan, status=answer.status, provider_id=answer.provider_id,
                                failure=answer.failure)


def send_refund(session: Session, actor: Actor, refund_id: int) -> Refund:
    """Send a committed refund of a Stripe payment back to the card: plan (refused with a readable UserError when
    there is nothing to send: already succeeded, at Stripe already, not a card payment), the call with an
    idempotency key derived from the refund's id, then the answer recorded in the session — succeeded (or pending
    when Stripe says so) with Stripe's refund id, failed with Stripe's message, or still pending when Stripe did
    not answer. The caller commits. Stripe's refusals are recorded, never raised."""
    plan = plan_refund(session, actor, refund_id)
    return _record_refund(session, actor, plan, _ask_for_refund(plan))


def retry_refund(session: Session, actor: Actor, refund_id: int) -> Refund:
    """Send a failed (or never sent) Stripe refund again — the Refunds list's "Retry". The caller commits."""
    return send_refund(session, actor, refund_id)


def send_refunds(session: Session, actor: Actor, credit_note_id: int) -> list[Refund]:
    """After a credit note was issued: send its pending Stripe refunds. Commits first — the credit note and its
    refunds are recorded before anything goes to Stripe — then, per refund, the call and the answer in a short
    transaction of its own (committed), so a refund made at Stripe is never lost with a rollback. Returns the
    refunds as they are now; Stripe's refusals are on them (status failed, failure), not raised."""
    require(actor, "invoices:write")
    session.commit()
    ids = [r.id for r in session.exec(select(Refund).where(Refund.credit_note_id == credit_note_id,
                                                           Refund.status == "pending", Refund.provider_id == "")
                                      .order_by(Refund.id)) if is_stripe_refund(session, r)]
    done = []
    for refund_id in ids:
        try:
            plan = plan_refund(session, actor, refund_id)
        except UserError:
            session.rollback()
            continue  # settled meanwhile (by a retry or the webhook)
        session.commit()  # no read transaction held open during the call
        answer = _ask_for_refund(plan)
        try:
            _record_refund(session, actor, plan, answer)
            session.commit()
        except Exception:
            session.rollback()
            log.exception("refund #%s: Stripe answered %s but it could not be recorded", refund_id, answer)
            raise
        done.append(refund_id)
    return [session.get(Refund, i) for i in done]


__all__ = ["PAY_LINK_ACTOR", "TEST_CARDS", "ChargeResult", "StripeSettings", "charge_after_approval", "charge_invoice",
           "client", "link_card", "pay_by_link", "readable", "retry_refund", "save_payment_method", "save_test_card",
           "send_refund", "send_refunds", "settings", "sync_customer"]
