"""The builder's live invoice preview uses the same calculation as the invoice run."""
from datetime import date
from decimal import Decimal

from core.auth import SYSTEM
from core.billing.contracts import ContractSpec, LineSpec
from core.billing.preview import preview_invoice
from core.plans import PlanSpec, contract_from_plan, create_plan
from tests.db import factories as f


def test_preview_of_a_plan_contract_with_an_override_and_samples(session):
    f.seller(session)
    f.customer(session, "C1")
    f.metric(session, "calls", "call")
    plan = create_plan(session, SYSTEM, PlanSpec(name="Usage", lines=[
        {"description": "Platform", "pricing_model": "flat_fee", "params": {"amount": "500"}, "timing": "advance"},
        {"description": "API calls", "pricing_model": "tiered", "params": f.TIERS, "metric_code": "calls",
         "free_units": "300", "modifiers": {"discounts": [{"type": "percent", "value": "10"}]}},
    ]))
    spec = contract_from_plan(plan, customer_external_id="C1", start_date=date(2026, 1, 1),
                              overrides={0: {"params": {"amount": "450"}}})
    preview = preview_invoice(session, spec, {1: "800"}, 2026, 3)
    shown = [(s.kind, s.amount, s.indent) for s in preview.steps]
    assert shown == [("fixed", Decimal("450"), 0), ("usage", Decimal("1000"), 0), ("discount", Decimal("-100"), 1)]
    assert "800 used − 300 free = 500 billed" in preview.steps[1].breakdown
    assert preview.total == Decimal("1350") and preview.invoice_date == date(2026, 4, 1)


def test_preview_of_matrix_samples_per_category(session):
    f.seller(session)
    f.customer(session, "C1")
    f.metric(session, "gb", "xfer", group_by="region")
    spec = ContractSpec("C1", "Transfer", "USD", date(2026, 1, 1), lines=[LineSpec(
        "Transfer", "matrix", {"brackets": [{"up_to": "500"}, {"up_to": "2000"}, {"up_to": None}],
                               "rates": {"EU-West": ["0.12", "0.10", "0.07"], "US-East": ["0.10", "0.08", "0.05"]}},
        metric_code="gb")])
    preview = preview_invoice(session, spec, {0: {"EU-West": "1500", "US-East": "2500"}}, 2026, 2)
    assert preview.total == Decimal("275")  # spec section 1: $150 + $125, not bracketed on 4,000
