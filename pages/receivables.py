"""Receivables: what customers owe and how late it is — the aging by bucket per currency, DSO, the aging by
customer and the invoices behind any number, each downloadable. The rules live in core.receivables.aging."""
from __future__ import annotations

from ui.receivables_aging import customers_panel, filters, invoices_panel, totals_panel
from ui.state import actor, page_header

me = actor()
page_header("Receivables", "What customers owe and how late it is. Open invoices (approved or partly paid, with "
            "something still due) are sorted by days past their due date into current, 1–30, 31–60, 61–90 and 90+ "
            "days, per currency — amounts in different currencies are never added together. DSO (days sales "
            "outstanding) tells how many days of sales are waiting to be collected. Choose a bucket and a customer "
            "at the bottom to see the invoices behind a number; every table downloads as Excel or CSV.")
scope = filters()
totals_panel(scope)
listed = customers_panel(scope)
invoices_panel(scope, listed)
