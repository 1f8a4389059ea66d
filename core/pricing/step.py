"""Step: the flat fee of the step that contains q; no per-unit part; q=0 falls in the first step.

Params: ``{"tiers": [{"up_to": "500", "flat_fee": "100"}, {"up_to": "2000", "flat_fee": "300"},
{"up_to": None, "flat_fee": "600"}]}``. 1,500 -> $300 (Z); 500 -> $100; 501 -> $300; 0 -> $100.
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from core.money import ONE
from core.pricing.base import BreakdownStep, PriceResult, Usage
from core.pricing.common import check_currency, flat_fee_text, params_dict, usage_quantity
from core.pricing.tiers import containing_tier, read_tiers, tier_validator

NAME = "step"
LABEL = "Step"
DESCRIPTION = "Charges one flat fee chosen by the step the period's usage falls into."
PARAMS_EXAMPLE = {
    "tiers": [
        {"up_to": "500", "flat_fee": "100"},
        {"up_to": "2000", "flat_fee": "300"},
        {"up_to": None, "flat_fee": "600"},
    ]
}
FIELDS = (("flat_fee", "flat fee"),)


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
    text = {t.number: flat_fee_text(t.values["flat_fee"], code) for t in tiers}

    def priced(q: Decimal) -> PriceResult:
        tier = containing_tier(tiers, q)
        fee = tier.values["flat_fee"]
        return PriceResult(fee, (BreakdownStep(text[tier.number], ONE, fee, tier=tier.number),))
    return priced
