from datetime import date
from decimal import Decimal

from sqlalchemy import JSON, Column
from pydantic import NaiveDatetime
from sqlmodel import Field, SQLModel

from core.models.common import quantity_column, utcnow


class Contract(SQLModel, table=True):
    __tablename__ = "contract"
    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    plan_id: int | None = Field(default=None, foreign_key="plan.id")
    name: str = Field(max_length=200)
    currency: str = Field(default="USD", max_length=3)
    start_date: date
    end_date: date | None = None  # exclusive; None = open-ended
    status: str = Field(default="active", max_length=20)  # draft | active | ended
    payment_terms_days: int = Field(default=30, ge=0)
    payment_terms_basis: str = Field(default="creation", max_length=10)  # creation | approval
    payment_terms_eom: bool = Field(default=False)  # move the due date to the last day of its month
    billing_anchor_day: int = Field(default=1, ge=1, le=28)  # periods run from this day of the month
    term_months: int | None = None  # length of one term, for renewals; None = open-ended
    renewal_policy: str = Field(default="none", max_length=20)  # none | same_terms | list_prices
    renewed_from_id: int | None = Field(default=None, foreign_key="contract.id")
    # contract-level modifiers: {"discounts": [...], "minimum_commitment": {...}, "service_fees": [...]}
    modifiers: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    pauses: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # [{"start", "end"}]
    activated_at: NaiveDatetime | None = None
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    created_by: str = Field(default="", max_length=100)


class ContractLine(SQLModel, table=True):
    """One priced line. A usage line reads its quantity from a billable metric; a fixed line has a quantity."""

    __tablename__ = "contract_line"
    id: int | None = Field(default=None, primary_key=True)
    contract_id: int = Field(foreign_key="contract.id", index=True)
    product_id: int | None = Field(default=None, foreign_key="product.id")
    description: str = Field(max_length=200)
    pricing_model: str = Field(max_length=30)
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    metric_id: int | None = Field(default=None, foreign_key="billable_metric.id")
    fixed_quantity: Decimal | None = Field(default=None, sa_column=quantity_column(nullable=True))
    free_units: Decimal = Field(default=Decimal(0), sa_column=quantity_column(default=0))
    cadence: str = Field(default="monthly", max_length=12)  # monthly | quarterly | yearly | one_time
    timing: str = Field(default="arrears", max_length=10)  # advance | arrears
    sort_order: int = Field(default=0)
    # phase window inside the contract (trial, ramp steps): None = the contract's own start / end
    start_date: date | None = None
    end_date: date | None = None  # exclusive
    phase: str = Field(default="", max_length=60)
    # line-level modifiers: {"credit_grants": [...], "discounts": [...], "minimum_commitment": {...}}
    modifiers: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
