"""The Close books tab: per business entity, the day its books are closed through; close a period, or reopen."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from core.ledger.posting import close_books
from core.ledger.views import entities
from ui.confirm import confirm
from ui.ledger_ui import done
from ui.state import run_action, session

P = "ledger"


def close_panel(me) -> None:  # noqa: ANN001 - Actor
    st.caption("Closing the books through a day locks everything up to and including it: no entry can be dated in "
               "a closed period, so the figures you reported stay as they are. Late events (an October invoice "
               "approved in November) are then booked on the first open day, and their memo says so. Reopen only "
               "to correct a closed period; then close it again.")
    with session() as s:
        ents = entities(s)
    st.dataframe(pd.DataFrame([{
        "Business entity": e.name,
        "Books closed through": f"{e.books_closed_through:%-d %b %Y}" if e.books_closed_through else "— all open —",
        "First open day": f"{e.books_closed_through + timedelta(days=1):%-d %b %Y}" if e.books_closed_through
        else "any day"} for e in ents]), hide_index=True, width="stretch")
    if not me.can("accounting:approve"):
        st.caption("Your role can see the close dates; closing and reopening the books is for Finance.")
        return
    v = st.session_state.get(f"{P}_v", 0)
    last_month_end = date.today().replace(day=1) - timedelta(days=1)
    for e in ents:
        with st.container(border=True):
            st.markdown(f"**{e.name}**")
            a, b, c = st.columns([1, 1, 1], vertical_alignment="bottom")
            through = a.date_input("Close the books through", value=max(last_month_end, e.books_closed_through
                                                                        or last_month_end),
                                   max_value=date.today() - timedelta(days=1), format="YYYY-MM-DD",
                                   key=f"{P}_close_date_{e.id}_{v}")
            if b.button(f"Close through {through:%-d %b %Y}", type="primary", key=f"{P}_close_go_{e.id}_{v}",
                        icon=":material/lock:"):
                if run_action(close_books, me, e.id, through) is not None:
                    done(P, f"{e.name}: books closed through {through:%-d %b %Y}.")
            if e.books_closed_through and c.button("Reopen every period", key=f"{P}_reopen_{e.id}_{v}",
                                                   icon=":material/lock_open:"):
                st.session_state[f"{P}_reopen"] = e.id
    target = st.session_state.get(f"{P}_reopen")
    if target is not None:
        ent = next((e for e in ents if e.id == target), None)
        if ent is not None:
            confirm("Reopen the books?", f"{P}_reopen",
                    f"**{ent.name}**: the books are closed through {ent.books_closed_through:%-d %b %Y}. Reopening "
                    "lets entries be dated in those periods again, which can change figures already reported.",
                    yes_label="Reopen", no_label="Keep them closed",
                    action=lambda: run_action(close_books, me, ent.id, None) is not None,
                    flash_key=f"{P}_flash", done=f"{ent.name}: books reopened; every period is open.")
