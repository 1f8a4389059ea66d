"""The pricing engine: pure functions from (model, params, usage) to a precise amount and a breakdown.

Entry points::

    price(name, params, usage, currency) -> PriceResult   # validates first; raises PricingError
    validate(name, params) -> list[str]                   # every problem, in finance-user words
    apply_free_units(usage, free) -> Usage                # spec section 2 step 1, before price()
    describe(name, params, usage, currency) -> str        # live-preview sentence for the UI
    get_model(name) / REGISTRY                            # the model modules

Each model module (``flat_fee``, ``per_unit``, …) exposes NAME, LABEL, DESCRIPTION, PARAMS_EXAMPLE,
``validate(params)`` and ``calculate(params, usage, currency)``. Amounts are never rounded here:
the invoice line rounds once with :func:`core.money.round_money`. See README.md in this folder.
"""
from __future__ import annotations

from decimal import Decimal
from types import ModuleType

from core.money import ZERO, MoneyError, format_money, round_money, to_decimal
from core.pricing import (
    flat_fee,
    matrix,
    package,
    per_unit,
    percent,
    step,
    tiered,
    tiered_flat_fee,
    two_dimensional,
    volume,
    volume_flat_fee,
)
from core.pricing.base import BreakdownStep, PriceResult, PricingError, Usage
from core.pricing.common import check_currency, qty, usage_groups, usage_quantity, usage_transactions
from core.pricing.tiers import normalise_tiers, parse_range, tier_problems

__all__ = [
    "REGISTRY",
    "BreakdownStep",
    "PriceResult",
    "PricingError",
    "Usage",
    "apply_free_units",
    "choices",
    "describe",
    "get_model",
    "normalise_tiers",
    "parse_range",
    "price",
    "tier_problems",
    "validate",
]

REGISTRY: dict[str, ModuleType] = {
    m.NAME: m
    for m in (
        flat_fee,
        per_unit,
        package,
        percent,
        step,
        tiered,
        tiered_flat_fee,
        volume,
        volume_flat_fee,
        matrix,
        two_dimensional,
    )
}


def get_model(name: str) -> ModuleType:
    """The model module registered under ``name``; unknown names raise PricingError."""
    model = REGISTRY.get(name) if isinstance(name, str) else None
    if model is None:
        raise PricingError(f"unknown pricing model '{name}'; choose one of {', '.join(REGISTRY)}")
    return model


def choices() -> list[tuple[str, str, str]]:
    """(name, label, description) for every model, in registry order — for select boxes."""
    return [(m.NAME, m.LABEL, m.DESCRIPTION) for m in REGISTRY.values()]


def validate(name: str, params: dict) -> list[str]:
    """Every problem with ``params`` for model ``name`` (an empty list means valid)."""
    return get_model(name).validate(params)


def price(name: str, params: dict, usage: Usage, currency: str) -> PriceResult:
    """Validate, then price ``usage`` with model ``name``. The amount is precise (unrounded)."""
    model = get_model(name)
    problems = model.validate(params)
    if problems:
        raise PricingError(f"{model.LABEL} pricing is not valid: " + "; ".join(problems))
    code = check_currency(currency)
    result = model.calculate(params, usage, code)
    if not isinstance(result.amount, Decimal) or result.amount < 0:  # pragma: no cover - guarded by tests
        raise PricingError(f"{model.LABEL} produced an invalid amount {result.amount!r}")
    return result


def apply_free_units(usage: Usage, free: Decimal | int | str) -> Usage:
    """Deduct free units (or a quantity grant) from a line's usage before pricing (spec 2, step 1).

    - quantity: ``max(quantity - free, 0)``; the reduced quantity is then priced from the first tier.
    - transactions (percent lines): free units use up the money base in time order; a transaction that is
      entirely free is dropped (so it pays no fixed fee and no minimum); a partly free one keeps its remainder.
    - groups (matrix / two-dimensional): free units are deducted group by group in sorted category order.
    """
    if not isinstance(usage, Usage):
        raise PricingError(f"expected a Usage, got {type(usage).__name__}")
    try:
        allowance = to_decimal(free, field="free units")
    except MoneyError as exc:
        raise PricingError(str(exc)) from None
    if allowance < 0:
        raise PricingError("free units cannot be negative")
    q = usage_quantity(usage)
    groups = usage_groups(usage)
    txs = usage_transactions(usage)
    if allowance == 0:
        return usage

    new_txs: tuple[Decimal, ...] | None = None
    if txs is not None:
        remaining = allowance
        kept: list[Decimal] = []
        for value in txs:
            if remaining > 0 and value <= remaining:
                remaining -= value  # entirely free: dropped
            elif remaining > 0:
                kept.append(value - remaining)
                remaining = ZERO
            else:
                kept.append(value)
        new_txs = tuple(kept)

    new_groups: dict[str, Decimal] | None = None
    if groups is not None:
        remaining = allowance
        reduced: dict[str, Decimal] = {}
        for cat in sorted(groups):
            take = min(groups[cat], remaining)
            reduced[cat] = groups[cat] - take
            remaining -= take
        new_groups = {cat: reduced[cat] for cat in groups}  # keep the caller's order

    return Usage(quantity=max(q - allowance, ZERO), groups=new_groups, transactions=new_txs)


def describe(name: str, params: dict, usage: Usage, currency: str) -> str:
    """The live-preview sentence: 'At 1,500 units this line costs $2,500.00: 500 × $2.00 + 1,000 × $1.50'.

    The amount is rounded with round_money for display; the breakdown keeps unit prices precise.
    Raises PricingError like :func:`price` when the params or usage are not valid.
    """
    model = get_model(name)
    result = price(name, params, usage, currency)
    code = check_currency(currency)
    if hasattr(model, "usage_phrase"):
        phrase = model.usage_phrase(usage, code)
    else:
        q = model.usage_quantity_for_preview(usage) if hasattr(model, "usage_quantity_for_preview") else usage_quantity(usage)
        phrase = f"At {qty(q)} {'unit' if q == 1 else 'units'}"
    cost = format_money(round_money(result.amount, code), code)
    summary = result.summary
    return f"{phrase} this line costs {cost}: {summary}" if summary else f"{phrase} this line costs {cost}"
