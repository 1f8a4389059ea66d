"""Audit log: who did what, when — read only."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd
import streamlit as st

from core.audit import filter_choices, recent
from core.money import CURRENCIES
from ui.format import money
from ui.state import actor, page_header, session

me = actor()
page_header("Audit log", "Every change anyone made — imports, new customers and contracts, invoice approvals, role "
            "changes — newest first. Entries are written together with the change itself and can never be "
            "edited. Narrow the list with the filters.")
if not me.can("audit:read"):
    st.error("Your role may not read the audit log; ask an admin for access.")
    st.stop()

LIMIT = 500
VERBS = {"create": "created", "update": "updated", "import": "imported", "approve": "approved",
         "delete_draft": "draft deleted", "generate": "generated", "regenerate": "regenerated",
         "role": "role changed"}


def action_label(action: str) -> str:
    """'customer.update' -> 'Customer updated'; 'invoice.delete_draft' -> 'Invoice draft deleted'."""
    subject, _, verb = action.partition(".")
    return f"{subject.replace('_', ' ').capitalize()} {VERBS.get(verb, verb.replace('_', ' '))}".strip()


def readable(value, key: str = "") -> str:  # noqa: ANN001 - JSON
    if isinstance(value, dict):
        if set(value) == {"before", "after"}:
            return f"{readable(value['before']) or '(empty)'} → {readable(value['after']) or '(empty)'}"
        return " · ".join(f"{k.replace('_', ' ')}: {readable(v, k)}" for k, v in value.items())
    if key in CURRENCIES and isinstance(value, (str, int)):  # {"USD": "19663.25"} -> $19,663.25
        try:
            return money(Decimal(str(value)), key)
        except ArithmeticError:
            return str(value)
    if isinstance(value, list):
        return ", ".join(readable(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


with session() as s:
    actions, actors = filter_choices(s)
left, right = st.columns(2)
action = left.selectbox("Action", actions, index=None, format_func=action_label, placeholder="All actions",
                        key="audit_action")
who = right.selectbox("Who", actors, index=None, placeholder="Everyone", key="audit_actor")
with session() as s:
    entries = [(e.at.strftime("%d %b %Y %H:%M"), e.actor, action_label(e.action),
                f"{e.entity_type.replace('_', ' ')} #{e.entity_id}" if e.entity_id else e.entity_type.replace("_", " "),
                e.details) for e in recent(s, limit=LIMIT, action=action, actor=who)]
if not entries:
    st.info("No entries match these filters.")
    st.stop()
st.caption(f"{len(entries):,} entries" + (f" (the newest {LIMIT:,}; narrow the filters to see older ones)"
                                          if len(entries) == LIMIT else "")
           + ". Times are UTC. Click a row to read all of its details.")
picked = st.dataframe(pd.DataFrame([(*e[:4], readable(e[4])) for e in entries],
                                   columns=["When (UTC)", "Who", "Action", "What", "Details"]),
                      hide_index=True, width="stretch", height=35 * min(len(entries), 15) + 38,
                      on_select="rerun", selection_mode="single-row", key="audit_table",
                      column_config={"Who": st.column_config.TextColumn(width="small"),
                                     "What": st.column_config.TextColumn(width="medium"),
                                     "Details": st.column_config.TextColumn(width="large")})
for i in [r for r in picked.selection.rows if r < len(entries)][:1]:
    when, by, what_done, what, details = entries[i]
    with st.container(border=True):
        st.markdown(f"**{what_done}** — {what}, by **{by}** on {when} UTC")
        st.markdown("\n".join(f"- **{k.replace('_', ' ')}**: {readable(v, k) or '(empty)'}"
                              for k, v in details.items()) or "No details were recorded.")
