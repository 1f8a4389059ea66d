"""The Pilot plan page's pilot record (start one, edit it) and its two editable tables: the objectives and the
success criteria agreed on day one, each with an owner and a status."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import streamlit as st

from core.pilot.criteria import month_default
from core.pilot.plan import CHECKS, PILOT_STATUSES, STATUSES, ItemRow, item_rows, save_items, save_pilot
from ui.state import run_action, session

P = "pilot_home"
PAGES = Path(__file__).resolve().parents[1] / "pages"
# the permission that shows each page the pilot plan links to (app.py's PAGES)
PAGE_PERMISSION = {"pilot": "invoices:read", "usage": "usage:read", "ledger": "accounting:read",
                   "dunning": "receivables:read", "customers": "customers:read", "contracts": "contracts:read",
                   "sources": "usage:read", "invoices": "invoices:read"}
CHECK_LABELS = {k: v[0] for k, v in CHECKS.items()}
CHECK_KEYS = {v: k for k, v in CHECK_LABELS.items()}


def link(me, page: str, label: str, *, container=None) -> None:  # noqa: ANN001
    """A link to another page when the user's role shows it; otherwise a word to ask a colleague."""
    where = container or st
    if page and me.can(PAGE_PERMISSION.get(page, "users:write")) and (PAGES / f"{page}.py").exists():
        where.page_link(str(PAGES / f"{page}.py"), label=label, icon=":material/arrow_forward:")
    elif page:
        where.caption(f"{label.removeprefix('Open ')}: ask a colleague with access to that page.")


def flash() -> None:
    if text := st.session_state.pop(f"{P}_flash", None):
        st.success(text, icon=":material/check_circle:")


def pilot_form(me, pilot=None) -> None:  # noqa: ANN001 - Actor, Pilot
    """Start a pilot (``pilot`` None) or edit one."""
    today = date.today()
    with st.form(f"{P}_pilot_form_{pilot.id if pilot else 'new'}"):
        a, b = st.columns(2)
        prospect = a.text_input("Prospect", value=pilot.prospect if pilot else "", max_chars=200,
                                placeholder="for example Northwind Cloud, Inc.",
                                help="The company piloting Counting House.")
        owner = b.text_input("Owner", value=pilot.owner if pilot else "", max_chars=100,
                             placeholder="for example Maya Chen", help="Who runs the pilot and answers for its plan.")
        c, d, e, f = st.columns(4)
        start = c.date_input("Start date", value=pilot.start_date if pilot else today, format="YYYY-MM-DD",
                             help="Day 1: the objectives and success criteria are agreed.")
        signoff = d.date_input("Target sign-off date", format="YYYY-MM-DD",
                               value=pilot.signoff_date if pilot else today + timedelta(days=21),
                               help="When the prospect should sign off — three weeks after the start is usual.")
        month = e.text_input("Month the samples bill", max_chars=7, placeholder="YYYY-MM",
                             value=f"{pilot.usage_month:%Y-%m}" if pilot and pilot.usage_month else "",
                             help="The month whose usage and invoices the pilot is judged on, as YYYY-MM; the "
                                  "default month of a usage criterion.")
        status = f.selectbox("Status", list(PILOT_STATUSES), format_func=PILOT_STATUSES.get,
                             index=list(PILOT_STATUSES).index(pilot.status) if pilot else 0,
                             help="Set it to Signed off when the prospect signs.")
        notes = st.text_area("Notes", value=pilot.notes if pilot else "", height=80,
                             help="Scope, use cases chosen, anything the team should know.")
        if st.form_submit_button("Save the pilot" if pilot else "Start the pilot", type="primary"):
            saved = run_action(save_pilot, me, prospect=prospect, start_date=start, signoff_date=signoff, owner=owner,
                               usage_month=month, status=status, notes=notes, pilot_id=pilot.id if pilot else None)
            if saved is not None:
                st.session_state[f"{P}_pick"] = saved.id
                st.session_state[f"{P}_flash"] = f"Pilot with {saved.prospect} saved."
                st.rerun()


def _text(value) -> str:  # noqa: ANN001 - a cell from the editor
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value).strip()


def _int(value) -> int | None:  # noqa: ANN001
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else int(value)


