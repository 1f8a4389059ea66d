"""The signed-in person's own sign-in settings (in the sidebar): two-factor sign-in with an authenticator app."""
from __future__ import annotations

import streamlit as st
from sqlmodel import select

from core.auth import disable_totp, enable_totp, new_totp_secret
from core.models import User
from ui.state import run_action, session


def two_factor_panel(me) -> None:  # noqa: ANN001 - Actor
    with session() as s:
        user = s.exec(select(User).where(User.username == me.username)).first()
        on = bool(user and user.totp_secret)
    if user is None:
        return
    with st.popover("Two-factor sign-in" + (" (on)" if on else ""), icon=":material/phonelink_lock:",
                    use_container_width=True):
        if on:
            st.caption("Signing in asks for the code your authenticator app shows, after your password.")
            if st.button("Turn two-factor sign-in off", key="account_2fa_off"):
                if run_action(disable_totp, me, username=me.username) is not None:
                    st.rerun()
            return
        st.caption("After your password, sign-in will also ask for a 6-digit code from an authenticator app on your "
                   "phone (Google Authenticator, 1Password, Authy…). Add this key to the app, then type the code "
                   "it shows to turn it on.")
        if "account_2fa_secret" not in st.session_state:
            st.session_state["account_2fa_secret"] = new_totp_secret(me.username)
        secret, uri = st.session_state["account_2fa_secret"]
        st.code(" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)), language=None)
        st.caption(f"Or open this setup link on the phone: `{uri}`")
        code = st.text_input("Code from the app", max_chars=8, key="account_2fa_code")
        if st.button("Turn it on", type="primary", key="account_2fa_on"):
            if run_action(enable_totp, me, secret=secret, code=code) is not None:
                st.session_state.pop("account_2fa_secret", None)
                st.toast("Two-factor sign-in is on.", icon=":material/check_circle:")
                st.rerun()
