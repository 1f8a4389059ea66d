"""The History tab: one grant's consumption — usage per period for a quantity, the invoices and credit notes that
drew a credit budget down — and its changes from the audit log."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core.auth import Actor
from core.entitlements.balances import history
from core.entitlements.grants import find_grants
from core.money import format_money, format_number
from ui.entitlements_ui import day
from ui.pickers import customer_picker
from ui.state import session


def history_panel(me: Actor, on: date, near) -> None:  # noqa: ANN001, ARG001
    a, b = st.columns(2)
    who, _ = customer_picker("Customer", key="ent_hist_customer", container=a,
                             default=st.session_state.get("ent_customer"))
    if who is None:
        st.info("Choose a customer to see the history of its grants.", icon=":material/history:")
        return
    with session() as s:
        grants, _ = find_grants(s, me, customer_id=who, limit=1000)
    if not grants:
        st.info("This customer has no grants.", icon=":material/history:")
        return
    labels = {g.id: f"#{g.id} {g.name} ({g.key}, {g.kind})" for g in grants}
    gid = b.selectbox("Grant", list(labels), format_func=labels.get, key="ent_hist_grant")
    with session() as s:
        h = history(s, me, gid, on=on)
    g = h.grant
    show = (lambda v: format_money(v, g.currency)) if g.kind == "credit" else format_number
    st.caption(h.note)
    if h.rows:
        frame = pd.DataFrame([{
            "Date": r.when, "What": r.what, "Amount" if g.kind == "credit" else "Used in period": show(r.amount),
            "Used so far" if g.kind == "credit" else "Limit": show(r.used if g.kind == "credit" else r.limit),
            "Remaining": show(r.remaining),
            "Used %": int(r.used * 100 / r.limit) if r.limit else None,
            "Limit passed (recorded)": f"{r.exhausted_at:%-d %b %Y %H:%M} UTC" if r.exhausted_at else ""}
            for r in h.rows[:10_000]])  # newest first; a widget never gets more
        st.dataframe(frame, hide_index=True, width="stretch", key="ent_hist_table", column_config={
            "Date": st.column_config.DateColumn(format="D MMM YYYY"),
            "Used %": st.column_config.ProgressColumn(min_value=0, max_value=100, format="%d%%"),
            **{c: st.column_config.TextColumn(alignment="right") for c in frame.columns
               if c in ("Amount", "Used in period", "Used so far", "Limit", "Remaining")}})
    elif g.kind != "feature":
        st.info(f"Nothing consumed up to {day(on)}.", icon=":material/history:")
    st.markdown("**Changes**")
    st.dataframe(pd.DataFrame([{"When (UTC)": c.at, "Who": c.actor, "What": c.action,
                                "Details": ", ".join(f"{k}: {v}" for k, v in (c.details or {}).items()
                                                     if v not in (None, ""))} for c in h.changes],
                              columns=["When (UTC)", "Who", "What", "Details"]),
                 hide_index=True, width="stretch", key="ent_hist_changes")
