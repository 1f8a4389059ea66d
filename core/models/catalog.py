
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
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class Plan(SQLModel, table=True):
    """A reusable contract pattern: currency, cadence and lines (same shape as contract lines, as JSON)."""

    __tablename__ = "plan"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    currency: str = Field(default="USD", max_length=3)
    lines: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: NaiveDatetime = Field(default_factory=utcnow)
