"""Whose period is it? The usage window a customer's metric is counted in, the way its invoice counts it.

A customer's billing period for a metric follows the billing day of its active contract that meters the metric
(else of any active contract, else the 1st), between local midnights in the customer's time zone (else the
business entity's) — :mod:`core.billing.schedule`. Screens and alerts that show "usage this period" use these
windows so their numbers are the invoice's numbers. Customers that share a window share one aggregation query
(:func:`aggregate_by_window`): a handful of queries per metric, never one per customer.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from datetime import date, datetime

from sqlmodel import Session, select

from core.billing.schedule import (
    billing_timezone,
    cycle_period,
    period_bounds_utc,
    run_period,
)
from core.metering.metrics import MetricResult, aggregate
from core.models import BillableMetric, BusinessEntity, Contract, ContractLine, Customer


@dataclass(frozen=True)
class Billing:
    """How a customer's periods are drawn for one metric."""

    anchor_day: int
    tz: str


@dataclass(frozen=True)
class UsageWindow:
    """One customer's period: local dates ``[start, end)`` and the naive-UTC instants usage is counted between."""

    start: date
    end: date
    tz: str
    utc_start: datetime
    utc_end: datetime


def billing_of(session: Session, customers: Iterable[Customer], metric_ids: Iterable[int],
               on: date) -> dict[tuple[int, int], Billing]:
    """(customer id, metric id) -> its billing day and time zone on ``on``. At most three queries.
    ``customers`` need ``id``, ``timezone`` and ``entity_id``: Customers, or light rows of
    :func:`core.customers.customer_rows`."""
    customers = list(customers)
    metric_ids = set(metric_ids)
    entities = {e.id: e.timezone for e in session.exec(select(BusinessEntity))}
    ids = [c.id for c in customers]
    from core.invoicing.service import _in

    # plain rows, not ORM objects: 10,000 contracts as objects cost more than everything else here
    active = [(cid, ccid, anchor) for cid, ccid, anchor, end in session.connection().execute(
        select(Contract.id, Contract.customer_id, Contract.billing_anchor_day, Contract.end_date).where(
            Contract.status == "active", Contract.start_date <= on, _in(session, Contract.customer_id, ids))
        .order_by(Contract.start_date, Contract.id)) if end is None or end > on]
    any_contract: dict[int, int] = {}
    anchors: dict[int, set[int]] = {}
    for _, customer_id, anchor in active:
        any_contract.setdefault(customer_id, anchor or 1)
        anchors.setdefault(customer_id, set()).add(anchor or 1)
    per_metric: dict[tuple[int, int], int] = {}
    # only a customer whose active contracts bill on different days needs to know which contract meters which
    # metric; for everyone else every metric follows the one billing day
    mixed = {cid: (customer_id, anchor) for cid, customer_id, anchor in active if len(anchors[customer_id]) > 1}
    if mixed and metric_ids:
        for contract_id, metric_id in session.connection().execute(
                select(ContractLine.contract_id, ContractLine.metric_id)
                .where(_in(session, ContractLine.contract_id, list(mixed)),
                       ContractLine.metric_id.in_(list(metric_ids)))
                .order_by(ContractLine.contract_id, ContractLine.metric_id)):
            customer_id, anchor = mixed[contract_id]
            per_metric.setdefault((customer_id, metric_id), anchor or 1)
    shared: dict[tuple[int, str], Billing] = {}  # one Billing per distinct (day, zone): most customers share one
    out: dict[tuple[int, int], Billing] = {}
    mixed_customers = {customer_id for customer_id, _ in mixed.values()}
    for c in customers:
        tz = billing_timezone(c.timezone, entities.get(c.entity_id))
        default = any_contract.get(c.id, 1)
        if c.id in mixed_customers:
            for m in metric_ids:
                key = (per_metric.get((c.id, m), default), tz)
                b = shared.get(key) or shared.setdefault(key, Billing(*key))
                out[(c.id, m)] = b
        else:  # every metric on the one billing day
            b = shared.get((default, tz)) or shared.setdefault((default, tz), Billing(default, tz))
            cid = c.id
            out.update(((cid, m), b) for m in metric_ids)
    return out


def _window(start: date, end: date, tz: str) -> UsageWindow:
    return UsageWindow(start, end, tz, *period_bounds_utc(start, end, tz))


@lru_cache(maxsize=4096)
def current_window(billing: Billing, on: date) -> UsageWindow:
    """The billing period containing ``on``."""
    return _window(*cycle_period(billing.anchor_day, on), billing.tz)


@lru_cache(maxsize=4096)
def run_window(billing: Billing, year: int, month: int) -> UsageWindow:
    """The period the invoice run for ``year``-``month`` counts usage in: the cycle period starting in that month."""
    return _window(*run_period(billing.anchor_day, year, month), billing.tz)


def aggregate_by_window(session: Session, metric: BillableMetric,
                        windows: dict[str, tuple[datetime, datetime]]) -> dict[str, MetricResult]:
    """``aggregate`` for customers (external id -> naive-UTC [start, end)) whose windows differ: one query per
    distinct window. When every customer shares one window, a single query for all customers."""
    groups: dict[tuple[datetime, datetime], list[str]] = {}
    for ext, window in windows.items():
        groups.setdefault(window, []).append(ext)
    out: dict[str, MetricResult] = {}
    for (start, end), members in groups.items():
        found = aggregate(session, metric, start, end, customers=None if len(groups) == 1 else members)
        out.update((ext, res) for ext, res in found.items() if ext in windows)
    return out
