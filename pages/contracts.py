"""Contracts: what each customer pays for — the list, one contract's lines, and the contract builder.

The builder is not an st.form on purpose: the live price preview and the per-model tables must react
while the user types, which a form would hold back until submit. Lines live in session state as plain
dicts until "Create contract" validates the whole contract (every problem at once) and saves it.
"""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from core.analytics.overview import contract_line_counts
from core.billing.contracts import (ContractSpec, LineSpec, contract_lines, create_contract, get_contract,
                                    list_contracts, validate_contract)
from core.catalog import list_products
from core.customers import find_customers
from core.metering.metrics import list_metrics
from core.money import CURRENCIES
from ui import contracts_ui as cui
from ui.format import last_day
from ui.state import actor, page_header, run_action, session

me = actor()
ss = st.session_state
ss.setdefault("contracts_lines", [])  # the lines of the contract being built, as plain dicts
ss.setdefault("contracts_gen", 0)  # bumped to give the "add a line" widgets fresh keys
ss.setdefault("contracts_hgen", 0)  # bumped to reset the contract header after saving
if goto := ss.pop("contracts_goto", None):
    ss["contracts_tab"], ss["contracts_open"] = goto

page_header("Contracts", "What each customer pays for: pick a contract to see its lines and prices"
            + (", or build a new one in the **New contract** tab." if me.can("contracts:write") else "."))
if flash := ss.pop("contracts_flash", None):
    st.success(flash, icon=":material/check_circle:")

with session() as s:
    customers = {c.id: c.model_dump(include={"external_id", "name", "currency", "payment_terms_days"})
                 for c in find_customers(s)}
    all_metrics = list_metrics(s)
    metrics = {m.code: (m.name, m.group_by) for m in all_metrics}
    metric_codes = {m.id: m.code for m in all_metrics}
    products = {p.sku: p.name for p in list_products(s)}
    counts = contract_line_counts(s)
    contracts = [dict(id=c.id, customer_id=cust.id, customer=cust.name, name=c.name, currency=c.currency,
                      start=c.start_date, last=last_day(c.end_date) if c.end_date else None, status=c.status)
                 for c, cust in list_contracts(s)]
metric_names = {code: name for code, (name, _) in metrics.items()}


def contract_list() -> None:
    who = st.selectbox("Customer", [None, *customers], key="contracts_filter", placeholder="All customers",
                       format_func=lambda i: "All customers" if i is None else customers[i]["name"])
    shown = [c for c in contracts if who is None or c["customer_id"] == who]
    if not shown:
        st.info("No contracts yet" + (" for this customer." if who else ".")
                + (" Build one in the **New contract** tab." if me.can("contracts:write") else ""))
        return
    st.dataframe(pd.DataFrame([{"Customer": c["customer"], "Contract": c["name"], "Currency": c["currency"],
                                "Starts": c["start"], "Last day": f"{c['last']:%-d %b %Y}" if c["last"] else "open-ended",
                                "Lines": counts.get(c["id"], 0),
                                "Status": c["status"].capitalize()} for c in shown]),
                 hide_index=True, width="stretch", height=min(36 * (len(shown) + 1) + 2, 560),
                 column_config={"Starts": st.column_config.DateColumn(format="D MMM YYYY"),
                                "Last day": st.column_config.TextColumn(
                                    help="The last day billed; open-ended contracts run until they are ended.")})
    ids = [c["id"] for c in shown]
    if ss.get("contracts_open") not in ids:
        ss.pop("contracts_open", None)
    by_id = {c["id"]: c for c in shown}
    opened = st.selectbox("Open a contract", ids, index=None, key="contracts_open",
                          placeholder="Choose a contract to see its lines",
                          format_func=lambda i: f"{by_id[i]['customer']} — {by_id[i]['name']}")
    if opened is not None:
        contract_detail(opened)


def contract_detail(contract_id: int) -> None:
    with session() as s:
        c = get_contract(s, contract_id)
        lines = [dict(description=ln.description, pricing_model=ln.pricing_model, params=ln.params,
                      metric_code=metric_codes.get(ln.metric_id), fixed_quantity=ln.fixed_quantity, free_units=ln.free_units,
                      cadence=ln.cadence, timing=ln.timing) for ln in contract_lines(s, contract_id)]
        cust = customers.get(c.customer_id, {"name": "?", "external_id": "?"})
        ends = f"until {last_day(c.end_date):%-d %b %Y}" if c.end_date else "open-ended"
        with st.container(border=True):
            st.subheader(c.name)
            st.markdown(f"**{cust['name']}** ({cust['external_id']}) · {c.currency} · from {c.start_date:%-d %b %Y}, "
                        f"{ends} · invoices due {c.payment_terms_days} days after issue · created by "
                        f"{c.created_by or 'unknown'}")
            st.table(cui.line_rows(lines, c.currency, metric_names), hide_index=True)


