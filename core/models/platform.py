from datetime import date
from decimal import Decimal

from pydantic import NaiveDatetime
from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.models.common import quantity_column, utcnow


class ApiKey(SQLModel, table=True):
    """A key for the REST API. Only a SHA-256 hash of the secret is stored; the secret is shown once."""

    __tablename__ = "api_key"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16, unique=True, index=True)  # the visible start of the key, to tell keys apart
    key_hash: str = Field(max_length=64)
    scopes: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # e.g. ["usage:write"]
    created_by: str = Field(max_length=100)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    last_used_at: NaiveDatetime | None = None
    revoked_at: NaiveDatetime | None = None


class UsageAlert(SQLModel, table=True):
    """Tell someone when a customer's usage of a metric passes a threshold in a period (once per period)."""

    __tablename__ = "usage_alert"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    metric_id: int = Field(foreign_key="billable_metric.id", index=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id")  # None: every customer
    threshold_kind: str = Field(default="units", max_length=10)  # units | percent (of the allowance)
    threshold: Decimal = Field(sa_column=quantity_column())
    allowance: Decimal | None = Field(default=None, sa_column=quantity_column(nullable=True))
    recipients: str = Field(default="", max_length=500)  # comma-separated email addresses
    active: bool = Field(default=True)
    created_by: str = Field(default="", max_length=100)
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class AlertFiring(SQLModel, table=True):
    """One alert fired for one customer in one period: the unique key makes it fire at most once."""

    __tablename__ = "alert_firing"
    __table_args__ = (UniqueConstraint("alert_id", "customer_external_id", "period_start",
                                       name="uq_alert_firing_once"),)
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="usage_alert.id", index=True)
    customer_external_id: str = Field(max_length=100)
    period_start: date
    quantity: Decimal = Field(sa_column=quantity_column())
    fired_at: NaiveDatetime = Field(default_factory=utcnow)
    emailed_to: str = Field(default="", max_length=500)


class DataSource(SQLModel, table=True):
    """A customer's own database or warehouse usage is pulled from (an SQLAlchemy URL). A password is never
    stored: the URL names an environment variable for it, e.g. postgresql+psycopg://bill:${WAREHOUSE_PW}@host/db."""

    __tablename__ = "data_source"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    url: str = Field(max_length=500)
    created_by: str = Field(default="", max_length=100)
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class SourceSync(SQLModel, table=True):
    """A read-only query that returns usage events newer than the watermark (:since) up to :until."""

    __tablename__ = "source_sync"
    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="data_source.id", index=True)
    name: str = Field(max_length=100)
    query: str = Field(max_length=5000)
    watermark: NaiveDatetime | None = None  # the newest event timestamp taken so far
    last_run_at: NaiveDatetime | None = None
    last_result: str = Field(default="", max_length=500)
    created_by: str = Field(default="", max_length=100)
