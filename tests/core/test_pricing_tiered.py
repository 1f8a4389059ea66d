"""Tiered (graduated): each tier's units at that tier's rate, summed (spec section 1)."""
from decimal import Decimal as D

import pytest

from core.pricing import PricingError, Usage, apply_free_units, describe, price, tiered, validate

PARAMS = {
    "tiers": [
        {"up_to": "500", "unit_price": "2"},
        {"up_to": "2000", "unit_price": "1.50"},
        {"up_to": None, "unit_price": "1"},
    ]
}
LICENCES = {  # written the way a price sheet writes it: 1–100, 101–200, 201+
    "tiers": [
        {"range": "1–100", "unit_price": "100"},
        {"range": "101–200", "unit_price": "90"},
        {"range": "201+", "unit_price": "80"},
    ]
}


@pytest.mark.parametrize(
    "params, quantity, expected, summary",
    [
        (PARAMS, "1500", "2500", "500 × $2.00 + 1,000 × $1.50"),  # (Z)
        (PARAMS, "2500", "3750", "500 × $2.00 + 1,500 × $1.50 + 500 × $1.00"),
        (PARAMS, "501", "1001.50", "500 × $2.00 + 1 × $1.50"),
        (LICENCES, "250", "23000", "100 × $100.00 + 100 × $90.00 + 50 × $80.00"),  # (Z)
        (PARAMS, "0", "0", "0 × $2.00"),
        (PARAMS, "500", "1000", "500 × $2.00"),  # exact boundary
        (PARAMS, "2000", "3250", "500 × $2.00 + 1,500 × $1.50"),
        (PARAMS, "2001", "3251", "500 × $2.00 + 1,500 × $1.50 + 1 × $1.00"),
        (PARAMS, "500.5", "1000.75", "500 × $2.00 + 0.5 × $1.50"),  # fractions: 500.5 is after 500
        (PARAMS, "0.25", "0.5", "0.25 × $2.00"),
        (PARAMS, str(10**12), str(10**12 - 2000 + 3250), "500 × $2.00 + 1,500 × $1.50 + 999,999,998,000 × $1.00"),
    ],
)
def test_tiered(params, quantity, expected, summary):
    result = price("tiered", params, Usage(D(quantity)), "USD")
    assert result.amount == D(expected)
    assert isinstance(result.amount, D)
    assert result.summary == summary


def test_breakdown_steps_carry_tier_numbers_and_add_up():
    result = price("tiered", PARAMS, Usage(D("2500")), "USD")
    assert [s.tier for s in result.breakdown] == [1, 2, 3]
    assert [s.quantity for s in result.breakdown] == [D(500), D(1500), D(500)]
    assert sum(s.amount for s in result.breakdown) == result.amount


def test_free_units_are_deducted_then_priced_from_the_first_tier():
    # spec 2.1: 800 used, 300 free -> 500 priced -> $1,000
    usage = apply_free_units(Usage(D("800")), D("300"))
    assert usage.quantity == D("500")
    assert price("tiered", PARAMS, usage, "USD").amount == D("1000")


def test_free_units_larger_than_usage_bill_zero():
    assert price("tiered", PARAMS, apply_free_units(Usage(D("800")), D("5000")), "USD").amount == 0


def test_describe_live_preview():
    assert describe("tiered", PARAMS, Usage(D("1500")), "USD") == (
        "At 1,500 units this line costs $2,500.00: 500 × $2.00 + 1,000 × $1.50"
    )


def test_precise_unit_prices_show_all_their_decimals():
    params = {"tiers": [{"up_to": "1000", "unit_price": "0.0006"}, {"up_to": None, "unit_price": "0.0004"}]}
    result = price("tiered", params, Usage(D("1500")), "USD")
    assert result.amount == D("0.8")
    assert result.summary == "1,000 × $0.0006 + 500 × $0.0004"
    assert describe("tiered", params, Usage(D("1500")), "USD").startswith("At 1,500 units this line costs $0.80:")


def test_invalid_params_raise_with_every_problem():
    bad = {"tiers": [{"up_to": "500", "unit_price": "2"}, {"up_to": "400", "unit_price": "-1"}]}
    with pytest.raises(PricingError) as exc:
        price("tiered", bad, Usage(D("1")), "USD")
    msg = str(exc.value)
    assert "tier 2 ends below tier 1" in msg
    assert "rate in tier 2 is negative" in msg
    assert "the last tier must be open-ended" in msg


@pytest.mark.parametrize(
    "tiers, problem",
    [
        (None, "add at least one tier"),
        ([{"up_to": "500", "unit_price": "2"}], "the last tier must be open-ended (leave 'up to' empty)"),
        ([{"up_to": "500", "unit_price": "2"}, {"up_to": "400", "unit_price": "1"}, {"up_to": None, "unit_price": "1"}],
         "tier 2 ends below tier 1"),
        ([{"up_to": "500", "unit_price": "2"}, {"up_to": "500", "unit_price": "1"}, {"up_to": None, "unit_price": "1"}],
         "tier 2 ends at 500, the same as tier 1; each tier must end above the one before"),
        ([{"up_to": "500", "unit_price": "2"}, {"up_to": "900", "unit_price": "1"}, {"up_to": None, "unit_price": "-1"}],
         "rate in tier 3 is negative"),
        ([{"up_to": None, "unit_price": "2"}, {"up_to": None, "unit_price": "1"}],
         "only the last tier can be open-ended: tier 1 has no 'up to'"),
        ([{"up_to": "-5", "unit_price": "2"}, {"up_to": None, "unit_price": "1"}], "'up to' in tier 1 is negative"),
        ([{"up_to": "500"}, {"up_to": None, "unit_price": "1"}], "tier 1 needs a rate"),
        ([{"up_to": 500.0, "unit_price": "2"}, {"up_to": None, "unit_price": "1"}], "'up to' in tier 1: got the float 500.0"),
        ([{"up_to": "500", "unit_price": "x"}, {"up_to": None, "unit_price": "1"}], "rate in tier 1: 'x' is not a number"),
    ],
)
def test_validation_messages(tiers, problem):
    assert problem in " | ".join(validate("tiered", {"tiers": tiers}))


def test_all_problems_are_reported_at_once():
    problems = validate("tiered", {"tiers": [
        {"up_to": "500", "unit_price": "-2"}, {"up_to": "400", "unit_price": "1"}, {"up_to": "900", "unit_price": "-3"},
    ]})
    assert problems == [
        "tier 2 ends below tier 1",
        "the last tier must be open-ended (leave 'up to' empty)",
        "rate in tier 1 is negative",
        "rate in tier 3 is negative",
    ]


def test_module_shape():
    assert tiered.NAME == "tiered" and tiered.LABEL == "Tiered (graduated)"
    assert tiered.validate(tiered.PARAMS_EXAMPLE) == []
