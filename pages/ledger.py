"""Accounting: the journal (find, reverse, post by hand), the chart of accounts, revenue recognition, closing the
books, and the journal export to the ERP. Every rule lives in core.ledger; each tab is a ui.ledger_* panel."""
from __future__ import annotations

import streamlit as st

from ui.ledger_chart import chart_panel
from ui.ledger_close import close_panel
from ui.ledger_erp import erp_panel
from ui.ledger_journal import journal_panel
from ui.ledger_recognition import recognition_panel
from ui.ledger_ui import flash
from ui.state import actor, page_header

me = actor()
st.session_state.setdefault("ledger_v", 0)  # bumped after every change: the forms are drawn afresh
page_header("Accounting", "The general ledger behind your invoices: every invoice, payment, credit note and "
            "revenue recognition posts a balanced journal entry by itself. Here you read the journal, post and "
            "reverse entries by hand, keep the chart of accounts, run revenue recognition, close the books for a "
            "period and export the journal to your accounting system.")
flash("ledger")

TABS = {"Journal": journal_panel, "Chart of accounts": chart_panel, "Revenue recognition": recognition_panel,
        "Close books": close_panel, "ERP export": erp_panel}
for tab, panel in zip(st.tabs(list(TABS), key="ledger_tab", on_change="rerun"), TABS.values()):
    if tab.open:  # only the chosen tab's panel runs
        with tab:
            panel(me)
