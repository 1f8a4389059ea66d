"""Audit log: who did what, when — read only."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd
import streamlit as st

from core.audit import entity_types, export, filter_choices, recent
from core.ledger import exports
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
         "role": "role changed", "activate": "may sign in again", "deactivate": "deactivated"}


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
    kinds = entity_types(s)
left, right = st.columns(2)
action = left.selectbox("Action", actions, index=None, format_func=action_label, placeholder="All actions",
                        key="audit_action")
who = right.selectbox("Who", actors, index=None, placeholder="Everyone", key="audit_actor")
c1, c2, c3, c4 = st.columns(4)
start = c1.date_input("From (UTC day)", value=None, key="audit_from", format="YYYY-MM-DD")
end = c2.date_input("To (UTC day, included)", value=None, key="audit_to", format="YYYY-MM-DD")
kind = c3.selectbox("Record", kinds, index=None, placeholder="Any record", key="audit_kind",
                    format_func=lambda k: k.replace("_", " "))
record_id = c4.text_input("Record id", key="audit_record_id", placeholder="e.g. 42")
with session() as s:
    rows = recent(s, limit=LIMIT, action=action, actor=who, start=start, end=end, entity_type=kind,
                  entity_id=record_id or None)
    entries = [(e.at.strftime("%d %b %Y %H:%M"), e.actor, action_label(e.action),
                f"{e.entity_type.replace('_', ' ')} #{e.entity_id}" if e.entity_id else e.entity_type.replace("_", " "),
                e.details) for e in rows]
filters = " · ".join(x for x in (action and action_label(action), who and f"by {who}",
                                 start and f"from {start}", end and f"to {end}",
                                 kind and kind.replace("_", " "), record_id and f"#{record_id}") if x)
if not entries:
    st.info("No entries match these filters.")
    st.stop()


def _download(fmt: str, ids=tuple(e.id for e in rows), who_=me, shown=filters) -> bytes:  # noqa: B008
    from core.models import AuditLog
    from sqlmodel import select

    with session() as s:
        picked = list(s.exec(select(AuditLog).where(AuditLog.id.in_(ids)).order_by(AuditLog.id.desc())))
        report = export(s, who_, picked, filters=shown)
    return exports.to_xlsx(report) if fmt == "xlsx" else exports.to_csv(report)


dl = st.container(horizontal=True)
dl.download_button("Excel (.xlsx)", lambda: _download("xlsx"), file_name="audit-log.xlsx", mime=exports.XLSX_MIME,
                   icon=":material/download:", key="audit_xlsx")
dl.download_button("CSV", lambda: _download("csv"), file_name="audit-log.csv", mime=exports.CSV_MIME,
                   icon=":material/download:", key="audit_csv")
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
