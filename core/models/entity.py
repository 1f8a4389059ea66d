
from pydantic import NaiveDatetime
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
    next_invoice_number: int = Field(default=1)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
