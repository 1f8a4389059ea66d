"""/v1/entitlements (balances, check) and /v1/segments (receivables segments and their members): read only."""
from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from api.common import (
    Cursor,
    DayQuery,
    IdFilter,
    IdPath,
    Limit,
    Offset,
    Page,
    Text,
    UtcTime,
    known_query,
    money,
    paginate,
    responses,
)
from api.deps import authenticated, db_session
from api.errors import ExactJSONRoute
from api.schemas_customers import CustomerOut, customer_out
from core.apikeys import ApiKeyActor
from core.models import Customer

router = APIRouter(prefix="/v1", route_class=ExactJSONRoute, dependencies=[Depends(known_query)])


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
    end_date: date | None
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


class SegmentOut(BaseModel):
    id: int
    name: str
    description: str
    rules: dict[str, Any]
    rules_text: str = Field(description="The rules in words.")
    updated_at: UtcTime


@router.get("/entitlements", response_model=Page[BalanceOut], tags=["entitlements"],
            summary="List entitlement grants with their balances", responses=responses(401, 403, 422))
def list_entitlements(request: Request, limit: Limit = 100, offset: Offset = None, customer_id: IdFilter = None,
                      kind: str | None = Text(10, r"^(quantity|credit|feature)$"), on: DayQuery = None,
                      actor: ApiKeyActor = Depends(authenticated("entitlements:read")),
                      session: Session = Depends(db_session)) -> Page[BalanceOut]:
    """Grants by customer and key, each with what is used and left on `on`. Pages by `offset` (`next` links)."""
    from core.entitlements.balances import balances

    day = on or date.today()
    rows, total = balances(session, actor, on=day, customer_id=customer_id, kind=kind, offset=offset or 0,
                           limit=limit)
    nxt = None
    if (offset or 0) + len(rows) < total:
        nxt = str(request.url.include_query_params(offset=(offset or 0) + len(rows)))
    return Page[BalanceOut](data=[_balance(b) for b in rows], total=total, next=nxt)


def _balance(b) -> BalanceOut:  # noqa: ANN001 - core.entitlements.balances.Balance
    g = b.grant
    code = g.currency if g.kind == "credit" else None
    return BalanceOut(grant_id=g.id, customer_id=g.customer_id, customer_external_id=b.customer_external_id,
                      key=g.key, name=g.name, kind=g.kind, limit_type=g.limit_type, enabled=bool(g.enabled),
                      start_date=g.start_date, end_date=g.end_date, active=b.active, period_start=b.period_start,
                      period_end=b.period_end, unit=b.unit or "", used=money(b.used, code),
                      limit=money(b.limit, code), remaining=money(b.remaining, code), status=b.status())


@router.get("/entitlements/check", response_model=DecisionOut, tags=["entitlements"],
            summary="May this customer use this?", responses=responses(401, 403, 404, 422))
def check(customer: str = Query(min_length=1, max_length=100, pattern=r"^[^\x00]+$",
                                description="The customer's external id."),
          key: str = Query(min_length=1, max_length=64, pattern=r"^[^\x00]+$", description="The entitlement key, "
                                                                                           "e.g. sso or api_calls."),
          on: DayQuery = None, actor: ApiKeyActor = Depends(authenticated("entitlements:read")),
          session: Session = Depends(db_session)) -> DecisionOut:
    """For a product deciding at run time: `allowed` false when no grant is in effect, a feature is off, or a hard
    limit is reached; `flagged` when a soft limit is passed. An unknown customer: 404."""
    from core.entitlements.balances import check as decide

    d = decide(session, customer, key, on=on)
    return DecisionOut(allowed=d.allowed, flagged=d.flagged, reason=d.reason, kind=d.kind, used=money(d.used),
                       limit=money(d.limit), remaining=money(d.remaining), grant_id=d.grant_id)


@router.get("/segments", response_model=Page[SegmentOut], tags=["segments"], summary="List customer segments",
            responses=responses(401, 403, 422))
def list_segments(request: Request, limit: Limit = 100, cursor: Cursor = None, offset: Offset = None,
                  actor: ApiKeyActor = Depends(authenticated("receivables:read")),
                  session: Session = Depends(db_session)) -> Page[SegmentOut]:
    """Saved segments (receivables), with their rules in words."""
    from core.models import Segment

    rows, total, nxt = paginate(session, select(Segment), Segment.id, request, limit=limit, cursor=cursor,
                                offset=offset)
    return Page[SegmentOut](data=[_segment(s) for s in rows], total=total, next=nxt)


def _segment(s) -> SegmentOut:  # noqa: ANN001
    from core.receivables.segments import describe

    return SegmentOut(id=s.id, name=s.name, description=s.description or "", rules=s.rules or {},
                      rules_text=describe(s.rules or {}), updated_at=s.updated_at)


@router.get("/segments/{segment_id}", response_model=SegmentOut, tags=["segments"], summary="Read a segment",
            responses=responses(401, 403, 404, 422))
def read_segment(segment_id: IdPath, actor: ApiKeyActor = Depends(authenticated("receivables:read")),
                 session: Session = Depends(db_session)) -> SegmentOut:
    from core.receivables.segments import get_segment

    return _segment(get_segment(session, segment_id))


@router.get("/segments/{segment_id}/customers", response_model=Page[CustomerOut], tags=["segments"],
            summary="The customers in a segment today", responses=responses(401, 403, 404, 422))
def segment_customers(request: Request, segment_id: IdPath, limit: Limit = 100, cursor: Cursor = None,
                      offset: Offset = None,
                      actor: ApiKeyActor = Depends(authenticated("receivables:read")),
                      session: Session = Depends(db_session)) -> Page[CustomerOut]:
    """Its members by the rules as they stand now, in id order (needs `customers:read` too)."""
    from core.auth import require
    from core.receivables.segments import customer_ids_select

    require(actor, "customers:read")
    ids = customer_ids_select(session, segment_id)
    rows, total, nxt = paginate(session, select(Customer).where(Customer.id.in_(ids)), Customer.id, request,
                                limit=limit, cursor=cursor, offset=offset)
    return Page[CustomerOut](data=[customer_out(c) for c in rows], total=total, next=nxt)
