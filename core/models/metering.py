from decimal import Decimal

from sqlalchemy import JSON, Column, Index, Text
from pydantic import NaiveDatetime
from sqlmodel import Field, SQLModel

from core.models.common import quantity_column, utcnow


class BillableMetric(SQLModel, table=True):
    """Turns events into a billable quantity: aggregation over an event name, optional filter and group-by —
    or (aggregation "sql") a read-only SQL template run against a data source, which returns the quantities."""

    __tablename__ = "billable_metric"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    event_name: str = Field(max_length=100)  # "" for a SQL-template metric (it counts no stored events)
    aggregation: str = Field(max_length=20)  # sum | count | max | min | unique_count | latest | avg | sql
    unique_property: str = Field(default="", max_length=100)  # for unique_count
    filters: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))  # property -> value
    group_by: str = Field(default="", max_length=100)  # property feeding matrix / two-dimensional lines
    source_id: int | None = Field(default=None, foreign_key="data_source.id", index=True)  # for "sql"
    sql_template: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))  # for "sql"
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class UsageEvent(SQLModel, table=True):
    __tablename__ = "usage_event"
    # The idempotency key is unique through a named unique index rather than a UNIQUE constraint: on SQLite a
    # large upload into an empty table drops it and builds it once at the end (core.importers.usage), which a
    # constraint's index would not allow.
    # The quantity is the last column of the lookup index so that sums and counts over a metric's events (the
    # usage reports) read the index alone.
    __table_args__ = (Index("ix_usage_event_name_customer_ts", "event_name", "customer_external_id", "timestamp",
                            "quantity"),
                      Index("uq_usage_event_idempotency_key", "idempotency_key", unique=True))
    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=200)
    customer_external_id: str = Field(max_length=100)
    event_name: str = Field(max_length=100)
    timestamp: NaiveDatetime  # UTC
    quantity: Decimal | None = Field(default=None, sa_column=quantity_column(nullable=True))
    properties: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    source: str = Field(default="upload", max_length=40)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
