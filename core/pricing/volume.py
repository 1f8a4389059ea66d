"""Volume: the tier that contains q prices all units.

Params: same tiers as graduated, ``{"tiers": [{"up_to": "500", "unit_price": "2"}, {"up_to": "2000",
"unit_price": "1.50"}, {"up_to": None, "unit_price": "1"}]}``. 1,500 -> 1,500 × $1.50 = $2,250 (Z).
"""
from __future__ import annotations

from core.pricing.base import BreakdownStep, PriceResult, Usage
from core.pricing.common import check_currency, mul, params_dict, units_text, usage_quantity
from core.pricing.tiers import containing_tier, read_tiers, tier_validator

NAME = "volume"
LABEL = "Volume"
DESCRIPTION = "Prices all units at the rate of the tier the period's total usage falls into."
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
    tier = containing_tier(read_tiers(p.get("tiers"), FIELDS), q)
    rate = tier.values["unit_price"]
    amount = mul(q, rate)
    return PriceResult(amount, (BreakdownStep(units_text(q, rate, code), q, amount, tier=tier.number),))
