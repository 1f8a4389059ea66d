"""The engine's entry points: registry, validate, price, apply_free_units, describe."""
from decimal import Decimal as D

import pytest

from core.pricing import (
    REGISTRY,
    PriceResult,
    PricingError,
    Usage,
    apply_free_units,
    choices,
    describe,
    get_model,
    price,
    validate,
)

NAMES = [
    "flat_fee", "per_unit", "package", "percent", "step", "tiered", "tiered_flat_fee",
    "volume", "volume_flat_fee", "matrix", "two_dimensional",
]
TIERED = {"tiers": [{"up_to": "500", "unit_price": "2"}, {"up_to": "2000", "unit_price": "1.50"},
                    {"up_to": None, "unit_price": "1"}]}


def test_registry_has_every_model_with_the_same_shape():
    assert list(REGISTRY) == NAMES
    for name, module in REGISTRY.items():
        assert module.NAME == name
        assert module.LABEL and module.DESCRIPTION.endswith(".")
        assert isinstance(module.PARAMS_EXAMPLE, dict)
        assert callable(module.validate) and callable(module.calculate)
    assert [c[0] for c in choices()] == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_every_example_is_valid_and_prices(name):
    module = get_model(name)
    assert validate(name, module.PARAMS_EXAMPLE) == []
    usage = Usage(D("1500"), groups={k: D("1500") for k in _groups(module)}, transactions=(D("10"), D("5")))
    result = price(name, module.PARAMS_EXAMPLE, usage, "USD")
    assert isinstance(result, PriceResult)
    assert isinstance(result.amount, D) and result.amount >= 0
    assert all(isinstance(s.amount, D) for s in result.breakdown)


def _groups(module):
    if module.NAME == "matrix":
        return list(module.PARAMS_EXAMPLE["rates"])
    if module.NAME == "two_dimensional":
        return list(module.PARAMS_EXAMPLE["bands"])
    return []


def test_unknown_model_is_refused_with_the_choices():
    with pytest.raises(PricingError) as exc:
        get_model("graduated")
    assert str(exc.value).startswith("unknown pricing model 'graduated'; choose one of flat_fee, per_unit,")
    with pytest.raises(PricingError):
        validate("nope", {})
    with pytest.raises(PricingError):
        price("nope", {}, Usage(), "USD")


def test_price_validates_first_and_lists_every_problem():
    with pytest.raises(PricingError) as exc:
        price("package", {"package_size": "0", "package_price": "-1"}, Usage(D(1)), "USD")
    assert str(exc.value) == (
        "Package pricing is not valid: package size must be greater than 0; package price is negative"
    )


def test_params_must_be_a_dict():
    assert validate("per_unit", None) == ["the pricing settings are missing"]
    assert validate("tiered", ["x"]) == ["the pricing settings must be a set of named values"]


def test_unknown_currency_is_a_pricing_error():
    with pytest.raises(PricingError, match="not a supported currency"):
        price("per_unit", {"unit_price": "1"}, Usage(D(1)), "XYZ")


@pytest.mark.parametrize("name", NAMES)
def test_negative_usage_is_refused_by_every_model(name):
    module = get_model(name)
    with pytest.raises(PricingError, match="negative"):
        price(name, module.PARAMS_EXAMPLE, Usage(D("-1"), groups={"x": D("-1")}, transactions=(D("-1"),)), "USD")


@pytest.mark.parametrize("name", NAMES)
def test_float_usage_is_refused_by_every_model(name):
    module = get_model(name)
    with pytest.raises(PricingError, match="float"):
        price(name, module.PARAMS_EXAMPLE, Usage(1.5, groups={"x": 1.5}, transactions=(1.5,)), "USD")


ZERO_USAGE = {  # spec: first-tier flat fee charged for step, tiered_flat_fee, volume_flat_fee; flat fee is usage-blind
    "flat_fee": D("500"),
    "step": D("100"),
    "tiered_flat_fee": D("50"),
    "volume_flat_fee": D("50"),
}


@pytest.mark.parametrize("name", NAMES)
def test_zero_usage(name):
    module = get_model(name)
    result = price(name, module.PARAMS_EXAMPLE, Usage(D(0)), "USD")
    assert result.amount == ZERO_USAGE.get(name, D(0))


# apply_free_units (spec 2, step 1)

