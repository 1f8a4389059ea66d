"""Tiered with flat fee: graduated, and every tier reached adds its flat fee (spec section 1)."""
from decimal import Decimal as D

import pytest

from core.pricing import Usage, apply_free_units, price, tiered_flat_fee, validate

PARAMS = {
    "tiers": [
        {"up_to": "100", "unit_price": "0.01", "flat_fee": "50"},
        {"up_to": "500", "unit_price": "0.08", "flat_fee": "100"},
        {"up_to": None, "unit_price": "0.06", "flat_fee": "250"},
    ]
}


@pytest.mark.parametrize(
    "quantity, expected",
    [
        ("750", "448"),  # (Z) (50 + 1) + (100 + 32) + (250 + 15)
        ("100", "51"),  # exact boundary: tier 2 not reached
        ("101", "151.08"),  # one past: tier 2 reached, its fee added
        ("0", "50"),  # zero usage pays the first tier's flat fee
        ("100.5", "151.04"),  # fraction past the boundary
        ("500", "183"),
        ("501", "433.06"),
        ("1", "50.01"),
        (str(10**12), str(D("183") + D("250") + (D(10**12) - 500) * D("0.06"))),
    ],
)
def test_tiered_flat_fee(quantity, expected):
    result = price("tiered_flat_fee", PARAMS, Usage(D(quantity)), "USD")
    assert result.amount == D(expected)
    assert isinstance(result.amount, D)


def test_breakdown_text():
    assert price("tiered_flat_fee", PARAMS, Usage(D("750")), "USD").summary == (
        "flat fee $50.00 + 100 × $0.01 + flat fee $100.00 + 400 × $0.08 + flat fee $250.00 + 250 × $0.06"
    )
    assert price("tiered_flat_fee", PARAMS, Usage(D("0")), "USD").summary == "flat fee $50.00"


def test_zero_first_fee_still_explains_itself():
    params = {"tiers": [{"up_to": "100", "unit_price": "1", "flat_fee": "0"},
                        {"up_to": None, "unit_price": "0.5", "flat_fee": "10"}]}
    result = price("tiered_flat_fee", params, Usage(D("0")), "USD")
    assert result.amount == 0 and result.summary == "0 × $1.00"


def test_free_units_larger_than_usage_still_pay_the_first_tier_fee():
    assert price("tiered_flat_fee", PARAMS, apply_free_units(Usage(D("750")), D("1000")), "USD").amount == D("50")


@pytest.mark.parametrize(
    "tiers, problem",
    [
        ([{"up_to": "100", "unit_price": "0.01"}, {"up_to": None, "unit_price": "1", "flat_fee": "1"}],
         "tier 1 needs a flat fee"),
        ([{"up_to": "100", "flat_fee": "1"}, {"up_to": None, "unit_price": "1", "flat_fee": "1"}], "tier 1 needs a rate"),
        ([{"up_to": "100", "unit_price": "0.01", "flat_fee": "-50"}, {"up_to": None, "unit_price": "1", "flat_fee": "1"}],
         "flat fee in tier 1 is negative"),
        ([{"up_to": "100", "unit_price": "0.01", "flat_fee": "50"}], "the last tier must be open-ended (leave 'up to' empty)"),
    ],
)
def test_validation_messages(tiers, problem):
    assert problem in validate("tiered_flat_fee", {"tiers": tiers})


def test_module_shape():
    assert tiered_flat_fee.validate(tiered_flat_fee.PARAMS_EXAMPLE) == []
