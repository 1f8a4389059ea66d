"""The "SQL template" part of the Billable metrics page: define a metric whose quantities a read-only query on a
data source returns, try it for a month (and a customer) with "Test query", then create it."""
from __future__ import annotations

from datetime import date, datetime, time

import pandas as pd
import streamlit as st

from core.billing.periods import month_period
from core.errors import UserError
from core.metering.metrics import TEMPLATE_FIELD, MetricSpec, create_metric, try_template, uses_customer, \
    validate_metric, validate_template
from ui.format import qty
from ui.pickers import customer_picker
from ui.state import session

EXAMPLE = ("SELECT account_id AS customer_external_id, SUM(calls) AS quantity\n"
           "FROM api_usage\n"
           "WHERE used_at >= :period_start AND used_at < :period_end\n"
           "GROUP BY account_id")


def template_form(me, sources: dict[int, str], nonce: int, show_problems, months: list[date]) -> None:
    if not sources:
        st.info("A SQL-template metric runs on a data source: add the customer's database on the Data sources "
                "page first.", icon=":material/database:")
        return
    st.caption("Write one read-only SELECT that returns each customer's quantity for the billing period: columns "
               "**customer_external_id** and **quantity** (and an optional **group** column to split it for matrix "
               "prices). Use `:period_start` and `:period_end` to read only the period, and `:customer_id` to run it "
               "once per customer instead (then customer_external_id may be left out). They are bound as "
               "parameters, never pasted into the SQL.")
    spots = {}
    left, right = st.columns(2)
    code = left.text_input("Code", placeholder="for example warehouse_calls", key=f"metrics_sql_code_{nonce}",
                           help="Lower-case letters, digits, - and _. Contract lines use it.")
    spots["code"] = left.empty()
    name = right.text_input("Name", placeholder="for example API calls (warehouse)", key=f"metrics_sql_name_{nonce}",
                            help="Shown on invoices and reports.")
    spots["name"] = right.empty()
    source_id = left.selectbox("Data source", list(sources), format_func=sources.__getitem__,
                               key=f"metrics_sql_source_{nonce}")
    spots["source"] = left.empty()
    template = st.text_area(TEMPLATE_FIELD, height=160, placeholder=EXAMPLE, key=f"metrics_sql_template_{nonce}")
    spots[TEMPLATE_FIELD] = st.empty()

    st.markdown("**Test query** — run the template for a month (nothing is stored)")
    a, b = st.columns(2)
    month = a.selectbox("Month to test", months, index=1, format_func=lambda d: d.strftime("%B %Y"),
                        key="metrics_sql_month")
    customer, _ = customer_picker("Customer (for a template with :customer_id)", key="metrics_sql_customer",
                                  container=b, all_label="—", by="external_id")
    customer = customer or ""
    spots["customer"] = b.empty()
    c1, c2 = st.columns([1, 1])
    tested = c1.button("Test query", icon=":material/play_arrow:", key="metrics_sql_test")
    created = c2.button("Create the metric", type="primary", key="metrics_sql_create")

    if tested:
        problems = validate_template(template)
        if not problems and uses_customer(template) and not customer:
            problems.append("customer: the template uses :customer_id; choose the customer to run it for")
        start, end = month_period(month.year, month.month)
        if not problems:
            try:
                with session() as s:
                    columns, rows, results = try_template(
                        s, me, source_id=source_id, sql_template=template, start=datetime.combine(start, time.min),
                        end=datetime.combine(end, time.min), customer=customer or None)
            except UserError as exc:
                problems = [str(exc)]
        if problems:
            show_problems(problems, spots)
        else:
            shown = ", ".join(f"{c}: {qty(r.quantity)}" for c, r in sorted(results.items())[:5])
            more = " …" if len(results) > 5 else ""
            st.success(f"The template returned {len(results)} customer{'s' if len(results) != 1 else ''} for "
                       f"{month:%B %Y}" + (f" — {shown}{more}" if results else "."), icon=":material/check_circle:")
            st.caption(f"The first {len(rows)} rows, as the source returned them:")
            st.dataframe(pd.DataFrame(rows, columns=columns).astype(str), hide_index=True, width="stretch")

    if created:
        spec = MetricSpec(code=code.strip().lower(), name=name, event_name="", aggregation="sql",
                          source_id=source_id, sql_template=template)
        problems = validate_metric(spec)
        if not problems:
            try:
                with session() as s:
                    made = create_metric(s, me, spec).code
                st.session_state["metrics_flash"] = f"Metric {made} created."
                st.session_state["metrics_form_nonce"] += 1
                st.rerun()
            except UserError as exc:
                problems = [str(exc)]
        show_problems(problems, spots)
        st.error("The metric was not created — correct the fields marked in red.", icon=":material/error:")
