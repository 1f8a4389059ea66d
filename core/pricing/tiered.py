"""Tiered (graduated): units fill tier 1 at its rate, the overflow tier 2 at its rate, …; summed.

Params: ``{"tiers": [{"up_to": "500", "unit_price": "2"}, {"up_to": "2000", "unit_price": "1.50"},
{"up_to": None, "unit_price": "1"}]}``. 1,500 -> 500 × $2 + 1,000 × $1.50 = $2,500 (Z).
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from core.money import ZERO
from core.pricing.base import BreakdownStep, PriceResult, Usage, make_breakdown_step, make_price_result
from core.pricing.common import add, check_currency, mul, params_dict, price_text, qty, usage_quantity
from core.pricing.tiers import graduated, read_tiers, tier_validator

NAME = "tiered"
LABEL = "Tiered (graduated)"
DESCRIPTION = "Prices the units in each tier at that tier's rate and adds the tiers up."
PARAMS_EXAMPLE = {
    "tiers": [
        {"up_to": "500", "unit_price": "2"},
        {"up_to": "2000", "unit_price": "1.50"},
        {"up_to": None, "unit_price": "1"},
    ]
}
FIELDS = (("unit_price", "rate"),)


validate = tier_validator(FIELDS)


def calculate(params: dict, usage: Usage, currency: str) -> PriceResult:
    code = check_currency(currency)
    p = params_dict(params)
    q = usage_quantity(usage)
    return prepare(p, code)(q)


def prepare(params: dict, code: str) -> Callable[[Decimal], PriceResult]:
    """The pricing of a plain quantity with these (valid) params in currency ``code`` (an ISO code), the tiers
    read once: ``calculate`` is ``prepare(params, code)(quantity)``."""
    tiers = read_tiers(params.get("tiers"), FIELDS)
    each = {t.number: f" × {price_text(t.values['unit_price'], code)}" for t in tiers}  # units_text's price part

    def priced(q: Decimal) -> PriceResult:
        steps: list[BreakdownStep] = []
        for tier, units in graduated(tiers, q):
            if units > 0 or q == 0:
                rate = tier.values["unit_price"]
                steps.append(make_breakdown_step(qty(units) + each[tier.number], units, mul(units, rate), tier.number,
                                                 None))
        return make_price_result(add(ZERO, *(s.amount for s in steps)), tuple(steps))
    return priced
