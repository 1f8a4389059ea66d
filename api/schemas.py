"""Request and response models of the API (they are also its OpenAPI schema)."""
from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

from api.errors import MAX_BATCH, ErrorDetail, ErrorField, ErrorOut  # noqa: F401 - re-exported


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




# ---- the common case without the models' validation ----------------------------------------------------------
# A body that certainly has the documented shape needs no pydantic pass before core.metering.ingest checks each
# event (the single source of the per-event rules); anything else goes through the models above, which name
# every problem (422). These accept nothing the models would refuse, and hand on what the models would.

_EVENT_FIELDS = frozenset(EventIn.model_fields)
_EVENT_REQUIRED = frozenset(n for n, f in EventIn.model_fields.items() if f.is_required())
_STR = str


def plain_event(data: Any) -> dict | None:
    """``data`` as EventIn would hand it on (a dict of its fields), when it certainly validates; else None."""
    if type(data) is not dict:
        return None
    keys = data.keys()
    if not (_EVENT_REQUIRED <= keys <= _EVENT_FIELDS):
        return None
    for name in _EVENT_REQUIRED:
        if type(data[name]) is not _STR:
            return None
    q = data.get("quantity")
    if q is not None and type(q) is not _STR:
        if type(q) is int:  # what EventIn._exact does with a JSON integer
            data = {**data, "quantity": Decimal(q)}
        elif type(q) is not Decimal or not q.is_finite():
            return None
    props = data.get("properties")
    if props is not None and type(props) is not dict:
        return None
    return data


def plain_batch(data: Any) -> list[dict] | None:
    """The events of a BatchIn body when it certainly validates; else None."""
    if type(data) is not dict or data.keys() != {"events"}:
        return None
    events = data["events"]
    if type(events) is not list or not 1 <= len(events) <= MAX_BATCH:
        return None
    out = []
    for e in events:
        checked = plain_event(e)
        if checked is None:
            return None
        out.append(checked)
    return out
