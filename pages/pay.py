"""The page an invoice's payment link opens (``/pay?token=…``) — public: nobody signs in. A valid token shows that one
invoice (seller, number, dates, lines, amount due, its PDF) and how to pay it: the customer's saved card through
Stripe when they have one, the seller's payment instructions otherwise. A missing, changed, expired or unknown
token shows one message and nothing else. Every check is in :mod:`core.portal_links`; the payment is
:func:`connectors.stripe_gateway.pay_by_link`, which checks the token again.
"""
from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from connectors import stripe_gateway as gw
from core.errors import UserError
from core.portal_links import LinkInvalid, public_invoice, public_invoice_pdf
from ui.state import public_page, run_action, session

public_page()
ss = st.session_state
token = str(st.query_params.get("token", "") or "")


def _refuse(message: str) -> None:
    st.title("Pay an invoice")
    st.caption("Invoices sent by email carry a link to this page: it shows that one invoice and how to pay it.")
    st.error(message, icon=":material/link_off:")
    st.stop()


try:
    with session() as s:
        view = public_invoice(s, token)
except LinkInvalid as exc:
    _refuse(str(exc))
except UserError as exc:  # the server's own set-up (e.g. PORTAL_SECRET): not the visitor's to fix
    logging.getLogger("pages.pay").error("the pay page could not check a link: %s", exc)
    _refuse("This invoice cannot be shown just now. Try again later, or ask the sender of the invoice.")

ctx = view.context
doc, seller, customer, totals, pay = ctx["doc"], ctx["seller"], ctx["customer"], ctx["totals"], ctx["payment"]

with st.container(horizontal=True, vertical_alignment="center"):
    st.title(f"Invoice {doc['number']}", width="content")
    if view.status == "paid":
        st.badge("Paid", color="green", icon=":material/check:")
    elif view.status == "void":
        st.badge("Cancelled", color="gray")
    elif view.overdue:
        st.badge("Overdue", color="red")
st.caption(f"From {seller['name']} to {customer['name']}, issued {doc['issue_date']}"
           + (f" for {doc['period']}" if doc["period"] else "") + ".")

c1, c2, c3 = st.columns([2, 2, 1.4])
c1.markdown("**From**  \n" + "  \n".join([seller["legal_name"] or seller["name"], *seller["address_lines"]]
                                         + ([f"Tax id: {seller['tax_id']}"] if seller["tax_id"] else [])
                                         + ([seller["email"]] if seller["email"] else [])))
c2.markdown("**Bill to**  \n" + "  \n".join([customer["name"], *customer["address_lines"]]
                                            + ([f"Tax id: {customer['tax_id']}"] if customer["tax_id"] else [])))
c3.metric("Amount due", totals["amount_due"], border=True)
if doc["due_date"] and view.amount_due > 0:
    c3.caption(f"Due by {doc['due_date']}" + (f" · {doc['terms']}" if doc["terms"] else ""))

st.table(pd.DataFrame([{"Description": ("↳ " if ln["indent"] else "") + ln["description"],
                        "Service period": ln["period"], "Quantity": ln["quantity"], "Amount": ln["amount"]}
                       for ln in ctx["lines"]], columns=["Description", "Service period", "Quantity", "Amount"])
         .style.set_properties(subset=["Quantity", "Amount"], **{"text-align": "right !important"}),
         hide_index=True)
rows = [("Subtotal", totals["subtotal"]), *((t["label"], t["amount"]) for t in totals["taxes"]),
        (f"**Total {doc['currency']}**", f"**{totals['total']}**")]
rows += [(label, f"−{value}") for label, value in (("Prepaid credit applied", totals["credits_applied"]),
                                                   ("Paid", totals["paid"]), ("Credited", totals["credited"])) if value]
rows.append(("**Amount due**", f"**{totals['amount_due']}**"))
_, right = st.columns([2, 1])
for label, value in rows:
    k, v = right.columns(2)
    k.markdown(label)
    v.markdown(value, text_alignment="right")


def _pdf() -> bytes:
    with session() as s:
        return public_invoice_pdf(s, token)


st.download_button("Download the invoice (PDF)", _pdf, file_name=f"invoice-{doc['number']}.pdf",
                   mime="application/pdf", icon=":material/picture_as_pdf:", key="pay_pdf")

st.subheader("Pay")
if flash := ss.pop("pay_flash", None):
    st.success(flash, icon=":material/check_circle:")
elif view.status == "paid":
    st.success(f"Invoice {doc['number']} is paid. Thank you.", icon=":material/check_circle:")
if view.status == "void":
    st.info(f"Invoice {doc['number']} was cancelled by a credit note: nothing is due.")
elif view.payable:
    with session() as s:
        card = gw.link_card(s, token)
    if card:
        with st.container(border=True):
            st.markdown(f"**Pay by card** with {card}, the card you saved with {seller['name']}")
            agreed = st.checkbox(f"I authorise {seller['name']} to charge {totals['amount_due']} to {card} now.",
                                 key="pay_authorise")
            if st.button(f"Pay {totals['amount_due']} by card", type="primary", icon=":material/credit_card:",
                         disabled=not agreed, key="pay_card"):
                result = run_action(gw.pay_by_link, token)
                if result is not None and result.ok:
                    ss["pay_flash"] = f"Thank you: {totals['amount_due']} was charged to {card}."
                    st.rerun()
                elif result is not None:
                    st.warning(result.message, icon=":material/credit_card_off:")
    if pay["instructions"]:
        st.markdown("**Pay by bank transfer**" if not card else "**Or pay by bank transfer**")
        st.info(pay["instructions"] + f"\n\nPlease quote {doc['number']} with your payment.",
                icon=":material/account_balance:")
    elif not card:
        st.info(f"Pay {seller['name']} as agreed and quote {doc['number']} with your payment"
                + (f"; questions to {seller['email']}." if seller["email"] else "."))
