"""Payment terms: when an invoice is due. PURE (values in, values out).

Spec section 3: due date = trigger (the invoice's creation or approval date) + N calendar days; optionally moved
to the last day of the month that date falls in. Net 30 created 1 March → due 31 March (Z). Net 30 with
end-of-month, created 10 March → 9 April → 30 April.
"""
from __future__ import annotations

from calendar import monthrange
from datetime import date, datetime, timedelta

BASES = ("creation", "approval")
MAX_DAYS = 365


def _check_days(days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, int):
        raise ValueError(f"payment terms: {days!r} is not a whole number of days")  # noqa: TRY004 - one error type for callers
    if not 0 <= days <= MAX_DAYS:
        raise ValueError(f"payment terms: between 0 and {MAX_DAYS} days")
    return days


def end_of_month(d: date) -> date:
    return d.replace(day=monthrange(d.year, d.month)[1])


def due_date(trigger_date: date, days: int, eom: bool = False) -> date:
    """``trigger_date + days``; with ``eom`` moved to the last day of that (resulting) month."""
    if isinstance(trigger_date, datetime):
        trigger_date = trigger_date.date()
    due = trigger_date + timedelta(days=_check_days(days))
    return end_of_month(due) if eom else due


def trigger_date(basis: str, created_on: date, approved_on: date | None = None) -> date | None:
    """The date the terms count from: the creation date, or the approval date (None while unapproved)."""
    if basis not in BASES:
        raise ValueError("payment terms: count the days from 'creation' or from 'approval'")
    return created_on if basis == "creation" else approved_on


def invoice_due_date(days: int, basis: str, eom: bool, created_on: date,
                     approved_on: date | None = None) -> date | None:
    """The due date of an invoice under a contract's terms (``payment_terms_days``, ``payment_terms_basis``,
    ``payment_terms_eom``); None when the basis is approval and the invoice is not approved yet."""
    trigger = trigger_date(basis, created_on, approved_on)
    return None if trigger is None else due_date(trigger, days, eom)


def describe_terms(days: int, basis: str = "creation", eom: bool = False) -> str:
    """'Net 30', 'Net 15 from approval', 'Net 30, end of month', 'Due on receipt'."""
    _check_days(days)
    text = "Due on receipt" if days == 0 and not eom else f"Net {days}"
    if basis == "approval":
        text += " from approval"
    if eom:
        text = ("Due end of month" + (" from approval" if basis == "approval" else "")) if days == 0 \
            else text + ", end of month"
    return text


__all__ = ["BASES", "describe_terms", "due_date", "end_of_month", "invoice_due_date", "trigger_date"]
