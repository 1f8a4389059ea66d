"""Counting House — the Streamlit entry: page config, sign-in gate, navigation built from the user's role."""
from __future__ import annotations

from pathlib import Path

import streamlit as st
from sqlmodel import select
from streamlit.errors import StreamlitAuthError

from core.auth import (
    ROLE_LABELS, TwoFactorRequired, actor_for, actor_for_identity, authenticate, complete_two_factor,
    create_first_admin, has_users,
)
from core.errors import UserError
from core.models import User
from core.portal import PORTAL_PATH
from core.portal_links import PAGE_PATH as PAY_PATH
from ui.account import two_factor_panel
from ui.state import main_session, public_page, session
from ui.workspace import sidebar as workspace_sidebar

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


def _oidc_configured() -> bool:
    """Sign-in with the company's identity provider: Streamlit's OIDC login, set up in .streamlit/secrets.toml
    ([auth] with redirect_uri, cookie_secret, client_id, client_secret, server_metadata_url)."""
    try:
        return bool(st.secrets.get("auth", {}).get("client_id"))
    except Exception:  # noqa: BLE001 - no secrets file at all
        return False


def _identity_provider_actor():  # noqa: ANN202 - Actor | None
    """The user the company's identity provider signed in (Streamlit's identity cookie: st.user), or None with the
    reason kept for the sign-in page. The cookie of someone refused stays until they pick another account:
    st.logout() here would start a new browser session at once, and the reason would be lost with the old one."""
    try:
        with main_session() as s:
            actor = actor_for_identity(s, st.user.get("email"), email_verified=st.user.get("email_verified"))
    except UserError as exc:
        st.session_state["oidc_refused"] = str(exc)
        return None
    st.session_state.pop("oidc_refused", None)
    st.session_state["actor"] = actor
    return actor


def _company_account() -> None:
    """Under the password form: the way to the company's identity provider — or, when it signed in someone who may
    not use Counting House, the reason and the way to another account."""
    if refused := st.session_state.get("oidc_refused"):
        st.error(refused, icon=":material/block:")
        if st.button("Use another company account", icon=":material/switch_account:", use_container_width=True,
                     key="sign_in_oidc_other"):
            st.session_state.pop("oidc_refused", None)
            st.logout()  # the identity cookie goes (and the provider's session); a fresh sign-in page follows
    elif st.button("Sign in with your company account", icon=":material/badge:", use_container_width=True,
                   key="sign_in_oidc"):
        try:
            st.login()
        except StreamlitAuthError as exc:  # [auth] incomplete, or Authlib missing: say what to fix, no traceback
            st.error(f"Sign-in with the company account is not set up correctly: {exc} An admin fixes the [auth] "
                     "section of .streamlit/secrets.toml (see the README).")


def _signed_in(actor) -> None:  # noqa: ANN001 - Actor
    for key in ("login_error", "login_challenge"):
        st.session_state.pop(key, None)
    st.session_state["actor"] = actor
    st.rerun()


def sign_in() -> None:
    left, mid, right = st.columns([1, 2, 1])
    with mid:
        st.title(":material/account_balance: Counting House")
        st.caption("Billing back office — sign in to continue.")
        if challenge := st.session_state.get("login_challenge"):
            # second step: the password was right, the account uses two-factor sign-in
            with st.form("sign_in_code"):
                code = st.text_input("Code from your authenticator app", max_chars=8, placeholder="123456",
                                     help="The 6-digit code your app shows for Counting House now.")
                go, back = st.columns(2)
                if go.form_submit_button("Sign in", type="primary", use_container_width=True):
                    actor = None
                    try:
                        with session() as s:
                            try:
                                actor = complete_two_factor(s, challenge=challenge, code=code)
                            except UserError as exc:
                                st.session_state["login_error"] = str(exc)  # commit the failed-attempt count
                    except UserError as exc:
                        st.session_state["login_error"] = str(exc)
                    if actor:
                        _signed_in(actor)
                if back.form_submit_button("Start again", use_container_width=True):
                    st.session_state.pop("login_challenge", None)
                    st.session_state.pop("login_error", None)
                    st.rerun()
        else:
            with st.form("sign_in"):
                username = st.text_input("Username")
                pw = st.text_input("Password", type="password")
                if st.form_submit_button("Sign in", type="primary", use_container_width=True):
                    actor = None
                    try:
                        with session() as s:
                            try:
                                actor = authenticate(s, username=username, password=pw)
                            except TwoFactorRequired as exc:
                                st.session_state["login_challenge"] = exc.challenge
                                st.session_state.pop("login_error", None)
                            except UserError as exc:
                                st.session_state["login_error"] = str(exc)  # commit the failed-attempt count
                    except UserError as exc:
                        st.session_state["login_error"] = str(exc)
                    if actor:
                        _signed_in(actor)
                    elif "login_challenge" in st.session_state:
                        st.rerun()
            if _oidc_configured():
                _company_account()
        if err := st.session_state.get("login_error"):
            st.error(err)


