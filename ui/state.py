"""What every page needs: the cached engine, the signed-in actor, and a transaction per user action.

Session state keeps ids and the actor, never ORM objects or sessions.
"""
from __future__ import annotations

from contextlib import contextmanager

import streamlit as st

from core.auth import Actor
from core.db import database_url, make_engine, session_scope, upgrade
from core.errors import UserError


@st.cache_resource(show_spinner=False)
def _engine(url: str):
    engine = make_engine(url)
    upgrade(engine)
    return engine


def engine():
    return _engine(database_url())


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
