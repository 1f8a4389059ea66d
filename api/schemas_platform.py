"""Entitlements and segments in the API: what a client sends and what it gets back, and how a service's refusal
names the request's fields."""
from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from api.common import MAX_ID, Amount, Day, In, UtcTime
from api.errors import ApiError, user_error_fields
from core.errors import NotFound, PermissionDenied, UserError

Id = Annotated[int, Field(ge=1, le=MAX_ID)]


def refusal(exc: Exception, rename: Callable[[str], str]) -> ApiError:
    """A service's UserError as a 422 whose ``fields`` use the request's own field names (``rename`` maps the
    name a message starts with — "start date", "group 1, condition 2" — to the body's field; a part naming no
    field continues the one before)."""
    message = str(exc)
    fields: list[dict] = []
    for part in (p for chunk in message.split("\n") for p in chunk.split("; ")):
        head, sep, text = part.partition(": ")
        named = rename(head.strip().lower()) if sep else ""
        if named:
            fields.append({"field": named, "message": text.strip()})
        elif fields:  # "…; choose another name": the same problem goes on
            fields[-1]["message"] += "; " + part.strip()
    if not fields:
        fields = user_error_fields(message) or []
    return ApiError(422, "invalid_request", message.rstrip().rstrip(".") + " — nothing was stored", fields or None)


def checked(call: Callable[[], Any], rename: Callable[[str], str]) -> Any:
    """``call()``; a refusal (422) with its fields renamed by :func:`refusal` (404 and 403 pass through)."""
    try:
        return call()
    except (NotFound, PermissionDenied):
        raise
    except UserError as exc:
        raise refusal(exc, rename) from None


# ---- entitlements -------------------------------------------------------------------------------------------

class BalanceOut(BaseModel):
    grant_id: int
    customer_id: int
    customer_external_id: str
    key: str
    name: str
    kind: str = Field(description="quantity, credit or feature.")
    limit_type: str
    enabled: bool
    start_date: date
    end_date: date | None = Field(description="The first day the grant no longer applies (exclusive); null: none.")
    active: bool = Field(description="In effect on the day asked.")
    period_start: date | None
    period_end: date | None
    unit: str
    used: str | None
    limit: str | None
    remaining: str | None
    status: str = Field(description="inactive, on, off, blocked, flagged, near or ok.")


class DecisionOut(BaseModel):
    allowed: bool
    flagged: bool = Field(description="A soft limit is passed: allowed, but warn.")
    reason: str
    kind: str
    used: str | None
    limit: str | None
    remaining: str | None
    grant_id: int | None


class GrantIn(In):
    """A new entitlement grant. A quantity grant needs `metric_id` and `units` (per `reset` period); a credit grant
    `amount` (in `currency`, default the customer's); a feature grant `enabled`. With `contract_id` the grant comes
    with that contract: `customer` and `start_date`/`end_date` default to the contract's."""

    customer: str | None = Field(default=None, min_length=1, max_length=100,
                                 description="The customer's external id (may be left out with `contract_id`).")
    key: str = Field(min_length=1, max_length=64, examples=["api_calls"],
                     description="What a product asks about: lower-case letters, digits, _ - . (a key means one "
                                 "kind for every customer).")
    kind: Literal["quantity", "credit", "feature"]
    start_date: Day | None = Field(default=None, description="The first day it applies (required without a "
                                                             "contract).")
    end_date: Day | None = Field(default=None, description="The first day it no longer applies; null: no end.")
    name: str = Field(default="", max_length=200, description="Shown to people; default from the key.")
    metric_id: Id | None = Field(default=None, description="Quantity: the billable metric counting the use "
                                                           "(GET /v1/metrics).")
    units: Amount | None = Field(default=None, description="Quantity: the limit per period.")
    reset: Literal["billing_period", "month", "never"] = Field(default="billing_period",
                                                               description="Quantity: when the units start again.")
    amount: Amount | None = Field(default=None, description="Credit: the money budget.")
    currency: str | None = Field(default=None, max_length=3, description="Credit: ISO 4217 code.")
    limit_type: Literal["hard", "soft"] = Field(default="hard", description="hard blocks when reached; soft flags "
                                                                            "and still allows.")
    enabled: bool = Field(default=True, description="Feature: on or off.")
    contract_id: Id | None = None
    product_id: Id | None = None
    plan_id: Id | None = None
    note: str = Field(default="", max_length=500)


class GrantEndIn(In):
    end_date: Day = Field(description="The first day the grant no longer applies (its start date: it never "
                                      "applied).")
    reason: str = Field(default="", max_length=500, description="Kept in the audit log.")


_GRANT_FIELDS = {"customer": "customer", "key": "key", "kind": "kind", "limit": "limit_type",
                 "start date": "start_date", "end date": "end_date", "dates": "start_date", "name": "name",
                 "note": "note", "metric": "metric_id", "units": "units", "reset": "reset", "amount": "amount",
                 "currency": "currency", "contract": "contract_id", "product": "product_id", "plan": "plan_id"}


def grant_field(head: str) -> str:
    return _GRANT_FIELDS.get(head, "")


# ---- segments -----------------------------------------------------------------------------------------------

class ConditionIn(In):
    field: str = Field(min_length=1, max_length=40, description="country, currency, attribute, payment_method, "
                                                                "auto_charge, status, days_past_due, amount_due or "
                                                                "created_after.")
    op: str = Field(min_length=1, max_length=20, description="The field's operator: in, not_in, eq, ne, exists, "
                                                             "missing, is, gt, gte, lt, lte, on_or_after.")
    value: bool | int | Decimal | str | list[Annotated[str, Field(max_length=200)]] | None = Field(
        default=None, description="Codes or statuses as a list (or comma-separated), a number of days, an amount, "
                                  "a date (YYYY-MM-DD), true/false, or an attribute's value.")
    key: str | None = Field(default=None, max_length=40, description="attribute: the custom attribute's name.")


class RulesIn(In):
    groups: list[Annotated[list[ConditionIn], Field(max_length=50)]] = Field(
        min_length=1, max_length=50, description="A customer is a member when all conditions of any one group hold "
                                                 "(AND within a group, OR across groups).")


class SegmentIn(In):
    name: str = Field(min_length=1, max_length=100, examples=["Europe, 30+ days late"])
    description: str = Field(default="", max_length=500)
    rules: RulesIn


class SegmentPatch(In):
    """The fields to change; the others stay."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    rules: RulesIn | None = None


class SegmentOut(BaseModel):
    id: int
    name: str
    description: str
    rules: dict[str, Any]
    rules_text: str = Field(description="The rules in words.")
    updated_at: UtcTime


def rules_of(body: RulesIn) -> dict:
    """The rules as core.receivables.segments reads them (a condition without a key leaves it out)."""
    return {"groups": [[c.model_dump(exclude_none=True) for c in g] for g in body.groups]}


_WHERE = re.compile(r"^group (\d+)(?:, condition (\d+))?")


def segment_field(head: str) -> str:
    """'group 2, condition 1 (country)' -> 'rules.groups[1][0]'; 'rules', 'name', 'description' as they are."""
    m = _WHERE.match(head)
    if m:
        return f"rules.groups[{int(m.group(1)) - 1}]" + (f"[{int(m.group(2)) - 1}]" if m.group(2) else "")
    return head if head in ("rules", "name", "description") else ""
