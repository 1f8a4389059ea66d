"""The Overview page: the pilot's numbers as money and counts, and next steps that link to the right page."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from streamlit.testing.v1 import AppTest

ROLES = ("admin", "finance", "ops", "sales", "viewer")
DEMO_OCTOBER_TOTAL = "£588.62 + $16,705.96"
SYMBOLS = {"£": "GBP", "$": "USD"}


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def amounts(shown: str) -> dict[str, Decimal]:
    """'£588.62 + $16,705.96' -> {'GBP': Decimal('588.62'), 'USD': Decimal('16705.96')}."""
    return {SYMBOLS[part[0]]: Decimal(part[1:].replace(",", "")) for part in shown.split(" + ")}


def stored(db_url: str) -> list[dict]:
    """Every invoice as stored (the invoice table itself, not the overview's queries), as plain dicts."""
    from sqlmodel import select

    from core.db import make_engine, session_scope
    from core.models import Invoice

    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            return [inv.model_dump() for inv in s.exec(select(Invoice))]
    finally:
        engine.dispose()


def approved_totals(db_url: str) -> dict[str, Decimal]:
    """The total of every approved invoice, paid since or not, per currency: in the demo, July–September's."""
    sums: dict[str, Decimal] = {}
    for inv in stored(db_url):
        if inv["status"] not in ("draft", "void"):
            sums[inv["currency"]] = sums.get(inv["currency"], Decimal(0)) + inv["total"]
    return sums


def past_due(db_url: str, today: date) -> int:
    """Approved invoices with money still owed whose due date has passed, counted from the stored amounts."""
    return sum(inv["status"] not in ("draft", "void") and inv["due_date"] < today
               and inv["total"] - inv["credits_applied"] - inv["amount_paid"] - inv["amount_credited"]
               - inv["amount_written_off"] > 0 for inv in stored(db_url))


@pytest.mark.parametrize("role", ROLES)
def test_overview_shows_the_pilot_for_every_role(open_page, demo_db, role):
    at = open_page(None, role)  # the Overview is the default page
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Overview"
    assert "turns your contracts and your customers' usage into invoices" in at.caption[0].value
    shown = metrics(at)
    assert shown["Customers"] == "20"
    assert shown["Active contracts"] == "20"
    assert shown["Draft invoices"] == "20"
    assert shown["Waiting for approval"] == DEMO_OCTOBER_TOTAL
    # what the demo approved: July–September's invoices ($18,689.03; the GBP customer's were £0.00, it had no usage
    # then) and any one-off invoice
    approved = approved_totals(demo_db)
    assert approved["USD"] > 0 and amounts(shown["Approved"]) == approved
    # the next steps point at the Invoices page, which every role may open: October's drafts, and the overdue
    steps = " ".join(m.value for m in at.markdown)
    assert "draft invoice" in steps
    overdue = past_due(demo_db, date.today())
    assert overdue > 0 and f"{overdue} approved invoices are past the due date and not fully paid." in steps
    assert any(link.label == "Invoices" for link in at.page_link)


def test_approved_money_moves_from_waiting_to_approved(open_page, demo_db):
    from core.auth import SYSTEM
    from core.db import make_engine, session_scope
    from core.invoicing.service import approve_invoices, list_invoices

    before = amounts(metrics(open_page(None, "viewer"))["Approved"])  # the demo's earlier months, approved
    engine = make_engine(demo_db)
    try:
        with session_scope(engine) as s:
            approve_invoices(s, SYSTEM, [r.id for r in list_invoices(s, status="draft")])
    finally:
        engine.dispose()
    at = open_page(None, "viewer")
    shown = metrics(at)
    assert shown["Draft invoices"] == "0"
    assert shown["Waiting for approval"] == "$0.00"
    after = amounts(shown["Approved"])
    moved = {code: after[code] - before.get(code, Decimal(0)) for code in after}
    assert moved == amounts(DEMO_OCTOBER_TOTAL)  # exactly October's drafts moved over
    assert after == approved_totals(demo_db)


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
    # and the demo's unpaid invoices to chase, counted from the stored amounts: of July–September, 17 are past due
    # on 27 Nov (by hand: Umbrella's and Massive's three, Krusty's two, ten others' September invoice), plus any
    # older one-off the demo adds; as many on 3 Dec (October's, due 1 Dec, are still drafts, never overdue)
    overdue, overdue_later = past_due(demo_db, date(2026, 11, 27)), past_due(demo_db, date(2026, 12, 3))
    assert overdue == overdue_later >= 17
    assert [(st.text, st.page) for st in ov.next_steps()] == [
        ("20 draft invoices for October 2026 are waiting for review and approval.", "invoices"),
        (f"{overdue} approved invoices are past the due date and not fully paid.", "invoices")]
    # in December, November has no usage and no invoices yet, and October's drafts are still open
    texts = [st.text for st in later.next_steps()]
    assert texts == ["No usage has been recorded for November 2026: upload the usage file before generating invoices.",
                     "20 contracts have no invoice for November 2026 yet: generate the drafts.",
                     "20 older draft invoices from other months are still not approved.",
                     f"{overdue_later} approved invoices are past the due date and not fully paid."]
