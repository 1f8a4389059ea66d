"""The Pilot plan page's progress view (the phases, what is done and what is not, on a timeline) and its week-one
data flows (customers, contracts, usage: where each came from, whether it arrived)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.db import database_url
from core.pilot.flows import data_flows
from ui.pilot_plan import link
from ui.state import session

DONE, TODO = ":green[:material/check_circle:]", ":orange[:material/radio_button_unchecked:]"


def _timeline(phases, today: date) -> go.Figure:  # noqa: ANN001 - list[Phase]
    fig = go.Figure()
    for ph in reversed(phases):
        start = datetime.combine(ph.start, time(0))
        length = (ph.end - ph.start + timedelta(days=1)).total_seconds() * 1000
        done_ms = length * ph.fraction
        label = f"{ph.done} of {len(ph.steps)} done"
        fig.add_bar(y=[ph.title], x=[done_ms], base=[start], orientation="h", marker_color="#0f766e",
                    name="done", showlegend=False, hovertemplate=f"{ph.title}<br>{ph.when}<br>{label}<extra></extra>")
        fig.add_bar(y=[ph.title], x=[length - done_ms], base=[start + timedelta(milliseconds=done_ms)],
                    orientation="h", marker_color="#fcd34d" if ph.late(today) else "#e2e8f0", name="not done",
                    showlegend=False, hovertemplate=f"{ph.title}<br>{ph.when}<br>{label}<extra></extra>")
    fig.add_vline(x=datetime.combine(today, time(12)).timestamp() * 1000, line_dash="dot", line_color="#b91c1c",
                  annotation_text="today", annotation_position="top")
    fig.update_layout(barmode="overlay", height=230, margin=dict(l=10, r=10, t=30, b=10), xaxis_type="date",
                      yaxis=dict(automargin=True))
    return fig


def progress_view(phases, today: date | None = None) -> None:  # noqa: ANN001 - list[Phase]
    today = today or date.today()
    st.plotly_chart(_timeline(phases, today), width="stretch", config={"displayModeBar": False},
                    key="pilot_home_timeline")
    st.caption("Each bar is a phase of the pilot; its green part is the share of its steps done, a yellow rest "
               "means the phase is late. The dotted line is today.")
    cols = st.columns(len(phases))
    for col, ph in zip(cols, phases):
        with col.container(border=True):
            st.markdown(f"**{ph.title}**  \n{ph.when}" + (" · :orange[late]" if ph.late(today) else ""))
            st.progress(ph.fraction, text=f"{ph.done} of {len(ph.steps)} done")
            st.markdown("\n\n".join(f"{DONE if s.done else TODO} {s.text} — {s.detail}" for s in ph.steps))


@st.cache_data(ttl=30, max_entries=4, show_spinner=False)
def _flows(url: str, _me) -> list:  # noqa: ANN001 - Actor
    with session() as s:
        return data_flows(s, _me)


def flows(me) -> list:  # noqa: ANN001 - Actor
    """Week one's data flows, read at most every 30 seconds (counting a million usage events by source takes half a
    second)."""
    return _flows(database_url(), me)


def flows_view(me, flows) -> None:  # noqa: ANN001 - Actor, list[Flow]
    st.caption("Week one agrees how customers, contracts and usage reach Counting House. Each flow below says where "
               "its data came from — read from the audit log, the usage events' source and the data-source syncs — "
               "and whether it has arrived (counted again every 30 seconds).")
    for f in flows:
        with st.container(border=True):
            head, count, last = st.columns([3, 1, 2], vertical_alignment="center")
            state = ":green-badge[:material/check_circle: Arrived]" if f.arrived else \
                ":orange-badge[:material/hourglass_empty: Not yet]"
            head.markdown(f"{state} **{f.title}**")
            count.metric("Records", f"{f.count:,}", help=f"{f.title} in Counting House now.")
            last.metric("Last arrival", f"{f.last_at:%-d %b %Y %H:%M}" if f.last_at else "—",
                        help="When the newest one was stored (UTC).")
            if f.origins:
                st.dataframe(pd.DataFrame([(o.label, f"{o.count:,}", f"{o.last_at:%-d %b %Y %H:%M}" if o.last_at
                                            else "", o.detail) for o in f.origins],
                                          columns=["Came from", "How many", "Last", "Detail"]),
                             hide_index=True, width="stretch", key=f"pilot_home_flow_{f.key}")
            else:
                st.caption(f"Nothing yet. Load it by {f.how}.")
            link(me, f.page, f.page_label)
