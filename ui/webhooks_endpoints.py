"""The Endpoints tab of the Webhooks page: the endpoints with their state, adding one (its signing secret is shown
once), editing, sending a test event, disabling or enabling, rotating the secret and deleting."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.webhooks import endpoints as wh
from core.webhooks.delivery import DISABLE_AFTER
from ui.confirm import confirm
from ui.state import run_action, session
from ui.webhooks_ui import P, done, send_now, when


def _show_secret() -> None:
    made = st.session_state.pop(f"{P}_secret", None)
    if not made:
        return
    url, secret, what = made
    st.subheader(f"Signing secret {what} — {url}")
    st.warning("Copy this secret now into the receiving system's configuration: it is **shown only this once**. "
               "It signs every request (see “Verifying signatures”). Counting House keeps it, since it needs it to "
               "sign, but never shows it again; if it is lost or leaks, rotate it.", icon=":material/warning:")
    st.code(secret, language=None)


def _table(rows: list[wh.EndpointRow]) -> None:
    st.dataframe(pd.DataFrame([{
        "URL": r.url, "Description": r.description, "Events": ", ".join(r.event_types),
        "Status": "Active" if r.active else "Disabled", "Failures in a row": r.consecutive_failures,
        "Deliveries": f"{r.succeeded:,} delivered · {r.pending:,} pending · {r.failed:,} failed",
        "Created (UTC)": f"{when(r.created_at)} by {r.created_by}"} for r in rows]),
        hide_index=True, width="stretch",
        column_config={"URL": st.column_config.TextColumn(width=220), "Events": st.column_config.TextColumn(width=220),
                       "Status": st.column_config.TextColumn(width=70),
                       "Failures in a row": st.column_config.NumberColumn(width=110),
                       "Deliveries": st.column_config.TextColumn(width=230)})


def _new_form(me) -> None:  # noqa: ANN001
    st.subheader("Add an endpoint")
    with st.form(f"{P}_new_{st.session_state[f'{P}_v']}"):
        url = st.text_input("URL", placeholder="https://erp.example.com/hooks/counting-house",
                            help="An https:// (or http://) address that accepts POST requests with a JSON body.")
        description = st.text_input("Description", placeholder="for example ERP sync — owned by the finance team")
        types = st.multiselect("Events", wh.SUBSCRIBABLE, placeholder="Choose the events it receives",
                               help="What each event means and the data it holds: see “Verifying signatures”.")
        if st.form_submit_button("Add the endpoint", type="primary", icon=":material/add:"):
            made = run_action(wh.create_endpoint, me, url=url, event_types=types, description=description)
            if made:
                st.session_state[f"{P}_secret"] = (made.url, made.secret, "created")
                done(f"Endpoint {made.url} added. Events from now on are sent to it.")


def _manage(me, rows: list[wh.EndpointRow]) -> None:  # noqa: ANN001
    st.subheader("Change an endpoint")
    names = {r.id: f"#{r.id} {r.url}" + ("" if r.active else " (disabled)") for r in rows}
    pick = st.selectbox("Endpoint", list(names), format_func=names.__getitem__, key=f"{P}_pick")
    ep = next(r for r in rows if r.id == pick)
    with st.form(f"{P}_edit_{pick}_{st.session_state[f'{P}_v']}"):
        url = st.text_input("URL", value=ep.url)
        description = st.text_input("Description", value=ep.description)
        types = st.multiselect("Events", wh.SUBSCRIBABLE, default=[t for t in ep.event_types if t in wh.SUBSCRIBABLE],
                               help="What each event means and the data it holds: see “Verifying signatures”.")
        if st.form_submit_button("Save changes", icon=":material/save:"):
            if run_action(wh.update_endpoint, me, ep.id, url=url, event_types=types, description=description):
                done(f"Endpoint #{ep.id} saved.")
    with st.container(horizontal=True):
        if st.button("Send a test event", icon=":material/send:", key=f"{P}_test", disabled=not ep.active,
                     help="Posts a webhook.test event to this endpoint now and shows the answer."):
            delivery_id = run_action(wh.send_test_event, me, ep.id)
            if delivery_id:
                result = send_now([delivery_id])
                with session() as s:
                    attempt = next(reversed(wh.attempts_of(s, me, delivery_id)), None)
                if attempt is None:
                    done("The test event is queued; the background worker sends it shortly (see the delivery log).")
                elif result.succeeded:
                    done(f"Test event delivered to {ep.url}: HTTP {attempt.status_code} in {attempt.duration_ms} ms.")
                else:
                    done(f"The test event to {ep.url} failed: {attempt.error}. It will be retried; see the "
                         "delivery log.", "error")
        if ep.active:
            if st.button("Disable", icon=":material/pause_circle:", key=f"{P}_disable",
                         help="Nothing is sent to it while disabled, and new events are not queued for it."):
                if run_action(wh.set_active, me, ep.id, False):
                    done(f"Endpoint {ep.url} disabled: nothing is sent to it until you enable it again.")
        elif st.button("Enable", icon=":material/play_circle:", key=f"{P}_enable",
                       help="Its pending deliveries are sent by the next pass; the failure count starts over."):
            if run_action(wh.set_active, me, ep.id, True):
                done(f"Endpoint {ep.url} enabled again; its pending deliveries will be sent.")
        if st.button("Rotate the secret…", icon=":material/autorenew:", key=f"{P}_rotate_btn"):
            st.session_state[f"{P}_rotate"] = ep.id
        if st.button("Delete…", icon=":material/delete:", key=f"{P}_delete_btn"):
            st.session_state[f"{P}_delete"] = ep.id
    if st.session_state.get(f"{P}_rotate") == ep.id:
        def _rotate() -> bool:
            secret = run_action(wh.rotate_secret, me, ep.id)
            if secret:
                st.session_state[f"{P}_secret"] = (ep.url, secret, "rotated")
            return bool(secret)

        confirm("Rotate the signing secret?", f"{P}_rotate",
                f"**{ep.url}** gets a new secret, used from the next request on; the old one stops working at once, "
                "so requests fail verification until the receiver has the new one. Do it when the secret may have "
                "leaked, and update the receiver right after.",
                yes_label="Rotate the secret", action=_rotate, flash_key=f"{P}_flash",
                done="The secret was rotated: copy the new one below.")
    if st.session_state.get(f"{P}_delete") == ep.id:
        confirm("Delete this endpoint?", f"{P}_delete",
                f"**{ep.url}** and its delivery log ({ep.succeeded + ep.pending + ep.failed} deliveries) are deleted; "
                "pending deliveries are never sent. This cannot be undone — to pause it, disable it instead.",
                yes_label="Delete the endpoint",
                action=lambda: run_action(lambda s: wh.delete_endpoint(s, me, ep.id) or True), flash_key=f"{P}_flash",
                done=f"Endpoint {ep.url} deleted.")


def endpoints_panel(me) -> None:  # noqa: ANN001 - Actor
    _show_secret()
    with session() as s:
        rows = wh.list_endpoints(s, me)
    for r in rows:
        if not r.active and r.disabled_reason:
            st.warning(f"**{r.url}** is disabled. {r.disabled_reason}", icon=":material/pause_circle:")
    if rows:
        _table(rows)
        st.caption(f"An endpoint is disabled by itself after {DISABLE_AFTER} failed attempts in a row; one successful "
                   "answer resets the count. Times are UTC.")
    else:
        st.info("No endpoint yet: nothing is sent, and business actions record no events. Add one below.",
                icon=":material/webhook:")
    if not me.can("webhooks:write"):
        st.caption("Only finance and admin users can add or change endpoints.")
        return
    left, right = st.columns(2, gap="large")
    with left:
        _new_form(me)
    with right:
        if rows:
            _manage(me, rows)
