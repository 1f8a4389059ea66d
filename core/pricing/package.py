"""Package: ``ceil(q / size) × price``; an exact multiple does not round up; q=0 -> $0.

Params: ``{"package_size": "100", "package_price": "8"}``. 100 -> $8; 101 -> $16; 250 -> $24;
301 -> $32 (Z).
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from core.money import ceil_div
from core.pricing.base import PriceResult, PricingError, Usage, make_breakdown_step, make_price_result
from core.pricing.common import check_currency, check_number, mul, number, params_dict, price_text, qty, usage_quantity

NAME = "package"
LABEL = "Package"
DESCRIPTION = "Sells usage in packages of a fixed size; every package started is charged in full."
PARAMS_EXAMPLE = {"package_size": "100", "package_price": "8"}


def validate(params: dict) -> list[str]:
    problems: list[str] = []
    p = params_dict(params, problems)
    if p is not None:
        check_number(p.get("package_size"), "package size", problems, positive=True)
        check_number(p.get("package_price"), "package price", problems, price=True)
    return problems


def calculate(params: dict, usage: Usage, currency: str) -> PriceResult:
    code = check_currency(currency)
    p = params_dict(params)
    q = usage_quantity(usage)
    return prepare(p, code)(q)


def prepare(params: dict, code: str) -> Callable[[Decimal], PriceResult]:
    """The pricing of a plain quantity with these (valid) params in currency ``code`` (an ISO code), the params
    read once: ``calculate`` is ``prepare(params, code)(quantity)``."""
    size = number(params.get("package_size"), "package size")
    price = number(params.get("package_price"), "package price")
    if size <= 0:
        raise PricingError("package size must be greater than 0")
    each = f" of {qty(size)} × {price_text(price, code)}"

    def priced(q: Decimal) -> PriceResult:
        packages = ceil_div(q, size)
        amount = mul(packages, price)
        word = "package" if packages == 1 else "packages"
        return make_price_result(amount, (make_breakdown_step(f"{qty(packages)} {word}{each}", packages, amount, None,
                                                               None),))
    return priced
