"""Overview: what Counting House is, where the pilot stands, and what to do next."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.analytics.overview import pilot_overview
from core.money import ZERO
from ui.format import money
from ui.state import actor, page_header, session

PAGES = Path(__file__).parent
# Which permission shows each page in the navigation (app.py); a link to a hidden page would fail.
PAGE_PERMISSION = {"customers": "customers:read", "contracts": "contracts:read", "usage": "usage:read",
                   "invoices": "invoices:read", "metrics": "metrics:read", "get_started": "pilot:read"}

me = actor()
page_header("Overview", "Counting House turns your contracts and your customers' usage into invoices you can check "
            "line by line before they go out. Below: where the pilot stands, and what to do next.")

with session() as s:
    ov = pilot_overview(s)


def totals(by_currency: dict) -> str:
    if not by_currency:
        return money(ZERO, "USD")
    return " + ".join(money(v, c) for c, v in sorted(by_currency.items()))


month = ov.period_label
if not (ov.customers or ov.active_contracts or ov.drafts or ov.approved) and me.can("pilot:read"):
    with st.container(border=True):  # an empty database: the guide is the way in
        text, link = st.columns([4, 1], vertical_alignment="center")
        text.markdown("**New here?** The first invoice guide takes you from this empty database to a first approved "
                      "invoice in about five minutes: your company, a product, a customer, a contract, usage, "
                      "the invoice.")
        with link:
            st.page_link(str(PAGES / "get_started.py"), label="Start the guide", icon=":material/school:")
c1, c2, c3 = st.columns(3)
c1.metric("Customers", f"{ov.customers:,}", border=True,
          help="Customers that are not archived.")
c2.metric("Active contracts", f"{ov.active_contracts:,}", border=True,
          help="Contracts running today: started, and not ended.")
c3.metric(f"Usage events in {month}", f"{ov.usage_events:,}", border=True,
          help=f"Usage recorded for {month}, the month the next invoices are for.")
# amounts in several currencies ("£588.62 + $16,705.96") wrap onto a second line instead of being cut off with "…"
st.html("<style>[data-testid='stMetricValue'], [data-testid='stMetricValue'] * {white-space: normal !important; "
        "overflow: visible !important; text-overflow: clip !important; line-height: 1.25}</style>")
c4, c5, c6 = st.columns(3)
c4.metric("Draft invoices", f"{ov.drafts:,}", border=True,
          help="Generated but not approved yet: they can still be regenerated or deleted.")
c5.metric("Waiting for approval", totals(ov.draft_totals), border=True,
          help="The total of all draft invoices.")
c6.metric("Approved", totals(ov.approved_totals), border=True,
          help=f"The total of the {ov.approved:,} approved invoices (including those paid since).")

st.subheader("Next steps")
steps = ov.next_steps()
if not steps:
    st.success(f"Everything for {month} is invoiced and approved. Nothing is waiting for you.",
               icon=":material/task_alt:")
for step in steps:
    with st.container(border=True):
        text, link = st.columns([4, 1], vertical_alignment="center")
        text.markdown(step.text)
        if me.can(PAGE_PERMISSION.get(step.page, "users:write")) and (PAGES / f"{step.page}.py").exists():
            with link:
                st.page_link(str(PAGES / f"{step.page}.py"), label=step.link_label, icon=":material/arrow_forward:")
        else:
            link.caption("Ask a colleague with access to this page.")
