"""Webhooks: endpoints that receive signed JSON events, the outbox of events and the deliveries of each event to
each endpoint (with every attempt logged).

An endpoint's ``secret`` is stored as it is (not hashed, unlike API keys): every delivery is signed with it, so the
application must be able to read it back. It is shown to the user once, at creation or rotation."""
from pydantic import NaiveDatetime
from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from core.models.common import utcnow

__all__ = ["WebhookEndpoint", "WebhookEvent", "WebhookDelivery", "WebhookAttempt"]


class WebhookEndpoint(SQLModel, table=True):
    """A URL events are posted to. ``event_types`` lists the types it receives. ``consecutive_failures`` counts
    failed attempts since the last success; past the limit the endpoint is disabled (``disabled_reason`` says why)."""

    __tablename__ = "webhook_endpoint"
    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=500)
    description: str = Field(default="", max_length=200)
    event_types: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    active: bool = Field(default=True, index=True)
    secret: str = Field(max_length=100)
    consecutive_failures: int = Field(default=0)
    disabled_reason: str = Field(default="", max_length=300)
    created_by: str = Field(default="", max_length=100)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    updated_at: NaiveDatetime = Field(default_factory=utcnow)
    secret_rotated_at: NaiveDatetime | None = None


class WebhookEvent(SQLModel, table=True):
    """The outbox: one row per business event, written in the business transaction. ``dispatched_at`` is set when
    the deliveries for the endpoints subscribed at that moment were created."""

    __tablename__ = "webhook_event"
    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=40, unique=True)  # evt_… : the ``id`` of the envelope
    type: str = Field(max_length=60, index=True)
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    dispatched_at: NaiveDatetime | None = Field(default=None, index=True)


class WebhookDelivery(SQLModel, table=True):
    """One event to one endpoint. ``status``: pending (to be sent at ``next_attempt_at``) | succeeded | failed
    (retries exhausted). A replay is a new delivery of the same event (``replay_of`` the original)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="webhook_event.id", index=True)
    endpoint_id: int = Field(foreign_key="webhook_endpoint.id", index=True)
    status: str = Field(default="pending", max_length=12)
    attempts: int = Field(default=0)
    next_attempt_at: NaiveDatetime | None = None
    last_attempt_at: NaiveDatetime | None = None
    last_status_code: int | None = None
    last_duration_ms: int | None = None
    last_error: str = Field(default="", max_length=500)
    replay_of: int | None = Field(default=None, foreign_key="webhook_delivery.id")
    created_by: str = Field(default="", max_length=100)
    created_at: NaiveDatetime = Field(default_factory=utcnow)


class WebhookAttempt(SQLModel, table=True):
    """One HTTP request of a delivery: the log the page shows (response code, time taken, error)."""

    __tablename__ = "webhook_attempt"
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True)
    attempt: int
    attempted_at: NaiveDatetime = Field(default_factory=utcnow)
    status_code: int | None = None
    duration_ms: int = Field(default=0)
    succeeded: bool = Field(default=False)
    error: str = Field(default="", max_length=500)
    response_excerpt: str = Field(default="", max_length=500)
