"""The Chart of accounts tab: the hierarchy, adding and changing accounts, and which income account each
product's revenue goes to."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.catalog import product_tree
from core.ledger.accounts import KINDS, create_account, set_product_account, update_account
from core.ledger.views import account_tree
from ui.ledger_ui import done
from ui.state import run_action, session

P = "ledger"
INDENT = "\u2003\u2003"  # em spaces: a dataframe keeps them


def chart_panel(me) -> None:  # noqa: ANN001 - Actor
    st.caption("The accounts the ledger posts to, grouped under Assets, Liabilities, Equity, Income and Expenses. "
               "Accounts marked “automatic” are the ones invoices, payments and recognition post to: they can be "
               "renamed and renumbered, not deactivated. An account with sub-accounts is a heading and takes no "
               "postings of its own.")
    with session() as s:
        tree = account_tree(s)
        products = product_tree(s)
    by_code: dict[str, list[str]] = {}
    for p, _ in products:
        if p.gl_account:
            by_code.setdefault(p.gl_account, []).append(p.name)
    headers = {a.parent_id for a, _ in tree if a.parent_id}
    st.dataframe(pd.DataFrame([{
        "Code": a.code, "Account": INDENT * depth + a.name, "Type": KINDS.get(a.kind, a.kind),
        "Use": "heading" if a.id in headers else ("automatic" if a.system_key else "custom"),
        "Status": "Active" if a.active else "Inactive", "Products booked here": ", ".join(by_code.get(a.code, []))}
        for a, depth in tree]), hide_index=True, width="stretch", height=35 * (len(tree) + 1) + 3)
    if not me.can("accounting:write"):
        st.caption("Your role can read the chart; changing it is for Finance.")
        return
    accounts = {a.id: a for a, _ in tree}
    label = {i: f"{a.code} {a.name}" for i, a in accounts.items()}
    v = st.session_state.get(f"{P}_v", 0)
    left, right = st.columns(2)
    with left.container(border=True):
        st.markdown("**Add an account**")
        with st.form(f"{P}_add_{v}"):
            a, b = st.columns([1, 2])
            code = a.text_input("Code", placeholder="4110", key=f"{P}_add_code_{v}")
            name = b.text_input("Name", placeholder="Subscription revenue", key=f"{P}_add_name_{v}")
            c, d = st.columns(2)
            kind = c.selectbox("Type", list(KINDS), format_func=KINDS.get, index=list(KINDS).index("income"),
                               key=f"{P}_add_kind_{v}")
            parent = d.selectbox("Under (optional)", [None, *accounts], key=f"{P}_add_parent_{v}",
                                 format_func=lambda i: "— top level —" if i is None else label[i],
                                 help="A sub-account has its parent's type.")
            if st.form_submit_button("Add the account", type="primary"):
                acc = run_action(create_account, me, code=code, name=name, kind=kind, parent_id=parent)
                if acc is not None:
                    done(P, f"Account {acc.code} {acc.name} added.")
    with right.container(border=True):
        st.markdown("**Change an account**")
        chosen = st.selectbox("Account", list(accounts), index=None, format_func=label.get,
                              key=f"{P}_edit_pick_{v}", placeholder="Choose the account to rename, renumber or move")
        if chosen is not None:
            acc = accounts[chosen]
            with st.form(f"{P}_edit_{chosen}_{v}"):
                a, b = st.columns([1, 2])
                new_code = a.text_input("Code", value=acc.code)
                new_name = b.text_input("Name", value=acc.name)
                options = [None, *[i for i, x in accounts.items() if x.kind == acc.kind and i != acc.id]]
                parent = st.selectbox("Under", options, index=options.index(acc.parent_id)
                                      if acc.parent_id in options else 0,
                                      format_func=lambda i: "— top level —" if i is None else label[i])
                active = st.checkbox("Active (takes postings)", value=acc.active, disabled=bool(acc.system_key),
                                     help="Automatic accounts stay active." if acc.system_key else
                                     "An inactive account keeps its history but takes no new postings.")
                if st.form_submit_button("Save the account", type="primary"):
                    saved = run_action(update_account, me, acc.id, code=new_code, name=new_name, parent_id=parent,
                                       active=None if acc.system_key else active)
                    if saved is not None:
                        done(P, f"Account {saved.code} {saved.name} saved.")
    product_accounts(me, products, tree, headers)


def _save_product_accounts(s, me, changes: dict[int, str]) -> int:  # noqa: ANN001
    for product_id, code in changes.items():
        set_product_account(s, me, product_id, code)
    return len(changes)


def product_accounts(me, products, tree, headers) -> None:  # noqa: ANN001
    st.subheader("Revenue account per product")
    st.caption("Where each product's revenue is booked. Leave it on the default to use Sales and Services Revenue. "
               "Only active income accounts without sub-accounts can take revenue.")
    income = {a.code: f"{a.code} {a.name}" for a, _ in tree if a.kind == "income" and a.active and a.id not in headers}
    default = "Default: Sales and Services Revenue"
    options = [default, *income.values()]
    every = {a.code: f"{a.code} {a.name}" for a, _ in tree}
    current = {p.id: (income.get(p.gl_account) or f"{every.get(p.gl_account, p.gl_account)} — cannot take revenue, "
                      "choose another" if p.gl_account else default) for p, _ in products}
    if not products:
        st.info("No products yet: add them on the Products page.", icon=":material/info:")
        return
    v = st.session_state.get(f"{P}_v", 0)
    frame = pd.DataFrame({"SKU": [p.sku for p, _ in products], "Product": [p.name for p, _ in products],
                          "Revenue account": [current[p.id] for p, _ in products]})
    column = st.column_config.SelectboxColumn(options=sorted(set(options) | set(current.values())), required=True)
    edited = st.data_editor(frame, hide_index=True, width="stretch", disabled=["SKU", "Product"],
                            key=f"{P}_prod_{v}", height=35 * (len(frame) + 1) + 3,
                            column_config={"Revenue account": column})
    by_label = {lbl: code for code, lbl in income.items()}
    changes = {}
    for (p, _), value in zip(products, edited["Revenue account"]):
        if value != current[p.id]:
            changes[p.id] = "" if value == default else by_label.get(value, value)
    if st.button(f"Save {len(changes)} change{'s' if len(changes) != 1 else ''}" if changes else "Save",
                 type="primary", key=f"{P}_prod_save_{v}", disabled=not changes):
        n = run_action(_save_product_accounts, me, changes)
        if n:
            done(P, f"Revenue account changed for {n} product{'s' if n != 1 else ''}.")
