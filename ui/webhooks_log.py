"""The Delivery log tab of the Webhooks page: every delivery of an event to an endpoint, newest first, filtered and
paginated in SQL; one delivery's attempts (response code, time, error) and body; replaying it."""
from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from core.webhooks import endpoints as wh
from core.webhooks.outbox import EVENT_TYPES
from ui.state import run_action, session
from ui.webhooks_ui import P, STATUS_LABELS, done, send_now, when

PAGE_SIZE = 50


def _filters(me) -> tuple[int | None, str | None, str | None]:  # noqa: ANN001
    with session() as s:
        eps = {r.id: f"#{r.id} {r.url}" for r in wh.list_endpoints(s, me)}
    a, b, c = st.columns([2, 1, 1.4])
    endpoint_id = a.selectbox("Endpoint", [None, *eps], key=f"{P}_log_ep",
                              format_func=lambda i: "All endpoints" if i is None else eps[i])
    status = b.selectbox("Status", [None, *STATUS_LABELS], key=f"{P}_log_status",
                         format_func=lambda k: "All statuses" if k is None else STATUS_LABELS[k])
    event_type = c.selectbox("Event type", [None, *EVENT_TYPES], key=f"{P}_log_type",
                             format_func=lambda t: "All event types" if t is None else t)
    return endpoint_id, status, event_type


def _answer(r: wh.DeliveryRow) -> str:
    if r.attempts == 0:
        return "not sent yet"
    took = f" in {r.last_duration_ms:,} ms" if r.last_duration_ms is not None else ""
    if r.last_status_code is not None and 200 <= r.last_status_code < 300:
        return f"HTTP {r.last_status_code}{took}"
    return f"{r.last_error}{took}"


def _status(r: wh.DeliveryRow) -> str:
    if r.status == "pending" and not r.endpoint_active:
        return "Paused (endpoint disabled)"
    if r.status == "pending" and r.attempts:
        return f"Retrying ({r.attempts} failed)"
    return STATUS_LABELS[r.status]


def _details(me, rows: list[wh.DeliveryRow]) -> None:  # noqa: ANN001
    st.subheader("One delivery")
    names = {r.id: f"#{r.id} · {r.event_type} · {r.url} · {_status(r)}" for r in rows}
    pick = st.selectbox("Delivery", list(names), format_func=names.__getitem__, key=f"{P}_log_pick")
    row = next(r for r in rows if r.id == pick)
    with session() as s:
        attempts = wh.attempts_of(s, me, pick)
        body = wh.payload_of(s, me, pick)
    if attempts:
        st.dataframe(pd.DataFrame([{
            "Attempt": a.attempt, "At (UTC)": when(a.attempted_at),
            "Answer": f"HTTP {a.status_code}" if a.status_code is not None else "no answer",
            "Time (ms)": a.duration_ms, "Result": "Succeeded" if a.succeeded else "Failed", "Error": a.error,
            "Response (start)": a.response_excerpt} for a in attempts]), hide_index=True, width="stretch")
    else:
        st.caption("Not attempted yet" + (f"; due {when(row.next_attempt_at)} UTC." if row.next_attempt_at else "."))
    if row.status == "pending" and row.attempts and row.endpoint_active:
        st.caption(f"Next attempt {when(row.next_attempt_at)} UTC.")
    if me.can("webhooks:write"):
        if not row.endpoint_active:
            st.caption("Its endpoint is disabled: enable it on the Endpoints tab to send or replay its deliveries.")
        elif row.status == "pending":
            st.caption("A pending delivery cannot be replayed: it is still being sent.")
        if st.button("Replay this delivery", icon=":material/replay:", key=f"{P}_replay",
                     disabled=row.status == "pending" or not row.endpoint_active,
                     help="Sends the same event (same id, same body, signed anew) to the same endpoint again, as a "
                          "new delivery. Receivers that skip event ids they have seen will ignore it."):
            new_id = run_action(wh.replay_delivery, me, pick)
            if new_id:
                result = send_now([new_id])
                done(f"Delivery #{pick} replayed as #{new_id}: "
                     + ("delivered." if result.succeeded else "it failed and will be retried; see below."),
                     "success" if result.succeeded else "error")
    with st.expander(f"Body sent (event {row.event_id})"):
        st.code(json.dumps(body, indent=2, ensure_ascii=False), language="json")


def log_panel(me) -> None:  # noqa: ANN001 - Actor
    st.caption("Every delivery of an event to an endpoint, newest first. A delivery that gets no 2xx answer is retried "
               "after 1, 2, 4, 8 … minutes (at most 12 hours apart), up to 10 attempts, then it has failed — you can "
               "still replay it. Times are UTC.")
    endpoint_id, status, event_type = _filters(me)
    with session() as s:
        _, total = wh.list_deliveries(s, me, endpoint_id=endpoint_id, status=status, event_type=event_type,
                                      page_size=1)
    pages = max(1, -(-total // PAGE_SIZE))
    a, b = st.columns([1, 3], vertical_alignment="bottom")
    page = a.number_input("Page", min_value=1, max_value=pages, value=1, step=1, key=f"{P}_log_page")
    b.caption(f"{total:,} deliver{'ies' if total != 1 else 'y'} match; page {page} of {pages} "
              f"({PAGE_SIZE} a page).")
    with session() as s:
        rows, _ = wh.list_deliveries(s, me, endpoint_id=endpoint_id, status=status, event_type=event_type,
                                     page=int(page), page_size=PAGE_SIZE)
    if not rows:
        st.info("No delivery matches these filters." if total or endpoint_id or status or event_type else
                "Nothing has been sent yet: deliveries appear here once an endpoint receives events.",
                icon=":material/info:")
    else:
        st.dataframe(pd.DataFrame([{
            "#": r.id, "Event": r.event_type, "Endpoint": r.url, "Status": _status(r), "Attempts": r.attempts,
            "Last attempt": when(r.last_attempt_at), "Answer": _answer(r),
            "Next attempt": when(r.next_attempt_at) if r.status == "pending" and r.endpoint_active else "",
            "Replay of": f"#{r.replay_of}" if r.replay_of else ""} for r in rows]),
            hide_index=True, width="stretch", height=min(35 * (len(rows) + 1) + 3, 460),
            column_config={"#": st.column_config.NumberColumn(width=45),
                           "Event": st.column_config.TextColumn(width=130),
                           "Endpoint": st.column_config.TextColumn(width=190),
                           "Status": st.column_config.TextColumn(width=120),
                           "Attempts": st.column_config.NumberColumn(width=70),
                           "Last attempt": st.column_config.TextColumn(width=140),
                           "Answer": st.column_config.TextColumn(width=230),
                           "Next attempt": st.column_config.TextColumn(width=140)})
        if me.can("webhooks:write"):
            if st.button("Send what is due now", icon=":material/send:", key=f"{P}_send_due",
                         help="The background worker does this by itself; use it when no worker runs."):
                result = send_now()
                done(result.summary(), "success" if not result.failed and not result.retrying else "error")
        _details(me, rows)
