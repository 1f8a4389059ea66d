"""Request and response models of the API (they are also its OpenAPI schema)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from api.errors import MAX_BATCH


class EventIn(BaseModel):
    """One usage event."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "idempotency_key": "evt_2025_01_31_0001", "customer_external_id": "acme", "event_name": "api_call",
        "timestamp": "2026-11-27T14:30:00Z", "quantity": "12.5", "properties": {"region": "eu"}}]})

    idempotency_key: StrictStr = Field(description="Unique per event, at most 200 characters. Sending the same key "
                                                   "again is a duplicate: reported, never counted twice.")
    customer_external_id: StrictStr = Field(description="The customer's external id, as on the Customers page.")
    event_name: StrictStr = Field(description="The event name a billable metric counts.")
    timestamp: StrictStr = Field(description="When it happened, ISO 8601: 2025-01-31, 2025-01-31T14:30:00Z or with "
                                             "an offset; no offset means UTC.")
    quantity: Decimal | StrictStr | None = Field(
        default=None, description="Optional, ≥ 0, at most 6 decimals. A JSON number or a string; read exactly "
                                  "(0.1 is 0.1, never a float).")
    properties: dict[str, Any] | None = Field(default=None, description="Plain values (text, numbers, booleans) "
                                                                        "for filters and group-by.")

    @field_validator("quantity", mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Any:
        if isinstance(value, bool) or isinstance(value, float) or not isinstance(value, (str, int, Decimal,
                                                                                          type(None))):
            raise ValueError("must be a number or a string such as \"12.5\"")
        return Decimal(value) if isinstance(value, int) else value


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH,
                                  description=f"1 to {MAX_BATCH:,} events.")


class Rejected(BaseModel):
    index: int = Field(description="Position of the event in the batch, from 0.")
    idempotency_key: str
    field: str = Field(description="The event's field at fault, e.g. timestamp.")
    message: str


class KeyList(BaseModel):
    count: int
    keys: list[str]


class RejectedList(BaseModel):
    count: int = Field(description="How many events were rejected (an event may have several problems).")
    events: list[Rejected]


class BatchOut(BaseModel):
    accepted: KeyList = Field(description="Events stored by this request.")
    duplicates: KeyList = Field(description="Events already stored (or repeated in the batch): not stored again, "
                                            "not an error.")
    rejected: RejectedList = Field(description="Events not stored, with the reason; fix them and send them again.")


class EventOut(BaseModel):
    status: Literal["accepted", "duplicate"]
    idempotency_key: str


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]


class ErrorField(BaseModel):
    field: str
    message: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[ErrorField] | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail
