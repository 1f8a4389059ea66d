"""What every analytics figure is filtered by, and the small SQL pieces the analytics queries share.

A :class:`Scope` is the dashboards' filters: a date range (whole months are reported: every month the range
touches), ONE currency (amounts in different currencies are never added together: the pages offer a currency
picker, defaulting to the currency most invoices are in), optionally a business entity (the seller) and a saved
customer segment (``core.receivables.segments.customer_ids_select``).

Months are handled in SQL as a month index ``year × 12 + month − 1`` (:func:`month_index`), which groups and
compares the same way on SQLite and PostgreSQL; :func:`month_of` turns an index back into the month's first day.

:func:`data_version` is the cache key of the pages' money figures (``st.cache_data``): a handful of ``MAX(id)``
lookups on primary keys (instant at any size) plus the customers' and segments' last change. It changes whenever
an invoice is created (draft) or approved (a journal entry), a payment, credit note, write-off or refund is recorded
(journal entries, their own rows), a customer or a segment is edited, or a business entity is added. Usage events
are left out on purpose: they arrive continuously (API ingestion) and would make every dashboard recompute all the
time; the usage reports are cached for a minute instead (see ``ui/analytics_common.py``). Segment membership that
depends on invoice facts (days past due) moves with the date: the pages add today's date to the key.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Integer, cast, extract, func, literal_column, select
from sqlmodel import Session

from core.models import BusinessEntity, CreditNote, Customer, Invoice, JournalEntry, Payment, Refund, Segment
from core.money import currency as currency_info


@dataclass(frozen=True)
class Scope:
    start: date  # first day of the range (its whole month is reported)
    end: date  # last day of the range, included (its whole month is reported)
    currency: str
    entity_id: int | None = None
    segment_id: int | None = None

    def __post_init__(self) -> None:
        currency_info(self.currency)  # refuses an unknown code

    @property
    def first_month(self) -> int:
        return index_of(self.start)

    @property
    def last_month(self) -> int:
        return index_of(self.end)

    def months(self) -> list[date]:
        return [month_of(i) for i in range(self.first_month, self.last_month + 1)]


def index_of(d: date) -> int:
    return d.year * 12 + d.month - 1


def month_of(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


def month_index(col):  # noqa: ANN001, ANN201 - a date or timestamp column → its month index, in SQL
    """Constants inline (not bound parameters), so PostgreSQL sees the same expression in SELECT and GROUP BY."""
    return cast(extract("year", col), Integer) * literal_column("12") + cast(extract("month", col), Integer) \
        - literal_column("1")


def customer_filter(session: Session, scope: Scope, customer_col, entity_col=None) -> list:  # noqa: ANN001
    """Conditions for the entity and segment filters on a table's customer id (and entity id) column. Without an
    entity column the customer's own business entity is used."""
    conds = []
    if scope.entity_id is not None:
        if entity_col is not None:
            conds.append(entity_col == scope.entity_id)
        else:
            conds.append(customer_col.in_(select(Customer.id).where(Customer.entity_id == scope.entity_id)))
    if scope.segment_id is not None:
        from core.receivables.segments import customer_ids_select

        conds.append(customer_col.in_(customer_ids_select(session, scope.segment_id)))
    return conds


def data_version(session: Session) -> tuple:
    """Changes whenever anything the money figures read changes (see the module docstring); one query."""
    row = session.connection().execute(select(
        select(func.max(Invoice.id)).scalar_subquery(), select(func.max(JournalEntry.id)).scalar_subquery(),
        select(func.max(Payment.id)).scalar_subquery(), select(func.max(CreditNote.id)).scalar_subquery(),
        select(func.max(Refund.id)).scalar_subquery(), select(func.max(Segment.updated_at)).scalar_subquery(),
        select(func.count()).select_from(Segment).scalar_subquery(),
        select(func.max(Customer.updated_at)).scalar_subquery(),
        select(func.count()).select_from(Customer).scalar_subquery(),
        select(func.max(BusinessEntity.id)).scalar_subquery())).one()
    return tuple(str(v) if v is not None else "" for v in row)


def currencies_in_use(session: Session) -> list[str]:
    """Currencies of the invoices (drafts aside), most used first; the customers' currencies when nothing has
    been invoiced yet."""
    rows = session.connection().execute(
        select(Invoice.currency, func.count()).where(Invoice.status != "draft").group_by(Invoice.currency)
        .order_by(func.count().desc(), Invoice.currency)).all()
    if not rows:
        rows = session.connection().execute(
            select(Customer.currency, func.count()).group_by(Customer.currency)
            .order_by(func.count().desc(), Customer.currency)).all()
    return [c for c, _ in rows]
