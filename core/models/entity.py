from datetime import date

from pydantic import NaiveDatetime
from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from core.models.common import utcnow


class BusinessEntity(SQLModel, table=True):
    """The seller: name, addresses and tax id on invoices, and its own gapless invoice numbering."""

    __tablename__ = "business_entity"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    legal_name: str = Field(default="", max_length=200)
    address: str = Field(default="", max_length=500)
    country: str = Field(default="", max_length=2)
    tax_id: str = Field(default="", max_length=64)
    email: str = Field(default="", max_length=200)
    default_currency: str = Field(default="USD", max_length=3)
    timezone: str = Field(default="UTC", max_length=64)
    invoice_prefix: str = Field(default="INV-", max_length=20)
    email_from: str = Field(default="", max_length=200)  # sender of this seller's documents ("" = SMTP_FROM)
    logo: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))  # data: URI (PNG/JPEG/SVG)
    payment_instructions: str = Field(default="", max_length=1000)  # bank details etc., printed on invoices
    next_invoice_number: int = Field(default=1)
    credit_note_prefix: str = Field(default="CN-", max_length=20)
    next_credit_note_number: int = Field(default=1)
    # the books are closed through this day: nothing may post on or before it (None: all periods open)
    books_closed_through: date | None = None
    created_at: NaiveDatetime = Field(default_factory=utcnow)
