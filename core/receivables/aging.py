"""Receivables aging and DSO, aggregated in SQL.

An invoice is *open* when it is approved or partially paid and something is still due on it. Amount due is the
invoice's total less the prepaid credit applied at approval, the payments allocated, the credit notes and the
amount written off (core.invoicing.settlement ``due``), computed here in SQL on the stored scaled integers.

Days past due are counted from the invoice's due date to the *as-of* date (default today): due on the as-of date
(or later) is *current*; 1–30, 31–60, 61–90 and 90+ days past due follow. The bucket is a CASE over the due date
compared with dates worked out once in Python (as-of − 30, − 60, − 90 days), so the same SQL runs on SQLite and
PostgreSQL. For today (or later) the amounts are the invoices' own; for a past date they are what was due that day,
read from the ledger: the invoice's Accounts Receivable lines dated on or before it (approval, payments, credit
notes, write-offs each post on their own date), so a payment received after the date is still owed in the report
— the aging an auditor asks for at a month-end.

Every sum is per currency — amounts in different currencies are never added. Per-customer tables are one
GROUP BY query, paginated; no per-customer queries and no Python loop over the invoices.

DSO (days sales outstanding) = receivables ÷ credit sales of the period × days in the period, per currency:
receivables is what the open invoices owe at the as-of date, credit sales the totals of the invoices issued in
the period (approved, not void), the period the ``days`` days up to and including the as-of date.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import BigInteger, and_, case, func, literal, or_, select, type_coerce
from sqlalchemy.orm import aliased
from sqlmodel import Session

from core.ledger.exports import Column, Report
from core.models import Customer, Invoice, JournalLine
from core.money import ZERO, round_money
from core.types import MONEY_SCALE, from_scaled

OPEN_STATUSES = ("approved", "partially_paid")
BUCKETS: dict[str, str] = {"current": "Current", "d1_30": "1–30 days", "d31_60": "31–60 days",
                           "d61_90": "61–90 days", "d90_plus": "90+ days"}
OVERDUE = tuple(BUCKETS)[1:]
DSO_FORMULA = "DSO = receivables ÷ credit sales in the period × days in the period"


def _raw(col):  # noqa: ANN001, ANN202
    """A money column as the scaled integer it is stored as (exact sums on both backends)."""
    return type_coerce(col, BigInteger)


def due_raw(inv=Invoice):  # noqa: ANN001, ANN202
    """Amount due in SQL, as a scaled integer (see core.types): total − credits − paid − credited − written off."""
    return (_raw(inv.total) - _raw(inv.credits_applied) - _raw(inv.amount_paid) - _raw(inv.amount_credited)
            - _raw(inv.amount_written_off))


def open_clause(inv=Invoice):  # noqa: ANN001, ANN202
    """The invoice is open: approved or partially paid, with something due."""
    return and_(inv.status.in_(OPEN_STATUSES), due_raw(inv) > 0)


def bucket_case(on: date, inv=Invoice):  # noqa: ANN001, ANN202
    """The aging bucket of an invoice at ``on``, by its due date."""
    d30, d60, d90 = (on - timedelta(days=n) for n in (30, 60, 90))
    return case((inv.due_date >= on, literal("current")), (inv.due_date >= d30, literal("d1_30")),
                (inv.due_date >= d60, literal("d31_60")), (inv.due_date >= d90, literal("d61_90")),
                else_=literal("d90_plus"))


def bucket_of(due_date: date, on: date) -> str:
    """The same rule in Python (for one invoice on screen)."""
    late = (on - due_date).days
    if late <= 0:
        return "current"
    return "d1_30" if late <= 30 else "d31_60" if late <= 60 else "d61_90" if late <= 90 else "d90_plus"


def _money(value) -> Decimal:  # noqa: ANN001
    return from_scaled(value, MONEY_SCALE)


def past(on: date) -> bool:
    """Is the as-of date before today (amounts then come from the ledger)?"""
    return on < date.today()


def due_on(session: Session, on: date):  # noqa: ANN202
    """A subquery: invoice id → what was due on it at the end of ``on`` (scaled integer), from its Accounts
    Receivable lines dated on or before ``on``; only invoices with something due then."""
    from core.ledger.accounts import chart

    jl = JournalLine.__table__.c
    due = func.sum(_raw(jl.amount))
    return (select(jl.invoice_id.label("invoice_id"), due.label("due"))
            .where(jl.account_id == chart(session).key("accounts_receivable"), jl.entry_date <= on,
                   jl.invoice_id.is_not(None))
            .group_by(jl.invoice_id).having(due > 0).subquery("due_on"))


def _open_rows(on: date, *, currency: str | None = None, customer_ids=None,  # noqa: ANN001, ANN202
               entity_id: int | None = None, session: Session | None = None):
    """A subquery: one row per open invoice issued by ``on`` with its customer, currency, bucket and amount due
    (on a past date, as it was that day: ``session`` is needed then)."""
    if past(on):
        then = due_on(session, on)
        q = (select(Invoice.id.label("invoice_id"), Invoice.customer_id.label("customer_id"),
                    Invoice.currency.label("currency"), bucket_case(on).label("bucket"), then.c.due.label("due"))
             .join(then, then.c.invoice_id == Invoice.id).where(Invoice.issue_date <= on))
    else:
        q = (select(Invoice.id.label("invoice_id"), Invoice.customer_id.label("customer_id"),
                    Invoice.currency.label("currency"), bucket_case(on).label("bucket"), due_raw().label("due"))
             .where(open_clause(), Invoice.issue_date <= on))
    if currency:
        q = q.where(Invoice.currency == currency)
    if entity_id is not None:
        q = q.where(Invoice.entity_id == entity_id)
    if customer_ids is not None:
        q = q.where(Invoice.customer_id.in_(customer_ids))
    return q.subquery("open_inv")


# ---------------------------------------------------------------------------------------------------------------
# totals per currency


@dataclass
class CurrencyAging:
    currency: str
    amounts: dict[str, Decimal] = field(default_factory=lambda: {b: ZERO for b in BUCKETS})
    counts: dict[str, int] = field(default_factory=lambda: {b: 0 for b in BUCKETS})

    @property
    def total(self) -> Decimal:
        return sum(self.amounts.values(), ZERO)

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    @property
    def overdue(self) -> Decimal:
        return sum((self.amounts[b] for b in OVERDUE), ZERO)

    @property
    def overdue_count(self) -> int:
        return sum(self.counts[b] for b in OVERDUE)


def aging_totals(session: Session, *, on: date | None = None, currency: str | None = None, customer_ids=None,
                 entity_id: int | None = None) -> list[CurrencyAging]:
    """Amount due and number of open invoices per currency and bucket (one GROUP BY)."""
    on = on or date.today()
    sub = _open_rows(on, currency=currency, customer_ids=customer_ids, entity_id=entity_id, session=session)
    q = (select(sub.c.currency, sub.c.bucket, func.sum(sub.c.due), func.count())
         .group_by(sub.c.currency, sub.c.bucket))
    out: dict[str, CurrencyAging] = {}
    for code, bucket, amount, count in session.exec(q):
        row = out.setdefault(code, CurrencyAging(code))
        row.amounts[bucket] = _money(amount)
        row.counts[bucket] = int(count)
    return [out[c] for c in sorted(out)]


def open_currencies(session: Session) -> list[str]:
    """The currencies of open invoices (for a filter)."""
    q = select(Invoice.currency).where(Invoice.status.in_(OPEN_STATUSES)).distinct().order_by(Invoice.currency)
    return list(session.scalars(q))


# ---------------------------------------------------------------------------------------------------------------
# per customer


@dataclass
class CustomerAging:
    customer_id: int
    external_id: str
    name: str
    currency: str
    amounts: dict[str, Decimal]
    count: int
    overdue_count: int

    @property
    def total(self) -> Decimal:
        return sum(self.amounts.values(), ZERO)


SORTS = {"total": "Most due first", "overdue": "Most overdue first", "oldest": "Oldest debt first",
         "name": "Customer name"}


def _by_customer_query(session: Session, on: date, *, currency: str | None, customer_ids,  # noqa: ANN001, ANN202
                       entity_id: int | None, search: str, overdue_only: bool):
    sub = _open_rows(on, currency=currency, customer_ids=customer_ids, entity_id=entity_id, session=session)
    sums = [func.sum(case((sub.c.bucket == b, sub.c.due), else_=0)).label(b) for b in BUCKETS]
    overdue_n = func.sum(case((sub.c.bucket != "current", 1), else_=0)).label("overdue_n")
    grouped = (select(sub.c.customer_id, sub.c.currency, *sums, func.sum(sub.c.due).label("total"),
                      func.count().label("n"), overdue_n)
               .group_by(sub.c.customer_id, sub.c.currency).subquery("by_customer"))
    q = select(grouped, Customer.external_id, Customer.name).join(Customer, Customer.id == grouped.c.customer_id)
    if search.strip():
        like = f"%{search.strip()}%"
        q = q.where(or_(Customer.name.ilike(like), Customer.external_id.ilike(like)))
    if overdue_only:
        q = q.where(grouped.c.overdue_n > 0)
    return q, grouped


def aging_by_customer(session: Session, *, on: date | None = None, currency: str | None = None,
                      customer_ids=None, entity_id: int | None = None, search: str = "", overdue_only: bool = False,
                      sort: str = "total", limit: int = 50, offset: int = 0) -> tuple[list[CustomerAging], int]:
    """One page of customers (one row per customer and currency) with their amount due per bucket, and how many
    rows there are in all. Two queries, whatever the number of customers."""
    on = on or date.today()
    q, g = _by_customer_query(session, on, currency=currency, customer_ids=customer_ids, entity_id=entity_id,
                              search=search, overdue_only=overdue_only)
    order = {"total": (g.c.total.desc(),), "overdue": ((g.c.total - g.c.current).desc(),),
             "oldest": (g.c.d90_plus.desc(), g.c.d61_90.desc(), g.c.d31_60.desc(), g.c.d1_30.desc()),
             "name": (Customer.name,)}[sort if sort in SORTS else "total"]
    paged = q.add_columns(func.count().over().label("rows_in_all")).order_by(*order, Customer.name, g.c.currency)
    found = list(session.exec(_page(paged, limit, offset)))
    rows = [CustomerAging(r.customer_id, r.external_id, r.name, r.currency,
                          {b: _money(getattr(r, b)) for b in BUCKETS}, int(r.n), int(r.overdue_n))
            for r in found]
    return rows, _in_all(session, q, found, offset)


def _page(q, limit: int | None, offset: int):  # noqa: ANN001, ANN202
    q = q.offset(max(offset, 0))
    return q.limit(limit) if limit is not None else q


def _in_all(session: Session, q, found: list, offset: int) -> int:  # noqa: ANN001
    """How many rows the query has in all: read off the page (``count(*) over ()``, computed in the same pass),
    or counted apart when the page is past the end and so empty."""
    if found:
        return int(found[0].rows_in_all)
    return int(session.scalar(select(func.count()).select_from(q.subquery()))) if offset > 0 else 0


# ---------------------------------------------------------------------------------------------------------------
# the invoices behind a bucket or a customer


@dataclass
class AgingInvoice:
    id: int
    number: str | None
    customer_id: int
    customer: str
    external_id: str
    currency: str
    issue_date: date
    due_date: date
    total: Decimal
    amount_due: Decimal
    days_past_due: int
    bucket: str
    status: str


def aging_invoices(session: Session, *, on: date | None = None, bucket: str | None = None,
                   customer_id: int | None = None, currency: str | None = None, customer_ids=None,
                   entity_id: int | None = None, overdue_only: bool = False, limit: int = 500,
                   offset: int = 0) -> tuple[list[AgingInvoice], int]:
    """The open invoices behind a bucket (``None``: every bucket; ``overdue_only``: every overdue bucket) and/or
    a customer, oldest due date first: one page and the number in all."""
    on = on or date.today()
    inv = aliased(Invoice, name="inv")
    b = bucket_case(on, inv)
    then = due_on(session, on) if past(on) else None
    q = (select(inv.id, inv.number, inv.customer_id, Customer.name, Customer.external_id, inv.currency,
                inv.issue_date, inv.due_date, inv.total, (then.c.due if then is not None else due_raw(inv)).label("due"),
                inv.status)
         .join(Customer, Customer.id == inv.customer_id)
         .where(inv.issue_date <= on))
    q = q.join(then, then.c.invoice_id == inv.id) if then is not None else q.where(open_clause(inv))
    if bucket:
        if bucket not in BUCKETS:
            raise ValueError(bucket)
        # the bucket as due-date bounds (a range on the due date rather than the CASE)
        lo_hi = {"current": (on, None), "d1_30": (on - timedelta(days=30), on - timedelta(days=1)),
                 "d31_60": (on - timedelta(days=60), on - timedelta(days=31)),
                 "d61_90": (on - timedelta(days=90), on - timedelta(days=61)),
                 "d90_plus": (None, on - timedelta(days=91))}[bucket]
        if bucket == "current":
            q = q.where(inv.due_date >= on)
        else:
            lo, hi = lo_hi
            q = q.where(inv.due_date <= hi)
            if lo is not None:
                q = q.where(inv.due_date >= lo)
    elif overdue_only:
        q = q.where(inv.due_date < on)
    if customer_id is not None:
        q = q.where(inv.customer_id == customer_id)
    if currency:
        q = q.where(inv.currency == currency)
    if entity_id is not None:
        q = q.where(inv.entity_id == entity_id)
    if customer_ids is not None:
        q = q.where(inv.customer_id.in_(customer_ids))
    found = list(session.exec(_page(q.add_columns(func.count().over().label("rows_in_all"))
                                    .order_by(inv.due_date, inv.id), limit, offset)))
    rows = [AgingInvoice(r.id, r.number, r.customer_id, r.name, r.external_id, r.currency, r.issue_date, r.due_date,
                         r.total, _money(r.due), max((on - r.due_date).days, 0), bucket_of(r.due_date, on), r.status)
            for r in found]
    return rows, _in_all(session, q, found, offset)


# ---------------------------------------------------------------------------------------------------------------
# DSO


@dataclass
class Dso:
    currency: str
    receivables: Decimal
    credit_sales: Decimal
    days: int
    start: date
    end: date

    @property
    def value(self) -> Decimal | None:
        """Days, one decimal; None when there were no credit sales in the period."""
        if self.credit_sales <= 0:
            return None
        return (self.receivables / self.credit_sales * self.days).quantize(Decimal("0.1"))


def dso(session: Session, *, on: date | None = None, days: int = 90, currency: str | None = None,
        customer_ids=None, entity_id: int | None = None, totals: list[CurrencyAging] | None = None) -> list[Dso]:
    """DSO per currency (see the module docstring): two GROUP BY queries — one when the caller already has the
    same selection's ``aging_totals`` on the same day."""
    on = on or date.today()
    if days < 1:
        raise ValueError("days must be at least 1")
    start = on - timedelta(days=days - 1)
    if totals is None:
        totals = aging_totals(session, on=on, currency=currency, customer_ids=customer_ids, entity_id=entity_id)
    receivables = {t.currency: t.total for t in totals}
    q = (select(Invoice.currency, func.sum(_raw(Invoice.total)))
         .where(Invoice.status.not_in(("draft", "void")), Invoice.issue_date >= start, Invoice.issue_date <= on)
         .group_by(Invoice.currency))
    if currency:
        q = q.where(Invoice.currency == currency)
    if entity_id is not None:
        q = q.where(Invoice.entity_id == entity_id)
    if customer_ids is not None:
        q = q.where(Invoice.customer_id.in_(customer_ids))
    sales = {code: _money(v) for code, v in session.exec(q)}
    return [Dso(c, receivables.get(c, ZERO), sales.get(c, ZERO), days, start, on)
            for c in sorted(set(receivables) | set(sales))]


