"""The Overview page: the pilot's numbers as money and counts, and next steps that link to the right page."""
from __future__ import annotations

from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

ROLES = ("admin", "finance", "ops", "sales", "viewer")
DEMO_OCTOBER_TOTAL = "£588.62 + $16,605.96"


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("role", ROLES)
def test_overview_shows_the_pilot_for_every_role(open_page, role):
    at = open_page(None, role)  # the Overview is the default page
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Overview"
    assert "turns your contracts and your customers' usage into invoices" in at.caption[0].value
    shown = metrics(at)
    assert shown["Customers"] == "20"
    assert shown["Active contracts"] == "20"
    assert shown["Draft invoices"] == "20"
    assert shown["Waiting for approval"] == DEMO_OCTOBER_TOTAL
    assert shown["Approved"] == "$0.00"
    # the next step points at the Invoices page, which every role may open
    steps = " ".join(m.value for m in at.markdown)
    assert "draft invoice" in steps
    assert any(link.label == "Invoices" for link in at.page_link)


def test_approved_money_moves_from_waiting_to_approved(open_page, demo_db):
    from core.auth import SYSTEM
    from core.db import make_engine, session_scope
    from core.invoicing.service import approve_invoices, list_invoices

    engine = make_engine(demo_db)
    try:
        with session_scope(engine) as s:
            approve_invoices(s, SYSTEM, [r.id for r in list_invoices(s)])
    finally:
        engine.dispose()
    at = open_page(None, "viewer")
    shown = metrics(at)
    assert shown["Draft invoices"] == "0"
    assert shown["Waiting for approval"] == "$0.00"
    assert shown["Approved"] == DEMO_OCTOBER_TOTAL


def test_next_steps_for_the_demo_month(demo_db):
    """On 27 November 2026 the demo's October drafts are the month to approve (date-independent check)."""
    from core.analytics.overview import pilot_overview
    from core.db import make_engine, session_scope

    engine = make_engine(demo_db)
    try:
        with session_scope(engine) as s:
            ov = pilot_overview(s, today=date(2026, 11, 27))
            later = pilot_overview(s, today=date(2026, 12, 3))
    finally:
        engine.dispose()
    assert ov.usage_events > 0 and ov.contracts_not_invoiced == 0
    assert [(st.text, st.page) for st in ov.next_steps()] == [
        ("20 draft invoices for October 2026 are waiting for review and approval.", "invoices")]
    # in December, November has no usage and no invoices yet, and October's drafts are still open
    texts = [st.text for st in later.next_steps()]
    assert texts == ["No usage has been recorded for November 2026: upload the usage file before generating invoices.",
                     "20 contracts have no invoice for November 2026 yet: generate the drafts.",
                     "20 older draft invoices from other months are still not approved."]
