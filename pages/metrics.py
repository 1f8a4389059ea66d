"""Billable metrics: the rules that turn usage events into the quantities contract lines charge for."""
from __future__ import annotations

from datetime import date, datetime, time

import pandas as pd
import streamlit as st

from sqlmodel import select

from core.billing.periods import add_months, format_period, month_period
from core.customers import customer_rows
from core.errors import UserError
from core.metering.metrics import AGGREGATIONS, SQL, MetricSpec, aggregate, create_metric, get_metric, \
    list_metrics, validate_metric
from core.models import DataSource
from ui.format import qty
from ui.pickers import page_picker
from ui.state import actor, page_header, session

me = actor()
page_header("Billable metrics", "A billable metric turns usage events into the quantity a contract line charges "
            "for — for example “the sum of all api_request quantities in the month”, or the result of a SQL template "
            "run on the customer's own database. Check the list, define a new metric, or preview what a metric "
            "gives each customer for a month.")
nonce = st.session_state.setdefault("metrics_form_nonce", 0)
if flash := st.session_state.pop("metrics_flash", None):
    st.success(flash, icon=":material/check_circle:")


def how(aggregation: str, unique_property: str) -> str:
    label = AGGREGATIONS.get(aggregation, aggregation)
    return f"{label} ({unique_property})" if unique_property else label


def show_problems(problems: list[str], spots: dict) -> None:
    """Each problem under the field it names (several for one field: one per line); the others at the foot."""
    by_field: dict[str, list[str]] = {}
    for p in problems:
        field, _, text = p.partition(": ")
        if field in spots:
            by_field.setdefault(field, []).append(text[:1].upper() + text[1:])
        else:
            st.error(p, icon=":material/error:")
    for field, texts in by_field.items():
        spots[field].error("\n\n".join(texts), icon=":material/error:")


def month_choices() -> list[date]:
    this_month = date.today().replace(day=1)
    return [add_months(this_month, -i) for i in range(13)]


def parse_filters(text: str) -> tuple[dict[str, str], list[str]]:
    """'region=EU-West' lines -> {'region': 'EU-West'}, and a problem per line that is not property=value."""
    out, problems = {}, []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip() or not value.strip():
            problems.append(f"filters: line {n} (“{line.strip()}”) must look like property=value, "
                            "for example region=EU-West")
        else:
            out[key.strip()] = value.strip()
    return out, problems


with session() as s:
    sources = {x.id: x.name for x in s.exec(select(DataSource).order_by(DataSource.name))}
    stored = [(m.id, m.code, m.name,
               f"SQL on {sources.get(m.source_id, '?')}" if m.aggregation == SQL else m.event_name,
               how(m.aggregation, m.unique_property),
               ", ".join(f"{k} = {v}" for k, v in m.filters.items()), m.group_by, m.aggregation)
              for m in list_metrics(s)]

tab_list, tab_new, tab_preview = st.tabs(["Metrics", "New metric", "Preview a month"])

with tab_list:
    st.caption(f"{len(stored)} metrics. Contract lines refer to a metric by its code.")
    st.dataframe(pd.DataFrame([r[1:-1] for r in stored],
                              columns=["Code", "Name", "Event", "Quantity is", "Only events with", "Split by"]),
                 hide_index=True, width="stretch", height=35 * min(len(stored), 20) + 38)

