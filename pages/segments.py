"""Segments: saved groups of customers built from customer fields and invoice facts, with a live preview, and bulk
actions on a segment's members (download, email their open invoices). Rules: core.receivables.segments."""
from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import func, select

from core.receivables import segments as seg
from ui.invoice_documents import email_progress, queue_addressed, watch
from ui.receivables_aging import lazy_downloads
from ui.receivables_segments import attributes_editor, builder, load, show_preview
from ui.state import actor, page_header, run_action, session

me = actor()
ss = st.session_state
page_header("Segments", "Group customers by who they are (country, currency, your own custom attributes, a saved "
            "card or auto-charge) and how they pay (invoice status, days past due, amount due, invoices issued "
            "since a date). Conditions in a group must all hold; a customer belongs to the segment when any group "
            "holds. The preview updates as you edit. Save a segment to reuse it in the receivables report and in "
            "dunning, download its members or email them their open invoices.")
if msg := ss.pop("seg_flash", None):
    st.success(msg, icon=":material/check_circle:")

with session() as s:
    saved = {g.id: g for g in seg.list_segments(s)}
    for g in saved.values():
        s.expunge(g)


def _pick() -> None:
    """Load the chosen segment (or a blank one) into the builder and the name fields."""
    chosen = saved.get(ss.get("seg_pick"))
    load(chosen.rules if chosen else {"groups": [[{"field": "days_past_due", "op": "gt", "value": 30}]]})
    ss["seg_name"] = chosen.name if chosen else ""
    ss["seg_description"] = chosen.description if chosen else ""


if saved:
    st.dataframe(pd.DataFrame([{"Segment": g.name, "Rules": seg.describe(g.rules), "Description": g.description,
                                "Changed by": g.updated_by, "Changed (UTC)": g.updated_at} for g in saved.values()]),
                 hide_index=True, width="stretch",
                 column_config={"Changed (UTC)": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm")})
else:
    st.info("No saved segments yet: build one below and save it.", icon=":material/filter_alt:")

if "seg_pick_next" in ss:  # just saved or deleted: show that one (or a new one)
    ss["seg_pick"] = ss.pop("seg_pick_next")
if ss.get("seg_pick") is not None and ss["seg_pick"] not in saved:
    ss["seg_pick"] = None  # deleted meanwhile
picked = st.selectbox("Segment", [None, *saved], key="seg_pick", on_change=_pick,
                      format_func=lambda k: "A new segment" if k is None else f"Edit: {saved[k].name}")
current = saved.get(picked)

st.subheader("Rules")
rules = builder()
st.subheader("Preview")
show_preview(rules)

st.subheader("Save")
if not me.can("receivables:write"):
    st.caption("Saving segments needs the finance role: you can build and preview, but the server will refuse "
               "to save.")
with st.form("seg_save"):
    name = st.text_input("Name", key="seg_name", placeholder="for example EU customers overdue > 30 days")
    description = st.text_input("Description (optional)", key="seg_description")
    with st.container(horizontal=True):
        save_new = st.form_submit_button("Save as a new segment", type="primary" if current is None else "secondary",
                                         icon=":material/save:")
        update = current is not None and st.form_submit_button(f"Update '{current.name}'", type="primary",
                                                               icon=":material/edit:")
if save_new and (made := run_action(seg.create_segment, me, name=name, rules=rules, description=description)):
    ss["seg_flash"] = f"Segment '{made.name}' saved."
    ss["seg_pick_next"] = made.id
    st.rerun()
if update and (done := run_action(seg.update_segment, me, current.id, name=name, rules=rules,
                                  description=description)):
    ss["seg_flash"] = f"Segment '{done.name}' updated."
    st.rerun()


@st.dialog("Delete this segment?", on_dismiss=lambda: ss.pop("seg_confirm_delete", None))
def confirm_delete(segment_id: int, segment_name: str) -> None:
    st.markdown(f"The segment **{segment_name}** will be deleted. Its customers and invoices are not touched.")
    with st.container(horizontal=True):
        yes = st.button("Delete the segment", type="primary", key="seg_delete_yes")
        no = st.button("Keep it", key="seg_delete_no")
    if no:
        ss.pop("seg_confirm_delete", None)
        st.rerun()
    if yes:
        ss.pop("seg_confirm_delete", None)
        if run_action(_delete, me, segment_id):
            ss["seg_flash"] = f"Segment '{segment_name}' deleted."
            ss["seg_pick_next"] = None
            st.rerun()


def _delete(s_, who, segment_id: int) -> bool:  # noqa: ANN001
    seg.delete_segment(s_, who, segment_id)
    return True


if current is not None:
    st.subheader(f"Members of '{current.name}'")
    with session() as s:
        n_invoices = s.scalar(select(func.count()).select_from(seg.invoice_ids_select(s, current.id).subquery()))
    st.caption("Download every member with what they owe, or email each member's open invoices (those matching "
               "the invoice conditions) as PDFs to the customer's address.")
    lazy_downloads(lambda xs: seg.members_report(xs, me, current.id), seg.members_report_name(current),
                   "seg_members")
    with st.container(horizontal=True):
        if me.can("invoices:write") and st.button(f"Email the members' {n_invoices} open invoice"
                                                  + ("s" if n_invoices != 1 else ""),
                                                  icon=":material/forward_to_inbox:", key="seg_email",
                                                  disabled=not n_invoices):
            def _queue(s_, who):  # noqa: ANN001, ANN202
                ids = list(s_.scalars(seg.invoice_ids_select(s_, current.id)))
                return queue_addressed(s_, who, ids)

            if (queued := run_action(_queue, me)) is not None:
                logs, skipped = queued
                if skipped:
                    ss["seg_flash"] = (f"Not emailed — no address on the customer: {', '.join(skipped[:20])}"
                                       + (f" and {len(skipped) - 20} more" if len(skipped) > 20 else "")
                                       + ". Add one on the Customers page.")
                watch(logs)
        if st.button("Delete this segment…", icon=":material/delete:", key="seg_delete"):
            ss["seg_confirm_delete"] = (current.id, current.name)
    email_progress()

with st.expander("Custom attributes of a customer", icon=":material/sell:"):
    attributes_editor(me)

if pending := ss.get("seg_confirm_delete"):
    confirm_delete(*pending)
