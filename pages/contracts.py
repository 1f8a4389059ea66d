"""Contracts: what each customer pays for — the list, one contract's lines, and the contract builder.

A plan can fill the builder (step 0); the contract keeps its plan_id. The builder is not an st.form on purpose: the live price preview and the per-model tables must react
while the user types, which a form would hold back until submit. Lines live in session state as plain
dicts until "Create contract" validates the whole contract (every problem at once) and saves it.
"""
from __future__ import annotations

from dataclasses import asdict
from datetime import date, timedelta

import pandas as pd
import streamlit as st

from core.analytics.overview import contract_rows
from core.billing.contracts import (
    ContractSpec,
    LineSpec,
    create_contract,
    validate_contract,
)
from core.catalog import list_products
from core.metering.metrics import list_metrics
from core.money import CURRENCIES
from core.plans import (
    contract_from_plan,
    get_plan,
    list_plans,
)
from ui import contract_changes, contract_terms as terms
from ui import contracts_ui as cui
from ui.format import last_day
from ui.invoice_preview import preview_panel
from ui.pickers import CustomerInfo, customer_picker
from ui.redaction import contracts_import_panel
from ui.state import actor, page_header, run_action, session

me = actor()
ss = st.session_state
ss.setdefault("contracts_lines", [])  # the lines of the contract being built, as plain dicts
ss.setdefault("contracts_gen", 0)  # bumped to give the "add a line" widgets fresh keys
ss.setdefault("contracts_hgen", 0)  # bumped to reset the contract header after saving or using a plan
ss.setdefault("contracts_draft", {})  # starting values of the header, terms and adjustments (from a plan)
if goto := ss.pop("contracts_goto", None):
    ss["contracts_tab"], ss["contracts_open"] = goto

page_header("Contracts", "What each customer pays for: pick a contract to see its lines and prices"
            + (", or build a new one in the **New contract** tab." if me.can("contracts:write") else "."))
if flash := ss.pop("contracts_flash", None):
    st.success(flash, icon=":material/check_circle:")

with session() as s:
    all_metrics = list_metrics(s)
    metrics = {m.code: (m.name, m.group_by) for m in all_metrics}
    plans = {p.id: f"{p.name} ({p.currency})" for p in list_plans(s)}
    products = {p.sku: p.name for p in list_products(s)}
metric_names = {code: name for code, (name, _) in metrics.items()}
customers = CustomerInfo()  # read one by one as the page needs them, not every customer on every rerun
PAGE = 500  # contracts listed at once


def contract_list() -> None:
    who, _ = customer_picker("Customer", key="contracts_filter", all_label="All customers",
                             label_of=lambda c: c.name)
    page_no = ss.get("contracts_page", 1)
    with session() as s:
        found, total = contract_rows(s, customer_id=who, limit=PAGE, offset=(page_no - 1) * PAGE)
        if not found and page_no > 1:  # the filter changed under a later page: back to the first
            page_no = ss["contracts_page"] = 1
            found, total = contract_rows(s, customer_id=who, limit=PAGE)
    shown = [dict(id=c.id, customer_id=c.customer_id, customer=c.customer, name=c.name, currency=c.currency,
                  start=c.start_date, last=last_day(c.end_date) if c.end_date else None, status=c.status,
                  lines=n) for c, n in found]
    if not shown:
        st.info("No contracts yet" + (" for this customer." if who else ".")
                + (" Build one in the **New contract** tab." if me.can("contracts:write") else ""))
        return
    pages = (total + PAGE - 1) // PAGE
    if pages > 1:
        a, b = st.columns([1, 3], vertical_alignment="bottom")
        a.number_input(f"Page (of {pages:,}, {PAGE} contracts each)", 1, pages, step=1, key="contracts_page")
        b.caption(f"{total:,} contracts; showing {(page_no - 1) * PAGE + 1:,}–{(page_no - 1) * PAGE + len(shown):,}. "
                  "Pick a customer above to see only theirs.")
    st.dataframe(pd.DataFrame([{"Customer": c["customer"], "Contract": c["name"], "Currency": c["currency"],
                                "Starts": c["start"],
                                "Last day": f"{c['last']:%-d %b %Y}" if c["last"] else "open-ended",
                                "Lines": c["lines"],
                                "Status": c["status"].capitalize()} for c in shown]),
                 hide_index=True, width="stretch", height=min(36 * (len(shown) + 1) + 2, 560),
                 column_config={"Starts": st.column_config.DateColumn(format="D MMM YYYY"),
                                "Last day": st.column_config.TextColumn(
                                    help="The last day billed; open-ended contracts run until they are ended.")})
    ids = [c["id"] for c in shown]
    by_id = {c["id"]: c for c in shown}
    if (keep := ss.get("contracts_open")) is not None and keep not in ids:
        with session() as s:  # an open contract on another page (just saved, or opened from elsewhere) stays open
            found, _ = contract_rows(s, customer_id=who, contract_id=keep, limit=1)
        if found:
            c, _ = found[0]
            by_id[c.id] = dict(id=c.id, customer=c.customer, name=c.name)
            ids.insert(0, c.id)
        else:
            ss.pop("contracts_open", None)
    opened = st.selectbox("Open a contract", ids, index=None, key="contracts_open",
                          placeholder="Choose a contract to see its lines",
                          format_func=lambda i: f"{by_id[i]['customer']} — {by_id[i]['name']}")
    if opened is not None:
        contract_detail(opened)


