"""Properties of price_document for any valid modifiers (hypothesis).

- no grant or discount makes a line, or the contract, negative;
- subtotal, tax and total are sums of the shown step amounts; amount due = total − wallet credits;
- credits never exceed the total or the balance, amount due is never negative;
- every amount is a Decimal at the currency's minor unit (never a float);
- a line-level discount never raises the total (modifiers only reduce, except true-ups and fees).
"""
from decimal import ROUND_DOWN
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.billing.modifiers import (
    ContractInput,
    LineInput,
    TaxRule,
    price_document,
    validate_contract_modifiers,
    validate_line_modifiers,
)
from core.money import currency, round_money

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

amounts = st.decimals(min_value=0, max_value=10**7, places=6, allow_nan=False, allow_infinity=False)
money = st.decimals(min_value=D("0.01"), max_value=10**6, places=2, allow_nan=False, allow_infinity=False)
percents = st.decimals(min_value=0, max_value=100, places=3, allow_nan=False, allow_infinity=False)
fractions = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)
codes = st.sampled_from(["USD", "JPY", "BHD", "EUR"])


def _s(d: D) -> str:
    return str(d)


@st.composite
def discount(draw):
    kind = draw(st.sampled_from(["percent", "fixed"]))
    d = {"type": kind, "value": _s(draw(percents if kind == "percent" else money))}
    if draw(st.booleans()):
        d["per_period_cap"] = _s(draw(money))
    if draw(st.booleans()):
        d["lifetime_cap"] = _s(draw(money))
    return d


@st.composite
def line_mods(draw):
    mods = {}
    if draw(st.booleans()):
        mods["credit_grants"] = [{"amount": _s(draw(money)), "recurring": draw(st.booleans())}
                                 for _ in range(draw(st.integers(1, 2)))]
    if draw(st.booleans()):
        mods["discounts"] = draw(st.lists(discount(), min_size=1, max_size=3))
    if draw(st.booleans()):
        mods["minimum_commitment"] = {"amount": _s(draw(money)), "charge_full": draw(st.booleans())}
    return mods


@st.composite
def contract_mods(draw):
    mods = {}
    if draw(st.booleans()):
        mods["discounts"] = draw(st.lists(discount(), min_size=1, max_size=2))
    if draw(st.booleans()):
        mods["minimum_commitment"] = {"amount": _s(draw(money))}
    if draw(st.booleans()):
        mods["service_fees"] = [{"type": t, "value": _s(draw(percents if t == "percent" else money))}
                                for t in draw(st.lists(st.sampled_from(["percent", "fixed"]), min_size=1, max_size=2))]
    return mods


@st.composite
def documents(draw):
    n = draw(st.integers(1, 4))
    lines = []
    for i in range(n):
        mods = draw(line_mods())
        history = {f"line:{i}:{k}:0": draw(money) for k in ("credit_grant", "discount") if draw(st.booleans())}
        lines.append(LineInput(str(i), f"line {i}", draw(amounts), mods, history, draw(fractions)))
    contract = ContractInput(draw(contract_mods()), {}, draw(fractions))
    tax = draw(st.one_of(st.none(), percents.map(lambda p: TaxRule.rate("Tax", p)),
                         st.just(TaxRule.exempt_rule())))
    return lines, contract, draw(codes), tax


def _wallet(code: str, value: D) -> D:
    """A balance the wallet can hold in that currency (whole minor units)."""
    return value.quantize(currency(code).quantum, rounding=ROUND_DOWN)


