"""Payments: record money received (bank transfer, cheque, cash), split it across the customer's open invoices,
and see what came in. Whatever is not allocated goes to the customer's wallet and pays its next invoices.
Below: the refunds credit notes made (retry a card refund Stripe refused, mark one paid back by hand as paid out)
and the Stripe events the webhook received."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core import wallet
from core.customers import customer_rows
from connectors import stripe_gateway as gw
from core.invoicing.credit_notes import mark_refund_paid_out, refunds
from core.invoicing.payments import (
    MANUAL_METHODS,
    METHODS,
    open_invoices,
    payments_of,
    record_payment,
)
from core.money import CURRENCIES, ZERO, MoneyError, to_decimal
from core.payments_stripe import received_events
from ui.bank_import import bank_import_panel
from ui.format import money
from ui.pickers import CustomerInfo, customer_picker
from ui.state import actor, page_header, run_action, session

me = actor()
ss = st.session_state
ss.setdefault("payments_v", 0)
page_header("Payments", "Record money a customer paid you and say which invoices it settles — one payment can pay "
            "several invoices. What is not allocated is kept as credit in the customer's wallet and is used on "
            "their next invoices. Card payments through Stripe arrive here by themselves.")

customers = CustomerInfo()  # read as needed, never every customer on every rerun
if not customers:
    st.info("No customers yet: add them on the Customers page.")
    st.stop()

if flash := ss.pop("payments_flash", None):
    st.success(flash, icon=":material/payments:")

if me.can("invoices:write"):
    st.subheader("Record a payment")
    v = ss["payments_v"]
    a, b = st.columns([2, 1])
    cust_id, listed = customer_picker("Customer", key=f"payments_customer_{v}", container=a, placeholder="Who paid?")
    if cust_id is not None:
        cust = listed[cust_id]
        with session() as s:
            open_all = open_invoices(s, cust_id)
        currencies = sorted({oi.currency for oi in open_all} | {cust.currency})
        code = b.selectbox("Currency", currencies, index=currencies.index(cust.currency),
                           key=f"payments_currency_{v}", format_func=lambda c: f"{c} — {CURRENCIES[c][2]}")
        c1, c2, c3, c4 = st.columns(4)
        amount_text = c1.text_input("Amount received", key=f"payments_amount_{v}", placeholder="1500.00")
        method = c2.selectbox("Method", MANUAL_METHODS, format_func=METHODS.get, key=f"payments_method_{v}")
        received = c3.date_input("Received on", value=date.today(), max_value=date.today(), format="YYYY-MM-DD",
                                 key=f"payments_date_{v}")
        reference = c4.text_input("Reference", key=f"payments_ref_{v}", placeholder="bank reference, cheque no.")
        try:
            amount = to_decimal(amount_text, field="amount") if amount_text.strip() else ZERO
        except MoneyError as exc:
            st.error(str(exc), icon=":material/error:")
            amount = ZERO
        invoices = [oi for oi in open_all if oi.currency == code]
        if not invoices:
            st.caption(f"{cust.name} has no open {code} invoice: the whole payment goes to their wallet.")
            allocations = {}
        else:
            left, suggested = amount, []
            for oi in invoices:  # oldest due first, as the service would do
                part = min(oi.due, max(left, ZERO))
                suggested.append(part)
                left -= part
            frame = pd.DataFrame({"Invoice": [oi.number for oi in invoices],
                                  "Due date": [oi.due_date for oi in invoices],
                                  "Amount due": [money(oi.due, code) for oi in invoices],
                                  "Allocate": [str(p) for p in suggested]})
            st.caption("Allocations are filled in oldest due date first; change them if the customer said otherwise.")
            edited = st.data_editor(frame, hide_index=True, width="stretch", disabled=["Invoice", "Due date",
                                                                                        "Amount due"],
                                    key=f"payments_alloc_{v}_{code}_{amount}",
                                    column_config={"Allocate": st.column_config.TextColumn(
                                        "Allocate", help="How much of this payment settles this invoice")})
            allocations = {}
            for oi, text in zip(invoices, edited["Allocate"]):
                try:
                    part = to_decimal(str(text or "0"), field=f"allocation to {oi.number}")
                except MoneyError as exc:
                    st.error(str(exc), icon=":material/error:")
                    part = ZERO
                if part:
                    allocations[oi.id] = part
        allocated = sum(allocations.values(), ZERO)
        rest = amount - allocated
        st.markdown(f"Allocated **{money(allocated, code)}** of **{money(amount, code)}**"
                    + (f" — **{money(rest, code)}** goes to the wallet" if rest > 0 else "")
                    + (f" — **{money(-rest, code)} more than the payment**: lower the allocations" if rest < 0
                       else ""))
        if st.button("Record the payment", type="primary", key=f"payments_save_{v}", disabled=amount <= 0):
            done = run_action(record_payment, me, customer_id=cust_id, currency_code=code, amount=amount_text,
                              method=method, received_on=received, reference=reference, allocations=allocations)
            if done is not None:
                ss["payments_flash"] = (f"Payment of {money(done.amount, code)} from {cust.name} recorded"
                                        + (f"; {money(done.unallocated, code)} kept in their wallet."
                                           if done.unallocated else "."))
                ss["payments_v"] += 1
                st.rerun()
else:
    st.caption("Your role can see payments but not record them; ask someone in Finance.")

bank_import_panel(me)

st.subheader("Payments received")
with session() as s:
    rows = payments_of(s)
    names = {c.id: c.name for c in customer_rows(s, ids=[p.customer_id for p in rows])}
    listed_wallets = {(p.customer_id, p.currency) for p in rows}
    balances = wallet.balances_of(s, sorted(listed_wallets))
if not rows:
    st.info("No payment recorded yet.")
else:
    st.dataframe(pd.DataFrame(
        [(p.received_on, names.get(p.customer_id, p.customer_id),
          money(p.amount, p.currency), METHODS.get(p.method, p.method), p.reference,
          "Failed: " + p.failure if p.status == "failed" else "Received",
          money(p.unallocated, p.currency) if p.unallocated else "",
          money(p.refunded, p.currency) if p.refunded else "", p.created_by) for p in rows],
        columns=["Received", "Customer", "Amount", "Method", "Reference", "Status", "To wallet", "Refunded", "By"]),
        hide_index=True, width="stretch",
        column_config={k: st.column_config.TextColumn(alignment="right") for k in ("Amount", "To wallet",
                                                                                  "Refunded")})
    st.caption("Wallet balances now: " + "; ".join(
        f"{names[c]}: {money(v, k)}" for (c, k), v in sorted(balances.items()) if v and c in names)
        if any(balances.values()) else "No customer has wallet credit.")

st.subheader("Refunds")
st.caption("Money a credit note gives back on a paid invoice. A card payment's refund goes back to the card "
           "through Stripe; a bank transfer, cheque or cash payment's refund is paid out by you — mark it paid out "
           "once the money has left.")
with session() as s:
    refund_rows = refunds(s, me)
if flash := ss.pop("refunds_flash", None):
    st.success(flash, icon=":material/undo:")
if not refund_rows:
    st.info("No refund yet. When a credit note on a paid invoice refunds the excess, the refund is listed here.")
else:
    st.dataframe(pd.DataFrame(
        [(r.created_at, r.customer, r.credit_note, r.invoice, money(r.amount, r.currency),
          METHODS.get(r.method, r.method), r.state, r.failure, r.provider_id, r.created_by) for r in refund_rows],
        columns=["When (UTC)", "Customer", "Credit note", "Invoice", "Amount", "Method", "Status", "Failure",
                 "Stripe refund", "By"]),
        hide_index=True, width="stretch",
        column_config={"When (UTC)": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm"),
                       "Amount": st.column_config.TextColumn(alignment="right")})
    todo = [r for r in refund_rows if r.can_retry or r.can_mark_paid_out]
    if todo and me.can("invoices:write"):
        st.markdown(f"**{len(todo)} refund{'s' if len(todo) > 1 else ''} to act on**")
        for r in todo:
            with st.container(border=True, horizontal=True, vertical_alignment="center"):
                st.markdown(f"**{money(r.amount, r.currency)}** to {r.customer} · credit note {r.credit_note or '—'} "
                            f"· {METHODS.get(r.method, r.method)}  \n{r.state}"
                            + (f": {r.failure}" if r.failure else ""), width="stretch")
                if r.can_retry and st.button("Retry", key=f"refund_retry_{r.id}", icon=":material/replay:",
                                             help="Sends the refund to Stripe again. A refund Stripe made but "
                                                  "whose answer was lost is not made twice."):
                    done = run_action(gw.retry_refund, me, r.id)
                    if done is not None:
                        ss["refunds_flash"] = (
                            f"{money(done.amount, done.currency)} refunded to the card of {r.customer}." if
                            done.status == "succeeded" else
                            f"The refund to {r.customer} failed again: {done.failure}" if done.status == "failed" else
                            f"The refund to {r.customer} is pending" + (f": {done.failure}" if done.failure else
                                                                          " at Stripe") + ".")
                        st.rerun()
                if r.can_mark_paid_out:
                    with st.popover("Mark as paid out", icon=":material/done_all:", key=f"refund_paidout_{r.id}"):
                        st.caption("You paid this refund back yourself (a bank transfer, a cheque, cash"
                                   + (" — Stripe could not refund the card" if r.through_stripe else "") + ").")
                        ref = st.text_input("Reference of your payment", key=f"refund_ref_{r.id}",
                                            placeholder="bank reference, cheque no.")
                        day = st.date_input("Paid on", value=date.today(), max_value=date.today(),
                                            format="YYYY-MM-DD", key=f"refund_day_{r.id}")
                        if st.button("Mark as paid out", type="primary", key=f"refund_paid_{r.id}"):
                            if run_action(mark_refund_paid_out, me, r.id, reference=ref, paid_on=day) is not None:
                                ss["refunds_flash"] = (f"Refund of {money(r.amount, r.currency)} to {r.customer} "
                                                       "marked as paid out.")
                                st.rerun()
    elif todo:
        st.caption(f"{len(todo)} refund{'s' if len(todo) > 1 else ''} need{'' if len(todo) > 1 else 's'} someone "
                   "in Finance: retry a failed card refund, or mark one paid back by hand as paid out.")

st.subheader("Stripe events received")
st.caption("What Stripe told Counting House through its webhook (POST /v1/stripe/webhook of the API): payments taken "
           "or declined, refunds settled. Each event is processed once, however often Stripe sends it.")
with session() as s:
    received = [(e.received_at, e.id, e.type, e.outcome) for e in received_events(s, me)]
if not received:
    st.info("No Stripe event received yet." + ("" if gw.settings().webhook_secret else
            " Set STRIPE_WEBHOOK_SECRET and add the webhook endpoint in the Stripe dashboard to receive them."))
else:
    st.dataframe(pd.DataFrame(received, columns=["When (UTC)", "Event", "Type", "What it did"]), hide_index=True,
                 width="stretch",
                 column_config={"When (UTC)": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm:ss")})
