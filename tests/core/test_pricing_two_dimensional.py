"""Two-dimensional tiered: graduated tiers, the column chosen by a band; each band tiered on its own (spec 1)."""
from decimal import Decimal as D

import pytest

from core.pricing import PricingError, Usage, apply_free_units, describe, price, two_dimensional, validate

LOW, HIGH = "≤$100", ">$100"
PARAMS = {
    "bands": [LOW, HIGH],
    "tiers": [
        {"range": "0–50k", "unit_prices": {LOW: "0.01", HIGH: "0.02"}},
        {"range": "50k–100k", "unit_prices": {LOW: "0.005", HIGH: "0.01"}},
        {"range": "100k–150k", "unit_prices": {LOW: "0.002", HIGH: "0.005"}},
        {"range": "150k+", "unit_prices": {LOW: "0.001", HIGH: "0.002"}},
    ],
}


def bands(low=None, high=None):
    g = {}
    if low is not None:
        g[LOW] = D(low)
    if high is not None:
        g[HIGH] = D(high)
    return Usage(groups=g)


@pytest.mark.parametrize(
    "usage, expected",
    [
        (bands(low="120000"), D("790")),  # spec: 500 + 250 + 40
        (bands(low="50000"), D("500")),  # exact boundary
        (bands(low="50001"), D("500.005")),  # one past
        (bands(low="50000.5"), D("500.0025")),  # fraction
        (bands(low="0"), D("0")),
        (bands(high="120000"), D("1000") + D("500") + D("100")),
        (bands(low="120000", high="120000"), D("790") + D("1600")),  # each band on its own quantity
        (bands(low="200000"), D("500") + D("250") + D("100") + D("50")),
        (bands(low=str(10**12)), D("850") + (D(10**12) - 150000) * D("0.001")),
    ],
)
def test_two_dimensional(usage, expected):
    result = price("two_dimensional", PARAMS, usage, "USD")
    assert result.amount == expected
    assert isinstance(result.amount, D)


def test_breakdown_text_and_groups():
    result = price("two_dimensional", PARAMS, bands(low="120000"), "USD")
    assert result.summary == "≤$100: 50,000 × $0.01 + ≤$100: 50,000 × $0.005 + ≤$100: 20,000 × $0.002"
    assert {s.group for s in result.breakdown} == {LOW}
    assert [s.tier for s in result.breakdown] == [1, 2, 3]


def test_unknown_band_is_an_error():
    with pytest.raises(PricingError, match="band 'other'"):
        price("two_dimensional", PARAMS, Usage(groups={"other": D(1)}), "USD")


def test_free_units_larger_than_usage_bill_zero():
    usage = apply_free_units(bands(low="1000", high="2000"), D("5000"))
    assert price("two_dimensional", PARAMS, usage, "USD").amount == 0


def test_free_units_in_sorted_band_order():
    usage = apply_free_units(bands(low="1000", high="2000"), D("1500"))
    # sorted(['≤$100', '>$100']) puts '>$100' first
    assert usage.groups == {LOW: D("1000"), HIGH: D("500")}


def test_describe():
    assert describe("two_dimensional", PARAMS, bands(low="120000"), "USD").startswith(
        "At 120,000 units this line costs $790.00: "
    )


@pytest.mark.parametrize(
    "params, problem",
    [
        ({**PARAMS, "bands": []}, "add at least one band"),
        ({**PARAMS, "bands": [LOW, LOW]}, f"band '{LOW}' is listed twice"),
        ({"bands": [LOW], "tiers": [{"up_to": None, "unit_prices": {}}]}, f"tier 1 needs a rate for band '{LOW}'"),
        ({"bands": [LOW], "tiers": [{"up_to": None, "unit_prices": {LOW: "-1"}}]},
         f"rate for band '{LOW}' in tier 1 is negative"),
        ({"bands": [LOW], "tiers": [{"up_to": None, "unit_prices": {LOW: "1", "x": "2"}}]},
         "tier 1 has a rate for 'x', which is not one of the bands"),
        ({"bands": [LOW], "tiers": [{"up_to": "10", "unit_prices": {LOW: "1"}}]},
         "the last tier must be open-ended (leave 'up to' empty)"),
    ],
)
def test_validation_messages(params, problem):
    assert problem in validate("two_dimensional", params)


def test_module_shape():
    assert two_dimensional.validate(two_dimensional.PARAMS_EXAMPLE) == []
    assert validate("two_dimensional", PARAMS) == []