with tab_new:
    if not me.can("metrics:write"):
        st.info("Your role can look at metrics but not define them.")
    else:
        st.caption("Choose how events become a quantity first; the form then asks only for what that needs.")
        aggregation = st.columns(2)[0].selectbox("The quantity is the…", list(AGGREGATIONS),
                                                 format_func=AGGREGATIONS.get, key="metrics_new_aggregation")
    if me.can("metrics:write") and aggregation == SQL:
        from ui.metric_template import template_form

        template_form(me, sources, nonce, show_problems, month_choices())
    elif me.can("metrics:write"):
        with st.form(f"metrics_new_{nonce}"):
            spots = {}
            left, right = st.columns(2)
            code = left.text_input("Code", placeholder="for example api_calls",
                                   help="Lower-case letters, digits, - and _. Contract lines use it.")
            spots["code"] = left.empty()
            name = right.text_input("Name", placeholder="for example API calls", help="Shown on invoices and reports.")
            spots["name"] = right.empty()
            event = left.text_input("Event name", placeholder="for example api_request",
                                    help="The event_name column of the usage file that this metric counts.")
            spots["event name"] = left.empty()
            unique = ""
            if aggregation == "unique_count":
                unique = right.text_input("Property whose distinct values are counted",
                                          placeholder="for example user_id")
                spots["unique property"] = right.empty()
            filters = left.text_area("Only events with (optional)", placeholder="for example region=EU-West",
                                     help="One property=value per line; events must match every line.")
            spots["filters"] = left.empty()
            group_by = right.text_input("Split by property (optional)", placeholder="for example region",
                                        help="One quantity per value of this property, for matrix prices.")
            submitted = st.form_submit_button("Create the metric", type="primary")
        if submitted:
            parsed, problems = parse_filters(filters)
            spec = MetricSpec(code=code.strip().lower(), name=name, event_name=event, aggregation=aggregation,
                              unique_property=unique, filters=parsed, group_by=group_by)
            problems += validate_metric(spec)
            if not problems:
                try:
                    with session() as s:
                        created = create_metric(s, me, spec).code
                    st.session_state["metrics_flash"] = f"Metric {created} created."
                    st.session_state["metrics_form_nonce"] += 1
                    st.rerun()
                except UserError as exc:
                    problems = [str(exc)]
            show_problems(problems, spots)
            st.error("The metric was not created — correct the fields marked in red.", icon=":material/error:")

with tab_preview:
    if not stored:
        st.info("Define a metric first.")
        st.stop()
    st.caption("What a metric gives each customer for one month, from the usage stored now (a SQL-template "
               "metric runs its template on its data source).")
    left, right = st.columns(2)
    labels = {r[0]: f"{r[2]} ({r[1]})" for r in stored}
    picked = left.selectbox("Metric", list(labels), format_func=labels.__getitem__, key="metrics_preview_metric")
    first = right.selectbox("Month", month_choices(), index=1, format_func=lambda d: d.strftime("%B %Y"),
                            key="metrics_preview_month")
    start, end = month_period(first.year, first.month)
    from_sql = next(r[-1] for r in stored if r[0] == picked) == SQL
    try:
        with session() as s:
            results = aggregate(s, get_metric(s, picked), datetime.combine(start, time.min),
                                datetime.combine(end, time.min))
            names = {c.external_id: c.name for c in customer_rows(s, limit=1_000_000)}
    except UserError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()
    if not results:
        st.info(f"The SQL template returned no customers for {format_period(start, end)}." if from_sql
                else f"No matching events in {format_period(start, end)}.")
    else:
        ordered = sorted(results.items(), key=lambda kv: names.get(kv[0], kv[0]))
        PAGE = 500  # customers shown at once
        page_no = page_picker(len(ordered), PAGE, key="metrics_preview_page", noun="customers")
        rows = [(c, names.get(c, ""), qty(r.quantity), "from the source" if from_sql else f"{r.events:,}",
                 ", ".join(f"{g}: {qty(v)}" for g, v in sorted(r.groups.items())) if r.groups else "")
                for c, r in ordered[(page_no - 1) * PAGE:page_no * PAGE]]
        st.dataframe(pd.DataFrame(rows, columns=["Customer id", "Name", "Quantity", "Events", "Split"]),
                     hide_index=True, width="stretch", height=35 * min(len(rows), 20) + 38,
                     column_config={"Quantity": st.column_config.TextColumn(alignment="right", width="small"),
                                    "Events": st.column_config.TextColumn(alignment="right", width="small"),
                                    "Split": st.column_config.TextColumn(width="large")})
        st.caption(f"{len(ordered):,} customers in the result of the SQL template for {format_period(start, end)} "
                   "(no events are stored for this metric: its numbers come from the source's query)." if from_sql
                   else f"{len(ordered):,} customers with events in {format_period(start, end)}.")
