"""The shared shape of every pricing model: usage in, amount and breakdown out.

A pricing model is a small module exposing ``NAME``, ``LABEL``, ``validate(params) -> list[str]``
and ``calculate(params, usage, currency) -> PriceResult``. ``calculate`` assumes valid params
(``validate`` is kept apart so forms can show every problem at once).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from decimal import Decimal

from core.money import ZERO


class PricingError(ValueError):
    """Parameters or usage that a model cannot price. The message is for a finance user."""


@dataclass(frozen=True)
class Usage:
    """What one contract line prices in one billing period.

    quantity      the billable quantity (for percent: the money base, e.g. the SUM of transaction amounts)
    groups        category -> quantity, for matrix (category = e.g. region) and two-dimensional tiered (band)
    transactions  individual transaction values in time order, for percent lines with per-transaction
                  fixed fee / min / max
    """

    quantity: Decimal = ZERO
    groups: dict[str, Decimal] | None = None
    transactions: tuple[Decimal, ...] | None = None


@dataclass(frozen=True)
class BreakdownStep:
    """One step of the arithmetic, shown on the invoice: '1,000 × $1.50 = $1,500.00'."""

    text: str
    quantity: Decimal
    amount: Decimal  # precise, unrounded
    tier: int | None = None  # 1-based tier number where it applies
    group: str | None = None  # category/band for matrix and two-dimensional lines


@dataclass(frozen=True)
class PriceResult:
    amount: Decimal  # precise (unrounded); the invoice line rounds it once with core.money.round_money
    breakdown: tuple[BreakdownStep, ...] = field(default_factory=tuple)

    @property
    def summary(self) -> str:
        """'500 × $2.00 + 1,000 × $1.50' — the human-readable formula."""
        steps = self.breakdown
        if not steps:
            return ""
        if len(steps) == 1:  # most results: one step
            return steps[0].text
        return " + ".join(step.text for step in steps)


def maker(cls: type) -> Callable[..., object]:
    """A positional constructor for a frozen dataclass: ``maker(cls)(*values)`` is ``cls(*values)`` with every
    field given in field order — the same object (same fields, equality, hash and repr) — built by filling the
    instance's ``__dict__`` at once instead of one ``object.__setattr__`` per field, as a frozen dataclass's
    ``__init__`` does. A bill run builds a few hundred thousand steps and lines: that alone was a tenth of its
    pricing time. Only for plain frozen dataclasses (no ``__post_init__``, no slots, no ``InitVar``)."""
    names = tuple(f.name for f in fields(cls))
    if hasattr(cls, "__post_init__") or "__slots__" in cls.__dict__ or \
            [f.name for f in fields(cls) if f.init] != list(names):
        raise TypeError(f"maker() needs a plain frozen dataclass; {cls.__name__} is not one")
    args = ", ".join(names)
    source = (f"def make({args}):\n"
              f"    obj = new(cls)\n"
              f"    obj.__dict__.update({', '.join(f'{n}={n}' for n in names)})\n"
              f"    return obj\n")
    scope: dict = {"new": object.__new__, "cls": cls}
    exec(source, scope)  # noqa: S102 - a constructor generated from the field names, as dataclasses does
    make = scope["make"]
    make.__qualname__ = make.__name__ = f"make_{cls.__name__}"
    make.__doc__ = f"{cls.__name__}(*values), every field given in order."
    return make


make_breakdown_step = maker(BreakdownStep)
make_price_result = maker(PriceResult)
