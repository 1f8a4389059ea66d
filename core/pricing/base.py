"""The shared shape of every pricing model: usage in, amount and breakdown out.

A pricing model is a small module exposing ``NAME``, ``LABEL``, ``validate(params) -> list[str]``
and ``calculate(params, usage, currency) -> PriceResult``. ``calculate`` assumes valid params
(``validate`` is kept apart so forms can show every problem at once).
"""
from __future__ import annotations

from dataclasses import dataclass, field
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
        return " + ".join(step.text for step in self.breakdown) if self.breakdown else ""
