"""Two-dimensional tiered: graduated tiers on quantity, the column chosen by a second dimension (band).

Usage in several bands (``usage.groups``: band -> quantity) is tiered per band on that band's own
quantity, and the bands are summed. A band the line does not list is an error.

Params::

    {"bands": ["<=100", ">100"],
     "tiers": [{"up_to": "50000",  "unit_prices": {"<=100": "0.01",  ">100": "0.02"}},
               {"up_to": "100000", "unit_prices": {"<=100": "0.005", ">100": "0.01"}},
               {"up_to": "150000", "unit_prices": {"<=100": "0.002", ">100": "0.005"}},
               {"up_to": None,     "unit_prices": {"<=100": "0.001", ">100": "0.002"}}]}

120,000 units in band <=100 -> 50,000 × $0.01 + 50,000 × $0.005 + 20,000 × $0.002 = $790.
"""
from __future__ import annotations

from decimal import Decimal

from core.money import ZERO
from core.pricing.base import BreakdownStep, PriceResult, PricingError, Usage
from core.pricing.common import (
    add,
    check_currency,
    check_number,
    is_blank,
    mul,
    number,
    params_dict,
    units_text,
    usage_groups,
    usage_quantity,
)
from core.pricing.tiers import graduated, normalise_tiers, read_tiers, tier_problems

NAME = "two_dimensional"
LABEL = "Two-dimensional tiered"
DESCRIPTION = (
    "Prices usage in graduated tiers, with a separate column of rates for each band "
    "(such as unit-price band), each band tiered on its own usage."
)
PARAMS_EXAMPLE = {
    "bands": ["<=100", ">100"],
    "tiers": [
        {"up_to": "50000", "unit_prices": {"<=100": "0.01", ">100": "0.02"}},
        {"up_to": "100000", "unit_prices": {"<=100": "0.005", ">100": "0.01"}},
        {"up_to": "150000", "unit_prices": {"<=100": "0.002", ">100": "0.005"}},
        {"up_to": None, "unit_prices": {"<=100": "0.001", ">100": "0.002"}},
    ]
}


def _bands(raw: object, problems: list[str]) -> list[str]:
    if raw is None or raw == [] or raw == ():
        problems.append("add at least one band")
        return []
    if not isinstance(raw, (list, tuple)):
        problems.append("the bands must be a list of names")
        return []
    seen: list[str] = []
    for i, b in enumerate(raw, start=1):
        if not isinstance(b, str) or is_blank(b):
            problems.append(f"band {i} has no name")
        elif b in seen:
            problems.append(f"band '{b}' is listed twice")
        else:
            seen.append(b)
    return seen


def validate(params: dict) -> list[str]:
    problems: list[str] = []
    p = params_dict(params, problems)
    if p is None:
        return problems
    bands = _bands(p.get("bands"), problems)
    tier_errs = tier_problems(p.get("tiers"), ())
    problems.extend(tier_errs)
    tiers = p.get("tiers")
    if not isinstance(tiers, (list, tuple)):
        return problems
    for i, t in enumerate(tiers, start=1):
        if not isinstance(t, dict):
            continue  # already reported
        prices = t.get("unit_prices")
        if not isinstance(prices, dict):
            problems.append(f"tier {i} needs a rate for each band")
            continue
        for band in bands:
            check_number(
                prices.get(band),
                f"rate for band '{band}' in tier {i}",
                problems,
                price=True,
                missing=f"tier {i} needs a rate for band '{band}'",
            )
        for extra in prices:
            if extra not in bands:
                problems.append(f"tier {i} has a rate for '{extra}', which is not one of the bands")
    return problems


def calculate(params: dict, usage: Usage, currency: str) -> PriceResult:
    code = check_currency(currency)
    p = params_dict(params)
    problems: list[str] = []
    bands = _bands(p.get("bands"), problems)
    if problems:
        raise PricingError("; ".join(problems))
    tiers = read_tiers(p.get("tiers"), ())
    norm = normalise_tiers(p.get("tiers"))
    prices: list[dict[str, Decimal]] = []
    for i, t in enumerate(norm, start=1):
        up = t.get("unit_prices") or {}
        prices.append({b: number(up.get(b), f"rate for band '{b}' in tier {i}") for b in bands})
    groups = usage_groups(usage)
    if groups is None:
        if usage_quantity(usage) == 0:
            return PriceResult(ZERO, ())
        raise PricingError("a two-dimensional line needs its usage grouped by band")
    unknown = [g for g in groups if g not in bands]
    if unknown:
        raise PricingError(
            f"usage in band '{unknown[0]}', which this line does not have (bands: {', '.join(bands)})"
        )
    steps: list[BreakdownStep] = []
    for band in bands:
        if band not in groups:
            continue
        bq = groups[band]
        for tier, units in graduated(tiers, bq):
            if units > 0 or bq == 0:
                rate = prices[tier.number - 1][band]
                steps.append(
                    BreakdownStep(
                        f"{band}: {units_text(units, rate, code)}", units, mul(units, rate), tier=tier.number, group=band
                    )
                )
    return PriceResult(add(*(s.amount for s in steps)), tuple(steps))


def usage_quantity_for_preview(usage: Usage) -> Decimal:
    groups = usage_groups(usage)
    return add(*groups.values()) if groups else usage_quantity(usage)
