from datetime import date
from decimal import Decimal

from pydantic import NaiveDatetime
from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from core.models.common import money_column, quantity_column, utcnow


class CreditNote(SQLModel, table=True):
    """Money taken back from an approved invoice, with a reason. Numbered (gapless, per entity) when issued.
    ``applied`` reduced the invoice's amount due; the rest (``to_wallet`` or ``refunded``) went back to the
    customer because the invoice had already been paid."""

    __tablename__ = "credit_note"
    __table_args__ = (UniqueConstraint("entity_id", "number", name="uq_credit_note_entity_number"),)
    id: int | None = Field(default=None, primary_key=True)
    entity_id: int = Field(foreign_key="business_entity.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    number: str = Field(max_length=40)
    currency: str = Field(max_length=3)
    reason: str = Field(max_length=500)
    total: Decimal = Field(sa_column=money_column())
    applied: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))
    to_wallet: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))
    refunded: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))
    issue_date: date
    created_by: str = Field(default="", max_length=100)
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class CreditNoteLine(SQLModel, table=True):
    __tablename__ = "credit_note_line"
    id: int | None = Field(default=None, primary_key=True)
    credit_note_id: int = Field(foreign_key="credit_note.id", index=True)
    invoice_line_id: int | None = Field(default=None, foreign_key="invoice_line.id", index=True)
    description: str = Field(max_length=300)
    quantity: Decimal = Field(default=Decimal(0), sa_column=quantity_column(default=0))
    amount: Decimal = Field(sa_column=money_column())


class Payment(SQLModel, table=True):
    """Money received from a customer (or a failed attempt to take it). Allocated across invoices; what is not
    allocated went to the customer's wallet."""

    __tablename__ = "payment"
    # one recorded outcome per provider payment (the charge's answer and its webhook cannot both record it)
    __table_args__ = (Index("uq_payment_provider_outcome", "provider", "provider_id", "status", unique=True,
                            sqlite_where=text("provider <> ''"), postgresql_where=text("provider <> ''")),)
    id: int | None = Field(default=None, primary_key=True)
    entity_id: int = Field(foreign_key="business_entity.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    currency: str = Field(max_length=3)
    amount: Decimal = Field(sa_column=money_column())
    method: str = Field(max_length=20)  # bank_transfer | cheque | cash | card | other
    reference: str = Field(default="", max_length=200, index=True)
    received_on: date
    status: str = Field(default="succeeded", max_length=20)  # succeeded | failed
    unallocated: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))  # went to the wallet
    refunded: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))
    provider: str = Field(default="", max_length=20)  # "" (manual) | stripe
    provider_id: str = Field(default="", max_length=100, index=True)  # e.g. Stripe PaymentIntent id
    failure: str = Field(default="", max_length=500)
    created_by: str = Field(default="", max_length=100)
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class PaymentAllocation(SQLModel, table=True):
    __tablename__ = "payment_allocation"
    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payment.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    amount: Decimal = Field(sa_column=money_column())
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class Refund(SQLModel, table=True):
    """Money paid back to a customer: the excess of a credit note on a paid invoice, or a payment returned."""

    __tablename__ = "refund"
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    payment_id: int | None = Field(default=None, foreign_key="payment.id", index=True)
    credit_note_id: int | None = Field(default=None, foreign_key="credit_note.id", index=True)
    currency: str = Field(max_length=3)
    amount: Decimal = Field(sa_column=money_column())
    method: str = Field(max_length=20)  # same as the payment's: stripe refunds go back to the card
    status: str = Field(default="pending", max_length=20)  # pending (to be paid out by hand) | succeeded | failed
    provider_id: str = Field(default="", max_length=100)
    failure: str = Field(default="", max_length=500)
    created_by: str = Field(default="", max_length=100)
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class ProviderEvent(SQLModel, table=True):
    """A webhook event received from a payment provider, kept by its id: the same event delivered twice is
    processed once."""

    __tablename__ = "provider_event"
    id: str = Field(primary_key=True, max_length=100)  # the provider's event id (Stripe: evt_…)
    provider: str = Field(default="stripe", max_length=20)
    type: str = Field(max_length=100)
    outcome: str = Field(default="", max_length=500)  # what processing it did, in words
    received_at: NaiveDatetime = Field(default_factory=utcnow)
