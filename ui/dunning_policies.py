"""The "Policies" tab of the Dunning page: the policies in priority order with their steps, and the editor (name,
segment, priority, steps as an editable table) — the rules and the checks are in core.receivables.dunning."""
from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlmodel import select

from core.models import BusinessEntity
from core.receivables.dunning import StepSpec, delete_policy, list_policies, save_policy
from core.receivables.segments import list_segments
from core.receivables.templates import list_templates, step_label
from ui.confirm import confirm
from ui.state import run_action, session

P = "dunning"


def _templates() -> dict[int, str]:
    with session() as s:
        entities = dict(s.exec(select(BusinessEntity.id, BusinessEntity.name)).all())
        rows = list_templates(s)
    many = len(entities) > 1
    return {t.id: f"{t.name}" + (f" ({entities.get(t.entity_id, '?')})" if many else "") for t in rows
            if t.kind == "reminder"}


def policies_panel(me) -> None:  # noqa: ANN001 - Actor
    st.caption("A policy chases the open invoices of a segment (or of all customers) with emails on set days "
               "around the due date. **When an invoice falls under several policies, the one with the lowest "
               "priority number applies and the others are ignored** — so put specific segments first and an "
               "“All customers” policy last, as the catch-all. A step can retry the customer's saved card first "
               "(customers who turned on automatic charging): if it pays, no reminder goes out.")
    with session() as s:
        views = list_policies(s)
    if msg := st.session_state.pop(f"{P}_pol_flash", None):
        st.success(msg, icon=":material/check_circle:")
    can = me.can("receivables:write")
    if not views:
        st.info("No dunning policy yet: nothing is sent." + (" Create one below." if can else ""),
                icon=":material/info:")
    for n, v in enumerate(views, start=1):
        p = v.policy
        with st.container(border=True):
            head, actions = st.columns([4, 1.4], vertical_alignment="center")
            head.markdown(f"**{n}. {p.name}** · {v.segment} · priority {p.priority}"
                          + ("" if p.active else " · :orange[inactive]"))
            steps = pd.DataFrame([{"Day": f"{st_.offset_days:+d}", "When": step_label(st_.offset_days),
                                   "Email": name, "Retry the card first": "yes" if st_.auto_charge else ""}
                                  for st_, name in v.steps])
            st.dataframe(steps, hide_index=True, width="stretch")
            if can:
                with actions.container(horizontal=True):
                    if st.button("Edit", key=f"{P}_edit_{p.id}", icon=":material/edit:"):
                        st.session_state[f"{P}_editing"] = p.id
                        st.session_state[f"{P}_ed_v"] = st.session_state.get(f"{P}_ed_v", 0) + 1
                    if st.button("Delete", key=f"{P}_del_{p.id}", icon=":material/delete:"):
                        st.session_state[f"{P}_deleting"] = p.id
    if can:
        _deleting(me, {v.policy.id: v.policy.name for v in views})
        _editor(me, {v.policy.id: v for v in views})
    else:
        st.caption("Your role can read the policies; changing them is for Finance.")


def _deleting(me, names: dict[int, str]) -> None:  # noqa: ANN001
    target = st.session_state.get(f"{P}_deleting")
    if target in names:
        confirm("Delete this policy?", f"{P}_deleting",
                f"“{names[target]}” and its steps are deleted; its invoices fall to the next policy that covers "
                "them. The dunning log keeps what it sent.", yes_label="Delete the policy",
                action=lambda: run_action(delete_policy, me, target) is not None or None,
                flash_key=f"{P}_pol_flash", done=f"Policy “{names[target]}” deleted.")


def _editor(me, views: dict) -> None:  # noqa: ANN001
    editing = st.session_state.get(f"{P}_editing")
    view = views.get(editing)
    templates = _templates()
    with session() as s:
        segments = {seg.id: seg.name for seg in list_segments(s)}
    v = st.session_state.get(f"{P}_ed_v", 0)
    title = f"Edit “{view.policy.name}”" if view else "New policy"
    with st.expander(title, expanded=view is not None, icon=":material/edit_note:"):
        if not templates:
            st.warning("There is no reminder email template yet: add one on the Email templates page first.")
            return
        a, b, c = st.columns([2, 2, 1])
        name = a.text_input("Name", view.policy.name if view else "", key=f"{P}_ed_name_{v}",
                            placeholder="e.g. Enterprise — gentle")
        seg_ids = [None, *segments]
        seg = b.selectbox("Applies to", seg_ids, index=seg_ids.index(view.policy.segment_id) if view and
                          view.policy.segment_id in seg_ids else 0, key=f"{P}_ed_seg_{v}",
                          format_func=lambda i: "All customers" if i is None else f"Segment: {segments[i]}",
                          help="Segments are saved on the Segments page.")
        prio = c.number_input("Priority", min_value=0, max_value=10_000, step=1, key=f"{P}_ed_prio_{v}",
                              value=view.policy.priority if view else 10, help="Lowest first.")
        active = st.checkbox("Active (runs send its reminders)", value=view.policy.active if view else True,
                             key=f"{P}_ed_active_{v}")
        names = list(templates.values())
        rows = ([{"Days from the due date": st_.offset_days, "Email template": templates.get(st_.template_id),
                  "Retry the card first": st_.auto_charge} for st_, _ in view.steps] if view else
                [{"Days from the due date": d, "Email template": None, "Retry the card first": False}
                 for d in (-3, 1, 7, 14, 30)])
        st.caption("One row per step: −3 is three days before the due date, 7 a week after it. Add or remove rows "
                   "at the table's edge.")
        frame = st.data_editor(pd.DataFrame(rows), num_rows="dynamic", hide_index=True, width="stretch",
                               key=f"{P}_ed_steps_{v}", column_config={
                                   "Days from the due date": st.column_config.NumberColumn(step=1, format="%+d",
                                                                                           required=True),
                                   "Email template": st.column_config.SelectboxColumn(options=names, required=True),
                                   "Retry the card first": st.column_config.CheckboxColumn(default=False)})
        by_name = {label: i for i, label in templates.items()}
        with st.container(horizontal=True):
            if st.button("Save the policy", type="primary", key=f"{P}_ed_save_{v}"):
                steps = [StepSpec(None if pd.isna(r["Days from the due date"]) else int(r["Days from the due date"]),
                                  by_name.get(r["Email template"]), bool(r["Retry the card first"]))
                         for r in frame.to_dict("records")
                         if not (pd.isna(r["Days from the due date"]) and not r["Email template"])]
                saved = run_action(save_policy, me, name=name, segment_id=seg, priority=prio, steps=steps,
                                   active=active, policy_id=view.policy.id if view else None)
                if saved is not None:
                    st.session_state[f"{P}_pol_flash"] = f"Policy “{saved.name}” saved."
                    st.session_state.pop(f"{P}_editing", None)
                    st.session_state[f"{P}_ed_v"] = v + 1
                    st.rerun()
            if view and st.button("Cancel", key=f"{P}_ed_cancel_{v}"):
                st.session_state.pop(f"{P}_editing", None)
                st.session_state[f"{P}_ed_v"] = v + 1
                st.rerun()
