"""Figures kept for the analytics pages, written when an invoice is approved (see core/analytics/facts.py)."""
from sqlalchemy import BigInteger, Column, Index
from sqlmodel import Field, SQLModel

__all__ = ["BilledMonth"]


class BilledMonth(SQLModel, table=True):
    """One approved invoice's recurring charges (``kind`` "mrr") or usage charges ("usage") for one month of
    service, in scaled money units — recurring amounts also multiplied by 27,720 so a charge spread over several
    months divides exactly (core/analytics/mrr.py). Written once, at approval, never changed: a void invoice's
    rows stay and are left out by the queries (they read the invoice's status)."""

    __tablename__ = "billed_month"
    __table_args__ = (
        # covers the MRR and usage queries: one currency and kind, months in a range, summed per customer
        Index("ix_billed_month_read", "currency", "kind", "month", "customer_id", "entity_id", "invoice_id",
              "amount"),
    )
    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    customer_id: int = Field(foreign_key="customer.id")
    entity_id: int = Field(foreign_key="business_entity.id")
    currency: str = Field(max_length=3)
    kind: str = Field(max_length=10)  # "mrr" | "usage"
    month: int  # year × 12 + month − 1
    amount: int = Field(sa_column=Column(BigInteger, nullable=False))
