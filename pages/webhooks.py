"""Webhooks: tell your other systems the moment something happens in billing (an invoice approved, a payment
received…). Every rule lives in core.webhooks; each tab is a ui.webhooks_* panel."""
from __future__ import annotations

import streamlit as st

from ui.webhooks_docs import docs_panel
from ui.webhooks_endpoints import endpoints_panel
from ui.webhooks_log import log_panel
from ui.webhooks_ui import flash
from ui.state import actor, page_header

me = actor()
st.session_state.setdefault("webhooks_v", 0)  # bumped after every change: the forms are drawn afresh
page_header("Webhooks", "Counting House posts a signed JSON event to your endpoints when a customer, contract, "
            "invoice, payment or credit note changes, or a usage alert fires — so your CRM, ERP or product can react "
            "at once instead of polling. Add an endpoint, choose its events, and check every delivery in the log. "
            "Events are sent in the background and retried with growing pauses when your endpoint fails.")
flash()

TABS = {"Endpoints": endpoints_panel, "Delivery log": log_panel, "Verifying signatures": docs_panel}
for tab, panel in zip(st.tabs(list(TABS), key="webhooks_tab", on_change="rerun"), TABS.values()):
    if tab.open:  # only the chosen tab's panel runs
        with tab:
            panel(me)
