"""Step: the flat fee of the step that contains q; q=0 falls in the first step (spec section 1)."""
from decimal import Decimal as D

import pytest

from core.pricing import Usage, apply_free_units, describe, price, step, validate

PARAMS = {
    "tiers": [
        {"up_to": "500", "flat_fee": "100"},
        {"up_to": "2000", "flat_fee": "300"},
        {"up_to": None, "flat_fee": "600"},
    ]
}


@pytest.mark.parametrize(
    "quantity, expected, tier",
    [
        ("1500", "300", 2),  # (Z)
        ("500", "100", 1),  # exact boundary
        ("501", "300", 2),  # one past
        ("0", "100", 1),  # zero usage pays the first step
        ("500.5", "300", 2),  # fractions: 500.5 is after 500
        ("2000", "300", 2),
        ("2000.0001", "600", 3),
        ("2001", "600", 3),
        (str(10**12), "600", 3),
    ],
)
def test_step(quantity, expected, tier):
    result = price("step", PARAMS, Usage(D(quantity)), "USD")
    assert result.amount == D(expected)
    assert isinstance(result.amount, D)
    assert [s.tier for s in result.breakdown] == [tier]
    assert result.summary == f"flat fee ${D(expected):,.2f}"


def test_range_notation_is_accepted():
    params = {"tiers": [{"range": "0–500", "flat_fee": "100"}, {"range": "501–2,000", "flat_fee": "300"},
                        {"range": "2,001+", "flat_fee": "600"}]}
    assert validate("step", params) == []
    assert price("step", params, Usage(D("1500")), "USD").amount == D("300")


def test_free_units_larger_than_usage_still_pay_the_first_step():
    usage = apply_free_units(Usage(D("800")), D("1000"))
    assert price("step", PARAMS, usage, "USD").amount == D("100")


def test_describe():
    assert describe("step", PARAMS, Usage(D("1500")), "USD") == "At 1,500 units this line costs $300.00: flat fee $300.00"


@pytest.mark.parametrize(
    "tiers, problem",
    [
        ([], "add at least one tier"),
        ([{"up_to": "500", "flat_fee": "100"}], "the last tier must be open-ended (leave 'up to' empty)"),
        ([{"up_to": "500", "flat_fee": "100"}, {"up_to": "400", "flat_fee": "1"}, {"up_to": None, "flat_fee": "2"}],
         "tier 2 ends below tier 1"),
        ([{"up_to": "500", "flat_fee": "100"}, {"up_to": None, "flat_fee": "-1"}], "flat fee in tier 2 is negative"),
        ([{"up_to": "500"}, {"up_to": None, "flat_fee": "1"}], "tier 1 needs a flat fee"),
    ],
)
def test_validation_messages(tiers, problem):
    assert problem in validate("step", {"tiers": tiers})


def test_module_shape():
    assert step.validate(step.PARAMS_EXAMPLE) == []
