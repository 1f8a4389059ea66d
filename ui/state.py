"""What every page needs: the cached engine, the signed-in actor, and a transaction per user action.

Session state keeps ids and the actor, never ORM objects or sessions.

Workspaces: a signed-in browser session may have chosen a demo workspace (``st.session_state["workspace"]``, an
industry of core.workspaces; ui/workspace.py switches). :func:`engine` and :func:`session` — and everything else
that asks ``core.db.database_url()`` during that session's script runs, such as cache keys and background jobs —
then use the workspace's database. :func:`main_session` is always the installation's own database: who is signed in
and what they may do are read there.
"""
from __future__ import annotations

from contextlib import contextmanager

import streamlit as st

from core.auth import Actor
from core.db import database_url, main_database_url, make_engine, session_scope, set_workspace_resolver, upgrade
from core.errors import UserError

WORKSPACE_KEY = "workspace"


@st.cache_resource(show_spinner=False)
def _engine(url: str):
    engine = make_engine(url)
    upgrade(engine)
    return engine


def workspace() -> str | None:
    """The demo workspace (industry key) this browser session is in, or None for the real data. Only for a
    signed-in person, and only while the workspace's file is there."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:  # a worker thread, or no app at all
        return None
    key = st.session_state.get(WORKSPACE_KEY)
    if not key or st.session_state.get("actor") is None:
        return None
    from core.workspaces import INDUSTRIES, is_ready

    return key if key in INDUSTRIES and is_ready(key) else None


def _workspace_url() -> str | None:
    key = workspace()
    if key is None:
        return None
    from core.workspaces import workspace_url

    return workspace_url(key)


set_workspace_resolver(_workspace_url)


def engine():
    return _engine(database_url())


def forget_engine(url: str) -> None:
    """Close the pooled connections to a database and drop its cached engine (before its file is replaced)."""
    _engine(url).dispose()
    _engine.clear(url)


@contextmanager
def main_session():
    """A transaction on the installation's own database, whatever workspace this browser session is in."""
    with session_scope(_engine(main_database_url())) as s:
        yield s


def actor() -> Actor:
    a = st.session_state.get("actor")
    if a is None:
        st.stop()
    return a


@contextmanager
def session():
    """A read-or-write transaction for one user action; committed on success, rolled back on error."""
    with session_scope(engine()) as s:
        yield s


def run_action(fn, *args, success: str | None = None, **kwargs):
    """Call a service in its own transaction; show a UserError as a readable message instead of a traceback.
    Returns the service's result, or None when it was refused."""
    try:
        with session() as s:
            result = fn(s, *args, **kwargs)
    except UserError as exc:
        st.error(str(exc), icon=":material/error:")
        return None
    if success:
        st.toast(success, icon=":material/check_circle:")
    return result


def page_header(title: str, caption: str) -> None:
    st.title(title)
    st.caption(caption)


def public_page() -> None:
    """For the pages a visitor sees without signing in (sign-in, pay, portal): no sidebar. Streamlit's browser side
    lists the files of pages/ in the sidebar until a navigation with several visible pages replaces the list, which
    a visitor who has not signed in never gets."""
    if st.session_state.get("actor") is None:  # staff opening a link keep their navigation
        st.html("<style>[data-testid='stSidebar'], [data-testid='stSidebarCollapsedControl'] {display: none}</style>")