# ---------------------------------------------------------------------------------------------------------------
# exports (formatted XLSX and CSV through core.ledger.exports)


def _day(d: date) -> str:
    return f"{d:%-d %b %Y}"


def aging_report(session: Session, *, on: date | None = None, currency: str | None = None, customer_ids=None,
                 entity_id: int | None = None, scope: str = "") -> Report:
    """Every customer's aging (one row per customer and currency) with totals per currency."""
    on = on or date.today()
    rows_, _ = aging_by_customer(session, on=on, currency=currency, customer_ids=customer_ids, entity_id=entity_id,
                                 limit=None)
    cols = [Column("Customer", width=30), Column("Customer id", width=16), Column("Currency", width=9),
            *[Column(label, "money", 14) for label in BUCKETS.values()], Column("Total due", "money", 15),
            Column("Open invoices", "int", 9), Column("Overdue invoices", "int", 9)]
    rows = [[r.name, r.external_id, r.currency, *[r.amounts[b] for b in BUCKETS], r.total, r.count, r.overdue_count]
            for r in rows_]
    codes = [r.currency for r in rows_]
    totals = []
    for t in aging_totals(session, on=on, currency=currency, customer_ids=customer_ids, entity_id=entity_id):
        amounts = {3 + i: round_money(t.amounts[b], t.currency) for i, b in enumerate(BUCKETS)}
        amounts[3 + len(BUCKETS)] = sum(amounts.values(), ZERO)
        totals.append((f"Total {t.currency}", t.currency, amounts))
    subtitle = f"as of {_day(on)} · {currency or 'all currencies'}" + (f" · {scope}" if scope else "")
    return Report("Receivables aging", subtitle, cols, rows, codes,
                  f"receivables-aging-{on.isoformat()}" + (f"-{currency}" if currency else ""), totals,
                  ["Open invoices (approved or partly paid, something due) by days past their due date. "
                   "Amounts are never added across currencies."])


