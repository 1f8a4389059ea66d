"""Matrix: quantity brackets × category; each group bracketed on its own quantity (spec section 1)."""
from decimal import Decimal as D

import pytest

from core.pricing import PricingError, Usage, apply_free_units, describe, matrix, price, validate

PARAMS = {
    "brackets": [{"up_to": "500"}, {"up_to": "2000"}, {"up_to": None}],
    "rates": {"EU-West": ["0.12", "0.10", "0.07"], "US-East": ["0.10", "0.08", "0.05"]},
}
WITH_DEFAULT = {**PARAMS, "default_rates": ["0.15", "0.12", "0.09"]}


def groups(**kw):
    return Usage(groups={k.replace("_", "-"): D(v) for k, v in kw.items()})


@pytest.mark.parametrize(
    "usage, expected, summary",
    [
        (groups(EU_West="1500"), "150", "EU-West: 1,500 × $0.10"),  # (Z) rate $0.10
        (groups(US_East="2500"), "125", "US-East: 2,500 × $0.05"),
        # both in one period: each on its own quantity, not bracketed on the 4,000 total
        (groups(EU_West="1500", US_East="2500"), "275", "EU-West: 1,500 × $0.10 + US-East: 2,500 × $0.05"),
        (groups(EU_West="500"), "60", "EU-West: 500 × $0.12"),  # exact boundary
        (groups(EU_West="501"), "50.10", "EU-West: 501 × $0.10"),  # one past
        (groups(EU_West="500.5"), "50.05", "EU-West: 500.5 × $0.10"),  # fraction past the boundary
        (groups(EU_West="0"), "0", "EU-West: 0 × $0.12"),
        (Usage(groups={}), "0", ""),
        (Usage(D("0")), "0", ""),
        (groups(US_East=str(10**12)), str(5 * 10**10), "US-East: 1,000,000,000,000 × $0.05"),
    ],
)
def test_matrix(usage, expected, summary):
    result = price("matrix", PARAMS, usage, "USD")
    assert result.amount == D(expected)
    assert isinstance(result.amount, D)
    assert result.summary == summary


def test_breakdown_names_group_and_bracket():
    result = price("matrix", PARAMS, groups(EU_West="1500", US_East="2500"), "USD")
    assert [(s.group, s.tier) for s in result.breakdown] == [("EU-West", 2), ("US-East", 3)]


def test_unknown_category_is_an_error():
    with pytest.raises(PricingError, match="no rates for 'APAC'"):
        price("matrix", PARAMS, groups(EU_West="10", APAC="5"), "USD")


def test_unknown_category_uses_default_rates_when_set():
    result = price("matrix", WITH_DEFAULT, groups(EU_West="1500", APAC="600"), "USD")
    assert result.amount == D("150") + D("72")
    assert "APAC (default rate): 600 × $0.12" in result.summary


def test_ungrouped_usage_is_an_error():
    with pytest.raises(PricingError, match="grouped by category"):
        price("matrix", PARAMS, Usage(D("100")), "USD")


def test_free_units_are_deducted_in_sorted_category_order():
    usage = apply_free_units(groups(US_East="2500", EU_West="1500"), D("1600"))
    assert usage.groups == {"US-East": D("2400"), "EU-West": D("0")}
    assert price("matrix", PARAMS, usage, "USD").amount == D("120")  # 2,400 × $0.05


def test_free_units_larger_than_usage_bill_zero():
    usage = apply_free_units(groups(US_East="2500", EU_West="1500"), D("10000"))
    assert price("matrix", PARAMS, usage, "USD").amount == 0


def test_describe_sums_the_groups():
    assert describe("matrix", PARAMS, groups(EU_West="1500", US_East="2500"), "USD") == (
        "At 4,000 units this line costs $275.00: EU-West: 1,500 × $0.10 + US-East: 2,500 × $0.05"
    )


@pytest.mark.parametrize(
    "params, problem",
    [
        ({**PARAMS, "rates": {"EU-West": ["0.12", "0.10"]}}, "'EU-West' has 2 rates but there are 3 brackets"),
        ({**PARAMS, "rates": {"EU-West": ["0.12", "0.10", "-0.07"]}}, "rate for 'EU-West' in bracket 3 is negative"),
        ({**PARAMS, "rates": {}}, "add rates for at least one category (or set default rates)"),
        ({**PARAMS, "brackets": [{"up_to": "500"}, {"up_to": "2000"}, {"up_to": "3000"}]},
         "the last bracket must be open-ended (leave 'up to' empty)"),
        ({**PARAMS, "brackets": [{"up_to": "500"}, {"up_to": "200"}, {"up_to": None}]}, "bracket 2 ends below bracket 1"),
        ({**PARAMS, "default_rates": ["1"]}, "the default rates has 1 rate but there are 3 brackets"),
        ({**PARAMS, "rates": {"EU-West": "0.12"}}, "the rates for 'EU-West' must be a list, one rate per bracket"),
    ],
)
def test_validation_messages(params, problem):
    assert problem in validate("matrix", params)


def test_default_rates_alone_are_enough():
    params = {"brackets": PARAMS["brackets"], "default_rates": ["3", "2", "1"]}
    assert validate("matrix", params) == []
    assert price("matrix", params, groups(anything="600"), "USD").amount == D("1200")


def test_module_shape():
    assert matrix.validate(matrix.PARAMS_EXAMPLE) == []
