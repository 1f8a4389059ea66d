"""The walking pilot's billing path on SQLite and PostgreSQL: metrics -> drafts -> approval."""
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlmodel import select

from core.auth import SYSTEM, Actor
from core.billing.contracts import LineSpec
from core.errors import PermissionDenied, UserError
from core.invoicing.service import (approve_invoice, delete_draft, generate_drafts, invoice_lines, list_invoices,
                                    regenerate_draft)
from core.metering.metrics import aggregate
from core.models import AuditLog, Invoice
from tests.db import factories as f

JAN = dict(period_start=date(2025, 1, 1), period_end=date(2025, 2, 1))
DEC = dict(period_start=date(2024, 12, 1), period_end=date(2025, 1, 1))


def test_metric_aggregations_follow_the_spec_example(session):
    f.seller(session)
    f.customer(session, "C1")
    f.events(session, "C1", "pageview", [10], when=datetime(2025, 1, 5), user="u1")
    f.events(session, "C1", "pageview", [20], when=datetime(2025, 1, 6), user="u1")
    expected = {"count": 2, "sum": 30, "max": 20, "min": 10, "latest": 20, "avg": 15}
    for agg, value in expected.items():
        m = f.metric(session, f"pv_{agg}", "pageview", agg)
        got = aggregate(session, m, datetime(2025, 1, 1), datetime(2025, 2, 1))
        assert got["C1"].quantity == Decimal(value), agg
    uniq = f.metric(session, "pv_users", "pageview", "unique_count", unique_property="user")
    assert aggregate(session, uniq, datetime(2025, 1, 1), datetime(2025, 2, 1))["C1"].quantity == 1


def test_aggregation_is_exact_filters_and_groups(session):
    f.seller(session)
    f.customer(session, "C1")
    f.customer(session, "C2")
    f.events(session, "C1", "xfer", ["0.1"] * 10, region="EU-West")
    f.events(session, "C1", "xfer", ["2500"], region="US-East")
    f.events(session, "C2", "xfer", ["7"], region="EU-West", tier="gold")
    f.events(session, "C2", "xfer", ["99"], when=datetime(2025, 2, 1), region="EU-West")  # next period
    grouped = f.metric(session, "xfer", "xfer", "sum", group_by="region")
    res = aggregate(session, grouped, datetime(2025, 1, 1), datetime(2025, 2, 1))
    assert res["C1"].groups == {"EU-West": Decimal("1"), "US-East": Decimal("2500")}
    assert res["C1"].quantity == Decimal("2501")
    assert res["C2"].quantity == Decimal("7")
    gold = f.metric(session, "gold", "xfer", "sum", filters={"tier": "gold"})
    assert set(aggregate(session, gold, datetime(2025, 1, 1), datetime(2025, 2, 1))) == {"C2"}


def _pilot(session):
    f.seller(session, "NW-")
    f.customer(session, "C1")
    f.metric(session, "calls", "call")
    f.events(session, "C1", "call", [400, 400], when=datetime(2025, 1, 20))
    return f.contract(session, "C1", [
        LineSpec("Platform", "flat_fee", {"amount": "1000"}, timing="advance"),
        LineSpec("API calls", "tiered", f.TIERS, metric_code="calls", free_units="300"),
    ], start=date(2025, 1, 15))


def test_first_advance_invoice_is_prorated_and_dated_at_the_start(session):
    _pilot(session)
    run = generate_drafts(session, SYSTEM, **DEC)  # the run before the first period bills it in advance
    [platform] = invoice_lines(session, run.created[0])
    assert platform.amount == Decimal("548.39")  # 1,000 × 17/31 (spec section 3)
    assert "17/31" in platform.breakdown
    inv = session.get(Invoice, run.created[0])
    assert inv.issue_date == date(2025, 1, 15) and inv.due_date == date(2025, 2, 14)  # net 30


def test_draft_bills_next_period_in_advance_and_usage_after_free_units(session):
    _pilot(session)
    f.events(session, "C1", "call", [1000], when=datetime(2025, 1, 3))  # before the contract started
    run = generate_drafts(session, SYSTEM, **JAN)
    assert len(run.created) == 1
    platform, calls = invoice_lines(session, run.created[0])
    assert platform.amount == Decimal("1000") and platform.period_start == date(2025, 2, 1)  # February, in advance
    assert calls.quantity == Decimal("800")  # the 1,000 before 15 January are outside the contract
    assert calls.amount == Decimal("1000.00")  # 800 − 300 free = 500 × $2 (spec section 2)
    assert "300 free" in calls.breakdown and "$2.00" in calls.breakdown
    inv = session.get(Invoice, run.created[0])
    assert inv.total == Decimal("2000") and inv.status == "draft" and inv.number is None
    assert inv.issue_date == date(2025, 2, 1) and inv.due_date == date(2025, 3, 3)  # issued 1 Feb, net 30


