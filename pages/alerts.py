"""Usage alerts: thresholds on a metric (units, or a percentage of an allowance) that fire once per customer and
period — listed here and emailed to their recipients when SMTP is set up."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st
from sqlmodel import select

from core.customers import customer_rows
from core.metering.alerts import check_alerts, create_alert, limit_of, recent_firings
from core.metering.metrics import list_metrics
from core.models import UsageAlert
from core.money import format_number
from ui.pickers import customer_picker, many_customers
from ui.state import actor, page_header, run_action, session

me = actor()
page_header("Usage alerts", "Be told when a customer's usage passes a threshold in its current billing period "
            "(from its contract's billing day, in its time zone) — for example 80% of the units its contract "
            "includes. Each alert fires once per customer and billing period.")

with session() as s:
    metrics = {m.id: m.name for m in list_metrics(s)}
    stored = list(s.exec(select(UsageAlert)))
    named = {c.id: f"{c.name} ({c.external_id})"  # the customers the alerts name, not every customer
             for c in customer_rows(s, ids=[a.customer_id for a in stored if a.customer_id is not None])}
    alerts = [(a.name, metrics.get(a.metric_id, "?"), named.get(a.customer_id, "Every customer"),
               format_number(limit_of(a)), a.recipients or "—") for a in stored]
    fired = [(f.fired_at, a.name, f.customer_external_id, f.period_start, format_number(f.quantity),
              f.emailed_to or "listed only") for f, a in recent_firings(s)]

st.subheader("Alerts")
if alerts:
    st.dataframe(pd.DataFrame(alerts, columns=["Alert", "Metric", "Customer", "Fires at", "Emails to"]),
                 hide_index=True, width="stretch")
else:
    st.info("No alerts yet. Add one below.", icon=":material/notifications:")

if me.can("metrics:write"):
    with st.expander("Add an alert", icon=":material/add_alert:"):
        kind = st.radio("Threshold", ["units", "percent"], horizontal=True, key="alerts_kind",
                        format_func={"units": "A number of units", "percent": "A percentage of an allowance"}.get)
        many = many_customers()  # then the customer is found with a search, outside the form
        if many:
            who, _ = customer_picker("Customer", key="alerts_customer", all_label="Every customer")
        with st.form("alerts_add", clear_on_submit=True):
            name = st.text_input("Name", placeholder="for example 80% of included API calls")
            metric = st.selectbox("Metric", list(metrics), format_func=metrics.__getitem__)
            if not many:
                who, _ = customer_picker("Customer", key="alerts_customer", all_label="Every customer")
            a, b = st.columns(2)
            threshold = a.text_input("Percent (for example 80)" if kind == "percent" else "Units (for example 10000)")
            allowance = b.text_input("Allowance: the included units", disabled=kind != "percent")
            recipients = st.text_input("Email to (comma-separated; optional)", placeholder="ops@example.com")
            if st.form_submit_button("Add alert", type="primary") and run_action(
                    create_alert, me, name=name, metric_id=metric, threshold=threshold, threshold_kind=kind,
                    allowance=allowance or None, customer_id=who, recipients=recipients, success="Alert added"):
                st.rerun()
    a, b = st.columns([1, 2], vertical_alignment="bottom")
    as_of = a.date_input("Usage up to", value=date.today(), key="alerts_as_of", format="YYYY-MM-DD",
                         help="The check looks at each customer's billing period containing this day, up to its "
                              "end. Normally today.")
    if b.button("Check the alerts now", icon=":material/notifications_active:", key="alerts_check"):
        result = run_action(check_alerts, me, on=as_of)
        if result is not None:
            st.session_state["alerts_flash"] = result.summary()
            st.rerun()
if msg := st.session_state.pop("alerts_flash", None):
    st.success(msg, icon=":material/check_circle:")

st.subheader("Fired")
st.caption("The most recent first. The same alert never fires twice for a customer in the same billing period.")
st.dataframe(pd.DataFrame(fired, columns=["When (UTC)", "Alert", "Customer", "Month from", "Usage", "Emailed to"]),
             hide_index=True, width="stretch")
