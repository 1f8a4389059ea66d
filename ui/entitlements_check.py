"""The Check tab: the question a product asks — may this customer use this key now? — answered by the same
``check`` the API will call."""
from __future__ import annotations

from datetime import date

import streamlit as st

from core.auth import Actor
from core.entitlements.balances import check
from core.entitlements.grants import keys_in_use
from core.errors import UserError
from core.money import format_number
from ui.pickers import customer_picker
from ui.state import session


def check_panel(me: Actor, on: date, near) -> None:  # noqa: ANN001, ARG001
    with session() as s:
        keys = keys_in_use(s, me)
    a, b = st.columns([2, 1])
    who, listed = customer_picker("Customer", key="ent_check_customer", container=a)
    with b.form("ent_check"):
        key = st.text_input("Key", placeholder=next(iter(keys), "api_calls"),
                           help="Keys granted so far: " + (", ".join(keys) or "none yet"))
        asked = st.form_submit_button("Check", type="primary", icon=":material/rule:")
    if not asked:
        if keys:
            st.caption("Keys in use: " + ", ".join(f"{k} ({kind})" for k, kind in keys.items()))
        st.caption(f"Answers as of {on:%-d %b %Y}: a feature is allowed when on; a quantity or a credit while below a "
                   "hard limit (past a soft limit it is still allowed, but flagged).")
        return
    if not key.strip():
        st.error("key: type the key to check (for example api_calls)", icon=":material/error:")
        return
    try:
        with session() as s:
            d = check(s, listed[who].external_id if who in listed else "", key, on=on)
    except UserError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    if not d.allowed:
        st.error(f"Not allowed — {d.reason}", icon=":material/block:")
    elif d.flagged:
        st.warning(f"Allowed, flagged — {d.reason}", icon=":material/warning:")
    else:
        st.success(f"Allowed — {d.reason}", icon=":material/check_circle:")
    if d.limit is not None:
        a, b, c = st.columns(3)
        a.metric("Used", format_number(d.used))
        b.metric("Limit", format_number(d.limit))
        c.metric("Remaining", format_number(d.remaining))
