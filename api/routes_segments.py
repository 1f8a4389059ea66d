"""/v1/segments: receivables segments (saved rules over customer fields and invoice facts) — list, read, their
members, create, change, delete."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from api.common import Cursor, IdPath, IdempotencyKey, Limit, Offset, Page, idempotent, known_query, paginate, responses
from api.deps import authenticated, db_session
from api.errors import ApiError, ExactJSONRoute
from api.schemas_customers import CustomerOut, customer_out
from api.schemas_platform import SegmentIn, SegmentOut, SegmentPatch, checked, rules_of, segment_field
from core.apikeys import ApiKeyActor
from core.models import Customer, Segment
from core.receivables import segments as seg

router = APIRouter(prefix="/v1/segments", tags=["segments"], route_class=ExactJSONRoute,
                   dependencies=[Depends(known_query)])


def _segment(s: Segment) -> SegmentOut:
    return SegmentOut(id=s.id, name=s.name, description=s.description or "", rules=s.rules or {},
                      rules_text=seg.describe(s.rules or {}), updated_at=s.updated_at)


def _checked(call):  # noqa: ANN001, ANN202 - a service call; its refusal names the request's fields
    return checked(call, segment_field)


@router.get("", response_model=Page[SegmentOut], summary="List customer segments", responses=responses(401, 403, 422))
def list_segments(request: Request, limit: Limit = 100, cursor: Cursor = None, offset: Offset = None,
                  actor: ApiKeyActor = Depends(authenticated("receivables:read")),
                  session: Session = Depends(db_session)) -> Page[SegmentOut]:
    """Saved segments (receivables), with their rules in words."""
    rows, total, nxt = paginate(session, select(Segment), Segment.id, request, limit=limit, cursor=cursor,
                                offset=offset)
    return Page[SegmentOut](data=[_segment(s) for s in rows], total=total, next=nxt)


@router.post("", response_model=SegmentOut, status_code=201, summary="Create a segment",
             responses=responses(400, 401, 403, 409, 422, extra={
                 422: "Refused: `fields` names the field or the condition at fault (`rules.groups[0][1]`: the "
                      "second condition of the first group). Nothing was stored."}))
def create(body: SegmentIn, request: Request, actor: ApiKeyActor = Depends(authenticated("receivables:write")),
           session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """A segment as the Segments page saves it (scope `receivables:write`): conditions AND-ed within a group, groups
    OR-ed. Fields: `country`/`currency` (`in`, `not_in`: codes), `attribute` (with `key`; `eq`, `ne`, `in`,
    `exists`, `missing`), `payment_method`/`auto_charge` (`is`: true/false), invoice `status` (`in`),
    `days_past_due` and `amount_due` (`gt`, `gte`, `lt`, `lte`, `eq`), `created_after` (`on_or_after`: a date).
    Names are unique (case-insensitive). Audited."""
    return idempotent(request, session, actor, body, lambda: _segment(_checked(lambda: seg.create_segment(
        session, actor, name=body.name, rules=rules_of(body.rules), description=body.description))))


@router.get("/{segment_id}", response_model=SegmentOut, summary="Read a segment",
            responses=responses(401, 403, 404, 422))
def read(segment_id: IdPath, actor: ApiKeyActor = Depends(authenticated("receivables:read")),
         session: Session = Depends(db_session)) -> SegmentOut:
    return _segment(seg.get_segment(session, segment_id))


@router.patch("/{segment_id}", response_model=SegmentOut, summary="Change a segment",
              responses=responses(400, 401, 403, 404, 409, 422))
def update(segment_id: IdPath, body: SegmentPatch, actor: ApiKeyActor = Depends(authenticated("receivables:write")),
           session: Session = Depends(db_session)) -> SegmentOut:
    """Change the fields sent (`rules` replaces all the rules); the others stay. Dunning policies and reports
    using the segment follow the new rules at once. Audited with the values before and after."""
    current = seg.get_segment(session, segment_id)
    sent = body.model_fields_set
    name = body.name if "name" in sent and body.name is not None else current.name
    description = body.description if "description" in sent and body.description is not None else \
        current.description or ""
    rules = rules_of(body.rules) if "rules" in sent and body.rules is not None else current.rules
    out = _segment(_checked(lambda: seg.update_segment(session, actor, segment_id, name=name, rules=rules,
                                                       description=description)))
    _commit(session)
    return out


@router.delete("/{segment_id}", status_code=204, response_class=Response, summary="Delete a segment",
               responses={204: {"description": "Deleted."}, **responses(401, 403, 404, 409, 422, extra={
                   422: "Refused: a dunning policy uses the segment (the message names it). Nothing was deleted."})})
def delete(segment_id: IdPath, actor: ApiKeyActor = Depends(authenticated("receivables:delete")),
           session: Session = Depends(db_session)) -> Response:
    """Delete a segment no dunning policy uses (scope `receivables:delete`); customers are not touched. Audited."""
    _checked(lambda: seg.delete_segment(session, actor, segment_id))
    _commit(session)
    return Response(status_code=204)


def _commit(session: Session) -> None:
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise ApiError(409, "conflict", "another request changed the same records at the same moment; nothing was "
                                        "stored — retry the request") from None


@router.get("/{segment_id}/customers", response_model=Page[CustomerOut], summary="The customers in a segment today",
            responses=responses(401, 403, 404, 422))
def segment_customers(request: Request, segment_id: IdPath, limit: Limit = 100, cursor: Cursor = None,
                      offset: Offset = None, actor: ApiKeyActor = Depends(authenticated("receivables:read")),
                      session: Session = Depends(db_session)) -> Page[CustomerOut]:
    """Its members by the rules as they stand now, in id order (needs `customers:read` too)."""
    from core.auth import require

    require(actor, "customers:read")
    ids = seg.customer_ids_select(session, segment_id)
    rows, total, nxt = paginate(session, select(Customer).where(Customer.id.in_(ids)), Customer.id, request,
                                limit=limit, cursor=cursor, offset=offset)
    return Page[CustomerOut](data=[customer_out(c) for c in rows], total=total, next=nxt)
