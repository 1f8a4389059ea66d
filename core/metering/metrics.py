"""Billable metrics: turn usage events into billable quantities.

Aggregation runs in SQL: one query per metric and period for all customers, never one per customer.
Quantities are stored as scaled integers, so SUM/MAX/MIN are exact on SQLite and PostgreSQL; AVG is
computed as an exact Decimal SUM / COUNT rather than the database's floating-point AVG.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, String, and_, func, select, type_coerce
from sqlmodel import Session

from core import audit
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.models import BillableMetric, UsageEvent
from core.money import ZERO
from core.types import QUANTITY_SCALE, from_scaled

AGGREGATIONS: dict[str, str] = {
    "sum": "Sum of the event quantity",
    "count": "Count of events",
    "max": "Largest event quantity",
    "min": "Smallest event quantity",
    "unique_count": "Count of distinct values of a property",
    "latest": "Quantity of the last event in the period",
    "avg": "Average event quantity",
}
_CODE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")


@dataclass
class MetricResult:
    """The billable quantity of one customer for one period; ``groups`` when the metric groups by a property."""

    quantity: Decimal = ZERO
    groups: dict[str, Decimal] | None = None
    events: int = 0


@dataclass
class MetricSpec:
    code: str
    name: str
    event_name: str
    aggregation: str
    unique_property: str = ""
    filters: dict[str, str] = field(default_factory=dict)
    group_by: str = ""


def validate_metric(spec: MetricSpec) -> list[str]:
    problems = []
    if not _CODE.match(spec.code or ""):
        problems.append("code: use lower-case letters, digits, '-' or '_' (for example api_calls)")
    if not (spec.name or "").strip():
        problems.append("name: a name is required")
    if not (spec.event_name or "").strip():
        problems.append("event name: the event name this metric counts is required")
    if spec.aggregation not in AGGREGATIONS:
        problems.append(f"aggregation: choose one of {', '.join(AGGREGATIONS)}")
    if spec.aggregation == "unique_count" and not (spec.unique_property or "").strip():
        problems.append("unique property: a unique count needs the property whose distinct values are counted")
    for k, v in (spec.filters or {}).items():
        if not str(k).strip() or str(v) == "":
            problems.append("filters: each filter needs a property name and a value")
    return problems


def create_metric(session: Session, actor: Actor, spec: MetricSpec) -> BillableMetric:
    require(actor, "metrics:write")
    spec.code = (spec.code or "").strip().lower()
    problems = validate_metric(spec)
    if problems:
        raise UserError("; ".join(problems))
    if session.exec(select(BillableMetric).where(BillableMetric.code == spec.code)).first():
        raise UserError(f"code: a metric with the code '{spec.code}' already exists")
    metric = BillableMetric(code=spec.code, name=spec.name.strip(), event_name=spec.event_name.strip(),
                            aggregation=spec.aggregation, unique_property=spec.unique_property.strip(),
                            filters={str(k).strip(): str(v) for k, v in (spec.filters or {}).items()},
                            group_by=(spec.group_by or "").strip())
    session.add(metric)
    session.flush()
    audit.record(session, actor=actor.username, action="metric.create", entity_type="metric",
                 entity_id=metric.id, details={"code": metric.code, "aggregation": metric.aggregation,
                                               "event_name": metric.event_name})
    return metric


def list_metrics(session: Session) -> list[BillableMetric]:
    return list(session.exec(select(BillableMetric).order_by(BillableMetric.code)).scalars())


def get_metric(session: Session, metric_id: int) -> BillableMetric:
    metric = session.get(BillableMetric, metric_id)
    if metric is None:
        raise NotFound(f"there is no billable metric #{metric_id}")
    return metric


def _prop(name: str):
    return UsageEvent.__table__.c.properties[name].as_string()


def _where(metric: BillableMetric, start: datetime, end: datetime, customers: list[str] | None):
    t = UsageEvent.__table__.c
    cond = [t.event_name == metric.event_name, t.timestamp >= start, t.timestamp < end]
    for key, value in (metric.filters or {}).items():
        cond.append(_prop(key) == str(value))
    if customers is not None:
        cond.append(t.customer_external_id.in_(customers))
    return and_(*cond)


def aggregate(session: Session, metric: BillableMetric, start: datetime, end: datetime,
              customers: list[str] | None = None) -> dict[str, MetricResult]:
    """Billable quantity per customer external id for events in [start, end) — one SQL query."""
    t = UsageEvent.__table__.c
    raw_q = type_coerce(t.quantity, BigInteger)
    where = _where(metric, start, end, customers)
    keys = [t.customer_external_id]
    if metric.group_by:
        keys.append(func.coalesce(_prop(metric.group_by), "(none)").label("grp"))
    agg = metric.aggregation
    if agg == "latest":
        ranked = (
            select(*keys, raw_q.label("q"),
                   func.row_number().over(partition_by=keys, order_by=(t.timestamp.desc(), t.id.desc())).label("rn"),
                   func.count().over(partition_by=keys).label("n"))
            .where(where).subquery()
        )
        cols = [ranked.c.customer_external_id] + ([ranked.c.grp] if metric.group_by else [])
        stmt = select(*cols, ranked.c.q, ranked.c.n).where(ranked.c.rn == 1)
    else:
        if agg in ("sum", "avg"):
            value = func.sum(raw_q)
        elif agg == "count":
            value = func.count()
        elif agg == "max":
            value = func.max(raw_q)
        elif agg == "min":
            value = func.min(raw_q)
        elif agg == "unique_count":
            value = func.count(func.distinct(type_coerce(_prop(metric.unique_property), String)))
        else:
            raise UserError(f"unknown aggregation '{agg}'")
        stmt = select(*keys, value.label("v"), func.count().label("n")).where(where).group_by(*keys)

    results: dict[str, MetricResult] = {}
    for row in session.connection().execute(stmt):
        customer = row[0]
        grp = row[1] if metric.group_by else None
        raw, n = row[-2], int(row[-1])
        if agg in ("count", "unique_count"):
            qty = Decimal(int(raw or 0))
        elif agg == "avg":
            qty = from_scaled(raw, QUANTITY_SCALE) / n if n else ZERO
        else:
            qty = from_scaled(raw, QUANTITY_SCALE)
        res = results.setdefault(customer, MetricResult())
        res.events += n
        if grp is None:
            res.quantity = qty
        else:
            res.groups = res.groups or {}
            res.groups[str(grp)] = qty
            res.quantity += qty
    return results


def events_behind(session: Session, metric: BillableMetric, start: datetime, end: datetime, customer: str,
                  limit: int = 500) -> list[UsageEvent]:
    """The events behind one number: what a finance user opens to check a quantity."""
    stmt = (select(UsageEvent).where(_where(metric, start, end, [customer]))
            .order_by(UsageEvent.timestamp).limit(limit))
    return list(session.exec(stmt).scalars())
