"""Products: the catalog contract lines sell — with sub-products and add-ons under their parent, the unit,
time- or usage-based, and how revenue is recognised and booked."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.catalog import KINDS, RECOGNITION_METHODS, REVENUE_POLICIES, create_product, product_tree
from core.ledger.accounts import accounts
from ui.state import actor, page_header, run_action, session

me = actor()
page_header("Products", "What you sell. Contract lines point at a product, so invoices group add-ons and "
            "sub-products under their parent, and accounting knows how to recognise and book the revenue.")

with session() as s:
    tree = [(p.id, p.sku, p.name, p.unit_name, p.kind, p.is_addon, p.revenue_policy, p.gl_account, depth)
            for p, depth in product_tree(s)]
    chart_ = accounts(s, include_inactive=False)
    headers = {a.parent_id for a in chart_ if a.parent_id}  # accounts with sub-accounts take no postings
    income = {a.code: f"{a.code} {a.name}" for a in chart_ if a.kind == "income" and a.id not in headers}
parents = {sku: name for _, sku, name, *_rest, depth in tree if depth == 0}

st.dataframe(pd.DataFrame([{
    "SKU": sku, "Product": ("    ↳ " if depth else "") + name,
    "Type": "Add-on" if addon else ("Sub-product" if depth else KINDS[kind].split(" (")[0]),
    "Unit": unit, "Revenue": REVENUE_POLICIES.get(policy, policy),
    "Revenue account": income.get(gl, gl) if gl else "default (Sales and Services Revenue)"}
    for _, sku, name, unit, kind, addon, policy, gl, depth in tree]), hide_index=True, width="stretch")

if me.can("catalog:write"):
    with st.expander("Add a product", icon=":material/add:"), st.form("products_add", clear_on_submit=True):
        a, b = st.columns(2)
        sku = a.text_input("SKU", placeholder="for example API-CALLS", help="A short code; letters, digits, - or _.")
        name = b.text_input("Name (printed on invoices)", placeholder="for example API requests")
        c, d = st.columns(2)
        kind = c.selectbox("Type", list(KINDS), format_func=KINDS.__getitem__)
        unit = d.text_input("Unit", value="unit", help="What one unit is: request, GB, seat, month…")
        e, g = st.columns(2)
        parent = e.selectbox("Parent product (optional)", [""] + list(parents),
                             format_func=lambda k: parents.get(k, "— none: a product of its own —"))
        addon = g.checkbox("Sold as an add-on to the parent", help="Add-ons are shown indented under the parent.")
        h, i = st.columns(2)
        policy = h.selectbox("Revenue recognition", list(REVENUE_POLICIES), format_func=REVENUE_POLICIES.__getitem__)
        gl = i.selectbox("Revenue account", [""] + list(income),
                         format_func=lambda k: income.get(k, "Default: Sales and Services Revenue"),
                         help="Income accounts of the chart (Accounting page). Where this product's revenue is booked.")
        method = st.radio("Deferred revenue is spread", list(RECOGNITION_METHODS), horizontal=True,
                          format_func=RECOGNITION_METHODS.__getitem__,
                          help="Only for deferred products: by days gives each month its share of the days; by "
                               "month gives whole months equal amounts. The last period takes the rounding.")
        if st.form_submit_button("Add product", type="primary"):
            if run_action(create_product, me, sku=sku, name=name, unit_name=unit, kind=kind, parent_sku=parent or None,
                          is_addon=addon, revenue_policy=policy, gl_account=gl, recognition_method=method,
                          success=f"Product {sku} added"):
                st.rerun()
