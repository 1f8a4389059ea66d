"""Pilot reconciliation: upload the prospect's own invoices for a month and compare them with ours, customer by
customer and line by line; download the report as Excel, or save the result to the pilot (its summary and one row
per invoice), where the Pilot plan's "sample invoices match" criterion reads it. Nothing else is stored."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core.analytics.overview import invoice_months
from core.billing.periods import add_months, month_period
from core.importers.files import write_csv
from core.money import MoneyError
from core.pilot_reconciliation import (
    DIFFERS,
    MATCHED,
    ONLY_OURS,
    ONLY_THEIRS,
    ReconciliationFileError,
    read_their_invoices,
    reconcile,
    reconciliation_xlsx,
    save_run,
)
from ui.format import money
from ui.state import actor, page_header, run_action, session

me = actor()
page_header("Pilot reconciliation", "Prove that Counting House bills like the system you use today — or find where "
            "that system was wrong. Upload the invoices it produced for a month and compare them, customer by "
            "customer and line by line, with the invoices generated here. Nothing you upload is stored — unless you "
            "save the result to the pilot, where the Pilot plan's success criteria read it.")

TEMPLATE = [("ACME-001", "2026-11-01", "INV-1042", "Platform fee", "500.00", "USD"),
            ("ACME-001", "2026-11-01", "INV-1042", "API calls", "1234.50", "USD")]
with st.expander("What the file looks like", icon=":material/description:"):
    st.markdown(
        "One row per invoice line, as CSV or Excel. Columns (names are matched loosely):\n"
        "- **Customer** — the customer's id as on the Customers page, or its exact name\n"
        "- **Invoice date** — YYYY-MM-DD (or 1 Nov 2026)\n"
        "- **Description** — the line's text\n"
        "- **Amount** — the line's amount; negative for discounts and credits\n"
        "- optional: **Invoice number**, **Currency** (otherwise the currency of our invoice)\n\n"
        "Include tax lines if your invoices have them: ours carry tax as its own line.")
    st.download_button("Download a template (CSV)", write_csv(
        ["customer", "invoice_date", "invoice_number", "description", "amount", "currency"], TEMPLATE),
        file_name="pilot-invoices-template.csv", mime="text/csv", icon=":material/download:")

this_month = date.today().replace(day=1)
with session() as s:
    months = sorted({add_months(this_month, -i) for i in range(13)} | set(invoice_months(s)), reverse=True)
a, b = st.columns([1, 1])
run = a.selectbox("Compare with our invoice run for", months, index=1 if len(months) > 1 else 0,
                  format_func=lambda d: d.strftime("%B %Y"), key="pilot_month",
                  help="Our invoices whose billing period starts in this month (drafts included, void ones not). "
                       "Generate them on the Invoices page first.")
tolerance = b.text_input("Tolerance per amount", value="0.00", key="pilot_tolerance",
                         help="Amounts that differ by at most this much count as equal. 0.00 compares to the cent.")
upload = st.file_uploader("Their invoices (CSV or Excel)", type=["csv", "xlsx"], key="pilot_file")
if upload is None:
    st.info("Choose the file with their invoice lines to see the comparison.", icon=":material/upload_file:")
    st.stop()

try:
    theirs, notes = read_their_invoices(upload.getvalue(), upload.name)
except ReconciliationFileError as exc:
    st.error(f"{upload.name}: {exc}", icon=":material/error:")
    st.dataframe(pd.DataFrame([(p.row or "", p.column, p.value, p.message) for p in exc.problems],
                              columns=["Row", "Column", "Value", "Problem"]), hide_index=True, width="stretch")
    st.caption("Rows are numbered as in your spreadsheet (the header is row 1). Fix the file and choose it again.")
    st.stop()
for note in notes:
    st.caption(note)
try:
    with session() as s:
        rec = reconcile(s, me, theirs, run_month=run, tolerance=tolerance or "0")
except MoneyError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()

start, end = month_period(run.year, run.month)
if rec.their_dates and (rec.their_dates[1] < add_months(start, -1) or rec.their_dates[0] >= add_months(end, 2)):
    st.warning(f"Their invoices are dated {rec.their_dates[0]:%d %b %Y} – {rec.their_dates[1]:%d %b %Y}, far from "
               f"the {run:%B %Y} run. Is this the right month?", icon=":material/event_busy:")

st.subheader(f"{rec.match_rate}% of customers match")
cols = st.columns(4)
cols[0].metric("Match", rec.count(MATCHED), help="Totals agree and no line differs.")
cols[1].metric("Differ", rec.count(DIFFERS), help="Both sides billed the customer, with different amounts or lines.")
cols[2].metric("Only in Counting House", rec.count(ONLY_OURS), help="We invoiced them; their file has no line.")
cols[3].metric("Only in theirs", rec.count(ONLY_THEIRS),
               help="Their file bills them; we have no invoice in this run (or do not know the customer).")
first, last = rec.their_dates
dated = f"{first:%-d %b %Y}" if first == last else f"{first:%-d %b %Y} – {last:%-d %b %Y}"
st.caption(f"{len(theirs):,} lines of theirs, dated {dated}, "
           f"against our {run:%B %Y} run. Amounts are compared to the cent"
           + (f", within {tolerance}" if rec.tolerance else "") + ".")

ICON = {MATCHED: "Match", DIFFERS: "Differs", ONLY_OURS: "Only in Counting House", ONLY_THEIRS: "Only in theirs"}
table = pd.DataFrame([(ICON[c.status], c.label, c.external_id, money(c.our_total, c.currency),
                       money(c.their_total, c.currency), money(c.difference, c.currency), c.note)
                      for c in rec.customers],
                     columns=["Status", "Customer", "Customer id", "Counting House", "Theirs", "Difference", "Note"])
st.dataframe(table, hide_index=True, width="stretch", height=35 * min(len(table), 15) + 38,
             column_config={k: st.column_config.TextColumn(alignment="right")
                            for k in ("Counting House", "Theirs", "Difference")})
left, right = st.columns(2)
left.download_button("Download the report (Excel)", reconciliation_xlsx(rec), icon=":material/download:",
                     file_name=f"pilot-reconciliation-{run:%Y-%m}.xlsx", width="stretch",
                     mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
if me.can("pilot:write") and right.button(
        "Save this result to the pilot", icon=":material/save:", key="pilot_save_run", width="stretch",
        help="Keeps the summary and one row per invoice compared with the pilot: the Pilot plan's criterion “sample "
             "invoices match” reads the newest saved result of each sample invoice, and the sign-off report shows it."):
    saved = run_action(save_run, me, rec, file_name=upload.name, their_lines=len(theirs))
    if saved is not None:
        st.success(f"Saved to the pilot: {saved.matched} of {saved.customers} customers match "
                   f"({saved.match_rate}%). The Pilot plan's success criteria now read this result.",
                   icon=":material/check_circle:")

st.subheader("Line by line")
labels = {i: f"{c.label} — {ICON[c.status].lower()}" + (f" ({money(c.difference, c.currency)})" if c.difference else "")
          for i, c in enumerate(rec.customers)}
pick = st.selectbox("Customer", list(labels), format_func=labels.get, key="pilot_customer")
chosen = rec.customers[pick]
if chosen.our_invoices or chosen.their_invoices:
    st.caption(f"Our invoices: {', '.join(chosen.our_invoices) or 'none'} · theirs: "
               f"{', '.join(chosen.their_invoices) or 'none'}")
st.dataframe(pd.DataFrame(
    [(ICON[ln.status], ln.ours, ln.theirs, "" if ln.our_amount is None else money(ln.our_amount, chosen.currency),
      "" if ln.their_amount is None else money(ln.their_amount, chosen.currency),
      money(ln.difference, chosen.currency), ln.their_row or "", ln.note) for ln in chosen.lines],
    columns=["Status", "Our line", "Their line", "Counting House", "Theirs", "Difference", "Their row", "Note"]),
    hide_index=True, width="stretch",
    column_config={k: st.column_config.TextColumn(alignment="right") for k in ("Counting House", "Theirs",
                                                                            "Difference")})
