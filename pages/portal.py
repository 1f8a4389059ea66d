"""The customer portal (``/portal?token=…``) — public: the customer does not sign in here. A valid portal link shows
that one customer's invoices (PDFs, and a way to pay what is due), payments, credit notes, usage this billing
period, entitlements and contracts, and lets it correct its billing details. A missing, changed, expired or other
link shows one message and nothing else. Every check is in :mod:`core.portal`, which takes the token on every call.
"""
from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from core.errors import UserError
from core.invoicing.settlement import STATUS_LABELS
from core.models import BusinessEntity
from core.money import format_money, format_number
from core.portal import EDITABLE, invoice_pdf, update_details, view
from core.portal_links import LinkInvalid
from ui.state import public_page, session

public_page()
ss = st.session_state
token = str(st.query_params.get("token", "") or "")


def _refuse(message: str) -> None:
    st.title("Billing portal")
    st.caption("Your supplier sends you a link to this page: it shows your invoices, payments and usage.")
    st.error(message, icon=":material/link_off:")
    st.stop()


try:
    with session() as s:
        data = view(s, token)
        seller = s.get(BusinessEntity, data.customer.entity_id)
        seller_name = seller.name if seller else ""
except LinkInvalid as exc:
    _refuse(str(exc))
except UserError as exc:  # the server's own set-up (e.g. PORTAL_SECRET): not the visitor's to fix
    logging.getLogger("pages.portal").error("the portal could not check a link: %s", exc)
    _refuse("Your billing portal cannot be shown just now. Try again later, or ask your supplier.")

cust = data.customer
st.title(f"{cust.name} — billing portal")
st.caption(f"Your account with {seller_name}: invoices, payments, credit notes, usage and contracts. This link works "
           f"until {data.expires:%-d %B %Y}; ask {seller_name} for a new one after that.")
if flash := ss.pop("portal_flash", None):
    st.success(flash, icon=":material/check_circle:")

due = data.due_by_currency()
overdue = [i for i in data.invoices if i.overdue]
cols = st.columns(3)
cols[0].metric("Amount due", " + ".join(format_money(v, k) for k, v in sorted(due.items())) or "Nothing",
               border=True)
cols[1].metric("Overdue invoices", len(overdue), border=True)
cols[2].metric("Invoices", len(data.invoices), border=True)

tabs = st.tabs(["Invoices", "Payments", "Credit notes", "Usage", "Contracts", "Billing details"])

with tabs[0]:
    if not data.invoices:
        st.info("No invoices yet.")
    else:
        st.dataframe(pd.DataFrame([{
            "Invoice": i.number, "Issued": i.issue_date, "Due": i.due_date, "Period": i.period,
            "Total": format_money(i.total, i.currency), "Amount due": format_money(i.amount_due, i.currency),
            "Status": "Overdue" if i.overdue else STATUS_LABELS.get(i.status, i.status)} for i in data.invoices]),
            hide_index=True, width="stretch")
        labels = {i.invoice_id: f"{i.number} — {format_money(i.total, i.currency)}" for i in data.invoices}
        chosen = st.selectbox("Open an invoice", list(labels), format_func=labels.__getitem__, key="portal_invoice")
        inv = next(i for i in data.invoices if i.invoice_id == chosen)

        def _pdf() -> bytes:
            with session() as s:
                return invoice_pdf(s, token, chosen)

        with st.container(horizontal=True):
            st.download_button("Download the PDF", _pdf, file_name=f"invoice-{inv.number}.pdf",
                               mime="application/pdf", icon=":material/picture_as_pdf:", key="portal_pdf")
            if inv.pay_link:
                st.link_button(f"Pay {format_money(inv.amount_due, inv.currency)}", inv.pay_link, type="primary",
                               icon=":material/credit_card:")
        if inv.amount_due > 0 and not inv.pay_link:
            st.caption("Pay this invoice with the payment instructions printed on it.")

with tabs[1]:
    ok = [p for p in data.payments if p.status == "succeeded"]
    if not ok:
        st.info("No payments recorded yet.")
    else:
        st.dataframe(pd.DataFrame([{"Received": p.received_on, "Amount": format_money(p.amount, p.currency),
                                    "Method": p.method.replace("_", " ").capitalize(), "Reference": p.reference}
                                   for p in ok]), hide_index=True, width="stretch")

with tabs[2]:
    if not data.credit_notes:
        st.info("No credit notes.")
    else:
        st.dataframe(pd.DataFrame([{"Credit note": cn.number, "Issued": cn.issue_date, "Invoice": number,
                                    "Amount": format_money(cn.total, cn.currency), "Reason": cn.reason}
                                   for cn, number in data.credit_notes]), hide_index=True, width="stretch")

with tabs[3]:
    st.caption("Usage counted so far in your current billing period — what your next invoice charges for.")
    if not data.usage:
        st.info("Nothing metered on your contracts.")
    else:
        st.dataframe(pd.DataFrame([{"Metric": u["metric"], "Period": f"{u['from']:%-d %b} – {u['to']:%-d %b %Y}",
                                    "Used": format_number(u["quantity"]),
                                    "Included": format_number(u["included"]) if u["included"] is not None else "—"}
                                   for u in data.usage]), hide_index=True, width="stretch")
    if data.entitlements:
        st.subheader("Entitlements")
        st.dataframe(pd.DataFrame(data.entitlements), hide_index=True, width="stretch")

with tabs[4]:
    if not data.contracts:
        st.info("No contracts.")
    else:
        st.dataframe(pd.DataFrame([{"Contract": c.name, "Currency": c.currency, "Starts": c.start_date,
                                    "Ends": c.end_date or "—", "Status": c.status.capitalize()}
                                   for c in data.contracts]), hide_index=True, width="stretch")

with tabs[5]:
    st.caption(f"Where {seller_name} sends your invoices and what they print on them. Changes apply to the next "
               "invoice; invoices already issued keep the details they were issued with.")
    with st.form("portal_details"):
        values = {k: st.text_input(label, value=getattr(cust, k) or "", key=f"portal_{k}")
                  for k, label in EDITABLE.items()}
        if st.form_submit_button("Save my details", type="primary"):
            try:
                with session() as s:
                    update_details(s, token, values)
                ss["portal_flash"] = "Your billing details are saved."
                st.rerun()
            except LinkInvalid as exc:
                st.error(str(exc), icon=":material/link_off:")
            except UserError as exc:
                st.error(str(exc), icon=":material/error:")
