
from sqlalchemy import JSON, Column
from pydantic import NaiveDatetime
from sqlmodel import Field, SQLModel

from core.models.common import utcnow


class Product(SQLModel, table=True):
    """Something sold. kind: 'time' (seats, platform fee) or 'usage' (metered). parent_id: sub-product/add-on."""

    __tablename__ = "product"
    id: int | None = Field(default=None, primary_key=True)
    sku: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    unit_name: str = Field(default="unit", max_length=40)
    kind: str = Field(default="usage", max_length=10)
    parent_id: int | None = Field(default=None, foreign_key="product.id")
    is_addon: bool = Field(default=False)  # an add-on sold on top of its parent (shown indented under it)
    revenue_policy: str = Field(default="immediate", max_length=12)  # immediate | deferred | unbilled
    gl_account: str = Field(default="", max_length=40)  # revenue account code; empty = the default revenue account
    recognition_method: str = Field(default="days", max_length=10)  # deferred revenue: days | months
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class Plan(SQLModel, table=True):
    """A reusable contract pattern: currency, terms, contract-level modifiers and lines (the same shape as a
    contract's, as JSON; a line may carry a phase window in months from the contract start)."""

    __tablename__ = "plan"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    description: str = Field(default="", max_length=500)
    currency: str = Field(default="USD", max_length=3)
    payment_terms_days: int = Field(default=30, ge=0)
    term_months: int | None = None
    renewal_policy: str = Field(default="none", max_length=20)
    modifiers: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    lines: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    archived: bool = Field(default=False)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