def aging_invoices_report(session: Session, *, on: date | None = None, bucket: str | None = None,
                          customer_id: int | None = None, currency: str | None = None, customer_ids=None,
                          entity_id: int | None = None, overdue_only: bool = False, scope: str = "") -> Report:
    on = on or date.today()
    rows_, _ = aging_invoices(session, on=on, bucket=bucket, customer_id=customer_id, currency=currency,
                              customer_ids=customer_ids, entity_id=entity_id, overdue_only=overdue_only, limit=None)
    cols = [Column("Invoice", width=14), Column("Customer", width=28), Column("Customer id", width=16),
            Column("Currency", width=9), Column("Issued", "date", 12), Column("Due", "date", 12),
            Column("Days past due", "int", 9), Column("Bucket", width=12), Column("Total", "money", 14),
            Column("Amount due", "money", 14)]
    rows = [[r.number or f"#{r.id}", r.customer, r.external_id, r.currency, r.issue_date, r.due_date,
             r.days_past_due, BUCKETS[r.bucket], r.total, r.amount_due] for r in rows_]
    codes = [r.currency for r in rows_]
    sums: dict[str, Decimal] = {}
    for r in rows_:
        sums[r.currency] = sums.get(r.currency, ZERO) + round_money(r.amount_due, r.currency)
    totals = [(f"Total {c}", c, {9: v}) for c, v in sorted(sums.items())]
    what = BUCKETS[bucket] if bucket else "overdue" if overdue_only else "all buckets"
    subtitle = f"as of {_day(on)} · {what}" + (f" · {scope}" if scope else "")
    return Report("Open invoices by age", subtitle, cols, rows, codes,
                  f"open-invoices-{on.isoformat()}" + (f"-{bucket}" if bucket else ""), totals, label_column=1)
