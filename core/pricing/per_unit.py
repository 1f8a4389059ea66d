"""Per unit: ``q × r``, optionally priced per block of units (unit scale, e.g. $0.05 per 1,000).

Params: ``{"unit_price": "2"}`` or ``{"unit_price": "0.05", "unit_scale": "1000"}``.
$2/GB: 1,500 GB -> $3,000 (Z). $0.05 per 1,000 requests, 2,000,000 requests -> $100 (Z).
"""
from __future__ import annotations

from core.pricing.base import BreakdownStep, PriceResult, Usage
from core.pricing.common import (
    check_currency,
    check_number,
    div,
    mul,
    number,
    optional_number,
    params_dict,
    qty,
    units_text,
    usage_quantity,
)

NAME = "per_unit"
LABEL = "Per unit"
DESCRIPTION = "Charges the same price for every unit used (optionally a price per block of units, such as per 1,000)."
PARAMS_EXAMPLE = {"unit_price": "2"}


def validate(params: dict) -> list[str]:
    problems: list[str] = []
    p = params_dict(params, problems)
    if p is not None:
        check_number(p.get("unit_price"), "unit price", problems, price=True)
        check_number(p.get("unit_scale"), "unit scale", problems, required=False, positive=True)
    return problems


def calculate(params: dict, usage: Usage, currency: str) -> PriceResult:
    code = check_currency(currency)
    p = params_dict(params)
    q = usage_quantity(usage)
    price = number(p.get("unit_price"), "unit price")
    scale = optional_number(p.get("unit_scale"), "unit scale")
    if scale is None or scale == 1:
        amount = mul(q, price)
        text = units_text(q, price, code)
    else:
        amount = div(mul(q, price), scale)
        text = f"{units_text(q, price, code)} per {qty(scale)}"
    return PriceResult(amount, (BreakdownStep(text, q, amount, tier=None),))
