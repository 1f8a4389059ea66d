
from pydantic import NaiveDatetime
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from core.models.common import utcnow


class CustomerBase(SQLModel):
    external_id: str = Field(max_length=100, unique=True, index=True)
    name: str = Field(max_length=200, index=True)
    email: str = Field(default="", max_length=200)
    address_line1: str = Field(default="", max_length=200)
    city: str = Field(default="", max_length=100)
    region: str = Field(default="", max_length=100)
    postal_code: str = Field(default="", max_length=20)
    country: str = Field(default="", max_length=2)
    currency: str = Field(default="USD", max_length=3)
    tax_id: str = Field(default="", max_length=64)
    timezone: str = Field(default="", max_length=64)
    payment_terms_days: int = Field(default=30, ge=0)


class Customer(CustomerBase, table=True):
    __tablename__ = "customer"
    id: int | None = Field(default=None, primary_key=True)
    entity_id: int = Field(foreign_key="business_entity.id", index=True)
    archived: bool = Field(default=False)
    consolidate_invoices: bool = Field(default=False)  # one invoice per period across all contracts
    tax_exempt: bool = Field(default=False)
    stripe_customer_id: str = Field(default="", max_length=100)  # "" until synced to Stripe
    stripe_payment_method: str = Field(default="", max_length=100)  # the saved card/mandate charged by default
    auto_charge: bool = Field(default=False)  # charge the saved payment method when an invoice is approved
    # custom attributes (str → str), e.g. {"tier": "enterprise", "region": "EMEA"}: segments filter on them
    attributes: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False, default=dict,
                                                                    server_default="{}"))
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    updated_at: NaiveDatetime = Field(default_factory=utcnow)
