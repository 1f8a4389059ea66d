"""Tiered (graduated): units fill tier 1 at its rate, the overflow tier 2 at its rate, …; summed.

Params: ``{"tiers": [{"up_to": "500", "unit_price": "2"}, {"up_to": "2000", "unit_price": "1.50"},
{"up_to": None, "unit_price": "1"}]}``. 1,500 -> 500 × $2 + 1,000 × $1.50 = $2,500 (Z).
"""
from __future__ import annotations

from core.money import ZERO
from core.pricing.base import BreakdownStep, PriceResult, Usage
from core.pricing.common import add, check_currency, mul, params_dict, units_text, usage_quantity
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
    steps: list[BreakdownStep] = []
    for tier, units in graduated(read_tiers(p.get("tiers"), FIELDS), q):
        if units > 0 or q == 0:
            rate = tier.values["unit_price"]
            steps.append(BreakdownStep(units_text(units, rate, code), units, mul(units, rate), tier=tier.number))
    return PriceResult(add(ZERO, *(s.amount for s in steps)), tuple(steps))
