"""The first-invoice guide's billing steps: the month's usage, the draft invoice and its approval.

Typed events go through the same importer as an uploaded file (core.importers.usage), so they get the same checks
and messages; the invoice is generated and approved by core.invoicing.service, as on the Invoices page.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.auth import Actor
from core.errors import UserError
from core.guide import GuideState, default_events, example_usage_csv, typed_usage_csv
from core.importers.report import ImportReport
from core.importers.usage import import_usage, preview_usage
from core.invoicing.service import approve_invoice, generate_drafts, get_invoice, invoice_lines
from core.billing.periods import format_period
from ui import stripe_ui
from ui.format import last_day, money, qty
from ui.guide_setup import saved
from ui.state import run_action, session
from ui.uploads import Upload, errors_frame, upload_panel

PAGES = Path(__file__).resolve().parents[1] / "pages"


class _Refused(Exception):
    def __init__(self, report: ImportReport):
        self.report = report


def _month(state: GuideState) -> str:
    return format_period(state.month_start, state.month_end)


# ---- 5. usage -----------------------------------------------------------------------------------------------

def _save_typed(me: Actor, data: bytes) -> ImportReport | None:
    try:
        with session() as s:
            report = import_usage(s, me, data, "typed-events.csv", source="guide")
            if not report.ok:
                raise _Refused(report)  # roll the transaction back: nothing of it is kept
    except _Refused as refused:
        st.error("Nothing was saved — fix these events and save again:", icon=":material/error:")
        problems = errors_frame(refused.report)
        rows = problems.pop("Row")  # row 2 of the file is the table's first event
        problems.insert(0, "Event", [str(r - 1) if r > 1 else "" for r in rows])
        st.dataframe(problems, hide_index=True, width="stretch")
        return None
    except UserError as exc:
        st.error(f"Nothing was saved: {exc}", icon=":material/error:")
        return None
    return report


def usage_step(me: Actor, state: GuideState) -> None:
    cust, event, month = state.customer, state.metric.extra, _month(state)
    st.markdown(f"Usage of **{state.metric.name}** by **{cust.name}** ({cust.code}) in **{month}** — the month "
                "the invoice is for.")
    typed, upload = st.tabs(["Type a few events", "Upload a file"], key="guide_usage_tabs", on_change="rerun")
    with typed:
        first, last = state.month_start, last_day(state.month_end)
        start = pd.DataFrame(default_events(first), columns=["Day", "Quantity"])
        table = st.data_editor(start, num_rows="dynamic", hide_index=True, key=f"guide_usage_table_{first:%Y%m}",
                               column_config={
                                   "Day": st.column_config.DateColumn("Day", min_value=first, max_value=last,
                                                                      format="D MMM YYYY", required=True),
                                   "Quantity": st.column_config.TextColumn(
                                       f"Quantity ({state.product.extra if state.product else 'units'})",
                                       help="How much was used in that event, for example 1200 or 18.4."),
                               })
        st.caption(f"Each row is one `{event}` event on that day (noon UTC). Add or delete rows as you like.")
        if st.button("Save these events", type="primary", icon=":material/save:", key="guide_usage_save"):
            events = [(row["Day"], row["Quantity"]) for _, row in table.iterrows()]
            report = _save_typed(me, typed_usage_csv(cust.code, event, events))
            if report is not None:
                skipped = len(report.duplicates)
                saved(f"{report.inserted:,} event{'s' if report.inserted != 1 else ''} saved for {cust.name}"
                      + (f"; {skipped:,} already stored {'was' if skipped == 1 else 'were'} skipped." if skipped
                         else "."))
    with upload:
        st.download_button(f"Download an example file for {cust.name} (CSV)",
                           example_usage_csv(cust.code, event, state.month_start),
                           file_name=f"usage-{cust.code}-{state.month_start:%Y-%m}.csv", mime="text/csv",
                           icon=":material/download:", key="guide_usage_example", on_click="ignore",
                           help=f"Eight `{event}` events for {cust.code} in {month}: upload it as it is, or "
                                "change the quantities first.")
        upload_panel(Upload(key="guide_usage", noun=("usage event", "usage events"),
                            preview=lambda s, data, name: preview_usage(s, data, name),
                            commit=lambda s, data, name, progress: import_usage(s, me, data, name, progress=progress),
                            count=lambda r: r.accepted_rows), can_write=True)


def usage_done(state: GuideState) -> str:
    if not state.usage_line:
        return "This contract charges a fixed fee: it needs no usage."
    return (f"{state.usage_events:,} `{state.metric.extra}` event{'s' if state.usage_events != 1 else ''} for "
            f"{state.customer.name} in {_month(state)}: {qty(state.usage_total)} in all. Late events can still "
            "be added on the Usage page before the invoice is approved.")


# ---- 6. the draft invoice ------------------------------------------------------------------------------------

def invoice_step(me: Actor, state: GuideState) -> None:
    month = _month(state)
    st.markdown(f"The draft for **{state.contract.name}**, {month}: the month's usage priced by the contract.")
    if st.button(f"Generate the invoice for {month}", type="primary", icon=":material/receipt_long:",
                 key="guide_invoice_generate"):
        with st.spinner(f"Pricing {state.contract.name} for {month}…"):
            run = run_action(generate_drafts, me, period_start=state.month_start, period_end=state.month_end,
                             contract_ids=[state.contract.id])
        if run is not None and run.created:
            totals = " and ".join(money(v, c) for c, v in sorted(run.total_by_currency.items()))
            saved(f"The draft invoice for {month} is generated: {totals}.")
        elif run is not None:
            st.info(f"The contract has nothing to invoice for {month}: it starts on "
                    f"{state.contract_start:%-d %b %Y}. Choose a start date in {month} on the Contracts page, or "
                    "come back when its first month is over.", icon=":material/event_busy:")


def invoice_preview(invoice_id: int) -> None:
    """The invoice as it stands: every line with how its amount was calculated, and the totals."""
    with session() as s:
        inv, lines = get_invoice(s, invoice_id), invoice_lines(s, invoice_id)
    code = inv.currency
    title = f"Invoice {inv.number}" if inv.number else "Draft invoice"
    st.markdown(f"**{title}** · {format_period(inv.period_start, inv.period_end)} · issued "
                f"{inv.issue_date:%-d %b %Y} · due {inv.due_date:%-d %b %Y}")
    table = pd.DataFrame([{"Line": ("↳ " if ln.indent else "") + ln.description,
                           "Quantity": qty(ln.quantity) if ln.kind in ("usage", "fixed", "one_time") else "",
                           "Amount": money(ln.amount, code), "How it was calculated": ln.breakdown}
                          for ln in lines], columns=["Line", "Quantity", "Amount", "How it was calculated"])
    st.table(table.style.set_properties(subset=["Quantity", "Amount"], **{"text-align": "right !important"}),
             hide_index=True)
    st.markdown(f"Subtotal {money(inv.subtotal, code)} · Tax {money(inv.tax, code)} · "
                f"**Total {money(inv.total, code)}**")


# ---- 7. approval ----------------------------------------------------------------------------------------------

def approve_step(me: Actor, state: GuideState) -> None:
    invoice_preview(state.invoice.id)
    st.caption("Check the lines above. Approving gives the invoice the next number and freezes it: a mistake found "
               "later is corrected with a credit note, never by changing the invoice.")
    if st.button("Approve the invoice", type="primary", icon=":material/verified:", key="guide_approve"):
        done = run_action(approve_invoice, me, state.invoice.id)
        if done is not None:
            note = stripe_ui.after_approval(me, [done.id])  # auto-charge, as on the Invoices page
            saved(f"Invoice **{done.number}** approved: {money(done.total, done.currency)}, due "
                  f"{done.due_date:%-d %b %Y}." + (f" {note}" if note else ""))


NEXT = (("invoices", "invoices:read", "Invoices", "open its PDF, email it to the customer"),
        ("payments", "invoices:read", "Payments", "record the money when it arrives"),
        ("pilot", "invoices:read", "Pilot reconciliation", "compare with the invoices your current system made"),
        ("pilot_home", "pilot:read", "Pilot plan", "plan the rest of the pilot"))


def finished(me: Actor, state: GuideState) -> None:
    """The guide is done: the approved invoice, and where to go from here."""
    invoice_preview(state.invoice.id)
    st.markdown("**What next**")
    for page, permission, label, why in NEXT:
        if me.can(permission) and (PAGES / f"{page}.py").exists():
            a, b = st.columns([1, 3], vertical_alignment="center")
            with a:
                st.page_link(str(PAGES / f"{page}.py"), label=label, icon=":material/arrow_forward:")
            b.caption(why[:1].upper() + why[1:] + ".")
