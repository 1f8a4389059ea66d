"""The staff side of the customer portal: make a portal link for one customer (core.portal.create_link)."""
from __future__ import annotations

import streamlit as st

from core.portal import DEFAULT_DAYS, MAX_DAYS, create_link
from ui.state import run_action


def panel(customer_id: int, me) -> None:  # noqa: ANN001 - Actor
    """A popover that makes the link and shows it once (it is not stored: make a new one when it is lost)."""
    if not me.can("customers:write"):
        return
    with st.popover("Customer portal link", icon=":material/storefront:"):
        st.caption("A link the customer opens without an account here: its invoices (PDF, pay what is due), "
                   "payments, credit notes, usage and contracts, and a form to correct its billing details. Anyone "
                   "holding the link sees this customer's account until it expires — send it to the customer only.")
        days = st.number_input("Valid for (days)", 1, MAX_DAYS, DEFAULT_DAYS, step=1, key=f"portal_days_{customer_id}")
        if st.button("Make the link", key=f"portal_make_{customer_id}", type="primary"):
            link = run_action(create_link, me, customer_id, days=int(days))
            if link is not None:
                st.session_state[f"portal_link_{customer_id}"] = (link.url or link.token, link.expires)
        if made := st.session_state.get(f"portal_link_{customer_id}"):
            url, expires = made
            st.code(url, language=None, wrap_lines=True)
            st.caption(f"Works until {expires:%-d %b %Y %H:%M} UTC. Copy it now: it is not shown again.")
