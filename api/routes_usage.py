"""POST /v1/events, POST /v1/events/batch: usage ingestion (see core.metering.ingest for the policy)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlmodel import Session

from api.deps import authenticated, db_session
from api.errors import ApiError, ExactJSONRoute
from api.schemas import (
    BatchIn,
    BatchOut,
    ErrorOut,
    EventIn,
    EventOut,
    KeyList,
    Rejected,
    RejectedList,
)
from core.apikeys import ApiKeyActor
from core.errors import PermissionDenied, UserError
from core.metering.ingest import IngestConflict, IngestResult, ingest_events

router = APIRouter(prefix="/v1", tags=["usage"], route_class=ExactJSONRoute)
_ERRORS = {
    400: {"model": ErrorOut, "description": "The body is not valid JSON."},
    401: {"model": ErrorOut, "description": "No API key, or an invalid or revoked one."},
    403: {"model": ErrorOut, "description": "The key lacks the scope usage:write."},
    409: {"model": ErrorOut, "description": "Another request stored the same keys at the same moment; retry."},
    422: {"model": ErrorOut, "description": "The request does not have the documented shape (a field missing or of "
                                            "the wrong type); `fields` names each one, e.g. events[3].timestamp. "
                                            "More than 1,000 events: code `batch_too_large`. Nothing was stored."},
}


def _ingest(session: Session, actor: ApiKeyActor, events: list[dict]) -> IngestResult:
    """One transaction: ingest and commit; on a race with a concurrent request, roll back and retry once."""
    for attempt in (1, 2):
        try:
            result = ingest_events(session, actor, events, source="api")
            session.commit()
            return result
        except IngestConflict as exc:
            session.rollback()
            if attempt == 2:
                raise ApiError(409, "conflict", str(exc)) from None
        except PermissionDenied as exc:
            raise ApiError(403, "forbidden", str(exc)) from None
        except UserError as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
    raise AssertionError("unreachable")


@router.post("/events", response_model=EventOut, status_code=201, summary="Send one usage event",
             responses={**_ERRORS, 200: {"model": EventOut, "description": "Already stored: a duplicate, not "
                                                                           "counted again."},
                        422: {"model": ErrorOut, "description": "The event was refused (unknown customer or event "
                                                                "name, bad timestamp or quantity, …); `fields` says "
                                                                "why. Nothing was stored."}})
def post_event(event: EventIn, response: Response, actor: ApiKeyActor = Depends(authenticated("usage:write")),
               session: Session = Depends(db_session)) -> EventOut:
    """Store one event: **201** when stored, **200** with `status: duplicate` when its key is already stored,
    **422** with the field at fault when refused."""
    result = _ingest(session, actor, [event.__dict__])
    if result.rejected:
        fields = [{"field": r.field, "message": r.message} for r in result.rejected]
        raise ApiError(422, "invalid_event", "the event was refused — " + "; ".join(
            f"{f['field']}: {f['message']}" for f in fields) + "; nothing was stored", fields)
    if result.duplicates:
        response.status_code = 200
        return EventOut(status="duplicate", idempotency_key=result.duplicates[0])
    return EventOut(status="accepted", idempotency_key=result.accepted[0])


@router.post("/events/batch", response_model=BatchOut, summary="Send up to 1,000 usage events",
             responses=_ERRORS | {413: {"model": ErrorOut, "description": "A body over 10 MiB: split it."}})
def post_batch(batch: BatchIn, actor: ApiKeyActor = Depends(authenticated("usage:write")),
               session: Session = Depends(db_session)) -> BatchOut:
    """Store a batch **per event**: valid events are stored; each invalid event is listed under `rejected`
    (index, key, field, message) and nothing of it is stored; events already stored (or repeated in the batch)
    are listed under `duplicates` and counted once. The answer is **200** whenever the request itself is
    well-formed — check `rejected.count`. Re-sending the whole batch after a timeout is safe."""
    result = _ingest(session, actor, [e.__dict__ for e in batch.events])
    rejected = [Rejected(index=r.index, idempotency_key=r.key, field=r.field, message=r.message)
                for r in result.rejected]
    return BatchOut(accepted=KeyList(count=len(result.accepted), keys=result.accepted),
                    duplicates=KeyList(count=len(result.duplicates), keys=result.duplicates),
                    rejected=RejectedList(count=result.rejected_events, events=rejected))
