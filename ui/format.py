"""Display helpers: money and dates the way a finance user reads them."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from core.billing.periods import format_period, inclusive_end
from core.money import format_money, format_number

from core.invoicing.settlement import STATUS_LABELS  # noqa: F401  (one list of labels)


def money(amount: Decimal, currency: str) -> str:
    return format_money(amount, currency)


def qty(value: Decimal) -> str:
    return format_number(value)


def period(start: date, end: date) -> str:
    return format_period(start, end)


def last_day(end: date) -> date:
    return inclusive_end(end)