def test_free_units_reduce_quantity_never_below_zero():
    assert apply_free_units(Usage(D("800")), D("300")).quantity == D("500")
    assert apply_free_units(Usage(D("800")), D("1000")).quantity == D("0")
    assert apply_free_units(Usage(D("800")), "300").quantity == D("500")
    assert apply_free_units(Usage(D("800")), 300).quantity == D("500")


def test_zero_free_units_change_nothing():
    usage = Usage(D("5"), groups={"a": D("5")}, transactions=(D("0"), D("5")))
    assert apply_free_units(usage, D(0)) is usage


def test_free_units_on_transactions_in_time_order():
    usage = Usage(D("20"), transactions=(D("4"), D("6"), D("10")))
    assert apply_free_units(usage, D("4")).transactions == (D("6"), D("10"))  # first entirely free: dropped
    assert apply_free_units(usage, D("5")).transactions == (D("5"), D("10"))  # second keeps its remainder
    assert apply_free_units(usage, D("25")).transactions == ()


def test_free_units_on_groups_in_sorted_category_order():
    usage = Usage(D("30"), groups={"b": D("10"), "a": D("10"), "c": D("10")})
    reduced = apply_free_units(usage, D("15"))
    assert reduced.groups == {"b": D("5"), "a": D("0"), "c": D("10")}
    assert list(reduced.groups) == ["b", "a", "c"]
    assert reduced.quantity == D("15")


def test_free_units_refuse_negative_and_float():
    with pytest.raises(PricingError, match="free units cannot be negative"):
        apply_free_units(Usage(D(1)), D("-1"))
    with pytest.raises(PricingError, match="float"):
        apply_free_units(Usage(D(1)), 0.5)
    with pytest.raises(PricingError, match="negative"):
        apply_free_units(Usage(D(-1)), D(1))


# describe (live preview)

def test_describe_sentence():
    assert describe("tiered", TIERED, Usage(D("1500")), "USD") == (
        "At 1,500 units this line costs $2,500.00: 500 × $2.00 + 1,000 × $1.50"
    )


def test_describe_rounds_the_total_for_display_only():
    params = {"unit_price": "0.0006"}
    assert describe("per_unit", params, Usage(D("12345")), "USD") == (
        "At 12,345 units this line costs $7.41: 12,345 × $0.0006"
    )
    assert price("per_unit", params, Usage(D("12345")), "USD").amount == D("7.407")


def test_describe_in_other_currencies():
    assert describe("tiered", TIERED, Usage(D("1500")), "JPY") == (
        "At 1,500 units this line costs ¥2,500: 500 × ¥2 + 1,000 × ¥1.5"
    )
    assert describe("per_unit", {"unit_price": "1.2345"}, Usage(D("1")), "BHD") == (
        "At 1 unit this line costs BHD 1.235: 1 × BHD 1.2345"
    )


def test_describe_raises_on_invalid_params():
    with pytest.raises(PricingError, match="the last tier must be open-ended"):
        describe("tiered", {"tiers": [{"up_to": "5", "unit_price": "1"}]}, Usage(D(1)), "USD")


def test_maker_builds_the_very_object_the_dataclass_builds():
    from dataclasses import FrozenInstanceError

    from core.pricing.base import BreakdownStep, maker

    make = maker(BreakdownStep)
    a, b = make("x", D(1), D("2.50"), 1, None), BreakdownStep("x", D(1), D("2.50"), tier=1)
    assert type(a) is BreakdownStep and a == b and hash(a) == hash(b) and repr(a) == repr(b)
    with pytest.raises(FrozenInstanceError):
        a.text = "y"
    with pytest.raises(TypeError):
        make("x", D(1))  # every field, in order


def test_maker_refuses_a_dataclass_it_cannot_build_faithfully():
    from dataclasses import InitVar, dataclass, field

    from core.pricing.base import maker

    @dataclass(frozen=True)
    class Checked:
        x: int

        def __post_init__(self):
            raise AssertionError

    @dataclass(frozen=True)
    class Derived:
        x: int
        y: int = field(init=False, default=0)

    @dataclass(frozen=True, slots=True)
    class Slotted:
        x: int

    for cls in (Checked, Derived, Slotted):
        with pytest.raises(TypeError):
            maker(cls)
    assert InitVar  # (an InitVar is no field: a class with one has __post_init__ to use it)
