"""The Finance dashboard and the Revenue & usage reports on the demo pilot (July–October 2026, USD and one GBP
customer): both render for every role with their key figures and charts; the period, the currency and a saved
segment change the numbers; every chart offers its data as Excel (the workbook's contents are checked in
tests/db/test_analytics.py, since AppTest does not expose download payloads). The pages change nothing: there is no
write action to refuse, and no button on them does anything but download."""
from __future__ import annotations

from datetime import date

import pytest

from core.auth import SYSTEM
from core.db import make_engine, session_scope
from core.models import Customer
from core.receivables.segments import create_segment, set_customer_attributes
from sqlmodel import select
from tests.ui.conftest import ROLES, texts

DASH, REPORTS = "pages/analytics.py", "pages/analytics_revenue.py"
PILOT = (date(2026, 7, 1), date(2026, 10, 31))


def _months(at, prefix: str, start: date, end: date) -> None:
    at.selectbox(key=f"{prefix}_preset").select("Custom months").run()
    at.date_input(key=f"{prefix}_dates").set_value((start, end)).run()


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("role", ROLES)
def test_both_pages_render_for_every_role(open_page, role):
    at = open_page(DASH, role=role)
    assert not at.exception
    assert at.title[0].value == "Finance dashboard"
    _months(at, "analytics", *PILOT)
    assert not at.exception
    shown = _metrics(at)
    assert {"ARR", "Outstanding now", "Overdue now", "NRR, trailing 12 months", "GRR, trailing 12 months"} <= set(shown)
    assert len(at.get("plotly_chart")) >= 4
    assert all(b.label.endswith("(.xlsx)") for b in at.get("download_button")) and len(at.get("download_button")) == 4
    at = open_page(REPORTS, role=role)
    assert not at.exception
    _months(at, "revenue", *PILOT)
    assert not at.exception
    assert "Revenue by customer" in texts(at) and len(at.get("plotly_chart")) >= 3
    assert {b.label for b in at.get("download_button")} >= {"Chart data (.xlsx)", "Download the data (.xlsx)"}


def test_the_period_and_the_currency_change_the_figures(open_page):
    at = open_page(DASH, role="finance")
    _months(at, "analytics", *PILOT)
    usd = _metrics(at)
    mrr_label = next(k for k in usd if k.startswith("MRR"))
    # the last month of the period, or the last billing period without drafts left if that is earlier
    assert mrr_label in ("MRR Sep 2026", "MRR Oct 2026") and usd[mrr_label].startswith("$")
    assert "Complete through" in texts(at)
    _months(at, "analytics", date(2026, 7, 1), date(2026, 8, 31))
    aug = _metrics(at)
    assert "MRR Aug 2026" in aug and aug["MRR Aug 2026"] != usd[mrr_label]
    assert aug["Outstanding now"] == usd["Outstanding now"]  # owed today, whatever the period
    at.selectbox(key="analytics_currency").select("GBP").run()
    gbp = _metrics(at)
    assert all(v.startswith("£") for k, v in gbp.items() if k not in ("NRR, trailing 12 months",
                                                                        "GRR, trailing 12 months"))
    assert gbp["Outstanding now"] != usd["Outstanding now"]
    assert [o for o in at.selectbox(key="analytics_currency").options] == ["USD", "GBP"]  # most used first


def test_a_segment_narrows_both_pages(open_page, demo_db):
    engine = make_engine(demo_db)
    try:
        with session_scope(engine) as s:
            first = s.exec(select(Customer).where(Customer.currency == "USD").order_by(Customer.id)).first()
            set_customer_attributes(s, SYSTEM, first.id, {**first.attributes, "watch": "analytics"})
            seg = create_segment(s, SYSTEM, name="Watched by analytics", rules={"groups": [[
                {"field": "attribute", "key": "watch", "op": "eq", "value": "analytics"}]]})
            seg_id, name = seg.id, first.name
    finally:
        engine.dispose()
    at = open_page(REPORTS, role="viewer")
    _months(at, "revenue", *PILOT)
    assert "19 customers had revenue in the period" in texts(at)
    at.selectbox(key="revenue_segment").set_value(seg_id).run()
    assert not at.exception
    assert "1 customer had revenue in the period" in texts(at)
    at = open_page(DASH, role="viewer")
    _months(at, "analytics", *PILOT)
    before = _metrics(at)
    at.selectbox(key="analytics_segment").set_value(seg_id).run()
    after = _metrics(at)
    assert not at.exception
    assert after["ARR"] != before["ARR"] and after["Outstanding now"] != before["Outstanding now"]
    assert name


def test_usage_report_for_one_customer_and_an_unknown_one(open_page):
    at = open_page(REPORTS, role="ops")
    _months(at, "revenue", *PILOT)
    assert "customers have" in texts(at)
    at.text_input(key="revenue_usage_customer").input("NOBODY-123").run()
    assert not at.exception
    assert any("events in this period for customer NOBODY-123" in i.value for i in at.info)
