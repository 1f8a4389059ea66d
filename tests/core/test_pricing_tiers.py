"""Tier lists: "from–to" notations normalised to up_to, and the shared tier checks (spec section 1)."""
from decimal import Decimal as D

import pytest

from core.pricing import PricingError, Usage, normalise_tiers, parse_range, price, tier_problems
from core.pricing.tiers import containing_tier, graduated, read_tiers


@pytest.mark.parametrize(
    "text, expected",
    [
        ("0–500", (D(0), D(500))),  # en dash
        ("0-500", (D(0), D(500))),  # hyphen
        ("501–2000", (D(501), D(2000))),
        ("501 - 2,000", (D(501), D(2000))),
        ("2001+", (D(2001), None)),
        ("2,001 +", (D(2001), None)),
        ("2001–", (D(2001), None)),
        ("2001 and above", (D(2001), None)),
        ("over 2000", (D(2000), None)),
        ("50k–100k", (D(50000), D(100000))),
        ("150K+", (D(150000), None)),
        ("1.5m-2m", (D(1500000), D(2000000))),
        ("0 to 500", (D(0), D(500))),
        ("up to 500", (D(0), D(500))),
        ("0.5–1.5", (D("0.5"), D("1.5"))),
    ],
)
def test_parse_range(text, expected):
    assert parse_range(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "500", "–500", "10–5"])
def test_parse_range_refuses_nonsense(text):
    with pytest.raises(PricingError):
        parse_range(text)


def test_normalise_whole_unit_ranges():
    tiers = [
        {"range": "0–500", "unit_price": "2"},
        {"range": "501–2000", "unit_price": "1.50"},
        {"range": "2001+", "unit_price": "1"},
    ]
    assert normalise_tiers(tiers) == [
        {"unit_price": "2", "up_to": "500"},
        {"unit_price": "1.50", "up_to": "2000"},
        {"unit_price": "1", "up_to": None},
    ]


def test_normalise_continuous_ranges_and_from_to_keys():
    assert [t["up_to"] for t in normalise_tiers([{"range": "0-50k"}, {"range": "50k-100k"}, {"range": "100k+"}])] == [
        "50000",
        "100000",
        None,
    ]
    assert [t["up_to"] for t in normalise_tiers([{"from": "0", "to": "10"}, {"from": "11", "to": ""}])] == ["10", None]


def test_normalise_keeps_up_to_and_canonicalises_it():
    assert normalise_tiers([{"up_to": "2,000"}, {"up_to": 5000}, {"up_to": ""}, {"up_to": "∞"}]) == [
        {"up_to": "2000"},
        {"up_to": "5000"},
        {"up_to": None},
        {"up_to": None},
    ]


def test_normalise_does_not_change_its_input():
    tiers = [{"range": "0–500", "unit_price": "2"}, {"range": "501+", "unit_price": "1"}]
    normalise_tiers(tiers)
    assert tiers[0] == {"range": "0–500", "unit_price": "2"}


@pytest.mark.parametrize(
    "tiers, problem",
    [
        ([{"range": "0–500"}, {"range": "600–900"}, {"range": "901+"}],
         "there is a gap between tier 1 (ends at 500) and tier 2 (starts at 600)"),
        ([{"range": "0–500"}, {"range": "400–900"}, {"range": "901+"}],
         "tier 2 starts at 400, inside tier 1 (which ends at 500)"),
        ([{"range": "100–500"}, {"range": "501+"}], "the first tier must start at 0 (it starts at 100)"),
        ([{"range": "zero to five"}], "tier 1: 'zero to five' is not a quantity range"),
        ([{"up_to": 1.5}], "'up to' in tier 1: got the float 1.5"),
    ],
)
def test_normalise_reports_problems(tiers, problem):
    with pytest.raises(PricingError) as exc:
        normalise_tiers(tiers)
    assert problem in str(exc.value)


def test_range_tiers_price_like_up_to_tiers_including_fractions_between_500_and_501():
    ranged = {"tiers": [{"range": "0–500", "unit_price": "2"}, {"range": "501–2000", "unit_price": "1.50"},
                        {"range": "2001+", "unit_price": "1"}]}
    assert price("tiered", ranged, Usage(D("500.5")), "USD").amount == D("1000.75")
    assert price("volume", ranged, Usage(D("500.5")), "USD").amount == D("750.75")


def test_tier_problems_uses_the_given_noun():
    assert tier_problems([{"up_to": "5"}], noun="bracket") == ["the last bracket must be open-ended (leave 'up to' empty)"]
    assert tier_problems("nonsense") == ["the tiers must be a list"]
    assert tier_problems([{"up_to": None}, "x"]) == ["tier 2 is not a valid tier"]


def test_first_tier_may_end_at_zero_and_then_holds_only_zero():
    tiers = read_tiers([{"up_to": "0", "unit_price": "0"}, {"up_to": None, "unit_price": "1"}], [("unit_price", "rate")])
    assert containing_tier(tiers, D(0)).number == 1
    assert containing_tier(tiers, D("0.001")).number == 2
    assert [(t.number, u) for t, u in graduated(tiers, D(3))] == [(1, D(0)), (2, D(3))]


def test_remembered_tier_lists_never_let_a_float_through():
    """read_tiers remembers what it read; a float, which is refused, must not borrow the string's entry."""
    good = [{"up_to": "100", "unit_price": "0.1"}, {"up_to": None, "unit_price": "0.05"}]
    fields = (("unit_price", "unit price"),)
    assert [t.values["unit_price"] for t in read_tiers(good, fields)] == [D("0.1"), D("0.05")]
    assert read_tiers(good, fields) == read_tiers(good, fields)  # the same tiers again (from memory)
    floats = [{"up_to": "100", "unit_price": 0.1}, {"up_to": None, "unit_price": "0.05"}]
    with pytest.raises(PricingError):
        read_tiers(floats, fields)
