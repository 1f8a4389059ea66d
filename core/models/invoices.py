from datetime import date
from decimal import Decimal

from sqlalchemy import Column, Text, UniqueConstraint
from pydantic import NaiveDatetime
from sqlmodel import Field, SQLModel

from core.models.common import money_column, quantity_column, utcnow


class Invoice(SQLModel, table=True):
    """One invoice per contract per billing period. Numbered (gapless, per entity) on approval."""

    __tablename__ = "invoice"
    __table_args__ = (
        # one invoice per contract (or per customer when consolidated) per period: run_key says which
        UniqueConstraint("run_key", "period_start", "period_end", name="uq_invoice_run_period"),
        UniqueConstraint("entity_id", "number", name="uq_invoice_entity_number"),
    )
    id: int | None = Field(default=None, primary_key=True)
    entity_id: int = Field(foreign_key="business_entity.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    contract_id: int | None = Field(default=None, foreign_key="contract.id", index=True)
    run_key: str | None = Field(default=None, max_length=40)  # "contract:12" | "customer:7"; None: one-off
    number: str | None = Field(default=None, max_length=40)
    status: str = Field(default="draft", max_length=20, index=True)  # draft | approved | partially_paid | paid | void | written_off
    currency: str = Field(max_length=3)
    period_start: date
    period_end: date  # exclusive
    issue_date: date
    due_date: date
    subtotal: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))
    tax: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))
    total: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))
    amount_paid: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))
    credits_applied: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))  # wallet, after tax
    amount_credited: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))  # by credit notes
    amount_written_off: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))  # bad debt
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    approved_at: NaiveDatetime | None = None
    approved_by: str | None = Field(default=None, max_length=100)


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_line"
    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    contract_line_id: int | None = Field(default=None, foreign_key="contract_line.id")
    # usage | fixed | one_time | credit_grant | discount | true_up | service_fee | adjustment | tax | wallet | manual
    kind: str = Field(default="usage", max_length=20)
    description: str = Field(max_length=300)
    quantity: Decimal = Field(default=Decimal(0), sa_column=quantity_column(default=0))
    amount: Decimal = Field(default=Decimal(0), sa_column=money_column(default=0))
    breakdown: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    period_start: date
    period_end: date  # exclusive
    sort_order: int = Field(default=0)
    product_id: int | None = Field(default=None, foreign_key="product.id")
    contract_id: int | None = Field(default=None, foreign_key="contract.id")
    indent: int = Field(default=0)  # 1 for add-ons / sub-products and modifier steps under their line
    modifier_key: str | None = Field(default=None, max_length=80)  # which discount/grant/fee made this line
    edited_by: str = Field(default="", max_length=100)  # who changed or added this line by hand on the draft
