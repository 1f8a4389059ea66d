"""Per unit: q × r, optional unit scale (spec section 1)."""
from decimal import Decimal as D

import pytest

from core.pricing import PricingError, Usage, apply_free_units, describe, per_unit, price, validate

GB = {"unit_price": "2"}
PER_1000 = {"unit_price": "0.05", "unit_scale": "1000"}


@pytest.mark.parametrize(
    "params, quantity, expected, summary",
    [
        (GB, "500", "1000", "500 × $2.00"),  # (Z)
        (GB, "1500", "3000", "1,500 × $2.00"),  # (Z)
        (GB, "5000", "10000", "5,000 × $2.00"),  # (Z)
        (PER_1000, "2000000", "100", "2,000,000 × $0.05 per 1,000"),  # (Z)
        (GB, "0", "0", "0 × $2.00"),
        (GB, "0.5", "1", "0.5 × $2.00"),
        (GB, str(10**12), str(2 * 10**12), "1,000,000,000,000 × $2.00"),
        ({"unit_price": "0.0006"}, "1234567", "740.7402", "1,234,567 × $0.0006"),
        ({"unit_price": "0.000000000001"}, str(10**12), "1", "1,000,000,000,000 × $0.000000000001"),
        (PER_1000, "1500", "0.075", "1,500 × $0.05 per 1,000"),
        ({"unit_price": "2", "unit_scale": "1"}, "3", "6", "3 × $2.00"),
    ],
)
def test_per_unit(params, quantity, expected, summary):
    result = price("per_unit", params, Usage(D(quantity)), "USD")
    assert result.amount == D(expected)
    assert isinstance(result.amount, D)
    assert result.summary == summary


def test_worked_chain_free_units_1400_calls_1000_free_at_50_cents():
    usage = apply_free_units(Usage(D("1400")), D("1000"))
    assert price("per_unit", {"unit_price": "0.50"}, usage, "USD").amount == D("200")


def test_free_units_larger_than_usage_bill_zero():
    usage = apply_free_units(Usage(D("300")), D("1000"))
    assert usage.quantity == 0
    assert price("per_unit", GB, usage, "USD").amount == 0


def test_int_and_decimal_params_are_accepted():
    assert price("per_unit", {"unit_price": 2}, Usage(D(3)), "USD").amount == D("6")
    assert price("per_unit", {"unit_price": D("2.5")}, Usage(D(2)), "USD").amount == D("5")


def test_describe():
    assert describe("per_unit", GB, Usage(D("1500")), "USD") == "At 1,500 units this line costs $3,000.00: 1,500 × $2.00"
    assert describe("per_unit", GB, Usage(D("1")), "USD") == "At 1 unit this line costs $2.00: 1 × $2.00"


def test_negative_usage_is_refused():
    with pytest.raises(PricingError, match="usage quantity cannot be negative"):
        price("per_unit", GB, Usage(D("-3")), "USD")


@pytest.mark.parametrize(
    "params, problem",
    [
        ({}, "unit price is required"),
        ({"unit_price": "-1"}, "unit price is negative"),
        ({"unit_price": 0.1}, "unit price: got the float 0.1"),
        ({"unit_price": "1", "unit_scale": "0"}, "unit scale must be greater than 0"),
        ({"unit_price": "1", "unit_scale": "-1000"}, "unit scale is negative"),
        ({"unit_price": "0.0000000000001"}, "unit price has more than 12 decimals"),
    ],
)
def test_validation_messages(params, problem):
    assert problem in " | ".join(validate("per_unit", params))


def test_float_params_are_refused_by_price():
    with pytest.raises(PricingError, match="float"):
        price("per_unit", {"unit_price": 2.0}, Usage(D(1)), "USD")


def test_module_shape():
    assert per_unit.validate(per_unit.PARAMS_EXAMPLE) == []
