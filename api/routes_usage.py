"""POST /v1/events, POST /v1/events/batch: usage ingestion (see core.metering.ingest for the policy).

Two ways through, one behaviour. The common request — a JSON body that certainly has the documented shape and a
Bearer key — is answered by :class:`IngestRoute` itself: the body is not validated a second time by the models
(core.metering.ingest checks every event anyway), and the key lookup, the checks, the write and the commit run
in one worker-thread call instead of one thread hop per FastAPI dependency. Every other request (a body of the
wrong shape, malformed JSON, no key, …) goes through FastAPI's handling of the endpoints below, which answer it
exactly as before. Both paths share :func:`_ingest`, :func:`api.deps.key_actor` and the response models.
"""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from pydantic import TypeAdapter
from sqlalchemy.engine import Connection
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.common import IdempotencyKey, idempotent
from api.deps import authenticated, bearer, db_session, get_engine, key_actor
from api.errors import ApiError, ExactJSONRequest, ExactJSONRoute
from api.schemas import (
    BatchIn,
    BatchOut,
    ErrorOut,
    EventIn,
    EventOut,
    KeyList,
    Rejected,
    RejectedList,
    plain_batch,
    plain_event,
)
from core.apikeys import ApiKeyActor
from core.errors import PermissionDenied, UserError
from core.metering.ingest import IngestConflict, IngestResult, ingest_events

SCOPE = "usage:write"


class IngestRoute(ExactJSONRoute):
    """Answers the common request itself (see the module docstring); hands every other one to FastAPI."""

    async def fast_response(self, request: ExactJSONRequest) -> Response | None:
        fast = _FAST.get(self.endpoint)
        return await fast(request) if fast is not None else None


router = APIRouter(prefix="/v1", tags=["usage"], route_class=IngestRoute)
_ERRORS = {
    400: {"model": ErrorOut, "description": "The body is not valid JSON."},
    401: {"model": ErrorOut, "description": "No API key, or an invalid or revoked one."},
    403: {"model": ErrorOut, "description": "The key lacks the scope usage:write."},
    409: {"model": ErrorOut, "description": "Another request stored the same keys at the same moment; retry."},
    422: {"model": ErrorOut, "description": "The request does not have the documented shape (a field missing or of "
                                            "the wrong type); `fields` names each one, e.g. events[3].timestamp. "
                                            "More than 1,000 events: code `batch_too_large`. Nothing was stored."},
}


def _ingest(session: Session | Connection, actor: ApiKeyActor, events: list[dict], *,
            commit: bool = True) -> IngestResult:
    """One transaction: ingest and commit; on a race with a concurrent request, roll back and retry once.
    ``commit=False``: the caller commits (api.common.idempotent, which stores the answer in the same transaction)."""
    for attempt in (1, 2):
        try:
            result = ingest_events(session, actor, events, source="api")
            if commit:
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
def post_event(event: EventIn, request: Request, response: Response,
               actor: ApiKeyActor = Depends(authenticated("usage:write")), session: Session = Depends(db_session),
               _key: IdempotencyKey = None) -> EventOut:
    """Store one event: **201** when stored, **200** with `status: duplicate` when its key is already stored,
    **422** with the field at fault when refused."""
    if request.headers.get("idempotency-key") is not None:  # the answer is stored and replayed (api.common)
        return idempotent(request, session, actor, event,
                          lambda: _event_out(_ingest(session, actor, [event.__dict__], commit=False)))
    status, out = _event_out(_ingest(session, actor, [event.__dict__]))
    response.status_code = status
    return out


def _event_out(result: IngestResult) -> tuple[int, EventOut]:
    """(status, body) of a single event's answer, or ApiError 422 when it was refused."""
    if result.rejected:
        fields = [{"field": r.field, "message": r.message} for r in result.rejected]
        raise ApiError(422, "invalid_event", "the event was refused — " + "; ".join(
            f"{f['field']}: {f['message']}" for f in fields) + "; nothing was stored", fields)
    if result.duplicates:
        return 200, EventOut(status="duplicate", idempotency_key=result.duplicates[0])
    return 201, EventOut(status="accepted", idempotency_key=result.accepted[0])


