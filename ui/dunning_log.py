"""The "Log" tab of the Dunning page: every reminder a run queued, sent, failed or skipped, and every invoice a card
retry paid — filtered and paginated in SQL, downloadable as Excel or CSV (the whole filtered log)."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core.money import format_money
from core.receivables.dunning import OUTCOMES, LogFilter, dunning_log, log_report
from ui.ledger_ui import downloads
from ui.state import session

P = "dunning_log"
PER_PAGE = 50


def log_panel(me) -> None:  # noqa: ANN001 - Actor
    st.caption("What every dunning run did, newest first: the reminder (its step, template and recipient) and what "
               "became of it — sent, failed (the mail server's answer is in the detail; it is tried again on the "
               "next run), skipped (no address, paid meanwhile) or paid by a card retry. The email itself is also "
               "in the email log of the Documents & email page.")
    a, b, c, d = st.columns([1, 1, 1, 2])
    start = a.date_input("From", value=None, format="YYYY-MM-DD", key=f"{P}_start")
    end = b.date_input("Through", value=None, format="YYYY-MM-DD", key=f"{P}_end")
    outcome = c.selectbox("Outcome", [None, *[k for k in OUTCOMES if k != "claimed"]], key=f"{P}_outcome",
                          format_func=lambda k: "All" if k is None else OUTCOMES[k])
    search = d.text_input("Invoice or customer", key=f"{P}_search", placeholder="e.g. NW-000012 or Acme")
    flt = LogFilter(start=start, end=end, outcome=outcome, search=search or "")
    with session() as s:
        _, total = dunning_log(s, me, flt, page=1, per_page=1)
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1,
                                   key=f"{P}_page"))
    with session() as s:
        rows, total = dunning_log(s, me, flt, page=page, per_page=PER_PAGE)
    if not rows:
        st.info("Nothing in the log" + (" matches these filters." if (start or end or outcome or search) else
                                        " yet: run the reminders on the Today tab, or let cron run them."),
                icon=":material/info:")
        return
    st.caption(f"{total:,} row{'s' if total != 1 else ''}; {(page - 1) * PER_PAGE + 1:,}–"
               f"{(page - 1) * PER_PAGE + len(rows):,} shown.")
    st.dataframe(pd.DataFrame([{
        "Day": f"{r.run_on:%-d %b %Y}", "Sent (UTC)": f"{r.sent_at:%-d %b %H:%M}" if r.sent_at else "",
        "Invoice": r.invoice, "Customer": r.customer, "Step": r.step, "Template": r.template,
        "To": r.recipients, "Amount due": format_money(r.amount_due, r.currency), "Outcome": r.outcome,
        "Detail": r.detail, "Policy": r.policy} for r in rows]), hide_index=True, width="stretch",
        height=min(35 * (len(rows) + 1) + 3, 560),
        column_config={"Amount due": st.column_config.TextColumn(alignment="right"),
                       "Detail": st.column_config.TextColumn(width="large")})
    with session() as s:
        report = log_report(s, me, flt)
    downloads(report, P)
