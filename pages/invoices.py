"""Invoices: generate a month's drafts, review them line by line, approve (numbers them), export to Excel."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core.analytics.overview import billing_month, invoice_months
from core.billing.periods import add_months, format_period, month_period
from core.customers import get_customer
from core.db import session_scope
from core.errors import NotFound
from core.invoicing.service import (
    approve_invoices,
    delete_draft,
    generate_drafts,
    get_invoice,
    invoice_ids,
    list_invoices,
    summarise_invoices,
)
from core.money import ZERO
from ui import stripe_ui
from ui.draft_edit import one_off_form
from ui.format import STATUS_LABELS, money
from ui.invoice_detail import invoice_detail
from ui.invoice_documents import email_progress, queue_addressed, watch
from ui.pickers import page_picker
from ui.state import actor, engine, page_header, run_action, session

me = actor()
ss = st.session_state
ss.setdefault("invoices_v", 0)  # bumped after every action, so the invoice picker is redrawn with fresh labels
this_month = month_period(date.today().year, date.today().month)[0]
with session() as s:  # this month, the two years before, and any older month that has invoices
    MONTHS = sorted({add_months(this_month, -i) for i in range(25)} | set(invoice_months(s)), reverse=True)


def month_label(start: date | None) -> str:
    return "All months" if start is None else format_period(start, add_months(start, 1))


def totals_text(sums: dict) -> str:
    """currency -> amount, as "$1.00 and €2.00"."""
    return " and ".join(money(v, c) for c, v in sorted(sums.items())) or money(ZERO, "USD")


def flash(text: str) -> None:
    ss["invoices_flash"] = text
    ss["invoices_v"] += 1
    st.rerun()


def ask(action: str, target, question: str, note: str, yes: str, no: str, done: str = "") -> None:
    """Open the confirmation dialog for a destructive or irreversible action."""
    ss["invoices_confirm"] = dict(action=action, target=target, question=question, note=note, yes=yes, no=no,
                                  done=done)


def _delete(s_, who, inv_id: int) -> bool:
    delete_draft(s_, who, inv_id)
    return True


def _confirm_body() -> None:
    c = ss["invoices_confirm"]
    st.markdown(c["question"])
    st.caption(c["note"])
    with st.container(horizontal=True):
        yes = st.button(c["yes"], type="primary", key="invoices_confirm_yes")
        no = st.button(c["no"], key="invoices_confirm_no")
    if no:
        ss.pop("invoices_confirm", None)
        st.rerun()
    if yes:
        ss.pop("invoices_confirm", None)
        if c["action"] == "approve":
            done = run_action(approve_invoices, me, c["target"])
            if done:
                first, last = done[0].number, done[-1].number
                note = stripe_ui.after_approval(me, [i.id for i in done])  # after the approval committed
                flash((f"{len(done)} invoices approved and numbered {first} to {last}." if len(done) > 1
                       else f"Invoice approved and numbered {first}.") + (f" {note}" if note else ""))
        elif run_action(_delete, me, c["target"]):
            ss.pop("invoices_open_id", None)
            flash(c["done"])


_dismiss = {"on_dismiss": lambda: ss.pop("invoices_confirm", None)}
confirm_approve = st.dialog("Approve invoices", **_dismiss)(_confirm_body)
confirm_delete = st.dialog("Delete this draft?", **_dismiss)(_confirm_body)

page_header("Invoices", ("Generate the drafts for a month, open each one to check its lines and how every amount "
                         "was calculated, then approve it: approval gives the invoice its number and freezes it.")
            if me.can("invoices:approve") else "Every invoice with its lines and how each amount was calculated: "
            "filter the list, open an invoice, or export the list to Excel.")
if msg := ss.pop("invoices_flash", None):
    st.success(msg, icon=":material/check_circle:")

if me.can("invoices:write"):
    with st.container(border=True):
        st.markdown("**Generate draft invoices**")
        st.caption("Creates one draft per active contract (one per customer for customers who consolidate): the "
                   "month's usage and charges billed at the end of the month, plus the next month's charges billed "
                   "in advance, dated at the end of the month. A contract that starts next month gets its first "
                   "in-advance invoice from this run. Safe to run again: what already has an invoice is skipped.")
        a, b = st.columns([2, 1], vertical_alignment="bottom")
        gen_month = a.selectbox("Billing month", MONTHS, index=MONTHS.index(billing_month()[0]),
                                key="invoices_gen_month", format_func=month_label)
        label = month_label(gen_month)
        if b.button(f"Generate drafts for {label}", type="primary", icon=":material/receipt_long:"):
            with st.spinner(f"Pricing every contract for {label}…"):
                run = run_action(generate_drafts, me, period_start=gen_month, period_end=add_months(gen_month, 1))
            if run is not None and run.created:
                st.success(run.summary() + ". Review them below.", icon=":material/check_circle:")
            elif run is not None and run.skipped_existing:
                st.info(f"All {run.skipped_existing} active contracts already have an invoice for {label}, so "
                        "nothing new was created. If usage arrived late, open a draft and press **Regenerate**.")
            elif run is not None:
                st.info(f"No active contract covers {label}: there is nothing to invoice.")
            if run is not None:
                ss["invoices_f_month"], ss["invoices_f_status"] = gen_month, "draft"
        if made := one_off_form(me):
            flash(made)

st.subheader("Review invoices")
f1, f2, f3 = st.columns([1, 1, 2])
status = f1.selectbox("Status", [None, *STATUS_LABELS], key="invoices_f_status",
                      format_func=lambda v: "All statuses" if v is None else STATUS_LABELS[v])
month = f2.selectbox("Month", [None, *MONTHS], key="invoices_f_month", format_func=month_label)
search = f3.text_input("Search", key="invoices_f_search", placeholder="customer name, customer id or invoice number")
PAGE = 200  # invoices shown at once; counts, totals, bulk actions and the export cover every match
filters = dict(status=status, period_start=month, search=search)
with session() as s:
    summary = summarise_invoices(s, **filters)
pages = max(1, (summary.count + PAGE - 1) // PAGE)
page_no = page_picker(summary.count, PAGE, key="invoices_page", noun="invoices")
with session() as s:
    rows = list_invoices(s, **filters, limit=PAGE, offset=(page_no - 1) * PAGE)

if not rows:
    st.info("No invoices match these filters." + (" Generate the drafts for a month above."
                                                  if me.can("invoices:write") else ""))
else:
    overdue = summary.overdue
    st.caption(f"{summary.count:,} invoice{'s' if summary.count != 1 else ''} · total {totals_text(summary.total)} "
               f"· amount due {totals_text(summary.due)}" + (f" · **{overdue:,} overdue**" if overdue else "")
               + (f" · showing {(page_no - 1) * PAGE + 1:,}–{(page_no - 1) * PAGE + len(rows):,}" if pages > 1
                  else ""))
    right = st.column_config.TextColumn(alignment="right")
    day = st.column_config.DateColumn(format="D MMM YYYY")
    st.dataframe(pd.DataFrame([{
        "Number": r.number or "Draft", "Customer": r.customer, "Period": format_period(r.period_start, r.period_end),
        "Issued": r.issue_date, "Due": r.due_date, "Status": STATUS_LABELS.get(r.status, r.status),
        "Total": money(r.total, r.currency), "Amount due": money(r.amount_due, r.currency),
        "Overdue": "Overdue" if r.overdue else ""} for r in rows]), hide_index=True, width="stretch",
        column_config={"Issued": day, "Due": day, "Total": right, "Amount due": right})
    eng = engine()

    def matching(*statuses: str) -> list[int]:
        with session() as s_:
            return invoice_ids(s_, statuses=statuses, **filters)

    def export() -> bytes:
        from core.invoicing.export import (
            export_invoices_xlsx,  # openpyxl loads only when asked for
        )

        with session_scope(eng) as xs:
            return export_invoices_xlsx(xs, invoice_ids(xs, statuses=tuple(STATUS_LABELS), **filters))

    with st.container(horizontal=True):
        st.download_button(f"Export these {summary.count:,} invoices to Excel", export, icon=":material/download:",
                           file_name=f"invoices-{month.isoformat()[:7] if month else 'all'}.xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        if summary.drafts and me.can("invoices:approve") and st.button(
                f"Approve the {summary.drafts:,} listed drafts…", icon=":material/done_all:"):
            with session() as s:
                draft_total = summarise_invoices(s, **{**filters, "status": "draft"}).total
            n = summary.drafts
            ask("approve", matching("draft"), f"**Approve {n:,} invoice{'s' if n != 1 else ''} totalling "
                f"{totals_text(draft_total)}?**", "Each one gets the next invoice number and can no longer be "
                "edited, regenerated or deleted.", "Approve", "Cancel")
        if summary.open and me.can("invoices:write") and st.button(f"Email the {summary.open:,} listed open invoices",
                                                                   icon=":material/forward_to_inbox:",
                                                                   key="invoices_email_all"):
            if (queued := run_action(queue_addressed, me, matching("approved", "partially_paid"))) is not None:
                logs, skipped = queued
                if skipped:
                    ss["invoices_flash"] = (f"Not emailed — no address on the customer: {', '.join(skipped)}. "
                                            "Add one on the Customers page.")
                watch(logs)
    email_progress()


def pick_label(number, customer: str, start: date, end: date, total, code: str) -> str:
    return f"{number or 'Draft'} · {customer} · {format_period(start, end)} · {money(total, code)}"


choices = {r.id: pick_label(r.number, r.customer, r.period_start, r.period_end, r.total, r.currency) for r in rows}
if (opened_id := ss.get("invoices_open_id")) is not None and opened_id not in choices:
    with session() as s:  # keep the open invoice open when the filters no longer list it (just approved)
        try:
            inv = get_invoice(s, opened_id)
            choices = {opened_id: pick_label(inv.number, get_customer(s, inv.customer_id).name, inv.period_start,
                                             inv.period_end, inv.total, inv.currency), **choices}
        except NotFound:
            ss.pop("invoices_open_id", None)
if choices:
    ids = list(choices)
    opened = st.selectbox("Open an invoice", ids, key=f"invoices_open_{ss['invoices_v']}",
                          index=ids.index(opened_id) if opened_id in ids else None,
                          placeholder="Choose an invoice to see its lines", format_func=choices.get)
    ss["invoices_open_id"] = opened
    if opened is not None:
        invoice_detail(opened, me, flash=flash, ask=ask)

if confirm := ss.get("invoices_confirm"):
    (confirm_approve if confirm["action"] == "approve" else confirm_delete)()