def builder() -> None:
    if not customers:
        st.info("There are no customers yet. Add the customer first on the **Customers** page, then come back.")
        return
    hg, gen = ss["contracts_hgen"], ss["contracts_gen"]
    st.subheader("1. The contract")
    a, b = st.columns(2)
    with a:
        cust = st.selectbox("Customer", list(customers), index=None, key=f"contracts_customer_{hg}",
                            placeholder="Choose the customer",
                            format_func=lambda i: f"{customers[i]['name']} ({customers[i]['external_id']})")
    with b:
        name = st.text_input("Contract name", key=f"contracts_name_{hg}", placeholder="for example Acme — Growth plan")
    info = customers.get(cust, {"currency": "USD", "payment_terms_days": 30})
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        codes = list(CURRENCIES)
        code = st.selectbox("Currency", codes, key=f"contracts_currency_{hg}_{cust}",
                            index=codes.index(info["currency"]) if info["currency"] in codes else 0)
    with c2:
        start = st.date_input("First day", value=date.today().replace(day=1), key=f"contracts_start_{hg}",
                              format="YYYY-MM-DD")
    with c3:
        last = st.date_input("Last day (optional)", value=None, key=f"contracts_last_{hg}", format="YYYY-MM-DD",
                             help="Leave empty for a contract that runs until it is ended.")
    with c4:
        terms = st.number_input("Payment terms (days)", 0, 365, int(info["payment_terms_days"]), step=1,
                                key=f"contracts_terms_{hg}_{cust}", help="Invoices are due this many days after "
                                                                         "they are issued.")
    lines = ss["contracts_lines"]
    st.subheader(f"2. Lines ({len(lines)})")
    if lines:
        st.table(cui.line_rows(lines, code, metric_names), hide_index=True)
        r1, r2 = st.columns([3, 1], vertical_alignment="bottom")
        with r1:
            drop = st.selectbox("Remove a line", range(len(lines)), key=f"contracts_drop_{gen}", index=None,
                                placeholder="Choose a line to remove",
                                format_func=lambda i: f"{i + 1}. {lines[i]['description']}")
        with r2:
            if st.button("Remove line", disabled=drop is None, key=f"contracts_drop_btn_{gen}"):
                lines.pop(drop)
                ss["contracts_gen"] += 1
                st.rerun()
    else:
        st.caption("No lines yet: describe the first one below and press **Add this line**.")
    with st.expander("Add a line" if not lines else "Add another line", expanded=True, icon=":material/add:"):
        new = cui.line_form(f"contracts_l{gen}", code, metrics, products)
        if new is not None:
            lines.append(new)
            ss["contracts_gen"] += 1
            st.rerun()
    st.subheader("3. Save")
    st.caption("Saving checks the whole contract and lists every problem at once.")
    if st.button("Create contract", type="primary", icon=":material/save:"):
        spec = ContractSpec(customer_external_id=customers[cust]["external_id"] if cust else "", name=name,
                            currency=code, start_date=start, end_date=last + timedelta(days=1) if last else None,
                            payment_terms_days=int(terms), lines=[LineSpec(**ln) for ln in lines])
        with session() as s:
            problems = validate_contract(s, spec)
        if cust is None:
            problems = ["customer: choose the customer this contract is for"] + [
                p for p in problems if not p.startswith("customer:")]
        problems = [p + " (fill in *Add a line* and press **Add this line**)" if p.startswith("lines:") else p
                    for p in problems]
        if problems:
            st.error("The contract was not saved. Fix these, then press **Create contract** again:\n"
                     + "\n".join(f"- {p}" for p in problems), icon=":material/error:")
            return
        saved = run_action(create_contract, me, spec)
        if saved is not None:
            ss["contracts_flash"] = (f"Contract “{saved.name}” for {customers[cust]['name']} was saved with "
                                     f"{len(lines)} line{'s' if len(lines) != 1 else ''}.")
            ss["contracts_lines"] = []
            ss["contracts_hgen"] += 1
            ss["contracts_gen"] += 1
            ss["contracts_goto"] = ("Contracts", saved.id)
            st.rerun()


if me.can("contracts:write"):
    list_tab, new_tab = st.tabs(["Contracts", "New contract"], key="contracts_tab", on_change="rerun")
    with list_tab:
        if list_tab.open:
            contract_list()
    with new_tab:
        if new_tab.open:
            builder()
else:
    contract_list()
