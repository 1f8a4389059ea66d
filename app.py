"""Counting House — the Streamlit entry: page config, sign-in gate, navigation built from the user's role."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.auth import ROLE_LABELS, authenticate, create_first_admin, has_users
from core.errors import UserError
from core.portal_links import PAGE_PATH as PAY_PATH
from ui.state import session

HERE = Path(__file__).parent
st.set_page_config(page_title="Counting House", page_icon=":material/account_balance:", layout="wide")


def first_start() -> None:
    st.title("Welcome to Counting House")
    st.write("This is a new installation. Create the first administrator — there is no default password. "
             "The admin can then add colleagues with their own roles on the **Users** page.")
    with st.form("first_admin"):
        username = st.text_input("Username", placeholder="for example jane")
        full_name = st.text_input("Full name")
        pw = st.text_input("Password (at least 10 characters)", type="password")
        pw2 = st.text_input("Repeat the password", type="password")
        if st.form_submit_button("Create the admin", type="primary"):
            if pw != pw2:
                st.error("The two passwords differ; type the same password twice.")
            else:
                try:
                    with session() as s:
                        create_first_admin(s, username=username, password=pw, full_name=full_name)
                        actor = authenticate(s, username=username, password=pw)
                    st.session_state["actor"] = actor
                    st.rerun()
                except UserError as exc:
                    st.error(str(exc))


def sign_in() -> None:
    left, mid, right = st.columns([1, 2, 1])
    with mid:
        st.title(":material/account_balance: Counting House")
        st.caption("Billing back office — sign in to continue.")
        with st.form("sign_in"):
            username = st.text_input("Username")
            pw = st.text_input("Password", type="password")
            if st.form_submit_button("Sign in", type="primary", use_container_width=True):
                try:
                    with session() as s:
                        try:
                            actor = authenticate(s, username=username, password=pw)
                        except UserError as exc:
                            st.session_state["login_error"] = str(exc)
                            actor = None  # commit the failed-attempt count
                    if actor:
                        st.session_state.pop("login_error", None)
                        st.session_state["actor"] = actor
                        st.rerun()
                except UserError as exc:
                    st.session_state["login_error"] = str(exc)
        if err := st.session_state.get("login_error"):
            st.error(err)


# (section, page file, title, Material icon, the permission that shows it)
PAGES = [
    ("Pilot", "pilot", "Pilot reconciliation", "compare_arrows", "invoices:read"),
    ("Billing", "customers", "Customers", "group", "customers:read"),
    ("Billing", "contracts", "Contracts", "contract", "contracts:read"),
    ("Billing", "usage", "Usage", "monitoring", "usage:read"),
    ("Billing", "invoices", "Invoices", "receipt_long", "invoices:read"),
    ("Billing", "plans", "Plans", "bookmarks", "catalog:read"),
    ("Billing", "payments", "Payments", "payments", "invoices:read"),
    ("Accounting", "ledger", "Accounting", "account_balance_wallet", "accounting:read"),
    ("Accounting", "accounting_reports", "Financial reports", "finance", "accounting:read"),
    ("Setup", "products", "Products", "inventory_2", "catalog:read"),
    ("Setup", "metrics", "Billable metrics", "functions", "metrics:read"),
    ("Setup", "alerts", "Usage alerts", "notifications", "metrics:read"),
    ("Setup", "sources", "Data sources", "database", "usage:read"),
    ("Setup", "documents", "Documents & email", "description", "invoices:read"),
    ("Setup", "settings", "Settings", "percent", "catalog:write"),
    ("Setup", "users", "Users", "manage_accounts", "users:read"),
    ("Setup", "api_keys", "API keys", "key", "users:write"),
    ("Setup", "audit", "Audit log", "history", "audit:read"),
]


def page(name: str, title: str, icon: str, **kw):  # noqa: ANN201 - st.Page
    return st.Page(str(HERE / "pages" / f"{name}.py"), title=title, icon=f":material/{icon}:", **kw)


def pay_page():  # noqa: ANN201 - st.Page
    """The public page an invoice's payment link opens (/pay?token=…, core.portal_links): no sign-in needed, and
    it shows nothing but that invoice — or, for a bad or expired token, a message."""
    return page("pay", "Pay an invoice", "credit_card", url_path=PAY_PATH, visibility="hidden")


def navigation(actor) -> None:
    sections: dict[str, list] = {"Pilot": [page("home", "Overview", "dashboard", default=True)], "Billing": [],
                                 "Accounting": [], "Setup": []}
    for section, name, title, icon, permission in PAGES:
        if actor.can(permission):  # a page the role may not use is not in the navigation at all
            sections[section].append(page(name, title, icon))
    sections["Billing"].append(pay_page())  # an invoice's payment link works when signed in too (not listed)
    nav = st.navigation({k: v for k, v in sections.items() if v}, expanded=True)  # every page in view
    with st.sidebar:
        st.markdown(f"**{actor.username}**  \n{ROLE_LABELS.get(actor.role, actor.role)}")
        if st.button("Sign out", icon=":material/logout:"):
            st.session_state.clear()
            st.rerun()
    nav.run()


def signed_out_gate() -> None:
    with session() as s:
        users_exist = has_users(s)
    if users_exist:
        sign_in()
    else:
        first_start()


actor = st.session_state.get("actor")
if actor is None:
    # Always route through st.navigation: without it Streamlit would list every file in pages/ to a visitor
    # who has not signed in.
    # The pay page (an invoice's payment link, /pay?token=…) is the one page open without signing in.
    st.navigation([st.Page(signed_out_gate, title="Sign in", icon=":material/login:", default=True),
                   pay_page()],
                  position="hidden").run()
else:
    navigation(actor)
