"""Per unit: ``q × r``, optionally priced per block of units (unit scale, e.g. $0.05 per 1,000).

Params: ``{"unit_price": "2"}`` or ``{"unit_price": "0.05", "unit_scale": "1000"}``.
$2/GB: 1,500 GB -> $3,000 (Z). $0.05 per 1,000 requests, 2,000,000 requests -> $100 (Z).
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from core.pricing.base import PriceResult, Usage, make_breakdown_step, make_price_result
from core.pricing.common import (
    check_currency,
    check_number,
    div,
    mul,
    number,
    optional_number,
    params_dict,
    price_text,
    qty,
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
    return prepare(p, code)(q)


def prepare(params: dict, code: str) -> Callable[[Decimal], PriceResult]:
    """The pricing of a plain quantity with these (valid) params in currency ``code`` (an ISO code), the params
    read once: ``calculate`` is ``prepare(params, code)(quantity)``; a bill run keeps it for every line with the
    same params."""
    price = number(params.get("unit_price"), "unit price")
    scale = optional_number(params.get("unit_scale"), "unit scale")
    each = f" × {price_text(price, code)}"
    if scale is None or scale == 1:
        def priced(q: Decimal) -> PriceResult:
            amount = mul(q, price)
            return make_price_result(amount, (make_breakdown_step(qty(q) + each, q, amount, None, None),))
    else:
        per = f"{each} per {qty(scale)}"

        def priced(q: Decimal) -> PriceResult:
            amount = div(mul(q, price), scale)
            return make_price_result(amount, (make_breakdown_step(qty(q) + per, q, amount, None, None),))
    return priced
