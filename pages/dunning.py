"""Dunning: the reminders due today (preview, then run), the policies that decide them, and the log of every send.
The rules live in core.receivables.dunning; each tab is a ui.dunning_* panel."""
from __future__ import annotations

import streamlit as st

from ui.dunning_log import log_panel
from ui.dunning_policies import policies_panel
from ui.dunning_run import run_panel
from ui.state import actor, page_header

me = actor()
page_header("Dunning", "Chasing unpaid invoices, politely and on time: each policy sends reminder emails on set days "
            "around an invoice's due date (e.g. 3 days before, then 1, 7, 14 and 30 days after) and can retry the "
            "customer's saved card first. See what would be sent today before sending it; every send is logged. "
            "The emails' wording is on the Email templates page.")

TABS = {"Today": run_panel, "Policies": policies_panel, "Log": log_panel}
for tab, panel in zip(st.tabs(list(TABS), key="dunning_tab", on_change="rerun"), TABS.values()):
    if tab.open:
        with tab:
            panel(me)
