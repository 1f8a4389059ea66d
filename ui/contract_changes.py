"""One contract's detail view and its actions: activate a draft, save it as a plan, change a time-based line's
price or quantity from a day, and end it early. The next invoice run settles prepaid days
(core.billing.amendments)."""
from __future__ import annotations

import json
from datetime import date

import streamlit as st

from dataclasses import asdict

from core.billing.change_revenue import change_line_respread, end_contract_respread
from core.billing.contracts import activate_contract, contract_lines, get_contract
from core.ledger.recognition import REDISTRIBUTIONS, open_schedules_of_contract
from core.money import MoneyError, to_decimal
from core.plans import create_plan, get_plan, plan_from_contract_spec
from core.ui_support import spec_from_contract
from ui import contract_terms as terms
from ui import contracts_ui as cui
from ui.format import last_day
from ui.state import run_action, session

SIMPLE = {"flat_fee": ("amount", "Amount per period"), "per_unit": ("unit_price", "Price per unit")}


def _new_params(line, key: str) -> dict | None:
    simple = SIMPLE.get(line.pricing_model)
    if simple:
        field, label = simple
        text = st.text_input(label, value=str(line.params.get(field, "")), key=f"{key}_value")
        try:
            to_decimal(text, field=label.lower())
        except MoneyError as exc:
            st.caption(f":red[{exc}]")
            return None
        return {**line.params, field: text.strip()}
    text = st.text_area("Prices (as in the contract's JSON)", value=json.dumps(line.params, indent=1),
                        key=f"{key}_json", help="The same parameters the builder shows, as JSON.")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        st.caption(f":red[not valid JSON: {exc.msg} on line {exc.lineno}]")
        return None


def _respread_choice(me, open_schedules: int, key: str) -> str | None:
    """What to do with revenue already billed and not yet recognised (only asked when there is some, and only of
    someone who may post to the ledger)."""
    if not open_schedules or not me.can("accounting:write"):
        return None
    options = {"": "Leave it on its schedule", **REDISTRIBUTIONS}
    choice = st.selectbox(f"Revenue already billed, not yet recognised ({open_schedules} schedule"
                          f"{'s' if open_schedules != 1 else ''})", list(options), format_func=options.__getitem__,
                          key=key, help="How the deferred revenue of this contract's invoices is recognised from now "
                                        "on. Periods already recognised never change; after an early end, periods "
                                        "no longer served get nothing.")
    return choice or None


def panel(me, contract, container) -> None:
    """Popovers for an active contract; a successful change sets a flash message and reruns the page."""
    with session() as s:
        lines = [ln for ln in contract_lines(s, contract.id) if not ln.metric_id
                 and (ln.end_date is None or ln.end_date > date.today())]
        open_schedules = len(open_schedules_of_contract(s, contract.id))
    key = f"contracts_change_{contract.id}"
    if lines:
        with container.popover("Change a price from a day", icon=":material/trending_up:"):
            st.caption("An upgrade or downgrade from a day inside a period: the next invoice credits the unused "
                       "days already paid in advance and charges the new price for the rest of the period.")
            labels = {ln.id: f"{ln.description} ({ln.phase})" if ln.phase else ln.description for ln in lines}
            line_id = st.selectbox("Line", list(labels), format_func=labels.__getitem__, key=f"{key}_line")
            line = next(ln for ln in lines if ln.id == line_id)
            effective = st.date_input("From (first day at the new price)", key=f"{key}_date", format="YYYY-MM-DD")
            params = _new_params(line, key)
            qty = st.text_input("Quantity", value=str(line.fixed_quantity.normalize()) if line.fixed_quantity else "1",
                                key=f"{key}_qty") if line.pricing_model != "flat_fee" else None
            respread = _respread_choice(me, open_schedules, f"{key}_respread")
            if st.button("Apply the change", type="primary", key=f"{key}_apply", disabled=params is None):
                if run_action(change_line_respread, me, contract_id=contract.id, line_id=line_id,
                              effective=effective, params=params, fixed_quantity=qty, respread=respread,
                              ) is not None:
                    st.session_state["contracts_flash"] = (
                        f"“{line.description}” changes on {effective:%-d %b %Y}; the next invoice settles the days "
                        "already billed." + (f" Deferred revenue: {REDISTRIBUTIONS[respread].lower()}."
                                             if respread else ""))
                    st.rerun()
    with container.popover("End early", icon=":material/event_busy:"):
        st.caption("The contract stops on the day you choose (that day is no longer served); days already paid "
                   "in advance after it are credited on the next invoice, and it will not renew.")
        last = st.date_input("Last day served", key=f"{key}_end", format="YYYY-MM-DD")
        respread = _respread_choice(me, open_schedules, f"{key}_end_respread")
        if st.button("End the contract", type="primary", key=f"{key}_end_apply"):
            if run_action(end_contract_respread, me, contract_id=contract.id,
                          effective=date.fromordinal(last.toordinal() + 1), respread=respread) is not None:
                st.session_state["contracts_flash"] = f"“{contract.name}” ends after {last:%-d %b %Y}." + (
                    f" Deferred revenue: {REDISTRIBUTIONS[respread].lower()}." if respread else "")
                st.rerun()


def detail(me, contract_id: int, customers: dict, metric_names: dict) -> None:
    """The contract as a finance user reads it (terms and adjustments in sentences, lines readably), with the
    actions the role may take."""
    ss = st.session_state
    with session() as s:
        c = get_contract(s, contract_id)
        spec = spec_from_contract(s, contract_id)
        plan = get_plan(s, c.plan_id).name if c.plan_id else None
    lines = [asdict(ln) for ln in spec.lines]
    cust = customers.get(c.customer_id, {"name": "?", "external_id": "?"})
    ends = f"until {last_day(c.end_date):%-d %b %Y}" if c.end_date else "open-ended"
    with st.container(border=True):
        st.subheader(c.name + ("  :orange-badge[Draft — not billed yet]" if c.status == "draft" else ""))
        st.markdown(f"**{cust['name']}** ({cust['external_id']}) · {c.currency} · from {c.start_date:%-d %b %Y}, "
                    f"{ends} · created by {c.created_by or 'unknown'}" + (f" · from plan “{plan}”" if plan else ""))
        st.markdown("  \n".join(terms.describe_terms(asdict(spec))
                                 + terms.describe_contract_modifiers(spec.modifiers, c.currency)))
        st.table(cui.line_rows(lines, c.currency, metric_names), hide_index=True)
        buttons = st.container(horizontal=True)
        if c.status == "draft" and me.can("contracts:write"):
            st.caption("A draft is saved but not billed. Activate it when the customer has signed.")
            if buttons.button("Activate", type="primary", icon=":material/play_arrow:", key="contracts_activate") \
                    and run_action(activate_contract, me, contract_id) is not None:
                ss["contracts_flash"] = f"Contract “{c.name}” is active: it is billed from now on."
                st.rerun()
        if c.status == "active" and me.can("contracts:write"):
            panel(me, c, buttons)
        if me.can("catalog:write"):
            with buttons.popover("Save as plan", icon=":material/bookmark_add:"):
                st.caption("Reuse this contract's lines, adjustments and terms for other customers.")
                pname = st.text_input("Plan name", value=c.name, key=f"contracts_plan_name_{contract_id}")
                if st.button("Save the plan", key=f"contracts_save_plan_{contract_id}"):
                    made = run_action(create_plan, me, plan_from_contract_spec(pname, spec))
                    if made is not None:
                        ss["contracts_flash"] = f"Saved the plan “{made.name}”; it is listed on the Plans page."
                        st.rerun()
