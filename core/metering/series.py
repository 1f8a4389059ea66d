"""Usage over time for one customer and metric: a daily series over the customer's billing period (local days)
and the period-to-date total against the units the customer's contract includes (the free units of the contract
line billed on that metric). Per day, ``latest`` shows the day's largest value."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import BigInteger, case, func, literal, or_, select, type_coerce
from sqlmodel import Session

from core.billing.schedule import local_midnight_utc
from core.metering.metrics import _where
from core.metering.periods import UsageWindow
from core.models import BillableMetric, Contract, ContractLine, Customer, UsageEvent
from core.money import ZERO, average_quantity
from core.types import QUANTITY_SCALE, from_scaled

CUMULATIVE = ("sum", "count")  # aggregations whose daily values add up to the period's quantity


@dataclass(frozen=True)
class DailyUsage:
    days: list[date]  # local days of the customer's period
    values: list[Decimal]  # per day: the metric's aggregation over that day's events
    to_date: list[Decimal] | None  # running total (sum/count metrics only)
    included: Decimal | None  # free units of the contract line on this metric, if any
    window: UsageWindow


def daily_usage(session: Session, metric: BillableMetric, customer_external_id: str,
                window: UsageWindow) -> DailyUsage:
    """One query over the customer's period, bucketed by LOCAL day: each event falls in the day whose local
    midnights (as UTC instants, DST-correct) surround it, so the days add up to what the invoice counts."""
    t = UsageEvent.__table__.c
    days = [window.start + timedelta(days=i) for i in range((window.end - window.start).days)]
    edges = [local_midnight_utc(d, window.tz) for d in days[1:]]
    day = case(*[(t.timestamp < edge, i) for i, edge in enumerate(edges)], else_=len(days) - 1) if edges \
        else literal(0)
    raw = type_coerce(t.quantity, BigInteger)
    value = {"sum": func.sum(raw), "count": func.count(), "max": func.max(raw), "min": func.min(raw),
             "avg": func.sum(raw), "latest": func.max(raw),
             "unique_count": func.count(func.distinct(t.properties[metric.unique_property or "_"].as_string()))
             }[metric.aggregation]
    rows = session.connection().execute(
        select(day.label("d"), value.label("v"), func.count().label("n"))
        .where(_where(metric, window.utc_start, window.utc_end, [customer_external_id]))
        .group_by(day)).all()
    by_day: dict[int, Decimal] = {}
    for d, v, n in rows:
        if metric.aggregation in ("count", "unique_count"):
            by_day[int(d)] = Decimal(int(v or 0))
        elif metric.aggregation == "avg":
            by_day[int(d)] = average_quantity(from_scaled(v, QUANTITY_SCALE), n)
        else:
            by_day[int(d)] = from_scaled(v, QUANTITY_SCALE)
    values = [by_day.get(i, ZERO) for i in range(len(days))]
    to_date = None
    if metric.aggregation in CUMULATIVE:
        running, to_date = ZERO, []
        for v in values:
            running += v
            to_date.append(running)
    return DailyUsage(days, values, to_date, included_units(session, customer_external_id, metric.id, window.start),
                      window)


def included_units(session: Session, customer_external_id: str, metric_id: int, on: date) -> Decimal | None:
    row = session.exec(
        select(ContractLine.free_units).join(Contract, Contract.id == ContractLine.contract_id)
        .join(Customer, Customer.id == Contract.customer_id)
        .where(Customer.external_id == customer_external_id, ContractLine.metric_id == metric_id,
               Contract.status == "active", Contract.start_date <= on,
               or_(Contract.end_date.is_(None), Contract.end_date > on))).first()
    if row is None:
        return None
    value = row[0] if isinstance(row, tuple) or hasattr(row, "_mapping") else row
    return value if value and value > 0 else None
