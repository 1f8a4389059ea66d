"""Users: who can sign in, and what their role lets them do."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.auth import (
    MIN_PASSWORD_LENGTH, PERMISSIONS, ROLE_LABELS, ROLES, create_user, disable_totp, list_users, set_active, set_email,
    set_grants, set_role,
)
from core.errors import UserError
from ui.state import actor, page_header, run_action, session

me = actor()
can_write = me.can("users:write")
page_header("Users", "Who can sign in and what each person may do. Give everyone their own account and the "
            "smallest role that fits their work; every change here is written to the audit log.")
st.info("Passwords are stored only as one-way hashes: nobody — not even an admin — can see them, and this page "
        "never shows them.", icon=":material/lock:")
nonce = st.session_state.setdefault("users_form_nonce", 0)
if flash := st.session_state.pop("users_flash", None):
    st.success(flash, icon=":material/check_circle:")

with session() as s:
    records = list_users(s, me)
    users = [(u.username, u.full_name, ROLE_LABELS.get(u.role, u.role), "yes" if u.active else "no",
              u.created_at.strftime("%d %b %Y"), u.role) for u in records]
    extra = {u.username: (sorted(u.grants or []), u.email, bool(u.totp_secret)) for u in records}
st.dataframe(pd.DataFrame([(*u[:3], ", ".join(extra[u[0]][0]) or "—", "on" if extra[u[0]][2] else "off",
                            extra[u[0]][1] or "—", *u[3:5]) for u in users],
                          columns=["Username", "Full name", "Role", "Extra permissions", "Two-factor",
                                   "Company sign-in", "Can sign in", "Added on"]),
             hide_index=True, width="stretch")
with st.expander("What each role may do", icon=":material/badge:"):
    st.markdown("\n".join(f"- **{label.split(' — ')[0]}** — {label.split(' — ', 1)[-1]}"
                          for label in ROLE_LABELS.values()))

if not can_write:
    st.caption("Only an admin can add users or change roles.")
    st.stop()

add, change = st.columns(2, gap="large")
with add:
    st.subheader("Add a user")
    with st.form(f"users_new_{nonce}"):
        username = st.text_input("Username", placeholder="for example jane", help="What they type to sign in.")
        full_name = st.text_input("Full name")
        role = st.selectbox("Role", list(ROLE_LABELS), index=list(ROLE_LABELS).index("viewer"),
                            format_func=ROLE_LABELS.get)
        pw = st.text_input(f"Password (at least {MIN_PASSWORD_LENGTH} characters)", type="password",
                           help="Tell the person in person or by phone; it is not shown again.")
        pw2 = st.text_input("Repeat the password", type="password")
        submitted = st.form_submit_button("Add the user", type="primary")
    if submitted:
        if pw != pw2:
            st.error("The two passwords differ; type the same password twice.", icon=":material/error:")
        else:
            try:
                with session() as s:
                    made = create_user(s, me, username=username, password=pw, role=role, full_name=full_name)
                    made_name = made.username
                st.session_state["users_flash"] = f"User {made_name} added as {ROLE_LABELS[role].split(' — ')[0]}."
                st.session_state["users_form_nonce"] += 1
                st.rerun()
            except UserError as exc:
                st.error(f"The user was not added: {exc}.", icon=":material/error:")

with change:
    st.subheader("Change a role")
    others = [u for u in users if u[0] != me.username]
    if not others:
        st.caption("There is nobody else yet.")
    else:
        with st.form("users_role"):
            now = {u[0]: f"{u[0]} ({u[1] or 'no name'}) — now {u[2].split(' — ')[0]}" for u in others}
            who = st.selectbox("User", list(now), format_func=now.__getitem__)
            new_role = st.selectbox("New role", list(ROLE_LABELS), format_func=ROLE_LABELS.get)
            if st.form_submit_button("Change the role"):
                if run_action(lambda s: set_role(s, me, username=who, role=new_role)):
                    st.session_state["users_flash"] = f"{who} is now {ROLE_LABELS[new_role].split(' — ')[0]}."
                    st.rerun()
        st.caption("You cannot change your own role here — ask another admin, so there is always one left.")

if users:  # the people who can sign in (none yet when the tests bypass sign-in)
    st.divider()
    grants_col, idp_col = st.columns(2, gap="large")
    with grants_col:
        st.subheader("Extra permissions")
        st.caption("Give one person a permission their role does not have — say, invoices:approve for an ops lead — "
                   "instead of a bigger role. They count at once, on every page and in every service.")
        who = st.selectbox("User", [u[0] for u in users], key="users_grants_who")
        role_has = ROLES.get(next(u[5] for u in users if u[0] == who), frozenset())
        options = [p for p in PERMISSIONS if p not in role_has]
        chosen = st.multiselect("Permissions on top of the role", options,
                                default=[g for g in extra[who][0] if g in options], key=f"users_grants_{who}")
        if st.button("Save the permissions", key="users_grants_save"):
            if run_action(lambda s: set_grants(s, me, username=who, grants=chosen)):
                st.session_state["users_flash"] = (f"{who} now has {', '.join(chosen)} on top of the role." if chosen
                                                   else f"{who} has only the role's permissions now.")
                st.rerun()
    with idp_col:
        st.subheader("Company sign-in and two-factor")
        st.caption("When the company's identity provider is set up (OIDC, in .streamlit/secrets.toml), a person signs "
                   "in with it by the address given here. Two-factor sign-in is set up by each person in the sidebar; "
                   "turn it off here for someone who lost their phone.")
        who2 = st.selectbox("User", [u[0] for u in users], key="users_idp_who")
        email = st.text_input("Company email address", value=extra[who2][1], key=f"users_idp_email_{who2}")
        b1, b2 = st.columns(2)
        if b1.button("Save the address", key="users_idp_save"):
            if run_action(lambda s: set_email(s, me, username=who2, email=email)):
                st.session_state["users_flash"] = f"{who2} signs in with the company account {email or '— (none)'}."
                st.rerun()
        if extra[who2][2] and b2.button("Turn two-factor off", key="users_2fa_off"):
            if run_action(lambda s: disable_totp(s, me, username=who2)):
                st.session_state["users_flash"] = f"Two-factor sign-in is off for {who2}."
                st.rerun()

    st.divider()
    st.subheader("Who can sign in")
    st.caption("Deactivate someone who left: they cannot sign in any more and a session they still have open ends "
               "on its next page load. Their name stays on everything they did (invoices, audit log). You cannot "
               "deactivate yourself, nor the last active admin.")
    active = {u[0]: u[3] == "yes" for u in users}
    a1, a2 = st.columns([2, 1], vertical_alignment="bottom")
    who3 = a1.selectbox("User", [u[0] for u in users], key="users_active_who",
                        format_func=lambda u: f"{u} — {'can sign in' if active[u] else 'deactivated'}")
    if active[who3]:
        if a2.button("Deactivate", key="users_deactivate", disabled=who3 == me.username):
            if run_action(lambda s: set_active(s, me, username=who3, active=False)):
                st.session_state["users_flash"] = f"{who3} can no longer sign in."
                st.rerun()
    elif a2.button("Let them sign in again", key="users_activate"):
        if run_action(lambda s: set_active(s, me, username=who3, active=True)):
            st.session_state["users_flash"] = f"{who3} can sign in again."
            st.rerun()
