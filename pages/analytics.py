"""Finance dashboard: the key figures, billed vs collected, receivables, MRR with its movement, NRR and GRR.
Every number comes from core.analytics (GROUP BY queries), cached per filters and data version
(ui/analytics_common.py); every chart's data downloads as Excel."""
from __future__ import annotations

from datetime import date

import streamlit as st

from core.analytics import reports
from core.analytics.mrr import FORMULAS
from core.db import database_url
from core.money import format_money
from ui import analytics_charts as charts
from ui.analytics_common import compact, download, filters, finance_figures, report_table, version
from ui.state import actor, page_header, session

actor()
page_header("Finance dashboard", "The morning read: what was billed and collected, what customers owe and how much "
            "of it is late, monthly recurring revenue and how it moved, and how much revenue existing customers "
            "keep. One currency at a time (amounts in different currencies are never added up); narrow it to a "
            "business entity or a saved customer segment. Every chart's data downloads as Excel.")

ver = version()
scope = filters("analytics", ver)
if scope is None:
    st.stop()
today = date.today()
data = finance_figures(database_url(), ver, scope, today)
code = scope.currency
cash, now, ar, mrr, usage = data["cash"], data["now"], data["ar"], data["mrr"], data["usage"]


def money(v) -> str:  # noqa: ANN001
    return compact(v, code)


def exact(v) -> str:  # noqa: ANN001
    return format_money(v, code)


def pct(v) -> str:  # noqa: ANN001
    return "—" if v is None else f"{v * 100:.1f} %"


last = mrr.months[-1] if mrr.months else None
before = mrr.months[-2] if len(mrr.months) > 1 else None
ret = next((r for r in reversed(mrr.retention) if r.start_mrr), None)
row1 = st.columns(4)
row1[0].metric(f"MRR {last.month:%b %Y}" if last else "MRR", money(last.mrr) if last else "—", border=True,
               delta=money(last.mrr - before.mrr) if last and before else None,
               help=(f"{exact(last.mrr)} of recurring charges billed for service in {last.month:%B %Y} (see below); "
                     "the change is on the month before.") if last else "No recurring charges billed yet.")
row1[1].metric("ARR", money(last.arr) if last else "—", border=True,
               help=f"12 × MRR: {exact(last.arr)}." if last else "12 × MRR.")
row1[2].metric("NRR, trailing 12 months", pct(ret.nrr) if ret else "—", border=True,
               help=FORMULAS + (f" {ret.month:%B %Y}: {exact(ret.end_mrr)} ÷ {exact(ret.start_mrr)}." if ret else ""))
row1[3].metric("GRR, trailing 12 months", pct(ret.grr) if ret else "—", border=True,
               help=FORMULAS + (f" {ret.month:%B %Y}: {exact(ret.kept_mrr)} ÷ {exact(ret.start_mrr)}." if ret else ""))
row2 = st.columns(4)
row2[0].metric("Outstanding now", money(now.outstanding), border=True,
               help=f"{exact(now.outstanding)} owed on {now.open_invoices:,} approved invoices today, whenever billed.")
row2[1].metric("Overdue now", money(now.overdue), border=True,
               help=f"{exact(now.overdue)} on {now.overdue_invoices:,} invoices of {now.overdue_customers:,} customers "
                    "past their due date.")
row2[2].metric(f"Overdue by {now.month_end:%-d %b} if unpaid", money(now.overdue_at_month_end), border=True,
               help=f"{exact(now.overdue_at_month_end)} on {now.overdue_at_month_end_invoices:,} invoices will be "
                    "past due when the month ends unless they are paid.")
row2[3].metric(f"Collected {cash[-1].month:%b %Y}" if cash else "Collected", money(cash[-1].net_collected)
               if cash else "—", border=True,
               help=f"{exact(cash[-1].net_collected) if cash else ''}: payments received in the month, less refunds "
                    "paid out.")

left, right = st.columns(2)
with left:
    st.plotly_chart(charts.billed_collected(cash, code), key="analytics_cash_chart")
    with session() as s:
        rep = reports.billed_collected_report(s, scope, cash)
    st.caption("Billed: invoices issued in the month (tax included) less credit notes issued in it. Collected: "
               "payments received in the month less refunds paid out.")
    report_table(rep, "analytics_cash")
    download(rep, "analytics_cash")
with right:
    st.plotly_chart(charts.receivables(ar, code), key="analytics_ar_chart")
    with session() as s:
        rep = reports.receivables_report(s, scope, ar)
    st.caption("Accounts Receivable at each month's end, from the ledger; red: on invoices due in or before that "
               "month. The current month shows where it will stand at its end if nothing more is paid.")
    report_table(rep, "analytics_ar")
    download(rep, "analytics_ar")

st.subheader("Monthly recurring revenue")
if not mrr.months:
    st.info("No recurring charges have been billed in this period yet." + (
        f" MRR is complete through {mrr.through:%B %Y}." if mrr.through else ""), icon=":material/info:")
else:
    st.caption(f"MRR: recurring charges (not metered, not one-time) of approved invoices for service in the month, "
               f"net of their own line discounts, before tax; a charge for several months (quarterly, yearly) is "
               f"spread evenly over them. Usage charges are not MRR and are shown apart. ARR = 12 × MRR. Complete "
               f"through {mrr.through:%B %Y}: the latest billing period whose invoices are all approved (later "
               f"months would show customers churning who are simply not invoiced yet).")
    left, right = st.columns(2)
    left.plotly_chart(charts.mrr_chart(mrr, usage, code), key="analytics_mrr_chart")
    right.plotly_chart(charts.movement_chart(mrr, code), key="analytics_move_chart")
    st.caption("Movement, customer by customer against the month before: new (first MRR ever), expansion and "
               "contraction (MRR up or down), churn (MRR last month, none now), reactivation (MRR again after a "
               "gap). Opening MRR + the movements = MRR.")
    with session() as s:
        rep = reports.mrr_movement_report(s, scope, mrr, usage)
    report_table(rep, "analytics_mrr")
    download(rep, "analytics_mrr")

    st.subheader("Revenue retention")
    st.caption(FORMULAS + " Each month looks back over the 12 months before it.")
    if any(r.start_mrr for r in mrr.retention):
        st.plotly_chart(charts.retention_chart(mrr), key="analytics_ret_chart")
    else:
        st.info("Retention needs 12 months of MRR history: no customer had MRR 12 months before these months.",
                icon=":material/info:")
    with session() as s:
        rep, fmt = reports.retention_report(s, scope, mrr)
    report_table(rep, "analytics_ret", fmt)
    download(rep, "analytics_ret", fmt)
