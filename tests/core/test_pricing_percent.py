"""Percent of a money base, with optional per-transaction fixed fee, minimum and maximum (spec section 1)."""
from decimal import Decimal as D

import pytest

from core.pricing import PricingError, Usage, apply_free_units, describe, percent, price, validate

CARD = {"percent": "2.9", "fixed_fee": "0.30", "min_fee": "0.50"}


@pytest.mark.parametrize(
    "params, usage, expected",
    [
        ({"percent": "5"}, Usage(D("1500")), "75"),
        ({"percent": "10"}, Usage(D("5000")), "500"),  # (Z)
        ({"percent": "5"}, Usage(D("0")), "0"),
        ({"percent": "2.5"}, Usage(D("0.01")), "0.00025"),  # precise, not rounded
        ({"percent": "1"}, Usage(D(10**12)), str(10**10)),
        ({"percent": "5"}, Usage(D("0"), transactions=(D("1000"), D("500"))), "75"),  # transactions are the base
        (CARD, Usage(transactions=(D("10"),)), "0.59"),  # 0.29 + 0.30
        (CARD, Usage(transactions=(D("5"),)), "0.50"),  # 0.445 -> minimum 0.50
        (CARD, Usage(transactions=(D("10"), D("5"))), "1.09"),
        (CARD, Usage(D("10")), "0.59"),  # no transaction list: the quantity is one transaction
        (CARD, Usage(D("0")), "0"),  # no transaction: no minimum
        (CARD, Usage(transactions=()), "0"),
        ({"percent": "2", "max_fee": "5"}, Usage(transactions=(D("1000"), D("100"))), "7"),  # 20 -> 5; 2
        ({"percent": "0", "fixed_fee": "0.25"}, Usage(transactions=(D("1"), D("2"), D("3"))), "0.75"),
    ],
)
def test_percent(params, usage, expected):
    result = price("percent", params, usage, "USD")
    assert result.amount == D(expected)
    assert isinstance(result.amount, D)


def test_breakdown_text():
    assert price("percent", {"percent": "5"}, Usage(D("1500")), "USD").summary == "5% of $1,500.00"
    assert (
        price("percent", CARD, Usage(transactions=(D("10"), D("5"))), "USD").summary
        == "2.9% of $10.00 + 1 × $0.30 fixed fee + 1 transaction at the $0.50 minimum"
    )
    assert (
        price("percent", {"percent": "2", "max_fee": "5"}, Usage(transactions=(D("1000"), D("100"))), "USD").summary
        == "2% of $100.00 + 1 transaction at the $5.00 maximum"
    )


def test_breakdown_adds_up_to_the_amount():
    result = price("percent", CARD, Usage(transactions=(D("10"), D("5"), D("1"), D("300"))), "USD")
    assert sum(s.amount for s in result.breakdown) == result.amount


def test_free_money_base_is_used_in_time_order_and_an_entirely_free_transaction_pays_no_fee():
    usage = Usage(D("15"), transactions=(D("10"), D("5")))
    reduced = apply_free_units(usage, D("10"))
    assert reduced.transactions == (D("5"),)
    assert price("percent", CARD, reduced, "USD").amount == D("0.50")  # only the $5 one pays (its minimum)


def test_a_partly_free_transaction_keeps_its_remainder_and_pays_its_fee():
    reduced = apply_free_units(Usage(D("15"), transactions=(D("10"), D("5"))), D("8"))
    assert reduced.transactions == (D("2"), D("5"))
    assert reduced.quantity == D("7")
    assert price("percent", CARD, reduced, "USD").amount == D("1.00")  # two transactions at the minimum


def test_free_units_larger_than_usage_bill_zero():
    reduced = apply_free_units(Usage(D("15"), transactions=(D("10"), D("5"))), D("100"))
    assert reduced.transactions == () and reduced.quantity == 0
    assert price("percent", CARD, reduced, "USD").amount == 0
    assert price("percent", {"percent": "5"}, apply_free_units(Usage(D("15")), D("100")), "USD").amount == 0


def test_describe():
    assert describe("percent", {"percent": "5"}, Usage(D("1500")), "USD") == (
        "On $1,500.00 this line costs $75.00: 5% of $1,500.00"
    )
    assert describe("percent", CARD, Usage(transactions=(D("10"), D("5"))), "USD").startswith(
        "On 2 transactions totalling $15.00 this line costs $1.09: "
    )


def test_negative_transaction_is_refused():
    with pytest.raises(PricingError, match="transaction 2 cannot be negative"):
        price("percent", CARD, Usage(transactions=(D("10"), D("-5"))), "USD")


@pytest.mark.parametrize(
    "params, problem",
    [
        ({}, "percent is required"),
        ({"percent": "-1"}, "percent is negative"),
        ({"percent": 2.9}, "percent: got the float 2.9"),
        ({"percent": "2", "fixed_fee": "-0.30"}, "fixed fee per transaction is negative"),
        ({"percent": "2", "min_fee": "-1"}, "minimum fee per transaction is negative"),
        ({"percent": "2", "max_fee": "0"}, "maximum fee per transaction must be greater than 0"),
        ({"percent": "2", "min_fee": "5", "max_fee": "1"}, "the maximum fee per transaction is below the minimum fee"),
    ],
)
def test_validation_messages(params, problem):
    assert problem in " | ".join(validate("percent", params))


def test_module_shape():
    assert percent.validate(percent.PARAMS_EXAMPLE) == []
