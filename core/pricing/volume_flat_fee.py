"""Volume with flat fee: the tier that contains q supplies a flat fee plus the rate for all units.

Params: ``{"tiers": [{"up_to": "500", "unit_price": "0.01", "flat_fee": "50"}, {"up_to": "2000",
"unit_price": "0.08", "flat_fee": "100"}, {"up_to": None, "unit_price": "0.06", "flat_fee": "250"}]}``.
1,500 -> $100 + 1,500 × $0.08 = $220 (Z); 400 -> $54; 2,500 -> $400; 0 -> $50 (first tier's fee).
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from core.money import ONE
from core.pricing.base import BreakdownStep, PriceResult, Usage
from core.pricing.common import add, check_currency, flat_fee_text, mul, params_dict, price_text, qty, usage_quantity
from core.pricing.tiers import containing_tier, read_tiers, tier_validator

NAME = "volume_flat_fee"
LABEL = "Volume with flat fee"
DESCRIPTION = "Charges the flat fee of the tier the period's usage falls into plus that tier's rate for all units."
PARAMS_EXAMPLE = {
    "tiers": [
        {"up_to": "500", "unit_price": "0.01", "flat_fee": "50"},
        {"up_to": "2000", "unit_price": "0.08", "flat_fee": "100"},
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
        tier = containing_tier(tiers, q)
        fee, rate = tier.values["flat_fee"], tier.values["unit_price"]
        steps = [BreakdownStep(fee_text[tier.number], ONE, fee, tier=tier.number)] if fee > 0 else []
        if q > 0 or not steps:
            steps.append(BreakdownStep(qty(q) + each[tier.number], q, mul(q, rate), tier=tier.number))
        return PriceResult(add(*(s.amount for s in steps)), tuple(steps))
    return priced
