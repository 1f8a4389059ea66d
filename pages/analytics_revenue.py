"""Revenue & usage reports: revenue per customer (top N and the others) and per product, and usage per customer and
metric by month. GROUP BY queries in core.analytics, cached per filters and data version; every chart's data
downloads as Excel."""
from __future__ import annotations

from datetime import date

import streamlit as st

from core.analytics import reports
from core.analytics.revenue import top_and_others
from core.db import database_url
from core.money import ZERO
from ui import analytics_charts as charts
from ui.analytics_common import (
    download, download_later, filters, report_table, revenue_figures, usage_figures, usage_metric_choices, version,
)
from ui.state import actor, page_header, session

actor()
page_header("Revenue & usage reports", "Who and what the revenue comes from — the largest customers and every "
            "product — and how each customer's usage of a metric moved month by month. Revenue is billed revenue "
            "before tax, less credit notes, in one currency at a time; narrow it to a business entity or a saved "
            "customer segment. Every chart's data downloads as Excel.")

ver = version()
scope = filters("revenue", ver)
if scope is None:
    st.stop()
code = scope.currency
data = revenue_figures(database_url(), ver, scope, date.today())
by_customer, by_product = data["customers"], data["products"]


def every_customer():  # noqa: ANN201 - the workbook of every customer, built only when its button is pressed
    with session() as s:
        return reports.revenue_report(s, scope, by_customer, "customer", note="Every customer with revenue.")


st.subheader("Revenue by customer")
top = st.slider("Customers shown", 5, 30, 10, step=5, key="revenue_top",
                help="The largest customers; everyone else is added up in one \"Others\" bar.")
if not by_customer:
    st.info("No revenue in this period for these filters.", icon=":material/info:")
else:
    shown = top_and_others(by_customer, top)
    st.plotly_chart(charts.revenue_bars(shown, code, f"Revenue by customer, top {min(top, len(by_customer))} and "
                                        f"the others ({code})", "Customer"), key="revenue_customer_chart")
    with session() as s:
        rep = reports.revenue_report(s, scope, shown, "customer")
    n_cust = f"{len(by_customer):,} customer had" if len(by_customer) == 1 else f"{len(by_customer):,} customers had"
    total = sum((r.revenue for r in by_customer), ZERO)
    top_share = sum((r.revenue for r in by_customer[:top]), ZERO) / total if total else None
    st.caption(f"{n_cust} revenue in the period" + (f"; the {min(top, len(by_customer))} largest brought "
               f"{top_share * 100:.1f} % of it" if top_share is not None else "") + ". Revenue: invoice lines "
               "before tax of the invoices issued in the period, less the credit notes issued in it.")
    report_table(rep, "revenue_customer")
    with st.container(horizontal=True):
        download(rep, "revenue_customer", label="Chart data (.xlsx)")
        download_later(every_customer, rep.name.replace("revenue-by-customer", "revenue-by-customer-all"),
                       "revenue_customer_all", label=f"All {len(by_customer):,} customers (.xlsx)")

st.subheader("Revenue by product")
if not by_product:
    st.info("No revenue in this period for these filters.", icon=":material/info:")
else:
    drawn = [r for r in by_product if r.revenue][:40]
    st.plotly_chart(charts.revenue_bars(drawn, code, f"Revenue by product ({code})", "Product"),
                    key="revenue_product_chart")
    with session() as s:
        rep = reports.revenue_report(s, scope, by_product, "product")
    st.caption("By the product on each invoice line. Discounts, fees and manual lines that belong to no product are "
               "in one row. Products billed nothing in the period are in the table only." +
               (" The chart shows the 40 largest." if len(by_product) > 40 else ""))
    report_table(rep, "revenue_product")
    download(rep, "revenue_product")

st.subheader("Usage by customer and metric")
metrics = usage_metric_choices(database_url(), ver)
if not metrics:
    st.info("No billable metric reads usage events yet: define one on the Metrics page.", icon=":material/info:")
    st.stop()
c1, c2, c3 = st.columns([2, 1.4, 0.8], vertical_alignment="bottom")
metric_id = c1.selectbox("Metric", list(metrics), format_func=metrics.get, key="revenue_metric")
customer = c2.text_input("One customer (customer id)", key="revenue_usage_customer",
                         placeholder="e.g. CUST-00042 — empty: the top customers").strip() or None
n = c3.number_input("Top customers", 1, 12, 5, key="revenue_usage_top")
rep_u = usage_figures(database_url(), ver, scope, date.today(), metric_id, int(n), customer)
if not rep_u.series:
    st.info(f"No {rep_u.metric.name} events in this period" + (f" for customer {customer}." if customer else "."),
            icon=":material/info:")
else:
    if rep_u.totals is not None and not customer:
        left, right = st.columns(2)
        left.plotly_chart(charts.usage_totals_chart(rep_u), key="revenue_usage_total_chart")
    else:
        right = st.container()
    right.plotly_chart(charts.usage_customers_chart(rep_u), key="revenue_usage_chart")
    who = f"customer {customer}" if customer else f"the {len(rep_u.series)} customers with the most"
    st.caption(f"{rep_u.customers:,} customers have {rep_u.metric.name} events in the period; the lines show {who}"
               + (", the bars all customers together" if rep_u.totals is not None and not customer else "")
               + ". Calendar months in UTC. Usage figures are kept for up to a minute.")
    with session() as s:
        rep, fmt = reports.usage_report_table(s, scope, rep_u)
    report_table(rep, "revenue_usage", fmt)
    download(rep, "revenue_usage", fmt)