def test_generating_twice_creates_nothing_new(session):
    _pilot(session)
    first = generate_drafts(session, SYSTEM, **JAN)
    second = generate_drafts(session, SYSTEM, **JAN)
    assert len(first.created) == 1 and second.created == [] and second.skipped_existing == 1
    assert len(session.exec(select(Invoice)).all()) == 1


def test_approval_numbers_gaplessly_and_freezes(session):
    _pilot(session)
    f.customer(session, "C2")
    f.contract(session, "C2", [LineSpec("Fee", "flat_fee", {"amount": "10"})])
    ids = generate_drafts(session, SYSTEM, **JAN).created
    numbers = [approve_invoice(session, SYSTEM, i).number for i in ids]
    assert numbers == ["NW-000001", "NW-000002"]
    with pytest.raises(UserError, match="already approved"):
        approve_invoice(session, SYSTEM, ids[0])
    with pytest.raises(UserError, match="only drafts"):
        regenerate_draft(session, SYSTEM, ids[0])
    with pytest.raises(UserError, match="only drafts"):
        delete_draft(session, SYSTEM, ids[0])
    actions = [a.action for a in session.exec(select(AuditLog).where(AuditLog.action == "invoice.approve"))]
    assert len(actions) == 2


def test_regenerate_picks_up_late_usage_and_delete_removes_draft(session):
    _pilot(session)
    inv_id = generate_drafts(session, SYSTEM, **JAN).created[0]
    f.events(session, "C1", "call", [500], when=datetime(2025, 1, 30))
    inv = regenerate_draft(session, SYSTEM, inv_id)
    assert inv.total == Decimal("1000") + Decimal("1000") + Decimal("750")  # 1,000 billed: 500×2 + 500×1.5
    delete_draft(session, SYSTEM, inv_id)
    assert session.get(Invoice, inv_id) is None
    assert len(generate_drafts(session, SYSTEM, **JAN).created) == 1  # the period can be generated again


def test_percent_line_charges_per_transaction_fees(session):
    f.seller(session)
    f.customer(session, "C1")
    f.metric(session, "payments", "payment")
    f.events(session, "C1", "payment", ["10"], when=datetime(2025, 1, 2))
    f.events(session, "C1", "payment", ["5"], when=datetime(2025, 1, 3))
    f.contract(session, "C1", [LineSpec("Processing", "percent",
                                        {"percent": "2.9", "fixed_fee": "0.30", "min_fee": "0.50"},
                                        metric_code="payments")])
    inv_id = generate_drafts(session, SYSTEM, **JAN).created[0]
    assert invoice_lines(session, inv_id)[0].amount == Decimal("1.09")  # $0.59 + $0.50 (spec section 1)


@pytest.mark.parametrize("role", ["viewer", "ops", "sales"])
def test_roles_without_rights_cannot_generate_or_approve(session, role):
    _pilot(session)
    someone = Actor("someone", role)
    with pytest.raises(PermissionDenied):
        generate_drafts(session, someone, **JAN)
    inv_id = generate_drafts(session, SYSTEM, **JAN).created[0]
    with pytest.raises(PermissionDenied):
        approve_invoice(session, someone, inv_id)
    assert session.get(Invoice, inv_id).status == "draft"


def test_contract_validation_names_line_and_problem(session):
    f.seller(session)
    f.customer(session, "C1")
    bad_tiers = {"tiers": [{"up_to": "500", "unit_price": "2"}, {"up_to": "100", "unit_price": "1"},
                           {"up_to": None, "unit_price": "1"}]}
    with pytest.raises(UserError) as err:
        f.contract(session, "C1", [LineSpec("API", "tiered", bad_tiers, metric_code="nope")])
    text = str(err.value)
    assert "line 1 (API)" in text and "tier 2" in text and "no billable metric 'nope'" in text


def test_invoice_list_shows_amount_due_and_overdue(session):
    _pilot(session)
    inv_id = generate_drafts(session, SYSTEM, **JAN).created[0]
    approve_invoice(session, SYSTEM, inv_id)
    [row] = list_invoices(session, today=date(2025, 3, 10))
    assert row.amount_due == Decimal("2000") and row.overdue
    [row] = list_invoices(session, today=date(2025, 3, 1))
    assert not row.overdue


def test_contract_with_an_over_precise_quantity_is_refused_before_saving(session):
    f.seller(session)
    f.customer(session, "C1")
    with pytest.raises(UserError, match=r"line 1 \(Seats\): quantity has more than 6 decimals"):
        f.contract(session, "C1", [LineSpec("Seats", "per_unit", {"unit_price": "1"}, fixed_quantity="1.0000001")])
