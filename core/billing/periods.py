"""Billing periods (half-open [start, end)) and day-based proration. Pure functions."""
from __future__ import annotations

from calendar import monthrange
from datetime import date, timedelta
from decimal import Decimal

CADENCES = {"monthly": 1, "quarterly": 3, "yearly": 12, "one_time": 0}
CADENCE_LABELS = {"monthly": "Monthly", "quarterly": "Quarterly", "yearly": "Yearly", "one_time": "One time"}


def add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, monthrange(year, month)[1]))


def month_period(year: int, month: int) -> tuple[date, date]:
    start = date(year, month, 1)
    return start, add_months(start, 1)


def parse_month(text: str) -> tuple[date, date]:
    """'2026-10' -> (2026-10-01, 2026-11-01)."""
    try:
        y, m = (int(p) for p in text.strip().split("-")[:2])
        return month_period(y, m)
    except (ValueError, TypeError):
        raise ValueError(f"'{text}' is not a month; write it as YYYY-MM, for example 2026-10") from None


def cadence_period(cadence: str, anchor: date, on: date) -> tuple[date, date]:
    """The cadence period containing ``on``, counted in whole cadences from ``anchor`` (the first day of the
    contract's first calendar month)."""
    months = CADENCES[cadence]
    if months == 0:
        raise ValueError("one-time lines have no recurring period")
    anchor = anchor.replace(day=1)
    elapsed = (on.year - anchor.year) * 12 + (on.month - anchor.month)
    k = elapsed // months
    start = add_months(anchor, k * months)
    return start, add_months(start, months)


def overlap_days(a_start: date, a_end: date, b_start: date, b_end: date | None) -> int:
    end = a_end if b_end is None else min(a_end, b_end)
    return max(0, (end - max(a_start, b_start)).days)


def proration(period_start: date, period_end: date, active_start: date, active_end: date | None) -> Decimal:
    """Active days / days in the billing period. Start day counts; the (exclusive) end day does not."""
    total = (period_end - period_start).days
    return Decimal(overlap_days(period_start, period_end, active_start, active_end)) / Decimal(total)


def inclusive_end(end: date) -> date:
    """What the UI shows: half-open end minus one day."""
    return end - timedelta(days=1)


def format_period(start: date, end: date) -> str:
    last = inclusive_end(end)
    if start.day == 1 and end.day == 1 and (end.month - start.month) % 12 == 1 and last.year == start.year:
        return start.strftime("%B %Y")
    return f"{start:%d %b %Y} – {last:%d %b %Y}"
