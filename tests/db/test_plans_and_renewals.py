"""Plans as reusable patterns, drafts and activation, and the renewal job."""
from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import select

from core.auth import SYSTEM
from core.billing.contracts import LineSpec, activate_contract, contract_lines
from core.billing.renewals import renew_due_contracts
from core.errors import UserError
from core.models import AuditLog, Contract
from core.plans import PlanSpec, contract_from_plan, create_plan
from core.billing.contracts import create_contract
from tests.db import factories as f

GROWTH = PlanSpec(name="Growth", currency="USD", term_months=12, renewal_policy="list_prices", lines=[
    {"description": "Trial", "pricing_model": "flat_fee", "params": {"amount": "0"}, "timing": "advance",
     "end_offset_months": 3, "phase": "Trial"},
    {"description": "Platform", "pricing_model": "flat_fee", "params": {"amount": "500"}, "timing": "advance",
     "start_offset_months": 3},
    {"description": "API calls", "pricing_model": "tiered", "params": f.TIERS, "metric_code": "calls",
     "free_units": "1000"},
])


def _setup(session):
    f.seller(session)
    f.customer(session, "C1")
    f.metric(session, "calls", "call")
    return create_plan(session, SYSTEM, GROWTH)


def test_contract_from_plan_inherits_and_overrides_and_remembers(session):
    plan = _setup(session)
    spec = contract_from_plan(plan, customer_external_id="C1", start_date=date(2026, 1, 1),
                              overrides={1: {"params": {"amount": "450"}}})
    contract = create_contract(session, SYSTEM, spec)
    lines = contract_lines(session, contract.id)
    assert contract.plan_id == plan.id and contract.end_date == date(2027, 1, 1)
    assert [ln.description for ln in lines] == ["Trial", "Platform", "API calls"]
    assert lines[0].end_date == date(2026, 4, 1) and lines[0].phase == "Trial"
    assert lines[1].start_date == date(2026, 4, 1) and lines[1].params == {"amount": "450"}
    assert lines[2].free_units == Decimal("1000")
    assert plan.lines[1]["params"] == {"amount": "500"}  # the plan itself is unchanged


def test_plan_validation_names_the_line(session):
    _setup(session)
    bad = PlanSpec(name="Bad", lines=[{"description": "X", "pricing_model": "package",
                                       "params": {"package_size": "0", "package_price": "8"}}])
    with pytest.raises(UserError, match=r"line 1 \(X\).*package size"):
        create_plan(session, SYSTEM, bad)


def test_draft_contract_is_not_billed_until_activated(session):
    from core.invoicing.service import generate_drafts

    plan = _setup(session)
    spec = contract_from_plan(plan, customer_external_id="C1", start_date=date(2026, 1, 1), status="draft")
    contract = create_contract(session, SYSTEM, spec)
    assert generate_drafts(session, SYSTEM, period_start=date(2026, 5, 1), period_end=date(2026, 6, 1)).created == []
    activate_contract(session, SYSTEM, contract.id)
    assert len(generate_drafts(session, SYSTEM, period_start=date(2026, 5, 1),
                               period_end=date(2026, 6, 1)).created) == 1
    with pytest.raises(UserError, match="only a draft"):
        activate_contract(session, SYSTEM, contract.id)


def test_renewal_job_renews_once_at_list_prices_or_same_terms(session):
    plan = _setup(session)
    from_plan = create_contract(session, SYSTEM, contract_from_plan(
        plan, customer_external_id="C1", start_date=date(2025, 1, 1), overrides={1: {"params": {"amount": "450"}}}))
    f.customer(session, "C2")
    same = f.contract(session, "C2", [LineSpec("Seats", "per_unit", {"unit_price": "20"}, fixed_quantity="10",
                                               modifiers={"discounts": [{"type": "percent", "value": "10"}]})],
                      start=date(2025, 6, 1), end_date=date(2026, 1, 1), term_months=7, renewal_policy="same_terms")
    f.customer(session, "C3")
    once = f.contract(session, "C3", [LineSpec("Fee", "flat_fee", {"amount": "5"})], start=date(2025, 1, 1),
                      end_date=date(2025, 12, 1))
    result = renew_due_contracts(session, SYSTEM, on=date(2026, 1, 1))
    assert sorted(old for old, _ in result.renewed) == [from_plan.id, same.id] and result.ended == [once.id]
    new_ids = dict(result.renewed)
    renewed = session.get(Contract, new_ids[from_plan.id])
    assert (renewed.start_date, renewed.end_date) == (date(2026, 1, 1), date(2027, 1, 1))
    lines = contract_lines(session, renewed.id)
    assert [ln.description for ln in lines] == ["Platform", "API calls"]  # no second trial
    assert lines[0].params == {"amount": "500"} and lines[0].start_date is None  # the plan's list price
    kept = contract_lines(session, new_ids[same.id])
    assert kept[0].modifiers == {"discounts": [{"type": "percent", "value": "10"}]}  # same terms keep discounts
    assert session.get(Contract, from_plan.id).status == "ended"
    again = renew_due_contracts(session, SYSTEM, on=date(2026, 1, 2))
    assert again.renewed == [] and again.ended == []
    assert len(session.exec(select(AuditLog).where(AuditLog.action == "contract.renew")).all()) == 2


def test_cli_renews_by_date(engine, db_url, monkeypatch, capsys):
    from sqlmodel import Session

    from cli import main

    monkeypatch.setenv("DATABASE_URL", db_url)
    with Session(engine) as s:
        f.seller(s)
        f.customer(s, "C1")
        f.contract(s, "C1", [LineSpec("Fee", "flat_fee", {"amount": "5"})], start=date(2025, 1, 1),
                   end_date=date(2026, 1, 1), term_months=12, renewal_policy="same_terms")
        s.commit()
    assert main(["renew-contracts", "--date", "2025-12-31"]) == 0
    assert "0 contracts renewed" in capsys.readouterr().out
    assert main(["renew-contracts", "--date", "2026-01-01"]) == 0
    assert "1 contract renewed, 0 ended without renewal" in capsys.readouterr().out
