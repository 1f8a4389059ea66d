"""Volume with flat fee: the tier containing q supplies a flat fee plus the rate for all units (spec section 1)."""
from decimal import Decimal as D

import pytest

from core.pricing import Usage, apply_free_units, price, validate, volume_flat_fee

PARAMS = {
    "tiers": [
        {"up_to": "500", "unit_price": "0.01", "flat_fee": "50"},
        {"up_to": "2000", "unit_price": "0.08", "flat_fee": "100"},
        {"up_to": None, "unit_price": "0.06", "flat_fee": "250"},
    ]
}


@pytest.mark.parametrize(
    "quantity, expected, summary",
    [
        ("1500", "220", "flat fee $100.00 + 1,500 × $0.08"),  # (Z)
        ("400", "54", "flat fee $50.00 + 400 × $0.01"),
        ("2500", "400", "flat fee $250.00 + 2,500 × $0.06"),
        ("0", "50", "flat fee $50.00"),  # zero usage pays the first tier's flat fee
        ("500", "55", "flat fee $50.00 + 500 × $0.01"),  # exact boundary
        ("501", "140.08", "flat fee $100.00 + 501 × $0.08"),  # one past
        ("500.5", "140.04", "flat fee $100.00 + 500.5 × $0.08"),
        (str(10**12), str(250 + 6 * 10**10), "flat fee $250.00 + 1,000,000,000,000 × $0.06"),
    ],
)
def test_volume_flat_fee(quantity, expected, summary):
    result = price("volume_flat_fee", PARAMS, Usage(D(quantity)), "USD")
    assert result.amount == D(expected)
    assert isinstance(result.amount, D)
    assert result.summary == summary


def test_free_units_larger_than_usage_still_pay_the_first_tier_fee():
    assert price("volume_flat_fee", PARAMS, apply_free_units(Usage(D("400")), D("1000")), "USD").amount == D("50")


def test_validation_messages():
    bad = {"tiers": [{"up_to": "500", "unit_price": "-0.01", "flat_fee": "50"}, {"up_to": None, "unit_price": "1"}]}
    assert validate("volume_flat_fee", bad) == ["rate in tier 1 is negative", "tier 2 needs a flat fee"]


def test_module_shape():
    assert volume_flat_fee.validate(volume_flat_fee.PARAMS_EXAMPLE) == []