@FAST
@given(documents(), money)
def test_totals_are_sums_of_shown_amounts_and_never_negative(doc, wallet):
    lines, contract, code, tax = doc
    assert all(validate_line_modifiers(ln.modifiers) == [] for ln in lines)
    assert validate_contract_modifiers(contract.modifiers) == []
    balance = _wallet(code, wallet)
    result = price_document(lines, contract, code, tax, balance)
    quantum = currency(code).quantum

    for s in result.steps:
        assert isinstance(s.amount, D)
        assert s.amount == s.amount.quantize(quantum)
    for value in (result.subtotal, result.tax, result.total, result.credits_applied, result.amount_due):
        assert isinstance(value, D) and value == value.quantize(quantum)

    assert result.subtotal == sum(s.amount for s in result.steps if s.kind not in ("tax", "wallet"))
    assert result.tax == sum(s.amount for s in result.steps if s.kind == "tax")
    assert result.total == result.subtotal + result.tax
    assert result.amount_due == sum(s.amount for s in result.steps)
    assert 0 <= result.credits_applied <= min(result.total, balance)
    assert result.amount_due >= 0
    assert result.subtotal >= 0

    # no line goes below 0 at any point of its grants and discounts
    for ln in lines:
        running = D(0)
        for s in result.steps:
            if s.line_key == ln.key:
                running += s.amount
                assert running >= 0
    # nor does the contract under its discounts
    running = sum(result.line_total(ln.key) for ln in lines)
    for s in result.steps:
        if s.line_key is None and s.kind in ("discount", "true_up", "service_fee"):
            running += s.amount
            assert running >= 0


@FAST
@given(amounts, st.lists(discount(), min_size=1, max_size=3), codes)
def test_discounts_only_reduce_a_line_and_never_below_zero(amount, discounts, code):
    plain = price_document([LineInput("1", "x", amount)], None, code)
    discounted = price_document([LineInput("1", "x", amount, {"discounts": discounts})], None, code)
    assert D(0) <= discounted.total <= plain.total
    assert all(s.amount < 0 for s in discounted.steps if s.kind == "discount")


@FAST
@given(st.lists(amounts, min_size=1, max_size=6), percents, codes)
def test_tax_is_one_rounding_of_rate_times_subtotal(values, pct, code):
    lines = [LineInput(str(i), "x", v) for i, v in enumerate(values)]
    result = price_document(lines, None, code, TaxRule.rate("Tax", pct))
    assert result.tax == round_money(result.subtotal * pct / 100, code)


@FAST
@given(st.decimals(min_value=-10**9, max_value=10**9, places=6, allow_nan=False, allow_infinity=False),
       st.sampled_from(["USD", "JPY", "BHD", "EUR", "GBP", "INR", "CHF", "KRW"]), st.booleans())
def test_the_pipelines_money_wording_is_format_money(amount, code, working_precision):
    from decimal import localcontext

    from core.billing.modifiers import _Pricer
    from core.money import format_money

    with localcontext() as ctx:
        if working_precision:
            ctx.prec = 38  # as inside price_document
        assert _Pricer(code).money(amount) == format_money(amount, code)
        assert _Pricer(code).round(amount) == round_money(amount, code)


@FAST
@given(documents(), money)
def test_a_bill_run_checks_modifiers_once_and_prices_the_same(doc, wallet):
    from core.billing.modifiers import checked_once

    lines, contract, code, tax = doc
    balance = _wallet(code, wallet)
    alone = price_document(lines, contract, code, tax, balance)
    with checked_once():
        twice = [price_document(lines, contract, code, tax, balance) for _ in range(2)]
    assert repr(twice[0]) == repr(twice[1]) == repr(alone)


def test_modifiers_checked_once_per_run_still_refuse_invalid_ones():
    import pytest

    from core.billing.modifiers import ModifierError, checked_once

    bad = [{"type": "percent", "value": "150"}]
    good = [{"type": "percent", "value": "10"}]
    with checked_once():
        assert price_document([LineInput("1", "x", D(10), {"discounts": good})]).total == D("9.00")
        for _ in range(2):  # the same list object, valid once: another one is checked on its own
            with pytest.raises(ModifierError, match="percent must be between 0 and 100"):
                price_document([LineInput("1", "x", D(10), {"discounts": bad})])
            with pytest.raises(ModifierError, match="contract"):
                price_document([LineInput("1", "x", D(10))], ContractInput({"discounts": bad}))
        assert price_document([LineInput("1", "x", D(10), {"discounts": good})]).total == D("9.00")
