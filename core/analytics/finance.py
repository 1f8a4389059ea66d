"""Cash and receivables by month for the finance dashboard — GROUP BY queries, one currency at a time.

- **Invoiced**: totals (tax included) of the invoices issued in the month — every invoice past draft, void ones too
  (their credit notes cancel them). **Credit notes**: totals of the credit notes issued in the month.
  **Net billed** = invoiced − credit notes.
- **Collected**: payments received in the month (succeeded; failed attempts are not money). **Refunded**: refunds
  paid out in the month (by the day they were recorded).
- **Outstanding now**: what customers still owe on approved and partially paid invoices (total − wallet credit
  applied − payments − credit notes − write-offs). **Overdue now**: the part past its due date today.
  **Overdue at month-end**: what will be past due on the first day of next month if nothing more is paid.
- **Outstanding and overdue by month-end**, history: read from the ledger's Accounts Receivable account (which
  always equals the sum of open invoice balances): the balance at each month's end, and the part of it on invoices
  whose due date fell in or before that month. For the current month the month-end is ahead: the figures are
  what it will be if nothing more is paid or billed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import BigInteger, case, func, literal_column, select, type_coerce
from sqlmodel import Session

from core.analytics.scope import Scope, customer_filter, index_of, month_of
from core.billing.periods import add_months
from core.ledger.accounts import chart
from core.models import CreditNote, Invoice, JournalLine, Payment, Refund
from core.money import ZERO
from core.types import MONEY_SCALE

OPEN_STATES = ("approved", "partially_paid")


def _d(raw) -> Decimal:  # noqa: ANN001
    return Decimal(int(raw or 0)).scaleb(-MONEY_SCALE)


def _i(col):  # noqa: ANN001, ANN202 - sum a money column as an integer (exact)
    return type_coerce(col, BigInteger)


@dataclass
class CashMonth:
    month: date
    invoiced: Decimal = ZERO
    invoices: int = 0
    credited: Decimal = ZERO
    collected: Decimal = ZERO
    payments: int = 0
    refunded: Decimal = ZERO

    @property
    def net_billed(self) -> Decimal:
        return self.invoiced - self.credited

    @property
    def net_collected(self) -> Decimal:
        return self.collected - self.refunded


def _by_month(rows, out: dict[int, CashMonth], amount: str, count: str | None = None) -> None:
    """Rows of (day, raw sum, n) grouped by day in SQL (a few hundred at most) → summed into their months."""
    for day, total, n in rows:
        m = out.get(index_of(day))
        if m is not None:
            setattr(m, amount, getattr(m, amount) + _d(total))
            if count:
                setattr(m, count, getattr(m, count) + int(n))


def billed_and_collected(session: Session, scope: Scope) -> list[CashMonth]:
    """Every month of the scope: invoiced, credited, collected and refunded (see the module docstring). Each query
    groups by the day (an index-friendly column, no date function per row); days are put in months here."""
    lo, hi = scope.start.replace(day=1), add_months(scope.end.replace(day=1), 1)
    conn = session.connection()
    out = {index_of(m): CashMonth(m) for m in scope.months()}
    i = Invoice.__table__.c
    _by_month(conn.execute(
        select(i.issue_date, func.sum(_i(i.total)), func.count())
        .where(i.status != "draft", i.currency == scope.currency, i.issue_date >= lo, i.issue_date < hi,
               *customer_filter(session, scope, i.customer_id, i.entity_id))
        .group_by(i.issue_date)), out, "invoiced", "invoices")
    c = CreditNote.__table__.c
    _by_month(conn.execute(
        select(c.issue_date, func.sum(_i(c.total)), func.count())
        .where(c.currency == scope.currency, c.issue_date >= lo, c.issue_date < hi,
               *customer_filter(session, scope, c.customer_id, c.entity_id))
        .group_by(c.issue_date)), out, "credited")
    p = Payment.__table__.c
    _by_month(conn.execute(
        select(p.received_on, func.sum(_i(p.amount)), func.count())
        .where(p.status == "succeeded", p.currency == scope.currency, p.received_on >= lo, p.received_on < hi,
               *customer_filter(session, scope, p.customer_id, p.entity_id))
        .group_by(p.received_on)), out, "collected", "payments")
    r = Refund.__table__.c
    _by_month(((when.date(), total, n) for when, total, n in conn.execute(
        select(r.created_at, _i(r.amount), literal_column("1"))
        .where(r.status == "succeeded", r.currency == scope.currency, r.created_at >= lo, r.created_at < hi,
               *customer_filter(session, scope, r.customer_id)))), out, "refunded")
    return list(out.values())


@dataclass
class Receivables:
    today: date
    month_end: date  # the last day of today's month
    outstanding: Decimal = ZERO
    open_invoices: int = 0
    overdue: Decimal = ZERO
    overdue_invoices: int = 0
    overdue_customers: int = 0
    overdue_at_month_end: Decimal = ZERO
    overdue_at_month_end_invoices: int = 0


def receivables_now(session: Session, scope: Scope, today: date) -> Receivables:
    """Outstanding and overdue today, and overdue at the end of this month if nothing more is paid. The date
    range does not apply: what is owed today is owed whenever it was billed."""
    i = Invoice.__table__.c
    due = _i(i.total) - _i(i.credits_applied) - _i(i.amount_paid) - _i(i.amount_credited) - _i(i.amount_written_off)
    next_month = add_months(today.replace(day=1), 1)
    late, late_at_end = i.due_date < today, i.due_date < next_month
    row = session.connection().execute(
        select(func.sum(due), func.count(), func.sum(case((late, due), else_=0)),
               func.sum(case((late, 1), else_=0)), func.count(func.distinct(case((late, i.customer_id)))),
               func.sum(case((late_at_end, due), else_=0)), func.sum(case((late_at_end, 1), else_=0)))
        .where(i.status.in_(OPEN_STATES), i.currency == scope.currency, due > 0,
               *customer_filter(session, scope, i.customer_id, i.entity_id))).one()
    return Receivables(today, next_month - timedelta(days=1), _d(row[0]), int(row[1] or 0), _d(row[2]),
                       int(row[3] or 0), int(row[4] or 0), _d(row[5]), int(row[6] or 0))


@dataclass
class ReceivablesMonth:
    month: date
    outstanding: Decimal  # Accounts Receivable at the month's end
    overdue: Decimal  # the part of it on invoices due in or before the month


def receivables_by_month(session: Session, scope: Scope) -> list[ReceivablesMonth]:
    """Accounts Receivable at the end of every month of the scope, and the overdue part (module docstring): one
    GROUP BY (entry day, due day) over the ledger's receivable lines, accumulated month by month here."""
    ar = chart(session).key("accounts_receivable")
    ln, inv = JournalLine.__table__.c, Invoice.__table__.c
    hi = scope.last_month
    rows = session.connection().execute(
        select(ln.entry_date, inv.due_date, func.sum(_i(ln.amount)))
        .select_from(JournalLine.__table__.outerjoin(Invoice.__table__, inv.id == ln.invoice_id))
        .where(ln.account_id == ar, ln.currency == scope.currency, ln.entry_date < month_of(hi + 1),
               *customer_filter(session, scope, ln.customer_id, ln.entity_id))
        .group_by(ln.entry_date, inv.due_date)).all()
    moves: dict[tuple[int, int | None], int] = {}
    for entry, due, amount in rows:
        key = (index_of(entry), index_of(due) if due is not None else None)
        moves[key] = moves.get(key, 0) + int(amount or 0)
    out = []
    for mi in range(scope.first_month, hi + 1):
        outstanding = overdue = 0
        for (em, dm), amount in moves.items():
            if em <= mi:
                outstanding += amount
                if dm is not None and dm <= mi:
                    overdue += amount
        out.append(ReceivablesMonth(month_of(mi), _d(outstanding), _d(overdue)))
    return out
