"""Volume: the tier that contains q prices all units (spec section 1)."""
from decimal import Decimal as D

import pytest

from core.pricing import Usage, apply_free_units, describe, price, validate, volume

PARAMS = {
    "tiers": [
        {"up_to": "500", "unit_price": "2"},
        {"up_to": "2000", "unit_price": "1.50"},
        {"up_to": None, "unit_price": "1"},
    ]
}
LICENCES = {
    "tiers": [
        {"up_to": "100", "unit_price": "100"},
        {"up_to": "200", "unit_price": "90"},
        {"up_to": None, "unit_price": "80"},
    ]
}


@pytest.mark.parametrize(
    "params, quantity, expected, summary",
    [
        (PARAMS, "1500", "2250", "1,500 × $1.50"),  # (Z)
        (PARAMS, "500", "1000", "500 × $2.00"),  # exact boundary
        (PARAMS, "501", "751.50", "501 × $1.50"),  # one past
        (LICENCES, "250", "20000", "250 × $80.00"),  # (Z)
        (PARAMS, "0", "0", "0 × $2.00"),
        (PARAMS, "500.5", "750.75", "500.5 × $1.50"),
        (PARAMS, "2000", "3000", "2,000 × $1.50"),
        (PARAMS, "2001", "2001", "2,001 × $1.00"),
        (PARAMS, str(10**12), str(10**12), "1,000,000,000,000 × $1.00"),
    ],
)
def test_volume(params, quantity, expected, summary):
    result = price("volume", params, Usage(D(quantity)), "USD")
    assert result.amount == D(expected)
    assert isinstance(result.amount, D)
    assert result.summary == summary


def test_tier_number_in_breakdown():
    assert price("volume", PARAMS, Usage(D("1500")), "USD").breakdown[0].tier == 2


def test_free_units_larger_than_usage_bill_zero():
    assert price("volume", PARAMS, apply_free_units(Usage(D("1500")), D("2000")), "USD").amount == 0


def test_free_units_can_move_usage_into_a_lower_tier():
    assert price("volume", PARAMS, apply_free_units(Usage(D("800")), D("300")), "USD").amount == D("1000")


def test_describe():
    assert describe("volume", PARAMS, Usage(D("1500")), "USD") == "At 1,500 units this line costs $2,250.00: 1,500 × $1.50"


def test_validation_messages():
    assert validate("volume", {"tiers": [{"up_to": "500", "unit_price": "2"}]}) == [
        "the last tier must be open-ended (leave 'up to' empty)"
    ]


def test_module_shape():
    assert volume.validate(volume.PARAMS_EXAMPLE) == []
