"""Package: ceil(q / s) × p (spec section 1)."""
from decimal import Decimal as D

import pytest

from core.pricing import Usage, apply_free_units, package, price, validate

PARAMS = {"package_size": "100", "package_price": "8"}


@pytest.mark.parametrize(
    "quantity, expected, summary",
    [
        ("100", "8", "1 package of 100 × $8.00"),  # (Z) an exact multiple does not round up
        ("101", "16", "2 packages of 100 × $8.00"),  # (Z)
        ("250", "24", "3 packages of 100 × $8.00"),  # (Z)
        ("301", "32", "4 packages of 100 × $8.00"),  # (Z)
        ("0", "0", "0 packages of 100 × $8.00"),
        ("1", "8", "1 package of 100 × $8.00"),
        ("200", "16", "2 packages of 100 × $8.00"),
        ("200.5", "24", "3 packages of 100 × $8.00"),
        ("0.001", "8", "1 package of 100 × $8.00"),
        (str(10**12), str(8 * 10**10), "10,000,000,000 packages of 100 × $8.00"),
    ],
)
def test_package(quantity, expected, summary):
    result = price("package", PARAMS, Usage(D(quantity)), "USD")
    assert result.amount == D(expected)
    assert isinstance(result.amount, D)
    assert result.summary == summary


def test_fractional_package_size():
    assert price("package", {"package_size": "0.5", "package_price": "1"}, Usage(D("1.2")), "USD").amount == D("3")


def test_free_units_larger_than_usage_bill_zero():
    usage = apply_free_units(Usage(D("250")), D("300"))
    assert price("package", PARAMS, usage, "USD").amount == 0


def test_free_units_then_package_rounding():
    usage = apply_free_units(Usage(D("250")), D("100"))
    assert price("package", PARAMS, usage, "USD").amount == D("16")


@pytest.mark.parametrize(
    "params, problem",
    [
        ({"package_size": "0", "package_price": "8"}, "package size must be greater than 0"),
        ({"package_size": "-100", "package_price": "8"}, "package size is negative"),
        ({"package_price": "8"}, "package size is required"),
        ({"package_size": "100"}, "package price is required"),
        ({"package_size": "100", "package_price": "-8"}, "package price is negative"),
        ({"package_size": 100.0, "package_price": "8"}, "package size: got the float 100.0"),
    ],
)
def test_validation_messages(params, problem):
    assert problem in validate("package", params)[0]


def test_module_shape():
    assert package.validate(package.PARAMS_EXAMPLE) == []
