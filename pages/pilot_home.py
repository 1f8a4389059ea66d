"""Pilot plan: the prospect's pilot from day one to sign-off — objectives and success criteria (some checking
themselves, with their evidence), week one's data flows, the sample contracts and invoices of weeks two and three,
the progress so far and the sign-off report."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import streamlit as st

from core.pilot.criteria import evaluate_criteria
from core.pilot.plan import DEFAULT_TOLERANCE, DONE, PILOT_STATUSES, list_pilots, tolerance_of
from core.pilot.progress import progress
from ui.pilot_criteria import results
from ui.pilot_plan import P, flash, items_editor, pilot_form
from ui.pilot_progress import flows, flows_view, progress_view
from ui.pilot_samples import samples_view
from ui.pilot_signoff import signoff_view
from ui.state import actor, page_header, session

me = actor()
page_header("Pilot plan", "Run a prospect's billing pilot from day one to sign-off: the objectives and success "
            "criteria agreed on day one (those the data can prove check themselves), the data flows of week one, the "
            "sample contracts and invoices of weeks two and three, how far the pilot has got — and the sign-off "
            "report to send.")
flash()
with session() as s:
    pilots = list_pilots(s)
if not pilots:
    if me.can("pilot:write"):
        st.info("No pilot yet. Start one: who the prospect is, who runs it, and when it should be signed off.",
                icon=":material/flag:")
        pilot_form(me)
    else:
        st.info("No pilot has been started yet; Finance or Sales can start one here.", icon=":material/flag:")
    st.stop()

by_id = {p.id: p for p in pilots}
if len(pilots) > 1:
    pick = st.selectbox("Pilot", list(by_id), key=f"{P}_pick", format_func=lambda i: (
        f"{by_id[i].prospect} — {PILOT_STATUSES.get(by_id[i].status, by_id[i].status)}, from "
        f"{by_id[i].start_date:%-d %b %Y}"), help="The newest active pilot is shown first.")
    pilot = by_id[pick]
else:
    pilot = pilots[0]

today = date.today()
days = (pilot.signoff_date - today).days
due = (f"in {days} days" if days > 1 else "tomorrow" if days == 1 else "today" if days == 0
       else f"{-days} days ago") if pilot.status == "active" else PILOT_STATUSES[pilot.status].lower()
with st.container(border=True):
    for col, (label, value) in zip(st.columns([3, 3, 2, 2]), [
            ("Prospect", pilot.prospect), ("Owner", pilot.owner),
            ("Started", f"{pilot.start_date:%-d %b %Y} · {PILOT_STATUSES.get(pilot.status, pilot.status)}"),
            ("Target sign-off", f"{pilot.signoff_date:%-d %b %Y} · {due}")]):
        col.caption(label)
        col.markdown(f"**{value}**")
if pilot.notes:
    st.caption(pilot.notes)
if me.can("pilot:write"):
    with st.expander("Edit the pilot", icon=":material/edit:"):
        pilot_form(me, pilot)
    with st.expander("Start another pilot", icon=":material/add:"):
        pilot_form(me)

data_flows = flows(me)
with session() as s:
    judged = evaluate_criteria(s, me, pilot.id, today=today)
    phases = progress(s, me, pilot.id, today=today, judged=judged, flows=data_flows)
st.subheader("Progress")
progress_view(phases, today)

plan_tab, flows_tab, samples_tab, signoff_tab = st.tabs(
    ["Objectives & success criteria", "Data flows — week 1", "Samples — weeks 2–3", "Sign-off report"])
with plan_tab:
    st.markdown("##### Objectives")
    items_editor(me, pilot, "objective")
    st.markdown("##### Success criteria")
    items_editor(me, pilot, "criterion", judged)
    results(me, judged)
with flows_tab:
    flows_view(me, data_flows)
with samples_tab:
    match = next((j for j in judged if j.item.check_kind == "invoices_match"), None)
    samples_view(me, pilot, tolerance_of(match.item) if match else Decimal(DEFAULT_TOLERANCE))
with signoff_tab:
    signoff_view(me, pilot, sum(1 for j in judged if j.status not in DONE))
