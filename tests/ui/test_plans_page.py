"""The Plans page and plans in the contract builder: a plan reads like a rate card, a contract made from it keeps
the plan's lines and terms, takes this customer's own price, and remembers the plan."""
from __future__ import annotations

from datetime import date

import pytest

from core.billing.periods import add_months
from tests.ui.conftest import ROLES
from tests.ui.test_contracts_page import (
    button,
    customer_id,
    no_exception,
    tables,
    texts,
)

PAGE = "pages/plans.py"


def make_plan(db_url: str) -> int:
    from core.auth import SYSTEM
    from core.db import make_engine, session_scope
    from core.plans import PlanSpec, create_plan

    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            plan = create_plan(s, SYSTEM, PlanSpec(
                name="Growth", currency="USD", description="Platform plus metered API", payment_terms_days=30,
                term_months=12, renewal_policy="same_terms",
                modifiers={"service_fees": [{"type": "percent", "value": "5", "description": "Service fee"}]},
                lines=[{"description": "Platform fee", "pricing_model": "flat_fee", "params": {"amount": "500"},
                        "cadence": "monthly", "timing": "advance", "fixed_quantity": "1",
                        "modifiers": {"discounts": [{"type": "percent", "value": "10", "per_period_cap": "50"}]}},
                       {"description": "API requests", "pricing_model": "per_unit", "params": {"unit_price": "0.5"},
                        "metric_code": "api_requests", "free_units": "1000",
                        "modifiers": {"minimum_commitment": {"amount": "250", "charge_full": False}}},
                       {"description": "Onboarding trial", "pricing_model": "flat_fee", "params": {"amount": "0"},
                        "phase": "Trial", "end_offset_months": 3}]))
            return plan.id
    finally:
        engine.dispose()


def stored_contract(db_url: str, name: str):
    from sqlmodel import select

    from core.db import make_engine, session_scope
    from core.models import Contract, ContractLine

    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            c = s.exec(select(Contract).where(Contract.name == name)).one()
            lines = s.exec(select(ContractLine).where(ContractLine.contract_id == c.id)
                           .order_by(ContractLine.sort_order)).all()
            return c.model_dump(), [ln.model_dump() for ln in lines]
    finally:
        engine.dispose()


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_a_plan(open_page, demo_db, role):
    plan_id = make_plan(demo_db)
    at = open_page(PAGE, role)
    no_exception(at)
    assert at.title[0].value == "Plans"
    listed = tables(at)
    assert "Growth" in listed and "12 months" in listed and "Renew with the same terms" in listed
    at.selectbox(key="plans_open").set_value(plan_id).run()
    no_exception(at)
    shown = texts(at) + tables(at)
    assert "$500.00 flat" in shown and "$0.50 per unit" in shown
    assert "10% off, at most $50.00 a month" in shown
    assert "minimum $250.00 a month (prorated for partial months)" in shown
    assert "Trial: months 1–3" in shown
    assert "Service fee: 5% of the contract total" in shown
    assert ("Make a contract from this plan" in texts(at)) == (role in ("admin", "finance", "sales"))


def test_the_plans_page_explains_how_to_make_a_plan(open_page):
    at = open_page(PAGE, "finance")
    no_exception(at)
    assert "press **Save as plan**" in texts(at)


def test_a_contract_from_a_plan_with_its_own_price(open_page, demo_db):
    plan_id = make_plan(demo_db)
    at = open_page(PAGE, "sales")
    at.selectbox(key="plans_open").set_value(plan_id).run()
    at.selectbox(key="plans_customer_0").set_value(customer_id(demo_db, "INITECH-003"))
    at.text_input(key=f"plans_name_0_{plan_id}").input("Initech — Growth")
    at.date_input(key="plans_start_0").set_value(date(2026, 10, 1)).run()
    no_exception(at)
    assert not [el for el in at.info if "own prices" in el.value]  # nothing overridden yet
    at.text_input(key=f"plans_p0_{plan_id}_0_flat_fee_amount").input("450").run()
    no_exception(at)
    assert "line 1 (Platform fee) $450.00 flat instead of $500.00 flat" in texts(at)
    assert "Total: $" in texts(at)  # the preview of the first invoice is there
    button(at, "Create and activate").click().run()
    no_exception(at)
    assert "Contract “Initech — Growth” for Initech Software was saved and is active from the plan “Growth”" \
        in texts(at)
    contract, lines = stored_contract(demo_db, "Initech — Growth")
    assert contract["plan_id"] == plan_id and contract["term_months"] == 12
    assert contract["end_date"] == date(2027, 10, 1)
    assert [ln["params"] for ln in lines] == [{"amount": "450"}, {"unit_price": "0.5"}, {"amount": "0"}]
    assert lines[2]["phase"] == "Trial" and lines[2]["end_date"] == date(2027, 1, 1)


def test_the_builder_starts_from_a_plan_takes_a_new_price_and_previews_the_invoice(open_page, demo_db):
    plan_id = make_plan(demo_db)
    at = open_page("pages/contracts.py", "finance")
    at.session_state["contracts_tab"] = "New contract"
    at.run()
    at.selectbox(key="contracts_customer_0").set_value(customer_id(demo_db, "INITECH-003"))
    start = add_months(date.today().replace(day=1), 2)  # a contract that starts later: its first month is next
    at.date_input(key="contracts_start_0").set_value(start)
    at.selectbox(key="contracts_plan").set_value(plan_id).run()
    button(at, "Use this plan").click().run()
    no_exception(at)
    assert "From plan “Growth”" in texts(at)
    assert "Lines (3)" in texts(at)
    assert at.text_input(key="contracts_name_1").value == "Growth"
    # change the API price for this customer: open line 2 and type the new unit price
    at.selectbox(key="contracts_pick_1").set_value(1).run()
    at.text_input(key="contracts_e1_1_per_unit_unit_price").input("0.40").run()
    no_exception(at)
    button(at, "Save changes to this line").click().run()
    no_exception(at)
    assert "$0.40 per unit" in tables(at)
    # the preview of the first invoice follows the new price and the sample usage typed for the usage line
    at.text_input(key="contracts_pv1_s1").input("1400").run()
    no_exception(at)
    shown = texts(at) + tables(at)
    assert f"Invoice for {start:%B %Y}" in shown
    assert "400 × $0.40" in shown and "$160.00" in shown  # 1,400 used − 1,000 free, at this customer's price
    assert "↳ Minimum commitment true-up" in shown and "$90.00" in shown  # indented under its line
    assert "↳ 10% discount" in shown and "-$50.00" in shown
    assert "Service fee" in shown and "$35.00" in shown  # 5% of $700.00
    assert "**Total: $735.00**" in shown
    at.text_input(key="contracts_name_1").input("Initech — Growth (custom)")
    button(at, "Save as draft").click().run()
    no_exception(at)
    assert not at.error, at.error[0].value
    assert "was saved as a draft with 3 lines" in texts(at)
    assert "from plan “Growth”" in texts(at)
    contract, lines = stored_contract(demo_db, "Initech — Growth (custom)")
    assert contract["plan_id"] == plan_id and contract["status"] == "draft"
    assert contract["renewal_policy"] == "same_terms"
    assert lines[1]["params"] == {"unit_price": "0.40"}
    assert lines[0]["modifiers"]["discounts"][0]["per_period_cap"] == "50"