def contract_detail(contract_id: int) -> None:
    contract_changes.detail(me, contract_id, customers, metric_names)


def _use_plan(plan_id: int, cust, start: date) -> None:
    """Fill the builder from a plan: lines, adjustments and terms (contract_from_plan)."""
    with session() as s:
        plan = get_plan(s, plan_id)
        spec = contract_from_plan(plan, customer_external_id=customers[cust]["external_id"] if cust else "",
                                  start_date=start)
    ss["contracts_draft"] = {**asdict(spec), "customer": cust, "plan_name": plan.name, "lines": None}
    ss["contracts_lines"] = [asdict(ln) for ln in spec.lines]
    ss["contracts_hgen"] += 1
    ss["contracts_gen"] += 1


def _lines_section(lines: list, code: str, gen: int) -> None:
    st.subheader(f"3. Lines ({len(lines)})")
    if not lines:
        st.caption("No lines yet: describe the first one below and press **Add this line**.")
    else:
        st.table(cui.line_rows(lines, code, metric_names), hide_index=True)
        r1, r2 = st.columns([3, 1], vertical_alignment="bottom")
        pick = r1.selectbox("Change or remove a line", range(len(lines)), key=f"contracts_pick_{gen}", index=None,
                            placeholder="Choose a line to change its price, adjustments or phase",
                            format_func=lambda i: f"{i + 1}. {lines[i]['description']}")
        if r2.button("Remove line", disabled=pick is None, key=f"contracts_drop_btn_{gen}"):
            lines.pop(pick)
            ss["contracts_gen"] += 1
            st.rerun()
        if pick is not None:
            with st.container(border=True):
                changed = cui.line_form(f"contracts_e{gen}_{pick}", code, metrics, products, initial=lines[pick],
                                        submit="Save changes to this line")
                if changed is not None:
                    lines[pick] = changed
                    ss["contracts_gen"] += 1
                    st.rerun()
    with st.expander("Add a line" if not lines else "Add another line", expanded=True, icon=":material/add:"):
        new = cui.line_form(f"contracts_l{gen}", code, metrics, products)
        if new is not None:
            lines.append(new)
            ss["contracts_gen"] += 1
            st.rerun()


