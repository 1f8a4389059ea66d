"""The one confirmation dialog for destructive actions (revoke, delete): a message, a primary "yes" and a
"keep it" button. ``st.session_state[state_key]`` holds the target while the dialog is open."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st


def confirm(title: str, state_key: str, message: str, *, yes_label: str, action: Callable[[], object],
            flash_key: str, done: str, no_label: str = "Keep it") -> None:
    """Open the dialog. ``action`` runs on "yes" (return a falsy value when it was refused); ``done`` is then
    shown as the page's flash message. Buttons are keyed ``<state_key>_yes`` / ``<state_key>_no``."""

    @st.dialog(title, on_dismiss=lambda: st.session_state.pop(state_key, None))
    def _dialog() -> None:
        st.write(message)
        with st.container(horizontal=True):
            yes = st.button(yes_label, type="primary", key=f"{state_key}_yes")
            no = st.button(no_label, key=f"{state_key}_no")
        if no or yes:
            st.session_state.pop(state_key, None)
            if yes and action():
                st.session_state[flash_key] = done
            st.rerun()

    _dialog()