def items_editor(me, pilot, category: str, judged: list | None = None) -> None:  # noqa: ANN001
    """The objectives (``category`` "objective") or success criteria ("criterion") as an editable table."""
    noun = "objective" if category == "objective" else "criterion"
    first = "Objective" if category == "objective" else "Criterion"
    with session() as s:
        rows = item_rows(s, pilot.id, category)
    effective = {j.item.id: j.status for j in judged or []}
    results = {j.item.id: j.result.summary for j in judged or []}
    frame = pd.DataFrame([{
        "id": r.id, first: r.text, "Check": CHECK_LABELS.get(r.check_kind, r.check_kind), "Month": r.month,
        "Tolerance": r.tolerance, "Owner": r.owner, "Status": effective.get(r.id, r.status),
        "Result": results.get(r.id, ""), "Notes": r.notes} for r in rows],
        columns=["id", first, "Check", "Month", "Tolerance", "Owner", "Status", "Result", "Notes"])
    shown = [first, "Owner", "Status", "Notes"] if category == "objective" else \
        [first, "Check", "Month", "Tolerance", "Owner", "Status", "Result", "Notes"]
    config = {
        first: st.column_config.TextColumn(required=True, width="large" if category == "objective" else "medium",
                                           max_chars=500,
                                           help=f"The {noun}, in words the prospect agreed to."),
        "Owner": st.column_config.TextColumn(required=True, max_chars=100, help="Who answers for it (a name)."),
        "Status": st.column_config.SelectboxColumn(options=list(STATUSES), required=True, default="open",
                                                   help="open, in progress, met, not met or waived. A criterion "
                                                        "checked automatically follows its check: only “waived” "
                                                        "can be set on it by hand."),
        "Notes": st.column_config.TextColumn(max_chars=1000),
        "Check": st.column_config.SelectboxColumn(options=list(CHECK_KEYS), required=True,
                                                  default=CHECK_LABELS["manual"], width="medium",
                                                  help="Manual: its owner sets the status. The others check "
                                                       "themselves against the data, with the evidence below."),
        "Month": st.column_config.TextColumn(max_chars=7, help="For “Usage received”: the month, as YYYY-MM "
                                                               f"(empty: {month_default(pilot)})."),
        "Tolerance": st.column_config.TextColumn(max_chars=10, help="For “Sample invoices match”: the largest "
                                                                    "difference that still counts as a match "
                                                                    "(empty: 0.01)."),
        "Result": st.column_config.TextColumn(disabled=True, width="large",
                                              help="What the check found just now (the evidence is below)."),
    }
    if not me.can("pilot:write"):
        st.dataframe(frame[shown], hide_index=True, width="stretch", column_config=config)
        st.caption("Your role can read the plan; changing it is for Finance and Sales.")
        return
    v = st.session_state.setdefault(f"{P}_{category}_v", 0)
    edited = st.data_editor(frame, num_rows="dynamic", hide_index=True, width="stretch", column_order=shown,
                            column_config=config, key=f"{P}_{category}_ed_{v}")
    st.caption(f"Add {'an' if noun == 'objective' else 'a'} {noun} in the empty row at the bottom; select rows and "
               "press Delete to remove them. "
               "Nothing changes until you save.")
    if st.button(f"Save the {'objectives' if category == 'objective' else 'success criteria'}", type="primary",
                 key=f"{P}_{category}_save_{v}", icon=":material/save:"):
        submitted = [ItemRow(_text(r[first]), _text(r["Owner"]), _text(r["Status"]) or "open",
                             CHECK_KEYS.get(_text(r["Check"]), "manual"), _text(r["Month"]), _text(r["Tolerance"]),
                             _text(r["Notes"]), _int(r["id"]))
                     for r in edited.to_dict("records") if any(_text(r[c]) for c in (first, "Owner", "Notes"))]
        saved = run_action(save_items, me, pilot.id, category, submitted)
        if saved is not None:
            st.session_state[f"{P}_flash"] = (f"{len(saved)} {noun if len(saved) == 1 else noun + 's'} saved."
                                              .replace("criterions", "criteria"))
            st.session_state[f"{P}_{category}_v"] = v + 1
            st.rerun()
