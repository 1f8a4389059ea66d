"""Flat fee: the same amount whatever the usage (spec section 1)."""
from decimal import Decimal as D

import pytest

from core.pricing import PricingError, Usage, apply_free_units, describe, flat_fee, price, validate

PARAMS = {"amount": "500"}


@pytest.mark.parametrize(
    "quantity",
    ["0", "1", "499.5", "1500", "5000", str(10**12)],
    ids=["zero", "one", "fraction", "1500", "5000", "10^12"],
)
def test_500_whatever_the_usage_Z(quantity):
    result = price("flat_fee", PARAMS, Usage(D(quantity)), "USD")
    assert result.amount == D("500")
    assert isinstance(result.amount, D)
    assert result.summary == "flat fee $500.00"


def test_free_units_larger_than_usage_do_not_change_a_flat_fee():
    usage = apply_free_units(Usage(D("10")), D("50"))
    assert usage.quantity == 0
    assert price("flat_fee", PARAMS, usage, "USD").amount == D("500")


def test_precise_amount_is_kept_unrounded():
    assert price("flat_fee", {"amount": "19.995"}, Usage(D("1")), "USD").amount == D("19.995")


def test_other_currency_formats_its_breakdown():
    assert price("flat_fee", {"amount": "1500"}, Usage(), "JPY").summary == "flat fee ¥1,500"


def test_describe():
    assert describe("flat_fee", PARAMS, Usage(D("3")), "USD") == "At 3 units this line costs $500.00: flat fee $500.00"


def test_negative_usage_is_refused():
    with pytest.raises(PricingError, match="negative"):
        price("flat_fee", PARAMS, Usage(D("-1")), "USD")


@pytest.mark.parametrize(
    "params, problem",
    [
        ({}, "amount is required"),
        ({"amount": ""}, "amount is required"),
        ({"amount": "-5"}, "amount is negative"),
        ({"amount": "abc"}, "amount: 'abc' is not a number"),
        ({"amount": 5.0}, "amount: got the float 5.0"),
    ],
)
def test_validation_messages(params, problem):
    problems = validate("flat_fee", params)
    assert any(problem in p for p in problems), problems


def test_module_shape():
    assert flat_fee.NAME == "flat_fee" and flat_fee.LABEL and flat_fee.DESCRIPTION.endswith(".")
    assert flat_fee.validate(flat_fee.PARAMS_EXAMPLE) == []
