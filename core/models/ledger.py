"""The general ledger: chart of accounts, journal entries and their lines, revenue recognition schedules, ERP
account mappings. Journal rows are written once and never changed (the database refuses UPDATE and DELETE on
them; see migration 0010): a correction is a reversing entry linked to the one it reverses."""
from datetime import date
from decimal import Decimal

from pydantic import NaiveDatetime
from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.models.common import money_column, utcnow


class Account(SQLModel, table=True):
    """One account of the chart. ``system_key`` names the accounts the automatic postings use (cash,
    accounts_receivable, …); custom accounts have none. ``kind``: asset | liability | equity | income | expense."""

    __tablename__ = "account"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=20, unique=True)
    name: str = Field(max_length=120)
    kind: str = Field(max_length=12)
    parent_id: int | None = Field(default=None, foreign_key="account.id")
    system_key: str | None = Field(default=None, max_length=40, unique=True)
    active: bool = Field(default=True)
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class JournalEntry(SQLModel, table=True):
    """A balanced set of lines posted together. ``source_key`` makes automatic postings idempotent: the same
    business event (``invoice:12:approval``, ``recognition:345``) posts once."""

    __tablename__ = "journal_entry"
    id: int | None = Field(default=None, primary_key=True)
    entity_id: int = Field(foreign_key="business_entity.id", index=True)
    entry_date: date = Field(index=True)
    memo: str = Field(default="", max_length=300)
    # invoice | payment | credit_note | refund | wallet | recognition | manual | reversal
    source_type: str = Field(max_length=20, index=True)
    source_id: int | None = Field(default=None)
    source_key: str | None = Field(default=None, max_length=80, unique=True)
    reverses_id: int | None = Field(default=None, foreign_key="journal_entry.id", index=True)
    posted_by: str = Field(default="", max_length=100)
    posted_at: NaiveDatetime = Field(default_factory=utcnow)


class JournalLine(SQLModel, table=True):
    """One debit or credit: ``amount`` is signed (debit +, credit −) in ``currency``. The entry's date and entity
    are repeated here so reports over a million lines read one table."""

    __tablename__ = "journal_line"
    __table_args__ = (
        # covers the trial balance (grouped by account and currency in index order, dates filtered in the index)
        # and the receivables history of the finance dashboard (which also reads the invoice, for its due date)
        Index("ix_journal_line_balance", "account_id", "currency", "entry_date", "invoice_id", "amount"),
    )
    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="journal_entry.id", index=True)
    entity_id: int = Field(foreign_key="business_entity.id")
    entry_date: date
    account_id: int = Field(foreign_key="account.id")
    currency: str = Field(max_length=3)
    amount: Decimal = Field(sa_column=money_column())
    description: str = Field(default="", max_length=300)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    product_id: int | None = Field(default=None, foreign_key="product.id")
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)


class RevenueSchedule(SQLModel, table=True):
    """How one deferred invoice line (net of its discounts) is recognised over its service period."""

    __tablename__ = "revenue_schedule"
    id: int | None = Field(default=None, primary_key=True)
    entity_id: int = Field(foreign_key="business_entity.id")
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    invoice_line_id: int | None = Field(default=None, foreign_key="invoice_line.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    product_id: int | None = Field(default=None, foreign_key="product.id")
    account_id: int = Field(foreign_key="account.id")  # the revenue account it is recognised into
    currency: str = Field(max_length=3)
    total: Decimal = Field(sa_column=money_column())
    method: str = Field(default="days", max_length=10)  # days | months
    service_start: date
    service_end: date  # exclusive
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class RevenueScheduleRow(SQLModel, table=True):
    """One period of a schedule. ``entry_id`` is set once the row is recognised (the recognition run's entry);
    a redistribution or a credit note changes only rows not yet recognised."""

    __tablename__ = "revenue_schedule_row"
    __table_args__ = (UniqueConstraint("schedule_id", "period_start", name="uq_schedule_row_period"),)
    id: int | None = Field(default=None, primary_key=True)
    schedule_id: int = Field(foreign_key="revenue_schedule.id", index=True)
    period_start: date
    period_end: date  # exclusive
    recognise_on: date = Field(index=True)  # the last day of the period: posted by a run up to this date
    amount: Decimal = Field(sa_column=money_column())
    entry_id: int | None = Field(default=None, foreign_key="journal_entry.id")


class ErpAccountMap(SQLModel, table=True):
    """Our account → the code or name the ERP knows it by (per ERP)."""

    __tablename__ = "erp_account_map"
    __table_args__ = (UniqueConstraint("erp", "account_id", name="uq_erp_account"),)
    id: int | None = Field(default=None, primary_key=True)
    erp: str = Field(max_length=20)  # xero | quickbooks | netsuite | zoho
    account_id: int = Field(foreign_key="account.id")
    erp_account: str = Field(max_length=120)
    tax_rate: str = Field(default="", max_length=60)  # Xero: the tax rate's name on this account's lines
    updated_by: str = Field(default="", max_length=100)
    updated_at: NaiveDatetime = Field(default_factory=utcnow)
