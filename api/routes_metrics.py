"""/v1/metrics: billable metrics (what usage events count)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import Session, select

from api.common import (
    Cursor,
    FreeText,
    IdempotencyKey,
    IdPath,
    Limit,
    Offset,
    Page,
    idempotent,
    known_query,
    paginate,
    responses,
)
from api.deps import authenticated, db_session
from api.errors import ExactJSONRoute
from api.schemas_catalog import MetricIn, MetricOut, metric_out
from core.apikeys import ApiKeyActor
from core.metering.metrics import MetricSpec, create_metric, get_metric
from core.models import BillableMetric

router = APIRouter(prefix="/v1/metrics", tags=["metrics"], route_class=ExactJSONRoute,
                   dependencies=[Depends(known_query)])


@router.get("", response_model=Page[MetricOut], summary="List billable metrics", responses=responses(401, 403, 422))
def list_metrics(request: Request, limit: Limit = 100, cursor: Cursor = None, offset: Offset = None,
                 event_name: FreeText = None, aggregation: FreeText = None,
                 actor: ApiKeyActor = Depends(authenticated("metrics:read")),
                 session: Session = Depends(db_session)) -> Page[MetricOut]:
    """Metrics in id order. Filters: `event_name`, `aggregation`."""
    stmt = select(BillableMetric)
    if event_name:
        stmt = stmt.where(BillableMetric.event_name == event_name)
    if aggregation:
        stmt = stmt.where(BillableMetric.aggregation == aggregation)
    rows, total, nxt = paginate(session, stmt, BillableMetric.id, request, limit=limit, cursor=cursor, offset=offset)
    return Page[MetricOut](data=[metric_out(m) for m in rows], total=total, next=nxt)


@router.post("", response_model=MetricOut, status_code=201, summary="Create a billable metric",
             responses=responses(400, 401, 403, 404, 409, 422))
def create(body: MetricIn, request: Request, actor: ApiKeyActor = Depends(authenticated("metrics:write")),
           session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """Checked like the Metrics page: a code already used, an unknown aggregation, … — 422 naming the field."""
    return idempotent(request, session, actor, body,
                      lambda: metric_out(create_metric(session, actor, MetricSpec(**body.model_dump()))))


@router.get("/{metric_id}", response_model=MetricOut, summary="Read a billable metric",
            responses=responses(401, 403, 404, 422))
def read(metric_id: IdPath, actor: ApiKeyActor = Depends(authenticated("metrics:read")),
         session: Session = Depends(db_session)) -> MetricOut:
    return metric_out(get_metric(session, metric_id))
