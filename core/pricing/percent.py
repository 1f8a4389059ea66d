"""Percentage: ``q × percent / 100`` where q is a money base (e.g. the SUM of transaction amounts).

Optional per-transaction ``fixed_fee``, ``min_fee`` and ``max_fee`` are applied event by event:
each transaction costs ``value × percent / 100 + fixed_fee``, then is clamped to [min, max].

Params: ``{"percent": "5"}``; ``{"percent": "2.9", "fixed_fee": "0.30", "min_fee": "0.50"}``.
5% of $1,500 -> $75; 10% of $5,000 -> $500 (Z); 2.9% + $0.30, min $0.50: $10 -> $0.59, $5 -> $0.50.

The money base: ``usage.transactions`` when given (they are the truth), otherwise ``usage.quantity``.
With per-transaction fees and no transaction list, a positive quantity counts as one transaction;
a zero quantity is no transaction at all and costs $0 (no minimum is charged on nothing).
"""
from __future__ import annotations

from decimal import Decimal

from core.money import HUNDRED, ZERO, format_number
from core.pricing.base import BreakdownStep, PriceResult, PricingError, Usage
from core.pricing.common import (
    add,
    check_currency,
    check_number,
    div,
    is_blank,
    mul,
    number,
    optional_number,
    params_dict,
    price_text,
    usage_quantity,
    usage_transactions,
)

NAME = "percent"
LABEL = "Percentage"
DESCRIPTION = (
    "Charges a percentage of a money amount such as transaction value, "
    "optionally with a fixed fee, minimum and maximum per transaction."
)
PARAMS_EXAMPLE = {"percent": "2.9", "fixed_fee": "0.30", "min_fee": "0.50"}


def validate(params: dict) -> list[str]:
    problems: list[str] = []
    p = params_dict(params, problems)
    if p is None:
        return problems
    check_number(p.get("percent"), "percent", problems, price=True)
    check_number(p.get("fixed_fee"), "fixed fee per transaction", problems, required=False, price=True)
    mn = check_number(p.get("min_fee"), "minimum fee per transaction", problems, required=False, price=True)
    mx = check_number(
        p.get("max_fee"), "maximum fee per transaction", problems, required=False, positive=True, price=True
    )
    if mn is not None and mx is not None and mx < mn:
        problems.append("the maximum fee per transaction is below the minimum fee")
    return problems


def _pct(pct: Decimal) -> str:
    return f"{format_number(pct)}%"


def _share(base: Decimal, pct: Decimal) -> Decimal:
    return div(mul(base, pct), HUNDRED)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def calculate(params: dict, usage: Usage, currency: str) -> PriceResult:
    code = check_currency(currency)
    p = params_dict(params)
    q = usage_quantity(usage)
    txs = usage_transactions(usage)
    pct = number(p.get("percent"), "percent")
    fixed = number(p.get("fixed_fee"), "fixed fee per transaction", default=ZERO)
    mn = optional_number(p.get("min_fee"), "minimum fee per transaction")
    mx = optional_number(p.get("max_fee"), "maximum fee per transaction")
    if pct < 0 or fixed < 0 or (mn is not None and mn < 0) or (mx is not None and mx < 0):
        raise PricingError("percent and fees cannot be negative")
    if mn is not None and mx is not None and mx < mn:
        raise PricingError("the maximum fee per transaction is below the minimum fee")

    per_transaction = not is_blank(p.get("fixed_fee")) or mn is not None or mx is not None
    if not per_transaction:
        base = add(*txs) if txs is not None else q
        amount = _share(base, pct)
        return PriceResult(amount, (BreakdownStep(f"{_pct(pct)} of {price_text(base, code)}", base, amount),))

    if txs is None:
        txs = (q,) if q > 0 else ()
    plain_base, plain_n = ZERO, 0
    at_min, at_max = 0, 0
    for value in txs:
        cost = add(_share(value, pct), fixed)
        if mn is not None and cost < mn:
            at_min += 1
        elif mx is not None and cost > mx:
            at_max += 1
        else:
            plain_base = add(plain_base, value)
            plain_n += 1

    steps: list[BreakdownStep] = []
    if plain_n or not txs:
        share = _share(plain_base, pct)
        steps.append(BreakdownStep(f"{_pct(pct)} of {price_text(plain_base, code)}", plain_base, share))
        if fixed > 0 and plain_n:
            fees = mul(Decimal(plain_n), fixed)
            steps.append(BreakdownStep(f"{plain_n} × {price_text(fixed, code)} fixed fee", Decimal(plain_n), fees))
    if at_min:
        steps.append(
            BreakdownStep(
                f"{_plural(at_min, 'transaction')} at the {price_text(mn, code)} minimum",
                Decimal(at_min),
                mul(Decimal(at_min), mn),
            )
        )
    if at_max:
        steps.append(
            BreakdownStep(
                f"{_plural(at_max, 'transaction')} at the {price_text(mx, code)} maximum",
                Decimal(at_max),
                mul(Decimal(at_max), mx),
            )
        )
    amount = add(*(s.amount for s in steps))
    return PriceResult(amount, tuple(steps))


def usage_phrase(usage: Usage, currency: str) -> str:
    """For the live preview: 'On $1,500.00' / 'On 2 transactions totalling $15.00'."""
    txs = usage_transactions(usage)
    if txs is not None:
        return f"On {_plural(len(txs), 'transaction')} totalling {price_text(add(*txs), currency)}"
    return f"On {price_text(usage_quantity(usage), currency)}"
