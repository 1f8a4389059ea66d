"""The workspace switch in the sidebar: load a demo pilot into a separate workspace, see clearly that you are in it,
reset it, and go back to the real data (core.workspaces; the engine follows the choice, ui/state.py)."""
from __future__ import annotations

import streamlit as st

from core.errors import UserError
from core.workspaces import INDUSTRIES, is_ready, load_demo, workspace_url
from ui.confirm import confirm
from ui.state import WORKSPACE_KEY, forget_engine, main_session, workspace

FLASH = "workspace_flash"
FAILED = "workspace_failed"
CONFIRM = "workspace_reset_confirm"  # the industry whose reset waits for a yes
BANNER_STYLE = """<style>
[data-testid="stSidebar"] {background-color: #fdebd3;}
.ch-demo-strip {background: #e8590c; color: #fff; font-weight: 600; padding: 0.35rem 0.9rem; border-radius: 0.4rem;
                letter-spacing: 0.02em;}
</style>"""


def banner_text(key: str) -> str:
    return f"DEMO — {INDUSTRIES[key].label} — not your real data"


def _switch(key: str | None, message: str) -> None:
    """Enter a workspace (or leave it: None). The pages' own choices (a customer being edited, filters…) belong
    to the other database's rows: they are dropped; who is signed in is kept."""
    for k in list(st.session_state):
        if k != "actor":
            del st.session_state[k]
    if key is not None:
        st.session_state[WORKSPACE_KEY] = key
    st.session_state[FLASH] = message
    st.rerun()


def _load(me, key: str, *, reset: bool = False) -> None:  # noqa: ANN001 - Actor
    ind = INDUSTRIES[key]
    with st.spinner(f"{'Resetting' if reset else 'Loading'} the {ind.label} demo — a few seconds…"):
        try:
            if reset and is_ready(key):
                forget_engine(workspace_url(key))  # no pooled connection may outlive the file it points to
            with main_session() as s:
                result = load_demo(s, me, key, reset=reset)
        except UserError as exc:
            st.session_state[FAILED] = f"The demo could not be {'reset' if reset else 'loaded'}: {exc}"
            st.rerun()
    done = "reset" if reset else ("loaded" if result.created else "opened as it was left")
    _switch(key, f"The {ind.label} demo ({ind.seller}) is {done}.")


def sidebar(me) -> None:  # noqa: ANN001 - Actor
    """In the sidebar: in a demo, a coloured banner, "Back to my real data" and "Reset this demo"; otherwise, for
    those who may (pilot:write), the demo loader. A strip at the top of the page repeats the banner."""
    key = workspace()
    if st.session_state.get(WORKSPACE_KEY) and key is None:  # the file was removed meanwhile
        st.session_state.pop(WORKSPACE_KEY, None)
        st.session_state[FLASH] = "The demo workspace is no longer there: you are back in your real data."
    if flash := st.session_state.pop(FLASH, None):
        st.toast(flash, icon=":material/science:")
    if failed := st.session_state.pop(FAILED, None):
        st.sidebar.error(failed, icon=":material/error:")
    if key is not None:
        ind = INDUSTRIES[key]
        st.html(BANNER_STYLE)
        st.html(f'<div class="ch-demo-strip">{banner_text(key)}. Leave it from the sidebar.</div>')
        with st.sidebar:
            st.warning(f"**{banner_text(key)}**  \n{ind.seller} — a demo workspace of its own. What you do here "
                       "changes only the demo.", icon=":material/science:")
            if st.button("Back to my real data", icon=":material/keyboard_return:", type="primary",
                         key="workspace_leave", use_container_width=True):
                _switch(None, "You are back in your real data.")
            if me.can("pilot:write") and st.button("Reset this demo", icon=":material/restart_alt:",
                                                   key="workspace_reset", use_container_width=True,
                                                   help="Throw away what was done in this demo and load it afresh."):
                st.session_state[CONFIRM] = key
        if st.session_state.get(CONFIRM) == key:
            confirm("Reset this demo?", CONFIRM,
                    f"Everything done in the **{ind.label}** demo — by you, or by anyone else using it on this "
                    "installation — is thrown away, and the demo is loaded afresh as it was first. Your real data is "
                    "not touched.", yes_label="Reset the demo", no_label="Keep it as it is",
                    action=lambda: _load(me, key, reset=True), flash_key=FLASH, done="")
        return
    if not me.can("pilot:write"):
        return
    with st.sidebar.popover("Demo workspace", icon=":material/science:", use_container_width=True):
        st.caption("Show the product on a complete demo pilot — customers, contracts, three months billed and paid, "
                   "a month of usage and its draft invoices — in a workspace of its own. Your real data is not "
                   "touched, and one click brings you back.")
        key = st.selectbox("Industry", list(INDUSTRIES), format_func=lambda k: INDUSTRIES[k].label,
                           key="workspace_pick", help="Each industry is a different seller with its own products, "
                                                      "pricing, customers and usage.")
        ind = INDUSTRIES[key]
        st.caption(f"**{ind.seller}** — {ind.blurb}")
        ready = is_ready(key)
        if st.button("Open the demo" if ready else "Load the demo", type="primary", icon=":material/science:",
                     key="workspace_load", use_container_width=True,
                     help="Opens the demo as it was left." if ready else "Builds the demo (a few seconds)."):
            _load(me, key)