# (section, page file, title, Material icon, the permission that shows it)
PAGES = [
    ("Pilot", "pilot_home", "Pilot plan", "flag", "pilot:read"),
    ("Pilot", "pilot", "Pilot reconciliation", "compare_arrows", "invoices:read"),
    ("Pilot", "get_started", "First invoice guide", "school", "pilot:read"),
    ("Billing", "customers", "Customers", "group", "customers:read"),
    ("Billing", "contracts", "Contracts", "contract", "contracts:read"),
    ("Billing", "usage", "Usage", "monitoring", "usage:read"),
    ("Billing", "invoices", "Invoices", "receipt_long", "invoices:read"),
    ("Billing", "plans", "Plans", "bookmarks", "catalog:read"),
    ("Billing", "payments", "Payments", "payments", "invoices:read"),
    ("Billing", "entitlements", "Entitlements", "verified", "entitlements:read"),
    ("Receivables", "receivables", "Receivables & aging", "hourglass_bottom", "receivables:read"),
    ("Receivables", "segments", "Segments", "filter_alt", "receivables:read"),
    ("Receivables", "dunning", "Dunning", "campaign", "receivables:read"),
    ("Receivables", "email_templates", "Email templates", "mail", "receivables:read"),
    ("Analytics", "analytics", "Finance dashboard", "insights", "analytics:read"),
    ("Analytics", "analytics_revenue", "Revenue & usage reports", "bar_chart", "analytics:read"),
    ("Accounting", "ledger", "Accounting", "account_balance_wallet", "accounting:read"),
    ("Accounting", "accounting_reports", "Financial reports", "finance", "accounting:read"),
    ("Setup", "products", "Products", "inventory_2", "catalog:read"),
    ("Setup", "metrics", "Billable metrics", "functions", "metrics:read"),
    ("Setup", "alerts", "Usage alerts", "notifications", "metrics:read"),
    ("Setup", "sources", "Data sources", "database", "usage:read"),
    ("Setup", "documents", "Documents & email", "description", "invoices:read"),
    ("Setup", "settings", "Settings", "percent", "catalog:write"),
    ("Setup", "users", "Users", "manage_accounts", "users:read"),
    ("Setup", "webhooks", "Webhooks", "webhook", "webhooks:read"),
    ("Setup", "api_keys", "API keys", "key", "users:write"),
    ("Setup", "audit", "Audit log", "history", "audit:read"),
]


def page(name: str, title: str, icon: str, **kw):  # noqa: ANN201 - st.Page
    return st.Page(str(HERE / "pages" / f"{name}.py"), title=title, icon=f":material/{icon}:", **kw)


def pay_page():  # noqa: ANN201 - st.Page
    """The public page an invoice's payment link opens (/pay?token=…, core.portal_links): no sign-in needed, and
    it shows nothing but that invoice — or, for a bad or expired token, a message."""
    return page("pay", "Pay an invoice", "credit_card", url_path=PAY_PATH, visibility="hidden")


def portal_page():  # noqa: ANN201 - st.Page
    """The customer portal a portal link opens (/portal?token=…, core.portal): public like the pay page; it shows
    one customer's account — or, for a bad or expired token, a message."""
    return page("portal", "Billing portal", "storefront", url_path=PORTAL_PATH, visibility="hidden")


def navigation(actor) -> None:
    sections: dict[str, list] = {"Pilot": [page("home", "Overview", "dashboard", default=True)], "Analytics": [],
                                 "Billing": [], "Receivables": [], "Accounting": [], "Setup": []}
    for section, name, title, icon, permission in PAGES:
        if actor.can(permission):  # a page the role may not use is not in the navigation at all
            sections[section].append(page(name, title, icon))
    sections["Billing"] += [pay_page(), portal_page()]  # the public links work when signed in too (not listed)
    nav = st.navigation({k: v for k, v in sections.items() if v}, expanded=True)  # every page in view
    workspace_sidebar(actor)  # a demo workspace: its banner and the way back; otherwise the demo loader
    with st.sidebar:
        st.markdown(f"**{actor.username}**  \n{ROLE_LABELS.get(actor.role, actor.role)}"
                    + (f"  \n+ {', '.join(sorted(actor.grants))}" if actor.grants else ""))
        two_factor_panel(actor)
        if st.button("Sign out", icon=":material/logout:"):
            st.session_state.clear()
            if _oidc_configured() and getattr(st.user, "is_logged_in", False):
                st.logout()  # its redirect ends the identity cookie; a rerun would drop the redirect before it is sent
                st.stop()
            st.rerun()
    nav.run()


def signed_out_gate() -> None:
    public_page()
    with session() as s:
        users_exist = has_users(s)
    if users_exist:
        sign_in()
    else:
        first_start()


actor = st.session_state.get("actor")
if actor is None and _oidc_configured() and getattr(st.user, "is_logged_in", False):
    actor = _identity_provider_actor()  # signed in by the identity provider: the user with that (verified) address
elif actor is not None:
    # the role and extra permissions as they are now (an admin's change counts at once); a deactivated user is
    # signed out. (A user not in the database at all is an actor made by the tests, which bypass sign-in.) Read from
    # the main database even in a demo workspace (core.workspaces): accounts live there only.
    with main_session() as s:
        fresh = actor_for(s, actor.username)
        known = fresh is not None or s.exec(select(User.id).where(User.username == actor.username)).first() is None
    if not known:
        st.session_state.clear()
        actor = None
    elif fresh is not None and fresh != actor:
        st.session_state["actor"] = actor = fresh
if actor is None:
    # Always route through st.navigation: without it Streamlit would list every file in pages/ to a visitor
    # who has not signed in.
    # The pay page (an invoice's payment link, /pay?token=…) and the customer portal (/portal?token=…) are the
    # pages open without signing in.
    st.navigation([st.Page(signed_out_gate, title="Sign in", icon=":material/login:", default=True),
                   pay_page(), portal_page()],
                  position="hidden").run()
else:
    navigation(actor)
