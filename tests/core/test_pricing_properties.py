"""Properties that hold for any valid params and usage (hypothesis).

- graduated models (tiered, tiered_flat_fee, per_unit, package, step with non-decreasing steps)
  never charge less for more usage;
- no model ever returns a negative amount, and every amount is a Decimal (never a float);
- the breakdown always adds up to the amount;
- free units never make a graduated line more expensive.
"""
from decimal import Decimal as D
from decimal import localcontext

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.pricing import PricingError, Usage, apply_free_units, price, validate

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

quantities = st.decimals(min_value=0, max_value=10**9, places=3, allow_nan=False, allow_infinity=False)
prices = st.one_of(
    st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=1, places=12, allow_nan=False, allow_infinity=False),
)
positive = st.decimals(min_value=D("0.001"), max_value=10**6, places=3, allow_nan=False, allow_infinity=False)


@st.composite
def bounds(draw, max_tiers=5):
    """Strictly increasing up_to values, then an open-ended last tier."""
    steps = draw(st.lists(positive, max_size=max_tiers - 1))
    out, total = [], D(0)
    for s in steps:
        total += s
        out.append(str(total))
    return [*out, None]


@st.composite
def tier_params(draw, fields, nondecreasing=None):
    ups = draw(bounds())
    tiers = []
    for up in ups:
        tiers.append({"up_to": up, **{f: draw(prices) for f in fields}})
    if nondecreasing:
        values = sorted(D(t[nondecreasing]) for t in tiers)
        for t, v in zip(tiers, values):
            t[nondecreasing] = str(v)
    return {"tiers": [{k: (str(v) if isinstance(v, D) else v) for k, v in t.items()} for t in tiers]}


per_unit_params = st.fixed_dictionaries(
    {"unit_price": prices.map(str)}, optional={"unit_scale": st.sampled_from(["1", "1000", "3", "0.5"])}
)
package_params = st.fixed_dictionaries({"package_size": positive.map(str), "package_price": prices.map(str)})

GRADUATED = {
    "tiered": tier_params(["unit_price"]),
    "tiered_flat_fee": tier_params(["unit_price", "flat_fee"]),
    "per_unit": per_unit_params,
    "package": package_params,
    "step": tier_params(["flat_fee"], nondecreasing="flat_fee"),
}
graduated_cases = st.sampled_from(sorted(GRADUATED)).flatmap(lambda n: st.tuples(st.just(n), GRADUATED[n]))


@FAST
@given(case=graduated_cases, a=quantities, b=quantities)
def test_graduated_models_never_charge_less_for_more(case, a, b):
    name, params = case
    assert validate(name, params) == []
    lo, hi = sorted([a, b])
    assert price(name, params, Usage(lo), "USD").amount <= price(name, params, Usage(hi), "USD").amount


@FAST
@given(case=graduated_cases, q=quantities, free=quantities)
def test_free_units_never_make_a_graduated_line_dearer(case, q, free):
    name, params = case
    reduced = apply_free_units(Usage(q), free)
    assert reduced.quantity >= 0
    assert price(name, params, reduced, "USD").amount <= price(name, params, Usage(q), "USD").amount


@st.composite
def matrix_params(draw):
    ups = draw(bounds())
    cats = draw(st.lists(st.sampled_from(["EU-West", "US-East", "APAC"]), min_size=1, max_size=3, unique=True))
    params = {
        "brackets": [{"up_to": u} for u in ups],
        "rates": {c: [str(draw(prices)) for _ in ups] for c in cats},
    }
    return params


@st.composite
def two_dim_params(draw):
    ups = draw(bounds())
    bands = ["<=100", ">100"]
    return {"bands": bands, "tiers": [{"up_to": u, "unit_prices": {b: str(draw(prices)) for b in bands}} for u in ups]}


percent_params = st.fixed_dictionaries(
    {"percent": st.decimals(min_value=0, max_value=100, places=2).map(str)},
    optional={
        "fixed_fee": prices.map(str),
        "min_fee": st.decimals(min_value=0, max_value=5, places=2).map(str),
        "max_fee": st.decimals(min_value=5, max_value=50, places=2).map(str),
    },
)

ALL = {
    **GRADUATED,
    "flat_fee": st.fixed_dictionaries({"amount": prices.map(str)}),
    "percent": percent_params,
    "volume": tier_params(["unit_price"]),
    "volume_flat_fee": tier_params(["unit_price", "flat_fee"]),
    "matrix": matrix_params(),
    "two_dimensional": two_dim_params(),
}
all_cases = st.sampled_from(sorted(ALL)).flatmap(lambda n: st.tuples(st.just(n), ALL[n]))