@router.post("/events/batch", response_model=BatchOut, summary="Send up to 1,000 usage events",
             responses=_ERRORS | {413: {"model": ErrorOut, "description": "A body over 10 MiB: split it."}})
def post_batch(batch: BatchIn, request: Request, actor: ApiKeyActor = Depends(authenticated("usage:write")),
               session: Session = Depends(db_session), _key: IdempotencyKey = None) -> BatchOut:
    """Store a batch **per event**: valid events are stored; each invalid event is listed under `rejected`
    (index, key, field, message) and nothing of it is stored; events already stored (or repeated in the batch)
    are listed under `duplicates` and counted once. The answer is **200** whenever the request itself is
    well-formed — check `rejected.count`. Re-sending the whole batch after a timeout is safe."""
    if request.headers.get("idempotency-key") is not None:  # the answer is stored and replayed (api.common)
        return idempotent(request, session, actor, batch, lambda: (200, _batch_out(
            _ingest(session, actor, [e.__dict__ for e in batch.events], commit=False))))
    return _batch_out(_ingest(session, actor, [e.__dict__ for e in batch.events]))


def _batch_out(result: IngestResult) -> BatchOut:
    rejected = [Rejected(index=r.index, idempotency_key=r.key, field=r.field, message=r.message)
                for r in result.rejected]
    return BatchOut(accepted=KeyList(count=len(result.accepted), keys=result.accepted),
                    duplicates=KeyList(count=len(result.duplicates), keys=result.duplicates),
                    rejected=RejectedList(count=result.rejected_events, events=rejected))


# ---- the common request, answered without FastAPI's dependency and validation machinery ----------------------

_EVENT_JSON = TypeAdapter(EventOut)
_BATCH_JSON = TypeAdapter(BatchOut)


async def _plain_body(request: ExactJSONRequest):  # noqa: ANN202
    """The parsed body when it is JSON (declared and well-formed), else None (FastAPI's handling says why)."""
    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != "application/json":
        return None
    try:
        return await request.json()
    except Exception:  # noqa: BLE001 - malformed: FastAPI's handling answers 400 with the position
        return None


def _store(secret: str, events: list[dict]) -> IngestResult:
    """Key check, ingestion and commit in one transaction, as the dependencies + endpoint do — on a Core
    connection rather than an ORM session (nothing here needs one; a session costs ~0.3 ms a request)."""
    with get_engine().connect() as conn:  # closing it rolls back whatever was not committed
        return _ingest(conn, key_actor(conn, secret, SCOPE), events)


async def _fast_ingest(request: ExactJSONRequest, events: list[dict] | None) -> IngestResult | None:
    """The events stored, or None to hand the request to FastAPI's handling (no key: it answers 401)."""
    if events is None or request.app.dependency_overrides or "idempotency-key" in request.headers:
        # overrides (tests) and an Idempotency-Key header: the general path honours them
        return None
    credentials = await bearer(request)
    if credentials is None:
        return None
    return await run_in_threadpool(_store, credentials.credentials, events)


async def _fast_event(request: ExactJSONRequest) -> Response | None:
    event = plain_event(await _plain_body(request))
    result = await _fast_ingest(request, None if event is None else [event])
    if result is None:
        return None
    status, out = _event_out(result)
    return Response(_EVENT_JSON.dump_json(out), status_code=status, media_type="application/json")


async def _fast_batch(request: ExactJSONRequest) -> Response | None:
    result = await _fast_ingest(request, plain_batch(await _plain_body(request)))
    if result is None:
        return None
    return Response(_BATCH_JSON.dump_json(_batch_out(result)), media_type="application/json")


_FAST = {post_event: _fast_event, post_batch: _fast_batch}
