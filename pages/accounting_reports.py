"""Financial reports: trial balance, income statement, balance sheet, sub-ledgers and revenue charts, read from the
ledger for any dates, business entity and currency; each table downloads as Excel or CSV."""
from __future__ import annotations

from datetime import date

import streamlit as st

from core.billing.periods import add_months
from core.ledger import exports, reports, views
from core.money import format_money
from ui import ledger_charts
from ui.ledger_ui import downloads, filters, show_report
from ui.state import actor, page_header, session

me = actor()
page_header("Financial reports", "The books as an accountant reads them, straight from the journal: the trial "
            "balance, the income statement and the balance sheet, the sub-ledgers behind them (who owes what, "
            "revenue by product and customer, deferred and unbilled revenue, wallet credit) and how revenue was "
            "billed and recognised month by month. Pick the dates, the business entity and the currency; every "
            "table downloads as Excel or CSV.")

start, end, entity_id, code = filters("reports")
if end < start:
    st.error("The period ends before it starts: choose the dates again.", icon=":material/error:")
    st.stop()
with session() as s:
    span = views.ledger_span(s)
if span is None:
    st.info("The ledger is empty: journal entries appear once invoices are approved.", icon=":material/info:")
    st.stop()
scope = dict(entity_id=entity_id, currency=code)


def trial_balance() -> None:
    st.caption("Every account with postings: its balance when the period starts, the debits and credits posted in "
               "it, and its balance at the end (debit or credit). In each currency the debits equal the credits — "
               "if they ever did not, the books would be wrong.")
    with session() as s:
        show_report(exports.trial_balance_report(s, start=start, end=end, **scope), "reports_tb")


def income_statement() -> None:
    st.caption("Revenue earned and costs incurred in the period (the profit and loss account). Revenue is counted "
               "when it is recognised — deferred revenue month by month over its service — not when it is billed.")
    with session() as s:
        rep = exports.income_statement_report(s, start=start, end=end, **scope)
        _, net = reports.income_statement(s, start=start, end=end, **scope)
    if net:
        cols = st.columns(min(len(net), 4))
        for col, (c, v) in zip(cols, sorted(net.items())):
            col.metric(f"Net income ({c})", format_money(v, c), border=True)
    show_report(rep, "reports_is", empty="No income or expense was booked in this period.")


def balance_sheet() -> None:
    st.caption(f"What the business owns and owes at the end of the period, {end:%-d %b %Y}: assets = liabilities + "
               "equity. Income less expenses not yet closed to retained earnings shows as current earnings.")
    with session() as s:
        rep = exports.balance_sheet_report(s, at=end, **scope)
    show_report(rep, "reports_bs", empty=f"Nothing was booked up to {end:%-d %b %Y}.")


def subledgers() -> None:
    st.caption("The detail behind one account: revenue of the period by product or customer; what customers owe, "
               "deferred revenue, unbilled revenue and wallet credit at the end of the period, by customer. Each "
               "total equals the account's balance in the trial balance.")
    kind = st.selectbox("Sub-ledger", list(exports.SUBLEDGERS), format_func=lambda k: exports.SUBLEDGERS[k][0],
                        key="reports_sub_kind")
    with session() as s:
        rep = exports.subledger_report(s, kind, start=start, end=end, **scope)
    show_report(rep, f"reports_sub_{kind}")


def charts() -> None:
    st.caption("**Billed** is the revenue on the invoices approved in a month, before tax — whether it is "
               "recognised at once, deferred or was already accrued as delivered usage. **Recognised** is the "
               "revenue booked to income accounts in the month: immediate revenue at approval, deferred revenue "
               "released by its schedule, usage as it is delivered. Billed above recognised means revenue "
               "waiting in Deferred Revenue; below, revenue released from it (or usage earned before its invoice).")
    a, b = st.columns(2)
    window = a.radio("Months shown", ["The 12 months to the period's end", "The period chosen above"],
                     key="reports_chart_window", horizontal=True)
    first = add_months(end.replace(day=1), -11) if window.startswith("The 12") else start
    with session() as s:
        monthly = views.revenue_by_month(s, start=first, end=end, **scope)
        flow = views.deferred_waterfall(s, start=first, end=end, **scope)
        by_product = reports.account_balances_by(s, "revenue", "product", start=first, end=end, **scope)
    codes = sorted({m.currency for m in monthly} | {w.currency for w in flow} | {r.currency for r in by_product})
    if not codes:
        st.info("No revenue in these months.", icon=":material/info:")
        return
    with session() as s:
        home = [e.default_currency for e in views.entities(s) if entity_id in (None, e.id)]
    preferred = next((c for c in home if c in codes), codes[0])
    chosen = code or (b.radio("Chart currency", codes, index=codes.index(preferred), horizontal=True,
                              key="reports_chart_currency") if len(codes) > 1 else codes[0])
    st.plotly_chart(ledger_charts.billed_vs_recognised(monthly, chosen), key="reports_chart_billed")
    with session() as s:
        show_report(exports.revenue_by_month_report(s, start=first, end=end, entity_id=entity_id, currency=chosen),
                    "reports_rbm", empty=f"No {chosen} revenue in these months.")
    st.divider()
    st.caption("Deferred revenue, month by month: the balance at the start, **+** what approvals billed ahead of "
               "the service, **−** what the recognition run released to revenue, **±** credit notes on revenue not "
               "yet recognised and other adjustments, and the balance at the end (grey).")
    st.plotly_chart(ledger_charts.deferred_waterfall(flow, chosen), key="reports_chart_waterfall")
    with session() as s:
        show_report(exports.deferred_waterfall_report(s, start=first, end=end, entity_id=entity_id, currency=chosen),
                    "reports_dw", empty=f"No {chosen} deferred revenue in these months.")
    st.divider()
    st.caption(f"Revenue recognised from {first:%-d %b %Y} to {end:%-d %b %Y}, by the product invoiced. "
               "“(none)”: revenue posted without a product, such as manual entries.")
    st.plotly_chart(ledger_charts.revenue_by_product(by_product, chosen), key="reports_chart_product")
    with session() as s:
        downloads(exports.subledger_report(s, "revenue_by_product", start=first, end=end, entity_id=entity_id,
                                           currency=chosen), "reports_rbp")


TABS = {"Trial balance": trial_balance, "Income statement": income_statement, "Balance sheet": balance_sheet,
        "Sub-ledgers": subledgers, "Charts": charts}
for tab, render in zip(st.tabs(list(TABS), key="reports_tab", on_change="rerun"), TABS.values()):
    if tab.open:
        with tab:
            render()
st.caption(f"The ledger has entries from {span[0]:%-d %b %Y} to {span[1]:%-d %b %Y}. Reports read the journal as "
           f"it stands today ({date.today():%-d %b %Y}).")
