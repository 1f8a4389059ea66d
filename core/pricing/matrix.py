"""Matrix: quantity brackets × a category (region, plan tier…).

Usage is grouped by category (``usage.groups``); each group's own quantity picks its bracket, that
cell's rate prices the whole group, and the groups are summed. An unknown category is an error
unless the line sets ``default_rates``.

Params::

    {"brackets": [{"up_to": "500"}, {"up_to": "2000"}, {"up_to": None}],
     "rates": {"EU-West": ["0.12", "0.10", "0.07"], "US-East": ["0.10", "0.08", "0.05"]},
     "default_rates": ["0.15", "0.12", "0.09"]}          # optional

EU-West 1,500 GB -> rate $0.10 (Z) -> $150; US-East 2,500 -> $125; both in one period -> $275
(each group bracketed on its own quantity, not on the 4,000 total).
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
from core.pricing.tiers import containing_tier, normalise_with_problems, read_tiers, tier_problems

NAME = "matrix"
LABEL = "Matrix"
DESCRIPTION = (
    "Prices usage by category (such as region), each category at the rate of the quantity bracket its own usage falls into."
)
PARAMS_EXAMPLE = {
    "brackets": [{"up_to": "500"}, {"up_to": "2000"}, {"up_to": None}],
    "rates": {"EU-West": ["0.12", "0.10", "0.07"], "US-East": ["0.10", "0.08", "0.05"]},
}


def _row_problems(name: str, row: object, n_brackets: int | None, problems: list[str]) -> None:
    if not isinstance(row, (list, tuple)):
        problems.append(f"the rates for {name} must be a list, one rate per bracket")
        return
    if n_brackets is not None and len(row) != n_brackets:
        problems.append(f"{name} has {len(row)} rate{'s' if len(row) != 1 else ''} but there are {n_brackets} brackets")
    for j, r in enumerate(row, start=1):
        check_number(r, f"rate for {name} in bracket {j}", problems, price=True, missing=f"{name} needs a rate in bracket {j}")


def validate(params: dict) -> list[str]:
    problems: list[str] = []
    p = params_dict(params, problems)
    if p is None:
        return problems
    brackets = p.get("brackets")
    problems.extend(tier_problems(brackets, (), noun="bracket"))
    norm, norm_problems = normalise_with_problems(brackets, noun="bracket")
    n = None if norm_problems else len(norm)
    rates = p.get("rates")
    default = p.get("default_rates")
    has_default = not (is_blank(default) or default == [])
    if rates is None or rates == {}:
        if not has_default:
            problems.append("add rates for at least one category (or set default rates)")
    elif not isinstance(rates, dict):
        problems.append("the rates must be a table of category -> rates per bracket")
    else:
        for cat, row in rates.items():
            if is_blank(cat):
                problems.append("a category has no name")
                continue
            _row_problems(f"'{cat}'", row, n, problems)
    if has_default:
        _row_problems("the default rates", default, n, problems)
    return problems


def _row(row: object, label: str) -> list[Decimal]:
    return [number(r, f"rate for {label} in bracket {j}") for j, r in enumerate(row, start=1)]


def calculate(params: dict, usage: Usage, currency: str) -> PriceResult:
    code = check_currency(currency)
    p = params_dict(params)
    brackets = read_tiers(p.get("brackets"), (), noun="bracket")
    rates = {str(cat): _row(row, f"'{cat}'") for cat, row in (p.get("rates") or {}).items()}
    default_raw = p.get("default_rates")
    default = None if is_blank(default_raw) or default_raw == [] else _row(default_raw, "the default rates")
    for label, row in [*rates.items(), ("default rates", default)]:
        if row is not None and len(row) != len(brackets):
            raise PricingError(f"{label} has {len(row)} rates but there are {len(brackets)} brackets")
    groups = usage_groups(usage)
    if groups is None:
        if usage_quantity(usage) == 0:
            return PriceResult(ZERO, ())
        raise PricingError("a matrix line needs its usage grouped by category (region, plan tier…)")
    steps: list[BreakdownStep] = []
    for cat in sorted(groups):
        gq = groups[cat]
        row = rates.get(cat)
        label = cat
        if row is None:
            if default is None:
                known = ", ".join(sorted(rates)) or "none"
                raise PricingError(
                    f"no rates for '{cat}' on this matrix line (known categories: {known}); "
                    "add a row for it or set default rates"
                )
            row, label = default, f"{cat} (default rate)"
        bracket = containing_tier(brackets, gq)
        rate = row[bracket.number - 1]
        steps.append(
            BreakdownStep(f"{label}: {units_text(gq, rate, code)}", gq, mul(gq, rate), tier=bracket.number, group=cat)
        )
    return PriceResult(add(*(s.amount for s in steps)), tuple(steps))


def usage_quantity_for_preview(usage: Usage) -> Decimal:
    groups = usage_groups(usage)
    return add(*groups.values()) if groups else usage_quantity(usage)
