"""Volume: the tier that contains q prices all units.

Params: same tiers as graduated, ``{"tiers": [{"up_to": "500", "unit_price": "2"}, {"up_to": "2000",
"unit_price": "1.50"}, {"up_to": None, "unit_price": "1"}]}``. 1,500 -> 1,500 × $1.50 = $2,250 (Z).
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from core.pricing.base import PriceResult, Usage, make_breakdown_step, make_price_result
from core.pricing.common import check_currency, mul, params_dict, price_text, qty, usage_quantity
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
    return prepare(p, code)(q)


def prepare(params: dict, code: str) -> Callable[[Decimal], PriceResult]:
    """The pricing of a plain quantity with these (valid) params in currency ``code`` (an ISO code), the tiers
    read once: ``calculate`` is ``prepare(params, code)(quantity)``."""
    tiers = read_tiers(params.get("tiers"), FIELDS)
    each = {t.number: f" × {price_text(t.values['unit_price'], code)}" for t in tiers}  # units_text's price part

    def priced(q: Decimal) -> PriceResult:
        tier = containing_tier(tiers, q)
        rate = tier.values["unit_price"]
        amount = mul(q, rate)
        return make_price_result(amount, (make_breakdown_step(qty(q) + each[tier.number], q, amount, tier.number,
                                                                   None),))
    return priced
