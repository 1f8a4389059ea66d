"""The Grants tab: every grant with its balance (filtered by customer and kind), a form to grant one by hand or
with one of the customer's contracts, and ending a grant early."""
from __future__ import annotations

from datetime import date

import streamlit as st
from sqlmodel import select

from core.auth import Actor
from core.entitlements.balances import balances
from core.entitlements.grants import KINDS, LIMIT_TYPES, RESETS, GrantSpec, create_grant, end_grant
from core.metering.metrics import list_metrics
from core.models import Contract
from ui.entitlements_ui import BALANCE_COLUMNS, balance_frame, kind_label
from ui.pickers import customer_picker
from ui.ledger_ui import done
from ui.state import run_action, session

PAGE_SIZE = 200


def grants_panel(me: Actor, on: date, near) -> None:  # noqa: ANN001
    a, b = st.columns([2, 1])
    who, _ = customer_picker("Customer", key="ent_customer", container=a, all_label="All customers")
    kind = b.selectbox("Kind", [None, *KINDS], format_func=kind_label, key="ent_kind")
    page = st.session_state.get("ent_page", 1)
    with session() as s:
        rows, total = balances(s, me, on=on, customer_id=who, kind=kind, offset=(page - 1) * PAGE_SIZE,
                               limit=PAGE_SIZE)
        ids = {r.grant.contract_id for r in rows if r.grant.contract_id}
        contracts = {c.id: c.name for c in s.exec(select(Contract).where(Contract.id.in_(sorted(ids) or [-1])))}
    if not rows:
        st.info("No grants match. Grant one below." if me.can("entitlements:write") else "No grants match.",
                icon=":material/verified:")
    else:
        st.dataframe(balance_frame(rows, near, contracts), hide_index=True, width="stretch", key="ent_table",
                     column_config=BALANCE_COLUMNS)
        pages = max(1, -(-total // PAGE_SIZE))
        if pages > 1:
            st.number_input(f"Page (of {pages}; {total:,} grants)", 1, pages, key="ent_page")
        st.caption(f"Balances as of {on:%-d %b %Y}: quantities count the metric's usage in the current window (the "
                   "customer's billing period, the calendar month, or the grant's whole window when it never resets); "
                   "credits count approved invoices less their credit notes. The Used % bar is full at the limit.")
    if me.can("entitlements:write"):
        _grant_form(me, who)
        _end_form(me, [r.grant for r in rows if r.grant.end_date is None or r.grant.end_date > on], on)


def _grant_form(me: Actor, who: int | None) -> None:
    v = st.session_state.get("ent_v", 0)
    with st.expander("Grant an entitlement", icon=":material/add_circle:", expanded=False):
        a, b = st.columns(2)
        cust, listed = customer_picker("Customer", key=f"ent_new_customer_{v}", container=a, default=who)
        kind = b.radio("Kind", list(KINDS), format_func=KINDS.get, horizontal=True, key=f"ent_new_kind_{v}")
        with session() as s:
            metrics = {m.id: f"{m.name} ({m.code})" for m in list_metrics(s)}
            contracts = {c.id: f"{c.name} (from {c.start_date:%-d %b %Y})" for c in s.exec(
                select(Contract).where(Contract.customer_id == cust).order_by(Contract.start_date))} if cust else {}
        with st.form(f"ent_new_{v}"):
            a, b = st.columns(2)
            key = a.text_input("Key", placeholder="api_calls, prepaid_credit, sso",
                               help="What a product asks about: check(customer, key). One kind per key.")
            name = b.text_input("Name (optional)", placeholder="API calls")
            metric = units = reset = amount = currency = None
            enabled, limit_type = True, "hard"
            if kind == "quantity":
                a, b, c = st.columns(3)
                metric = a.selectbox("Metric", list(metrics), format_func=metrics.get,
                                     help="The billable metric whose usage consumes this entitlement")
                units = b.text_input("Units per period", placeholder="100000")
                reset = c.selectbox("Resets", list(RESETS), format_func=RESETS.get)
            elif kind == "credit":
                a, b = st.columns(2)
                amount = a.text_input("Amount", placeholder="5000.00")
                currency = b.text_input("Currency (default: the customer's)", max_chars=3)
            else:
                enabled = st.toggle("On", value=True)
            if kind != "feature":
                limit_type = st.radio("Limit", list(LIMIT_TYPES), format_func=LIMIT_TYPES.get, horizontal=True)
            a, b, c = st.columns(3)
            start = a.date_input("Starts", value=date.today(), format="YYYY-MM-DD")
            end = b.date_input("Ends (optional)", value=None, format="YYYY-MM-DD",
                               help="The first day it no longer applies; empty: open-ended")
            contract = c.selectbox("Granted by", [None, *contracts],
                                   format_func=lambda k: contracts.get(k, "By hand (no contract)"))
            note = st.text_input("Note (optional)")
            if st.form_submit_button("Grant", type="primary", icon=":material/verified:"):
                ext = listed[cust].external_id if cust in listed else ""
                spec = GrantSpec(customer_external_id=ext, key=key, kind=kind, start_date=start, end_date=end,
                                 name=name, metric_id=metric, units=units, reset=reset or "never", amount=amount,
                                 currency=currency or "", limit_type=limit_type, enabled=enabled,
                                 contract_id=contract, note=note)
                grant = run_action(create_grant, me, spec)
                if grant is not None:
                    done("ent", f"Granted '{grant.key}' to {ext} (grant #{grant.id})")


def _end_form(me: Actor, grants: list, on: date) -> None:
    if not grants:
        return
    with st.expander("End a grant early", icon=":material/event_busy:"):
        labels = {g.id: f"#{g.id} {g.name} ({g.key})" for g in grants}
        with st.form("ent_end"):
            gid = st.selectbox("Grant", list(labels), format_func=labels.get)
            a, b = st.columns([1, 2])
            end = a.date_input("No longer applies from", value=on, format="YYYY-MM-DD")
            reason = b.text_input("Reason", placeholder="downgraded, trial over…")
            if st.form_submit_button("End the grant", icon=":material/event_busy:"):
                if run_action(end_grant, me, gid, end_date=end, reason=reason) is not None:
                    done("ent", f"Grant #{gid} ends on {end:%-d %b %Y}")
