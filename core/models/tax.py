from datetime import date
from decimal import Decimal

from pydantic import NaiveDatetime
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from core.models.common import money_column, quantity_column, utcnow


class TaxRate(SQLModel, table=True):
    """A manual sales-tax/VAT rate by country and optional region (region '' = the whole country)."""

    __tablename__ = "tax_rate"
    __table_args__ = (UniqueConstraint("country", "region", name="uq_tax_rate_place"),)
    id: int | None = Field(default=None, primary_key=True)
    country: str = Field(max_length=2)
    region: str = Field(default="", max_length=100)
    name: str = Field(default="Tax", max_length=60)  # "VAT", "GST", "Sales tax"
    percent: Decimal = Field(sa_column=quantity_column())  # 18 means 18%
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class WalletEntry(SQLModel, table=True):
    """Customer wallet / prepaid credit ledger: + credit added, − credit used. Balance = sum per currency."""

    __tablename__ = "wallet_entry"
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    currency: str = Field(max_length=3)
    amount: Decimal = Field(sa_column=money_column())  # signed
    kind: str = Field(max_length=20)  # prepaid | grant | invoice | refund | manual
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id")
    note: str = Field(default="", max_length=300)
    effective_date: date
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    created_by: str = Field(default="", max_length=100)
