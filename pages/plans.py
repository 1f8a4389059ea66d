"""Plans: reusable contract patterns — the list, one plan's lines and terms, and a contract made from a plan for
one customer, with that customer's own prices where they differ from the plan's."""
from __future__ import annotations

from dataclasses import asdict
from datetime import date

import pandas as pd
import streamlit as st

from core.billing.contracts import RENEWAL_POLICIES, create_contract, validate_contract
from core.metering.metrics import list_metrics
from core.plans import contract_from_plan, get_plan, line_from_plan, list_plans
from ui import contract_terms as terms
from ui import contracts_ui as cui
from ui.invoice_preview import preview_panel
from ui.pickers import customer_picker
from ui.state import actor, page_header, run_action, session

me = actor()
ss = st.session_state
ss.setdefault("plans_gen", 0)  # bumped after a contract is made, for fresh widgets

page_header("Plans", "Ready-made contracts: the lines, prices, adjustments and terms you offer again and again. "
            "Open a plan to read it" + (", then make a contract from it for a customer — you can give that customer "
                                        "their own prices." if me.can("contracts:write") else "."))
if flash := ss.pop("plans_flash", None):
    st.success(flash, icon=":material/check_circle:")

with session() as s:
    plans = {p.id: p.model_dump() for p in list_plans(s)}
    metric_names = {m.code: m.name for m in list_metrics(s)}


def _term(p: dict) -> str:
    return f"{p['term_months']} months" if p.get("term_months") else "No fixed term"


if not plans:
    st.info("No plans yet. To make one, open a contract on the **Contracts** page and press **Save as plan**: its "
            "lines, adjustments and terms become a plan you can reuse for other customers.", icon=":material/info:")
    st.stop()

st.dataframe(pd.DataFrame([{"Plan": p["name"], "Currency": p["currency"], "Lines": len(p["lines"]),
                            "Payment terms": f"net {p['payment_terms_days']}", "Term": _term(p),
                            "At the end of the term": RENEWAL_POLICIES.get(p["renewal_policy"], p["renewal_policy"]),
                            "Description": p["description"]} for p in plans.values()]),
             hide_index=True, width="stretch")
opened = st.selectbox("Open a plan", list(plans), index=None, key="plans_open", placeholder="Choose a plan to see "
                      "its lines", format_func=lambda i: plans[i]["name"])
if opened is None:
    st.stop()
plan = plans[opened]
code = plan["currency"]
rows = [{**asdict(line_from_plan(r, start=date.today())), "phase_text": terms.describe_plan_phase(r)}
        for r in plan["lines"]]  # the plan's lines with LineSpec defaults filled in (cadence, timing…)
with st.container(border=True):
    st.subheader(plan["name"])
    if plan["description"]:
        st.caption(plan["description"])
    st.markdown("  \n".join([f"{code} · invoices due {plan['payment_terms_days']} days after issue · {_term(plan)}"
                             + (f" · {RENEWAL_POLICIES[plan['renewal_policy']]}" if plan.get("term_months") else "")]
                            + terms.describe_contract_modifiers(plan["modifiers"] or {}, code)))
    st.table(cui.line_rows(rows, code, metric_names), hide_index=True)
    if any(r.get("phase_text") for r in rows):
        st.caption("Phases count in months from the contract's first day.")

if not me.can("contracts:write"):
    st.stop()

gen = ss["plans_gen"]
st.subheader("Make a contract from this plan")
st.caption("Choose the customer and the first day. Every price starts as the plan's; change the ones this "
           "customer pays differently. The contract remembers the plan it came from.")
a, b, c = st.columns(3)
cust, listed = customer_picker("Customer", key=f"plans_customer_{gen}", container=a,
                               placeholder="Choose the customer")
customers = {i: (c.name, c.external_id) for i, c in listed.items()}
name = b.text_input("Contract name", value=plan["name"], key=f"plans_name_{gen}_{opened}")
start = c.date_input("First day", value=date.today().replace(day=1), key=f"plans_start_{gen}", format="YYYY-MM-DD")
overrides: dict[int, dict] = {}
for i, row in enumerate(plan["lines"]):
    summary = cui.summarise_params(row["pricing_model"], row["params"], code)
    with st.expander(f"Line {i + 1}: {row['description']} — {summary}", icon=":material/sell:"):
        key = f"plans_p{gen}_{opened}_{i}_{row['pricing_model']}"
        params, categories = cui.params_editor(row["pricing_model"], key, row["params"])
        cui.preview(row["pricing_model"], params, code, free_units=row.get("free_units"),
                    fixed_quantity=None if row.get("metric_code") else (row.get("fixed_quantity") or "1"),
                    categories=categories, key=key)
    if params != row["params"]:
        overrides[i] = {"params": params}
if overrides:
    st.info("This customer's own prices: " + "; ".join(
        f"line {i + 1} ({plan['lines'][i]['description']}) "
        f"{cui.summarise_params(plan['lines'][i]['pricing_model'], o['params'], code)} instead of "
        f"{cui.summarise_params(plan['lines'][i]['pricing_model'], plan['lines'][i]['params'], code)}"
        for i, o in overrides.items()), icon=":material/edit:")

with session() as s:
    spec = contract_from_plan(get_plan(s, opened), customer_external_id=customers[cust][1] if cust else "",
                              start_date=start, name=name, overrides=overrides)
st.markdown("**Invoice preview**")
preview_panel(spec, f"plans_pv{gen}_{opened}")
row_ = st.container(horizontal=True)
status = ("draft" if row_.button("Save as draft", icon=":material/save:") else
          "active" if row_.button("Create and activate", type="primary", icon=":material/play_arrow:") else None)
if status:
    spec.status = status
    with session() as s:
        problems = validate_contract(s, spec)
    if cust is None:
        problems = ["customer: choose the customer this contract is for"] + [
            p for p in problems if not p.startswith("customer:")]
    if problems:
        st.error("The contract was not saved. Fix these, then save again:\n" + "\n".join(f"- {p}" for p in problems),
                 icon=":material/error:")
    elif (saved := run_action(create_contract, me, spec)) is not None:
        ss["plans_flash"] = (f"Contract “{saved.name}” for {customers[cust][0]} was saved "
                             + ("as a draft" if status == "draft" else "and is active")
                             + f" from the plan “{plan['name']}”. It is listed on the Contracts page.")
        ss["plans_gen"] += 1
        st.rerun()
