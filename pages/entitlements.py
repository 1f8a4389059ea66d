"""Entitlements: what customers may use — quantities per period, prepaid credit budgets, features — their balances,
history, the usage monitor and the check a product makes. Every rule lives in core.entitlements; each tab is a
ui.entitlements_* panel."""
from __future__ import annotations

from datetime import date

import streamlit as st

from ui.entitlements_check import check_panel
from ui.entitlements_grants import grants_panel
from ui.entitlements_history import history_panel
from ui.entitlements_monitor import monitor_panel, near_input
from ui.ledger_ui import flash
from ui.state import actor, page_header

me = actor()
page_header("Entitlements", "What each customer may use: a quantity per period counted from a billable metric "
            "(100,000 API calls a month), a prepaid credit budget drawn down by approved invoices ($5,000), or a "
            "feature that is on or off (SSO) — granted by hand or with a contract, between two dates. A soft limit "
            "flags a customer who passes it; a hard limit blocks. The monitor lists who is near or past a limit.")
flash("ent")
a, b = st.columns(2)
on = a.date_input("As of", value=date.today(), key="ent_on", format="YYYY-MM-DD",
                  help="Balances, the monitor and checks are computed for this day (normally today).")
b.text_input("Near the limit from (%)", value="80", key="ent_near",
             help="The monitor lists customers who have used at least this share of a limit.")
near = near_input("ent_near")

TABS = {"Grants and balances": grants_panel, "History": history_panel, "Monitor": monitor_panel,
        "Check": check_panel}
for tab, panel in zip(st.tabs(list(TABS), key="ent_tab", on_change="rerun"), TABS.values()):
    if tab.open:  # only the chosen tab's panel runs
        with tab:
            panel(me, on, near)
