"""Entitlements: what a customer may use — a quantity per period (tied to a billable metric), a prepaid credit
budget (a money amount consumed by approved invoices) or a feature (on/off) — granted by hand or by a contract,
and the record of each limit passed (once per grant and period)."""
from datetime import date
from decimal import Decimal

from pydantic import NaiveDatetime
from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.models.common import money_column, quantity_column, utcnow

__all__ = ["EntitlementGrant", "EntitlementExhaustion"]


class EntitlementGrant(SQLModel, table=True):
    """One grant to one customer, valid on ``[start_date, end_date)``. At most one grant per customer and key is
    valid on any day (the service refuses overlaps), so ``check(customer, key)`` has one answer."""

    __tablename__ = "entitlement_grant"
    __table_args__ = (Index("ix_entitlement_grant_customer_key", "customer_id", "key"),)
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id")
    key: str = Field(max_length=64, index=True)  # what a product asks about: "api_calls", "sso", "prepaid_credit"
    name: str = Field(max_length=200)
    kind: str = Field(max_length=10)  # quantity | credit | feature
    metric_id: int | None = Field(default=None, foreign_key="billable_metric.id")  # quantity: what is counted
    units: Decimal | None = Field(default=None, sa_column=quantity_column(nullable=True))  # quantity: the limit
    amount: Decimal | None = Field(default=None, sa_column=money_column(nullable=True))  # credit: the budget
    currency: str = Field(default="", max_length=3)  # credit: the currency of the budget and invoices counted
    reset: str = Field(default="never", max_length=16)  # quantity: billing_period | month | never
    limit_type: str = Field(default="hard", max_length=4)  # soft (flag, still allowed) | hard (blocked)
    enabled: bool = Field(default=True)  # feature: on or off
    start_date: date
    end_date: date | None = None  # exclusive; None = open-ended
    contract_id: int | None = Field(default=None, foreign_key="contract.id", index=True)  # granted by a contract
    product_id: int | None = Field(default=None, foreign_key="product.id")
    plan_id: int | None = Field(default=None, foreign_key="plan.id")
    note: str = Field(default="", max_length=500)
    created_by: str = Field(default="", max_length=100)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    ended_by: str = Field(default="", max_length=100)  # who ended it early (end_date moved), if anyone
    ended_at: NaiveDatetime | None = None


class EntitlementExhaustion(SQLModel, table=True):
    """A grant's limit passed in one period (for a grant that never resets: its whole window). The unique key
    makes it recorded — and the "entitlement.exhausted" webhook event emitted — once per grant and period."""

    __tablename__ = "entitlement_exhaustion"
    __table_args__ = (UniqueConstraint("grant_id", "period_start", name="uq_entitlement_exhaustion_once"),)
    id: int | None = Field(default=None, primary_key=True)
    grant_id: int = Field(foreign_key="entitlement_grant.id", index=True)
    period_start: date
    period_end: date | None = None  # exclusive; None: the grant is open-ended and never resets
    used: Decimal = Field(sa_column=quantity_column())  # units, or the money amount for a credit grant
    limit_value: Decimal = Field(sa_column=quantity_column())
    limit_type: str = Field(max_length=4)  # soft | hard, as it was when passed
    recorded_at: NaiveDatetime = Field(default_factory=utcnow)
    recorded_by: str = Field(default="", max_length=100)
