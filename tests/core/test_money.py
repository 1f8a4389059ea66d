"""core.money: exact Decimals, floats refused, one half-up rounding per currency (spec section 0)."""
from decimal import Decimal as D

import pytest

from core.money import (
    MoneyError,
    ceil_div,
    currency,
    format_money,
    format_number,
    from_minor_units,
    round_money,
    to_decimal,
    to_minor_units,
)


@pytest.mark.parametrize("value", [0.1, 1.0, float("nan")])
def test_floats_are_refused_with_a_clear_message(value):
    with pytest.raises(MoneyError, match="float"):
        to_decimal(value, field="unit price")


@pytest.mark.parametrize(
    "value, expected",
    [("0.10", D("0.10")), (5, D(5)), (D("1.5"), D("1.5")), ("1,500.25", D("1500.25")), (" $12 ", D("12")),
     ("1_000", D("1000"))],
)
def test_to_decimal_accepts_strings_ints_and_decimals(value, expected):
    assert to_decimal(value) == expected


@pytest.mark.parametrize("value", [True, None, "abc", "", "NaN", "Infinity", [1]])
def test_to_decimal_refuses_non_numbers(value):
    with pytest.raises(MoneyError):
        to_decimal(value)


def test_error_names_the_field():
    with pytest.raises(MoneyError, match="^package size: 'x' is not a number$"):
        to_decimal("x", field="package size")


def test_ten_percent_off_1000_75_is_a_100_08_discount():
    # spec 0: 10% off $1,000.75 shows a $100.08 discount (100.075 rounded half-up)
    assert round_money(D("1000.75") * D("0.10"), "USD") == D("100.08")


@pytest.mark.parametrize(
    "amount, code, expected",
    [
        ("0.125", "USD", "0.13"),  # half-up, not banker's (which gives 0.12)
        ("0.135", "USD", "0.14"),
        ("2.675", "EUR", "2.68"),
        ("-0.125", "USD", "-0.13"),  # half away from zero
        ("548.387096774", "USD", "548.39"),
        ("1500.5", "JPY", "1501"),  # JPY: 0 decimals
        ("1499.49", "JPY", "1499"),
        ("1234.4", "KRW", "1234"),
        ("1.2345", "BHD", "1.235"),  # BHD: 3 decimals
        ("1.2344", "KWD", "1.234"),
        ("0.0006", "USD", "0.00"),
    ],
)
def test_round_money_is_half_up_to_the_minor_unit(amount, code, expected):
    result = round_money(D(amount), code)
    assert result == D(expected)
    assert result.as_tuple().exponent == -currency(code).minor_units


def test_round_money_refuses_floats():
    with pytest.raises(MoneyError, match="float"):
        round_money(1.005, "USD")


def test_currency_lookup():
    assert currency("usd").minor_units == 2
    assert currency("JPY").minor_units == 0
    assert currency("BHD").minor_units == 3
    with pytest.raises(MoneyError, match="not a supported currency"):
        currency("XYZ")
    with pytest.raises(MoneyError):
        currency("")


@pytest.mark.parametrize(
    "amount, code, precise, expected",
    [
        ("2500", "USD", False, "$2,500.00"),
        ("1000.075", "USD", False, "$1,000.08"),
        ("1500", "JPY", False, "¥1,500"),
        ("1.25", "BHD", False, "BHD 1.250"),
        ("-5", "USD", False, "-$5.00"),
        ("0.0006", "USD", True, "$0.0006"),
        ("2", "USD", True, "$2.00"),
        ("1.5", "USD", True, "$1.50"),
        ("0.000000000001", "USD", True, "$0.000000000001"),
        ("1234567.5", "EUR", False, "€1,234,567.50"),
    ],
)
def test_format_money(amount, code, precise, expected):
    assert format_money(D(amount), code, precise=precise) == expected


@pytest.mark.parametrize(
    "value, places, expected",
    [("1500", None, "1,500"), ("1500.5", None, "1,500.5"), ("500.50", None, "500.5"), ("1E+3", None, "1,000"),
     ("1500", 2, "1,500.00"), ("0", None, "0")],
)
def test_format_number(value, places, expected):
    assert format_number(D(value), places) == expected


@pytest.mark.parametrize(
    "a, b, expected",
    [("100", "100", "1"), ("101", "100", "2"), ("0", "100", "0"), ("250", "100", "3"), ("1.2", "0.5", "3")],
)
def test_ceil_div(a, b, expected):
    assert ceil_div(D(a), D(b)) == D(expected)


def test_minor_units_round_trip():
    assert to_minor_units(D("12.34"), "USD") == 1234
    assert to_minor_units(D("1500"), "JPY") == 1500
    assert from_minor_units(1234, "USD") == D("12.34")
    assert from_minor_units(1250, "BHD") == D("1.250")
    with pytest.raises(MoneyError, match="more decimals than USD allows"):
        to_minor_units(D("12.345"), "USD")


def test_exact_sums_of_tenths():
    # spec 0: 1,000,000 quantities of 0.1 add up to exactly 100000 with Decimals
    assert sum([to_decimal("0.1")] * 1_000_000, D(0)) == D("100000")
