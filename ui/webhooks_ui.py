"""Shared pieces of the Webhooks page: the flash message, times, statuses, and "send now" (the delivery pass
run from the page, e.g. for a test event)."""
from __future__ import annotations

import streamlit as st

from core.webhooks.delivery import PassResult, deliver_due
from ui.state import session

P = "webhooks"  # session-state prefix of the page
STATUS_LABELS = {"pending": "Pending", "succeeded": "Succeeded", "failed": "Failed"}


def flash() -> None:
    if msg := st.session_state.pop(f"{P}_flash", None):
        kind, text = msg if isinstance(msg, tuple) else ("success", msg)
        if kind == "error":
            st.error(text, icon=":material/error:")
        else:
            st.success(text, icon=":material/check_circle:")


def done(message: str, kind: str = "success") -> None:
    """After a change: remember the message, redraw the page with fresh widgets."""
    st.session_state[f"{P}_flash"] = (kind, message)
    st.session_state[f"{P}_v"] = st.session_state.get(f"{P}_v", 0) + 1
    st.rerun()


def when(value) -> str:  # noqa: ANN001
    return f"{value:%-d %b %Y %H:%M:%S}" if value else "—"


def send_now(only: list[int] | None = None) -> PassResult:
    """Run the delivery pass here and now (each delivery committed on its own)."""
    with st.spinner("Sending…"), session() as s:
        return deliver_due(s, only=only)
