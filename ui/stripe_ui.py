"""Card payments through Stripe, for the pages: the customer's Stripe panel (sync, save a card, automatic
charging), "Charge the saved card" on an approved invoice, auto-charge after approval, and sending a credit note's
card refunds once it committed. Every action goes through :mod:`connectors.stripe_gateway`, which checks the permission
(customers:write / invoices:write) and turns Stripe's errors into readable messages.

Where the pages call these (one line each):

- pages/customers.py, "Edit a customer" tab, after ``customer_form(...)``:
  ``if msg := stripe_ui.customer_panel(picked, me): st.session_state["customers_flash"] = msg; st.rerun()``
- pages/invoices.py, approved invoice, after ``history(inv)``:
  ``if done := stripe_ui.charge_action(inv, cust, me): flash(done)``
- pages/invoices.py, after a successful approval (``approve_invoice`` / ``approve_invoices``):
  ``note = stripe_ui.after_approval(me, [i.id for i in done])`` and add ``note`` (when not None) to the flash.
- ui/invoice_money.py, after ``issue_credit_note(...)`` committed: ``stripe_ui.send_refunds(me, note.id)``.
"""
from __future__ import annotations

import streamlit as st

from connectors import stripe_gateway as gw
from core.auth import Actor
from core.errors import UserError
from core.invoicing import settlement
from core.models import Customer, Invoice
from core.payments_stripe import set_auto_charge
from ui.format import money
from ui.state import run_action, session

_NOT_SET_UP = ("Stripe is not set up: set STRIPE_API_KEY (and STRIPE_WEBHOOK_SECRET for the webhook at "
               "/v1/stripe/webhook) in the app's environment to take card payments.")


def _customer(customer_id: int) -> Customer | None:
    with session() as s:
        return s.get(Customer, customer_id)


def customer_panel(customer_id: int, me: Actor) -> str | None:
    """The customer's card payments: Stripe id, saved card, automatic charging. Returns a message to flash after
    a change (the caller reruns), or None."""
    cust = _customer(customer_id)
    if cust is None:
        return None
    cfg = gw.settings()
    with st.expander("Card payments (Stripe)", icon=":material/credit_card:"):
        if not cfg.configured:
            st.caption(_NOT_SET_UP)
            return None
        st.markdown(f"**Stripe customer**  \n{cust.stripe_customer_id or 'not synced yet'}  \n"
                    f"**Saved card**  \n{cust.stripe_payment_method or 'none'}  \n"
                    f"**Charged automatically on approval**  \n{'yes' if cust.auto_charge else 'no'}")
        if not me.can("customers:write"):
            st.caption("Your role can look at this customer but not change its card payments.")
            return None
        k = f"stripe_{cust.id}"
        if st.button("Sync to Stripe" if not cust.stripe_customer_id else "Update at Stripe", key=f"{k}_sync",
                     icon=":material/sync:", help="Creates the customer at Stripe, or brings its name, email and "
                                                  "address up to date there.") \
                and run_action(gw.sync_customer, me, cust.id) is not None:
            return f"{cust.name} is synced to Stripe."
        pm = st.text_input("Payment method id", key=f"{k}_pm", placeholder="pm_…",
                           help="A card the customer saved through Stripe (a SetupIntent, Checkout or the "
                                "dashboard): its PaymentMethod id.")
        if st.button("Save the payment method", key=f"{k}_pm_save", disabled=not pm.strip()) \
                and run_action(gw.save_payment_method, me, cust.id, pm) is not None:
            return f"The card {pm.strip()} is saved for {cust.name}."
        if cfg.test_mode:
            number = st.selectbox("Or, in test mode, a test card", list(gw.TEST_CARDS), key=f"{k}_test",
                                  format_func=lambda n: f"{n[:4]} {n[4:8]} {n[8:12]} {n[12:]} — {gw.TEST_CARDS[n]}")
            if st.button("Save the test card", key=f"{k}_test_save") \
                    and run_action(gw.save_test_card, me, cust.id, number) is not None:
                return f"Test card …{number[-4:]} saved for {cust.name}."
        auto = st.toggle("Charge the saved card when an invoice is approved", value=cust.auto_charge,
                         key=f"{k}_auto", disabled=not cust.stripe_payment_method and not cust.auto_charge)
        if auto != cust.auto_charge and run_action(set_auto_charge, me, cust.id, auto) is not None:
            return (f"Invoices of {cust.name} are now charged to the saved card on approval." if auto
                    else f"Invoices of {cust.name} are no longer charged automatically.")
    return None


def charge_action(inv: Invoice, cust: Customer, me: Actor) -> str | None:
    """'Charge the saved card' on an approved invoice with something due. Returns a message to flash when the
    card was charged; a decline is shown here (the invoice did not change) and recorded for dunning."""
    due = settlement.due(inv)
    if inv.status not in ("approved", "partially_paid") or due <= 0 or not me.can("invoices:write"):
        return None
    if not gw.settings().configured or not cust.stripe_payment_method:
        return None
    if st.button(f"Charge the saved card ({money(due, inv.currency)})", key=f"stripe_charge_{inv.id}",
                 icon=":material/credit_card:", help=f"Charges {cust.stripe_payment_method} through Stripe now."):
        result = run_action(gw.charge_invoice, me, inv.id)
        if result is None:
            return None  # run_action showed why
        if result.ok:
            return result.message
        if result.status == "processing":
            st.info(result.message, icon=":material/hourglass_top:")
        else:
            st.warning(result.message, icon=":material/credit_card_off:")
    return None


def after_approval(me: Actor, invoice_ids: list[int]) -> str | None:
    """Auto-charge the just-approved invoices of customers who opted in; a sentence for the flash, or None when
    nothing was charged (nobody opted in, Stripe not set up)."""
    if not invoice_ids:
        return None
    with session() as s:
        results = gw.charge_after_approval(s, me, invoice_ids)
    if not results:
        return None
    charged = [r for r in results if r.ok]
    problems = [r.message for r in results if not r.ok]
    parts = []
    if charged:
        parts.append(f"{len(charged)} invoice{'s' if len(charged) > 1 else ''} charged to the saved card")
    parts.extend(problems)
    return " ".join(p if p.endswith(".") else p + "." for p in parts)


def send_refunds(me: Actor, credit_note_id: int) -> str | None:
    """After a credit note committed: send its card refunds to Stripe (each answer recorded in a transaction of
    its own). A sentence for the flash, or None when the credit note refunded no card payment."""
    with session() as s:
        try:
            sent = gw.send_refunds(s, me, credit_note_id)
        except UserError as exc:  # e.g. the role may not refund; the credit note stands, its refund stays pending
            return f"The card refund was not sent: {exc}. It is listed under Refunds on the Payments page."
        rows = [(r.status, r.failure, r.amount, r.currency) for r in sent]
    parts = []
    for status, failure, amount, code in rows:
        if status == "succeeded":
            parts.append(f"{money(amount, code)} refunded to the card.")
        elif status == "failed":
            parts.append(f"The card refund of {money(amount, code)} failed: {failure}. Retry it or pay it back by "
                         "hand from Refunds on the Payments page.")
        else:
            parts.append(f"The card refund of {money(amount, code)} is pending"
                         + (f": {failure}" if failure else " at Stripe") + ".")
    return " ".join(parts) or None
