"""The pilot workbench: a prospect's pilot (who, from when, sign-off by when), its objectives and success criteria
agreed on day one, the contracts and invoices chosen as its samples, and every pilot reconciliation saved (the
summary and one row per invoice compared) — what the success criteria read to evaluate themselves."""
from datetime import date
from decimal import Decimal

from pydantic import NaiveDatetime
from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.models.common import money_column, utcnow

__all__ = ["Pilot", "PilotItem", "PilotSample", "PilotReconRun", "PilotReconRow"]


class Pilot(SQLModel, table=True):
    """One prospect's pilot. ``usage_month`` is the month the samples bill (first day): the default month of the
    usage criterion and of the reconciliation."""

    __tablename__ = "pilot"
    id: int | None = Field(default=None, primary_key=True)
    prospect: str = Field(max_length=200)
    start_date: date
    signoff_date: date  # the target sign-off date
    owner: str = Field(max_length=100)
    usage_month: date | None = None
    status: str = Field(default="active", max_length=12)  # active | signed_off | closed
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_by: str = Field(default="", max_length=100)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    updated_by: str = Field(default="", max_length=100)
    updated_at: NaiveDatetime = Field(default_factory=utcnow)


class PilotItem(SQLModel, table=True):
    """An objective or a success criterion of a pilot, with its owner and status (open, in progress, met, not met,
    waived). A criterion's ``check_kind`` says how it is judged: "manual" (its owner sets the status) or one of the
    built-in checks of :mod:`core.pilot.criteria`, whose ``params`` (month, tolerance) it reads."""

    __tablename__ = "pilot_item"
    id: int | None = Field(default=None, primary_key=True)
    pilot_id: int = Field(foreign_key="pilot.id", index=True)
    category: str = Field(max_length=10)  # objective | criterion
    sort_order: int = Field(default=0)
    text: str = Field(max_length=500)
    owner: str = Field(default="", max_length=100)
    status: str = Field(default="open", max_length=12)
    check_kind: str = Field(default="manual", max_length=30)
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    notes: str = Field(default="", max_length=1000)
    updated_by: str = Field(default="", max_length=100)
    updated_at: NaiveDatetime = Field(default_factory=utcnow)


class PilotSample(SQLModel, table=True):
    """A contract or an invoice chosen as one of the pilot's samples (weeks two and three)."""

    __tablename__ = "pilot_sample"
    __table_args__ = (UniqueConstraint("pilot_id", "kind", "object_id", name="uq_pilot_sample"),)
    id: int | None = Field(default=None, primary_key=True)
    pilot_id: int = Field(foreign_key="pilot.id", index=True)
    kind: str = Field(max_length=10)  # contract | invoice
    object_id: int  # the contract's or the invoice's id
    added_by: str = Field(default="", max_length=100)
    added_at: NaiveDatetime = Field(default_factory=utcnow)


class PilotReconRun(SQLModel, table=True):
    """One pilot reconciliation saved by a user: the prospect's file compared with our invoice run of a month."""

    __tablename__ = "pilot_recon_run"
    id: int | None = Field(default=None, primary_key=True)
    pilot_id: int | None = Field(default=None, foreign_key="pilot.id", index=True)
    run_month: date = Field(index=True)  # first day of the month of our invoice run
    tolerance: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))
    file_name: str = Field(default="", max_length=200)
    their_lines: int = Field(default=0)
    their_first_date: date | None = None
    their_last_date: date | None = None
    customers: int = Field(default=0)
    matched: int = Field(default=0)
    differs: int = Field(default=0)
    only_ours: int = Field(default=0)
    only_theirs: int = Field(default=0)
    match_rate: str = Field(default="0", max_length=10)  # a percentage with one decimal, "87.5"
    saved_by: str = Field(default="", max_length=100)
    saved_at: NaiveDatetime = Field(default_factory=utcnow)


class PilotReconRow(SQLModel, table=True):
    """One of our invoices in a saved reconciliation (or, with no ``invoice_id``, a customer only the prospect
    billed), with its customer's comparison: the comparison runs per customer, so an invoice matches when its
    customer does. ``max_line_difference`` is the largest difference of any of the customer's lines;
    ``lines`` keeps the lines that differ (amounts as text) — the evidence."""

    __tablename__ = "pilot_recon_row"
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="pilot_recon_run.id", index=True)
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    invoice_label: str = Field(default="", max_length=40)
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    customer_label: str = Field(default="", max_length=200)
    external_id: str = Field(default="", max_length=100)
    currency: str = Field(max_length=3)
    status: str = Field(max_length=30)  # the customer's: matched | differs | only in Counting House | only in theirs
    invoice_total: Decimal | None = Field(default=None, sa_column=money_column(nullable=True))
    our_total: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))
    their_total: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))
    difference: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))
    max_line_difference: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))
    lines: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    note: str = Field(default="", max_length=500)
