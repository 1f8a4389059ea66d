"""Flat fee: a fixed amount per period (recurring) or once (one-time), whatever the usage.

Params: ``{"amount": "500"}``. $500, any usage -> $500 (Z). Unlike the usage models, a flat fee is
charged at zero usage too: it does not depend on usage at all.
"""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from core.money import ONE
from core.pricing.base import BreakdownStep, PriceResult, Usage
from core.pricing.common import check_currency, check_number, flat_fee_text, number, params_dict, usage_quantity

NAME = "flat_fee"
LABEL = "Flat fee"
DESCRIPTION = "Charges the same fixed amount every period (or once), whatever the usage."
PARAMS_EXAMPLE = {"amount": "500"}


def validate(params: dict) -> list[str]:
    problems: list[str] = []
    p = params_dict(params, problems)
    if p is not None:
        check_number(p.get("amount"), "amount", problems, price=True)
    return problems


def calculate(params: dict, usage: Usage, currency: str) -> PriceResult:
    code = check_currency(currency)
    p = params_dict(params)
    q = usage_quantity(usage)
    return prepare(p, code)(q)


def prepare(params: dict, code: str) -> Callable[[Decimal], PriceResult]:
    """The pricing of a plain quantity with these (valid) params in currency ``code`` (an ISO code), the params
    read once: ``calculate`` is ``prepare(params, code)(quantity)``."""
    amount = number(params.get("amount"), "amount")
    result = PriceResult(amount, (BreakdownStep(flat_fee_text(amount, code), ONE, amount),))

    def priced(q: Decimal) -> PriceResult:
        return result  # whatever the usage (calculate has checked it)
    return priced