@st.composite
def usages(draw, params):
    if "rates" in params:
        groups = {c: draw(quantities) for c in params["rates"] if draw(st.booleans())}
    elif "bands" in params:
        groups = {b: draw(quantities) for b in params["bands"] if draw(st.booleans())}
    else:
        groups = None
    txs = draw(st.none() | st.lists(quantities, max_size=6).map(tuple))
    q = sum(txs, D(0)) if txs else draw(quantities)
    return Usage(q, groups=groups, transactions=txs)


@FAST
@given(data=st.data(), case=all_cases)
def test_no_model_returns_a_negative_amount_or_a_float(data, case):
    name, params = case
    assert validate(name, params) == []
    usage = data.draw(usages(params))
    if data.draw(st.booleans()):
        usage = apply_free_units(usage, data.draw(quantities))
    result = price(name, params, usage, "USD")
    assert isinstance(result.amount, D)
    assert not isinstance(result.amount, float)
    assert result.amount >= 0
    for step in result.breakdown:
        assert isinstance(step.amount, D) and isinstance(step.quantity, D)
        assert step.amount >= 0
    with localcontext() as ctx:
        ctx.prec = 38  # the engine's working precision (core.money.PRECISION)
        assert sum((s.amount for s in result.breakdown), D(0)) == result.amount


# validate() is what forms and importers call on whatever a user typed: it must never raise, and
# params it accepts must price without error.
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 3000), st.floats(), st.text(max_size=5),
    st.sampled_from(["", "0", "1", "-1", "500", "2000", "0.5", "abc", "2001+", "0–500", "∞", "1,000"]),
)
_keys = st.sampled_from(["up_to", "unit_price", "flat_fee", "range", "unit_prices", "<=100", "EU-West"])
_json = st.recursive(_scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(_keys, c, max_size=4), max_leaves=12)
_param_names = st.sampled_from([
    "amount", "unit_price", "unit_scale", "package_size", "package_price", "percent", "fixed_fee", "min_fee",
    "max_fee", "tiers", "brackets", "rates", "default_rates", "bands",
])


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(sorted(ALL)), params=st.dictionaries(_param_names, _json, max_size=5) | _json)
def test_validate_never_raises_and_accepted_params_price(name, params):
    problems = validate(name, params)
    assert isinstance(problems, list) and all(isinstance(p, str) and p for p in problems)
    if not problems:
        groups = {}
        for key in ("rates", "bands"):
            if isinstance(params.get(key), (dict, list)):
                groups = {k: D(7) for k in params[key]}
        assert price(name, params, Usage(D(7), groups=groups, transactions=(D(7),)), "USD").amount >= 0


# A bill run (core.billing.calculate.run_memo) prices through a memo: each params object validated once, a plain
# quantity priced by the model's prepared pricing, each result remembered by quantity. It must give exactly what
# price() gives — amounts with their exponents and every breakdown text.
@FAST
@given(data=st.data(), case=all_cases)
def test_a_bill_runs_memo_prices_exactly_as_price_does(data, case):
    from core.billing.calculate import _price, run_memo

    name, params = case
    drawn = [data.draw(usages(params)) for _ in range(3)]
    plain = [Usage(u.quantity) for u in drawn]
    # the same quantities with other exponents (1 and 1.000 read differently), and zero
    other = [Usage(u.quantity.quantize(D("0.001"))) for u in plain] + [Usage(D(0)), Usage(D("0.00"))]
    asked = drawn + plain + other
    asked += asked  # the second time from the memo

    def outcome(f, usage):  # the result, or the error (a matrix line refuses usage that is not grouped)
        try:
            return repr(f(name, params, usage, "USD"))
        except PricingError as exc:
            return f"PricingError: {exc}"

    with run_memo():
        got = [outcome(_price, u) for u in asked]
    assert got == [outcome(price, u) for u in asked]


def test_a_bill_runs_memo_still_refuses_invalid_params_and_usage():
    import pytest

    from core.billing.calculate import _price, run_memo

    bad = {"tiers": [{"up_to": "10", "unit_price": "1"}]}  # no open-ended last tier
    good = {"unit_price": "2"}
    with run_memo():
        for _ in range(2):
            with pytest.raises(PricingError, match="open-ended"):
                _price("tiered", bad, Usage(D(5)), "USD")
        assert _price("per_unit", good, Usage(D(5)), "USD").amount == 10
        with pytest.raises(PricingError, match="cannot be negative"):
            _price("per_unit", good, Usage(D(-1)), "USD")
        with pytest.raises(PricingError, match="float"):
            _price("per_unit", good, Usage(0.5), "USD")
        with pytest.raises(PricingError, match="currency"):
            _price("per_unit", good, Usage(D(5)), "XXX")


@FAST
@given(case=graduated_cases, q=quantities)
def test_prepared_pricing_is_calculate(case, q):
    from core.pricing import REGISTRY

    name, params = case
    model = REGISTRY[name]
    assert repr(model.prepare(params, "USD")(q)) == repr(model.calculate(params, Usage(q), "USD"))
