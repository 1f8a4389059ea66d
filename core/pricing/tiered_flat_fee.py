"""Tiered with flat fee: graduated, and every tier reached adds its flat fee (tier 1 is reached at q=0).

Params: ``{"tiers": [{"up_to": "100", "unit_price": "0.01", "flat_fee": "50"}, {"up_to": "500",
"unit_price": "0.08", "flat_fee": "100"}, {"up_to": None, "unit_price": "0.06", "flat_fee": "250"}]}``.
750 -> ($50 + 100 × $0.01) + ($100 + 400 × $0.08) + ($250 + 250 × $0.06) = $448 (Z); 100 -> $51; 101 -> $151.08.
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from core.money import ONE, ZERO
from core.pricing.base import BreakdownStep, PriceResult, Usage
from core.pricing.common import add, check_currency, flat_fee_text, mul, params_dict, price_text, qty, usage_quantity
from core.pricing.tiers import graduated, read_tiers, tier_validator

NAME = "tiered_flat_fee"
LABEL = "Tiered with flat fee"
DESCRIPTION = "Prices the units in each tier at that tier's rate, and adds the flat fee of every tier reached."
PARAMS_EXAMPLE = {
    "tiers": [
        {"up_to": "100", "unit_price": "0.01", "flat_fee": "50"},
        {"up_to": "500", "unit_price": "0.08", "flat_fee": "100"},
        {"up_to": None, "unit_price": "0.06", "flat_fee": "250"},
    ]
}
FIELDS = (("unit_price", "rate"), ("flat_fee", "flat fee"))


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
    fee_text = {t.number: flat_fee_text(t.values["flat_fee"], code) for t in tiers}
    each = {t.number: f" × {price_text(t.values['unit_price'], code)}" for t in tiers}  # units_text's price part

    def priced(q: Decimal) -> PriceResult:
        steps: list[BreakdownStep] = []
        for tier, units in graduated(tiers, q):
            fee, rate = tier.values["flat_fee"], tier.values["unit_price"]
            if fee > 0:
                steps.append(BreakdownStep(fee_text[tier.number], ONE, fee, tier=tier.number))
            if units > 0:
                steps.append(BreakdownStep(qty(units) + each[tier.number], units, mul(units, rate), tier=tier.number))
        if not steps:  # q = 0 and a $0 first-tier fee: still say what was priced
            steps.append(BreakdownStep(qty(ZERO) + each[tiers[0].number], ZERO, ZERO, tier=1))
        return PriceResult(add(*(s.amount for s in steps)), tuple(steps))
    return priced
