"""Email templates per seller, dunning policies (per segment, in priority order) with their steps, and the dunning
log (one row per invoice per day at most: the unique key that keeps two runs from sending twice)."""
from datetime import date
from decimal import Decimal

from pydantic import NaiveDatetime
from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.models.common import money_column, utcnow

__all__ = ["DunningLog", "DunningPolicy", "DunningStep", "EmailTemplate"]


class EmailTemplate(SQLModel, table=True):
    """An email a seller sends: the subject and the body are Jinja2 templates (text or HTML). ``kind`` "invoice" is
    the email an invoice goes out with (one per seller); "reminder" templates are the dunning steps' emails."""

    __tablename__ = "email_template"
    __table_args__ = (UniqueConstraint("entity_id", "name", name="uq_email_template_name"),)
    id: int | None = Field(default=None, primary_key=True)
    entity_id: int = Field(foreign_key="business_entity.id", index=True)
    name: str = Field(max_length=100)
    kind: str = Field(default="reminder", max_length=20)  # invoice | reminder
    format: str = Field(default="text", max_length=10)  # text | html
    subject: str = Field(default="", max_length=500)
    body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    updated_by: str = Field(default="", max_length=100)
    updated_at: NaiveDatetime = Field(default_factory=utcnow)


class DunningPolicy(SQLModel, table=True):
    """Whom to chase and how: the open invoices of a segment (or of every customer) get the steps' emails. When an
    invoice falls under several policies, the lowest ``priority`` number wins (then the lowest id)."""

    __tablename__ = "dunning_policy"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    segment_id: int | None = Field(default=None, foreign_key="segment.id", index=True)  # None: all customers
    priority: int = Field(default=100)
    active: bool = Field(default=True)
    created_by: str = Field(default="", max_length=100)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    updated_by: str = Field(default="", max_length=100)
    updated_at: NaiveDatetime = Field(default_factory=utcnow)


class DunningStep(SQLModel, table=True):
    """One reminder of a policy: ``offset_days`` from the due date (−3 = three days before it), the email template,
    and whether to try the customer's saved card again first."""

    __tablename__ = "dunning_step"
    __table_args__ = (UniqueConstraint("policy_id", "offset_days", name="uq_dunning_step_offset"),)
    id: int | None = Field(default=None, primary_key=True)
    policy_id: int = Field(foreign_key="dunning_policy.id", index=True)
    offset_days: int
    template_id: int = Field(foreign_key="email_template.id", index=True)
    auto_charge: bool = Field(default=False)


class DunningLog(SQLModel, table=True):
    """What a dunning run did for one invoice on one day: the reminder queued (then sent or failed), a card charged
    instead, or why nothing left. At most one row per invoice per day (``uq_dunning_log_invoice_day``): a second run
    the same day — even a concurrent one — cannot claim the invoice again."""

    __tablename__ = "dunning_log"
    __table_args__ = (UniqueConstraint("invoice_id", "run_on", name="uq_dunning_log_invoice_day"),)
    id: int | None = Field(default=None, primary_key=True)
    run_on: date = Field(index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    policy_id: int | None = Field(default=None, foreign_key="dunning_policy.id", index=True)
    policy_name: str = Field(default="", max_length=100)
    step_offset: int
    template_id: int | None = Field(default=None, foreign_key="email_template.id")
    template_name: str = Field(default="", max_length=100)
    recipients: str = Field(default="", max_length=500)
    days_past_due: int = Field(default=0)
    currency: str = Field(max_length=3)
    amount_due: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))
    subject: str = Field(default="", max_length=500)
    body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    body_format: str = Field(default="text", max_length=10)
    # queued → sent | failed; charged (the card paid it: no email); skipped (no address, paid meanwhile …)
    outcome: str = Field(default="queued", max_length=20, index=True)
    detail: str = Field(default="", max_length=1000)
    email_log_id: int | None = Field(default=None, foreign_key="email_log.id", index=True)
    payment_id: int | None = Field(default=None, foreign_key="payment.id")
    run_by: str = Field(default="", max_length=100)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    sent_at: NaiveDatetime | None = None
