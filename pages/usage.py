"""Usage: upload usage files (checked first, saved all-or-nothing), then see the billable quantities per month."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.billing.periods import add_months, format_period, month_period
from core.analytics.overview import usage_fingerprint
from core.customers import customer_rows
from core.importers.files import write_csv
from core.importers.usage import import_usage, preview_usage, unredactable
from core.metering.metrics import (
    AGGREGATIONS,
    SQL,
    aggregate,
    behind_note,
    events_behind,
    events_since,
    get_metric,
    list_metrics,
)
from core.metering.periods import aggregate_by_window, billing_of, run_window
from core.metering.series import daily_usage
from ui.charts import usage_chart
from ui.format import qty
from ui.pickers import MAX_OPTIONS, page_picker
from ui.state import actor, engine, page_header, session
from ui.uploads import Upload, upload_panel

me = actor()
page_header("Usage", "What your customers used. Upload the month's usage file — every row is checked before "
            "anything is saved, and events already stored are skipped, never counted twice. Below, check the "
            "billable quantity per customer before you generate invoices.")

COLUMNS = pd.DataFrame([
    ("idempotency_key", "yes", "A unique id per event, e.g. evt-2026-10-000123. An event whose id is already "
                               "stored is skipped as a duplicate."),
    ("customer_external_id", "yes", "The customer id as shown on the Customers page, e.g. ACME-001."),
    ("event_name", "yes", "What happened; a billable metric must use this event, e.g. api_request."),
    ("timestamp", "yes", "When it happened, in UTC: 2026-10-31, 2026-10-31 14:30 or 2026-10-31T14:30:00Z."),
    ("quantity", "no", "How much, with a point for decimals (18.4). Leave empty for events that are only counted."),
    ("any other column", "no", "Kept as a property of the event (region, user_id…) for metric filters and "
                               "group-by."),
], columns=["Column", "Required", "What it holds"])
TEMPLATE = [["idempotency_key", "customer_external_id", "event_name", "timestamp", "quantity", "region"],
            ["evt-2026-10-000001", "ACME-001", "api_request", "2026-10-01T09:30:00Z", "1200", ""],
            ["evt-2026-10-000002", "GLOBEX-002", "data_transfer", "2026-10-01T10:00:00Z", "18.4", "US-East"]]

st.subheader("Upload a usage file")
with st.expander("What the file must contain", icon=":material/help:"):
    st.dataframe(COLUMNS, hide_index=True, width="stretch",
                 column_config={"What it holds": st.column_config.TextColumn(width="large")})
    st.download_button("Download a template (CSV)", write_csv(TEMPLATE[0], TEMPLATE[1:]),
                       file_name="usage-template.csv", mime="text/csv", icon=":material/description:")
if me.can("usage:write"):
    upload_panel(Upload(key="usage_import", noun=("usage event", "usage events"),
                        preview=lambda s, data, name, **kw: preview_usage(s, data, name, **kw),
                        commit=lambda s, data, name, progress, **kw: import_usage(s, me, data, name, progress=progress,
                                                                                  **kw),
                        count=lambda r: r.accepted_rows, unredactable=unredactable), can_write=True)
else:
    st.caption("Your role can look at usage but not upload it; ask someone in Ops or Finance.")

st.subheader("Usage by billing period")
this_month = date.today().replace(day=1)
months = [add_months(this_month, -i) for i in range(13)]
start = st.columns([1, 2])[0].selectbox(
    "Invoice run", months, index=1, format_func=lambda d: d.strftime("%B %Y"), key="usage_month",
    help="The billing periods that start in this month: what that month's invoice run counts. The last "
         "complete month is chosen first.")
start, end = month_period(start.year, start.month)


def _definition(m) -> tuple:  # noqa: ANN001
    """Everything about a metric its aggregation depends on: a changed metric is aggregated afresh."""
    return (m.id, m.event_name, m.aggregation, m.unique_property, tuple(sorted((m.filters or {}).items())),
            m.group_by)


@st.cache_resource(show_spinner=False)
def _kept() -> dict:
    """(database, metric definition, period) → (highest event id when made, every customer's quantities). Shared
    by every session of this server; never change what it holds."""
    return {}


def _everyone(s_, m, utc_start, utc_end, stamp: int) -> dict:  # noqa: ANN001
    """Every customer's quantity of a metric for one period, kept between page loads: a kept result is used while
    no event of the metric in the period has been stored since it was made (:func:`events_since` reads only the
    events after it), so new usage for another metric or another month does not make it be counted again, and a
    kept quantity is never one the events no longer give (events are never changed or deleted). A changed metric
    is a new key."""
    kept = _kept()
    key = (str(engine().url), _definition(m), utc_start, utc_end)
    hit = kept.get(key)
    if hit is not None and (hit[0] == stamp or not events_since(s_, m, utc_start, utc_end, hit[0])):
        kept[key] = (stamp, hit[1])
        return hit[1]
    found = aggregate(s_, m, utc_start, utc_end)
    if len(kept) >= 64:  # old periods and changed metrics: drop the oldest entry
        kept.pop(next(iter(kept)), None)
    kept[key] = (stamp, found)
    return found


with session() as s:
    stored = list_metrics(s)
    metrics = {m.id: (m.code, m.name, m.aggregation) for m in stored}
    everyone = customer_rows(s, limit=1_000_000)  # light rows: every customer's billing day and time zone
    names = {c.external_id: c.name for c in everyone}
    billing = billing_of(s, everyone, metrics, end - timedelta(days=1))
    ids_of = {c.external_id: c.id for c in everyone}
    shares: dict[int, dict[int, object]] = {mid: {} for mid in metrics}  # metric -> its distinct Billing values
    for (_cid, mid), b in billing.items():
        shares[mid].setdefault(id(b), b)
    drawn = {key: run_window(b, start.year, start.month) for per in shares.values() for key, b in per.items()}
    stamp = usage_fingerprint(s)
    results = {}
    for m in stored:  # one query per metric and distinct window, for all customers
        if len(shares[m.id]) == 1 and m.aggregation != SQL:  # one period for everyone: kept until an event arrives
            w = drawn[next(iter(shares[m.id]))]
            found = _everyone(s, m, w.utc_start, w.utc_end, stamp)
            results[m.id] = {ext: res for ext, res in found.items() if ext in ids_of}
        else:
            bounds = {}
            for c in everyone:
                w = drawn[id(billing[(c.id, m.id)])]
                bounds[c.external_id] = (w.utc_start, w.utc_end)
            results[m.id] = aggregate_by_window(s, m, bounds)


def window_of(ext: str, mid: int):  # noqa: ANN201 - UsageWindow
    return drawn[id(billing[(ids_of[ext], mid)])]


standard = all(w.start == start and w.tz == "UTC" for w in drawn.values())
what = (format_period(start, end) if standard else
        f"each customer's billing period starting in {start:%B %Y} (its billing day, in its time zone)")

customers = sorted({c for per in results.values() for c in per}, key=lambda c: names.get(c, c))
if not metrics:
    st.info("No billable metrics yet: define them on the Billable metrics page, then upload usage.")
    st.stop()
if not customers:
    st.info(f"No usage is stored for {what}. Upload the month's file above, or pick another month.")
    st.stop()

PAGE = 500  # rows shown at once: the page is handed one page of the table, the download holds all of it
columns = ["Customer id", "Name"] + [metrics[mid][1] for mid in metrics]


def table_rows(chunk: list[str]) -> list[list[str]]:
    return [[c, names.get(c, "")] + [qty(results[mid][c].quantity) if c in results[mid] else "" for mid in metrics]
            for c in chunk]


pages = (len(customers) + PAGE - 1) // PAGE
st.caption(f"Billable quantity per customer for {what} — what the {start:%B} invoice run counts; "
           f"{len(customers):,} customers with usage. An empty cell means no events for that metric.")
if pages > 1:
    top_bar = st.columns([1, 1, 2], vertical_alignment="bottom")
    page_no = page_picker(len(customers), PAGE, key="usage_table_page", noun="customers", container=top_bar[0])
    top_bar[1].download_button("Download all rows (CSV)", lambda: write_csv(columns, table_rows(customers)),
                               file_name=f"usage-{start:%Y-%m}.csv", mime="text/csv", icon=":material/download:")
else:
    page_no = 1
shown = customers[(page_no - 1) * PAGE:page_no * PAGE]
table = pd.DataFrame(table_rows(shown), columns=columns)
st.dataframe(table, hide_index=True, width="stretch", height=35 * min(len(shown), 20) + 38,
             column_config={"Customer id": st.column_config.TextColumn(pinned=True),
                            "Name": st.column_config.TextColumn(pinned=True),
                            **{metrics[mid][1]: st.column_config.TextColumn(alignment="right") for mid in metrics}})

chosen = st.columns([3, 2])[0].selectbox(
    "Metric for the chart", list(metrics), key="usage_metric",
    format_func=lambda mid: f"{metrics[mid][1]} — {AGGREGATIONS[metrics[mid][2]].lower()}")
ranked = sorted(results[chosen].items(), key=lambda kv: kv[1].quantity, reverse=True)
top = ranked[:10]
if not top:
    st.info(f"No events for {metrics[chosen][1]} in {what}.")
    st.stop()
fig = go.Figure(go.Bar(x=[names.get(c, c) for c, _ in top], y=[r.quantity for _, r in top],
                       text=[qty(r.quantity) for _, r in top], textposition="outside",
                       hovertemplate="%{x}: %{text}<extra></extra>", marker_color="#0F766E"))
fig.update_layout(title=f"Top {len(top)} customers — {metrics[chosen][1]}, "
                        f"{format_period(start, end) if standard else start.strftime('%B %Y') + ' run'}",
                  height=380, margin=dict(l=10, r=10, t=50, b=10), yaxis=dict(tickformat=",~r"))
st.plotly_chart(fig, width="stretch")

with st.expander("One customer: day by day, and the events behind the number", icon=":material/manage_search:",
                 expanded=False):
    st.caption("Pick a customer to see their usage of this metric day by day over their billing period, the "
               "period to date against the units their contract includes, and the events that make up the "
               "quantity.")
    offered = [c for c, _ in ranked]
    if len(offered) > MAX_OPTIONS:  # a search first, then the biggest users among the matches
        find = st.text_input("Find the customer", key="usage_behind_search",
                             placeholder="type part of a name or customer id",
                             help=f"The list shows the {MAX_OPTIONS:,} biggest users of the metric among the matches.")
        if find.strip():
            needle = find.strip().lower()
            offered = [c for c in offered if needle in c.lower() or needle in names.get(c, "").lower()]
        kept = st.session_state.get("usage_behind_customer")
        offered = offered[:MAX_OPTIONS] + ([kept] if kept in results[chosen] and kept not in
                                           offered[:MAX_OPTIONS] else [])
    if not offered:
        st.info("No customer with usage of this metric matches.")
        st.stop()
    who = st.selectbox("Customer", offered, key="usage_behind_customer",
                       format_func=lambda c: f"{names.get(c, c)} ({c}) — {qty(results[chosen][c].quantity)}")
    with session() as s:
        metric_row = get_metric(s, chosen)
        window = window_of(who, chosen)
        note = behind_note(s, metric_row)  # a SQL-template metric: numbers from the source, no events stored
        events = events_behind(s, metric_row, window.utc_start, window.utc_end, who)
        series = None if note else daily_usage(s, metric_row, who, window)
        rows = [(e.timestamp.strftime("%Y-%m-%d %H:%M:%S"), "" if e.quantity is None else qty(e.quantity),
                 ", ".join(f"{k}={v}" for k, v in sorted(e.properties.items())), e.idempotency_key, e.source)
                for e in events]
    st.caption(f"Billing period {format_period(window.start, window.end)}, days in {window.tz}.")
    res = results[chosen][who]
    if series is not None:
        st.plotly_chart(usage_chart(series, metrics[chosen][1]), width="stretch")
    if res.groups:
        st.markdown("By " + ", ".join(f"**{g}**: {qty(v)}" for g, v in sorted(res.groups.items())))
    if note:
        st.info(note, icon=":material/database:")
    else:
        st.dataframe(pd.DataFrame(rows, columns=["When (UTC)", "Quantity", "Properties", "Event id", "Source"]),
                     hide_index=True, width="stretch",
                     column_config={"Quantity": st.column_config.TextColumn(alignment="right")})
        shown = f"the first {len(rows):,} of {res.events:,}" if res.events > len(rows) else f"all {len(rows):,}"
        st.caption(f"Showing {shown} events.")
