"""The open invoice on the Invoices page: header, lines with how each amount was calculated, totals, and what can
be done with it — documents, payment link, history, card charge, credit note, write-off; for a draft, editing its
lines, approving, regenerating or deleting it. What it shows comes from core.invoicing.service.invoice_view."""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from core.auth import Actor
from core.billing.periods import format_period
from core.errors import UserError
from core.invoicing.service import approve_invoice, invoice_view, regenerate_draft
from core.portal_links import payment_link
from ui import stripe_ui
from ui.draft_edit import edit_lines
from ui.format import STATUS_LABELS, last_day, money, qty
from ui.invoice_documents import document_actions
from ui.invoice_money import credit_note_action, history, write_off_action
from ui.state import run_action, session

BADGE = {"draft": "gray", "void": "red", "partially_paid": "orange", "paid": "green", "written_off": "violet"}


def invoice_detail(inv_id: int, me: Actor, *, flash: Callable[[str], None], ask: Callable[..., None]) -> None:
    """``flash`` shows a message and reruns the page; ``ask`` opens the page's confirmation dialog."""
    with session() as s:
        view = invoice_view(s, inv_id)
    inv, cust, lines = view.invoice, view.customer, view.lines
    code, period = inv.currency, format_period(inv.period_start, inv.period_end)
    with st.container(border=True):
        with st.container(horizontal=True, vertical_alignment="center"):
            st.subheader(f"Invoice {inv.number}" if inv.number else f"Draft invoice for {cust.name}", width="content")
            st.badge(STATUS_LABELS.get(inv.status, inv.status), color=BADGE.get(inv.status, "blue"))
            if view.overdue:
                st.badge("Overdue", color="red")
        c1, c2, c3, c4 = st.columns(4)
        c1.markdown(f"**Customer**  \n{cust.name}  \n{cust.external_id}")
        c2.markdown(f"**Period**  \n{period}  \n{inv.period_start:%-d %b %Y} – {last_day(inv.period_end):%-d %b %Y}")
        c3.markdown(f"**Issued**  \n{inv.issue_date:%-d %b %Y}")
        c4.markdown(f"**Due**  \n{inv.due_date:%-d %b %Y}")
        table = pd.DataFrame([{"Description": ("↳ " if ln.indent else "") + ln.description,
                               "Service period": f"{ln.period_start:%-d %b} – {last_day(ln.period_end):%-d %b %Y}"
                               if view.own_period(ln) else "",
                               "Quantity": qty(ln.quantity) if view.has_quantity(ln) else "",
                               "Amount": money(ln.amount, code), "How it was calculated": ln.breakdown}
                              for ln in lines], columns=["Description", "Service period", "Quantity", "Amount",
                                                         "How it was calculated"])
        st.table(table.style.set_properties(subset=["Quantity", "Amount"], **{"text-align": "right !important"}),
                 hide_index=True)
        t1, t2 = st.columns([2, 1])
        for name, value in view.totals():
            bold = name in ("Total", "Amount due")
            k, v = t2.columns(2)
            k.markdown(f"**{name}**" if bold else name)
            v.markdown(f"**{money(value, code)}**" if bold else money(value, code), text_alignment="right")
    with t1:
        document_actions(inv, cust, me)
        if inv.status != "draft":
            show_payment_link(inv.id)
            history(inv)
            if charged := stripe_ui.charge_action(inv, cust, me):
                flash(charged)
            if done := credit_note_action(inv, me):
                flash(done)
            if done := write_off_action(inv, me):
                flash(done)
            st.caption(f"Approved by {inv.approved_by or 'unknown'} on {inv.approved_at:%-d %b %Y}. An approved invoice "
                       "cannot be changed; corrections are made with a credit note." if inv.approved_at
                       else "This invoice can no longer be changed.")
            return
        if changed := edit_lines(inv, lines, me):
            flash(changed)
        if any(ln.edited_by for ln in lines):
            st.caption("Changed by hand: " + ", ".join(sorted({ln.edited_by for ln in lines if ln.edited_by}))
                       + ". Regenerating recomputes the draft from the contract and drops those changes.")
        st.caption("This is a draft: check the lines, then approve it. If usage arrived after it was generated, "
                   "regenerate it first." if me.can("invoices:approve") else
                   "This is a draft: it can still change, and finance approves it before it goes to the customer.")
        with st.container(horizontal=True):
            if me.can("invoices:approve") and st.button("Approve", type="primary", icon=":material/verified:",
                                                          key="invoices_approve"):
                if (done := run_action(approve_invoice, me, inv_id)) is not None:
                    note = stripe_ui.after_approval(me, [done.id])  # after the approval committed
                    flash(f"Invoice approved and numbered {done.number} ({cust.name}, {period}, "
                          f"{money(done.total, code)})." + (f" {note}" if note else ""))
            if me.can("invoices:write") and st.button("Regenerate", icon=":material/refresh:", key="invoices_regen",
                                                      help="Recalculate from the current usage and contract."):
                if (done := run_action(regenerate_draft, me, inv_id)) is not None:
                    flash(f"Draft recalculated from the current usage: total {money(inv.total, code)} → "
                          f"{money(done.total, code)}.")
            if me.can("invoices:delete") and st.button("Delete draft", icon=":material/delete:", key="invoices_delete"):
                ask("delete", inv_id, f"The draft for **{cust.name}, {period} ({money(inv.total, code)})** will "
                    "be deleted.", "Generating that month again creates it afresh from the contract and the usage.",
                    "Delete the draft", "Keep it", f"The draft for {cust.name}, {period} was deleted.")


def show_payment_link(inv_id: int) -> None:
    """The invoice's signed link to its public pay page (as on its PDF and in its email), to copy."""
    try:
        with session() as s:
            link, until = payment_link(s, inv_id)
    except UserError as exc:
        st.caption(f"No payment link: {exc}")
        return
    if link:
        with st.expander("Payment link", icon=":material/link:"):
            st.caption("The customer's own page for this invoice, with its PDF and a way to pay it; no sign-in. It is "
                       f"printed on the PDF and in the email, and works until {until:%-d %b %Y}. Anyone who has "
                       "the link can see the invoice.")
            st.code(link, language=None, wrap_lines=True)