def builder() -> None:
    if not customers:
        st.info("There are no customers yet. Add the customer first on the **Customers** page, then come back.")
        return
    hg, gen, draft = ss["contracts_hgen"], ss["contracts_gen"], ss["contracts_draft"]
    if plans:
        st.subheader("0. Start from a plan or blank")
        p1, p2 = st.columns([3, 1], vertical_alignment="bottom")
        chosen = p1.selectbox("Plan", [None, *plans], key="contracts_plan", format_func=lambda i: plans.get(i, "Blank — build it line by line"),
                              help="A plan fills in the lines, adjustments and terms; you can still change any price.")
    st.subheader("1. The contract")
    a, b = st.columns(2)
    cust, _ = customer_picker("Customer", key=f"contracts_customer_{hg}", container=a,
                              placeholder="Choose the customer", default=draft.get("customer"))
    name = b.text_input("Contract name", key=f"contracts_name_{hg}", value=draft.get("name", ""),
                        placeholder="for example Acme — Growth plan")
    info = customers.get(cust, {"currency": "USD", "payment_terms_days": 30})
    c1, c2, c3 = st.columns(3)
    codes, want = list(CURRENCIES), draft.get("currency") or info["currency"]
    code = c1.selectbox("Currency", codes, key=f"contracts_currency_{hg}_{cust}",
                        index=codes.index(want) if want in codes else 0)
    start = c2.date_input("First day", value=draft.get("start_date") or date.today().replace(day=1),
                          key=f"contracts_start_{hg}", format="YYYY-MM-DD")
    end = draft.get("end_date")
    last = c3.date_input("Last day (optional)", value=end - timedelta(days=1) if end else None,
                         key=f"contracts_last_{hg}", format="YYYY-MM-DD",
                         help="Leave empty for a contract that runs until it is ended.")
    if plans and p2.button("Use this plan", disabled=chosen is None, icon=":material/content_copy:"):
        _use_plan(chosen, cust, start)
        st.rerun()
    if draft.get("plan_name"):
        st.info(f"From plan “{draft['plan_name']}”: lines, adjustments and terms are filled in from the plan. "
                "Change anything below; the contract remembers the plan it came from.", icon=":material/bookmark:")
    st.subheader("2. Terms")
    t, t_problems = terms.terms_editor(f"contracts_t{hg}_{cust}", {"payment_terms_days": info["payment_terms_days"],
                                                                    **draft})
    mods, m_problems = terms.contract_modifiers_editor(f"contracts_m{hg}", code, draft.get("modifiers"))
    lines = ss["contracts_lines"]
    _lines_section(lines, code, gen)
    spec = ContractSpec(customer_external_id=customers[cust]["external_id"] if cust else "", name=name,
                        currency=code, start_date=start, end_date=last + timedelta(days=1) if last else None,
                        lines=[LineSpec(**ln) for ln in lines], modifiers=mods, plan_id=draft.get("plan_id"), **t)
    st.subheader("4. Invoice preview")
    preview_panel(spec, f"contracts_pv{hg}")
    st.subheader("5. Save")
    st.caption("A draft is kept but not billed until someone activates it. Saving checks the whole contract and "
               "lists every problem at once.")
    row = st.container(horizontal=True)
    status = ("draft" if row.button("Save as draft", icon=":material/save:") else
              "active" if row.button("Create and activate", type="primary", icon=":material/play_arrow:") else None)
    if status is None:
        return
    spec.status = status
    with session() as s:
        problems = [f"terms: {p}" for p in t_problems] + [f"contract adjustments: {p}" for p in m_problems] + [
            p for p in validate_contract(s, spec) if not (t_problems and p.startswith("renewal:"))]
    if cust is None:
        problems = ["customer: choose the customer this contract is for"] + [
            p for p in problems if not p.startswith("customer:")]
    problems = [p + " (fill in *Add a line* and press **Add this line**)" if p.startswith("lines:") else p
                for p in problems]
    if problems:
        st.error("The contract was not saved. Fix these, then save again:\n"
                 + "\n".join(f"- {p}" for p in problems), icon=":material/error:")
        return
    saved = run_action(create_contract, me, spec)
    if saved is not None:
        ss["contracts_flash"] = (f"Contract “{saved.name}” for {customers[cust]['name']} was saved "
                                 + ("as a draft" if status == "draft" else "and is active")
                                 + f" with {len(lines)} line{'s' if len(lines) != 1 else ''}.")
        ss["contracts_lines"], ss["contracts_draft"] = [], {}
        ss["contracts_hgen"] += 1
        ss["contracts_gen"] += 1
        ss["contracts_goto"] = ("Contracts", saved.id)
        st.rerun()


if me.can("contracts:write"):
    list_tab, new_tab, import_tab = st.tabs(["Contracts", "New contract", "Import from a file"], key="contracts_tab",
                                            on_change="rerun")
    with list_tab:
        if list_tab.open:
            contract_list()
    with new_tab:
        if new_tab.open:
            builder()
    with import_tab:
        if import_tab.open:
            contracts_import_panel(me)
else:
    contract_list()
