"""Billable metrics: turn usage events into billable quantities.

Aggregation runs in SQL: one query per metric and period for all customers, never one per customer.
Quantities are stored as scaled integers, so SUM/MAX/MIN are exact on SQLite and PostgreSQL; AVG is
computed as an exact Decimal SUM / COUNT rather than the database's floating-point AVG.

A metric may instead be a read-only SQL template run against a data source (aggregation ``"sql"``, spec section
4): it returns each customer's quantity for the period, with the placeholders ``:period_start`` and
``:period_end`` (required) and ``:customer_id`` (optional: the customer's external id) bound as parameters,
never formatted into the SQL. Result columns: ``customer_external_id`` (unless the template uses
``:customer_id``), ``quantity`` and an optional ``group`` (for matrix / two-dimensional lines). One query per
period for all customers — or, with ``:customer_id``, one per customer asked for. The quantities are exact
Decimals (a driver's float is read through its shortest text, never by float arithmetic); a missing, negative
or non-numeric quantity, or one with more than 6 decimals, refuses the whole result with a message naming the
customer. ``aggregate()`` returns the same MetricResult per customer, so invoicing uses these metrics as is.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import BigInteger, String, and_, func, select, type_coerce
from sqlmodel import Session

from core import audit
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.models import BillableMetric, Customer, DataSource, UsageEvent
from core.money import ZERO, average_quantity
from core.sources import _PLACEHOLDER, _strip, check_read_only_sql, column_lookup, read_many, read_rows
from core.types import QUANTITY_SCALE, from_scaled

AGGREGATIONS: dict[str, str] = {
    "sum": "Sum of the event quantity",
    "count": "Count of events",
    "max": "Largest event quantity",
    "min": "Smallest event quantity",
    "unique_count": "Count of distinct values of a property",
    "latest": "Quantity of the last event in the period",
    "avg": "Average event quantity",
    "sql": "Result of a SQL template on a data source",
}
SQL = "sql"
TEMPLATE_FIELD = "SQL template"
TEMPLATE_PLACEHOLDERS = {"period_start": "to read only the billing period",
                         "period_end": "to read only the billing period"}
TEMPLATE_OPTIONAL = ("customer_id",)
TEST_ROWS = 50
_CODE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")


@dataclass(slots=True)
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
    source_id: int | None = None  # a SQL-template metric: the data source the template runs on
    sql_template: str = ""


def validate_template(sql: str) -> list[str]:
    """Problems with a metric's SQL template, each starting with "SQL template: "."""
    return check_read_only_sql(sql, field=TEMPLATE_FIELD, purpose="each customer's quantity for the period",
                               required=TEMPLATE_PLACEHOLDERS, optional=TEMPLATE_OPTIONAL)


def uses_customer(sql: str) -> bool:
    """Whether the template reads one customer at a time (it uses :customer_id)."""
    return "customer_id" in set(_PLACEHOLDER.findall(_strip(sql or "")))


def validate_metric(spec: MetricSpec) -> list[str]:
    problems = []
    if not _CODE.match(spec.code or ""):
        problems.append("code: use lower-case letters, digits, '-' or '_' (for example api_calls)")
    if not (spec.name or "").strip():
        problems.append("name: a name is required")
    if spec.aggregation == SQL:
        if not spec.source_id:
            problems.append("source: choose the data source the SQL template runs on (add one on the Data "
                            "sources page)")
        problems += validate_template(spec.sql_template)
        if spec.filters or (spec.group_by or "").strip() or (spec.unique_property or "").strip():
            problems.append("filters: a SQL-template metric filters and groups in its SQL (return a 'group' "
                            "column to split the quantity)")
        return problems
    if (spec.sql_template or "").strip() or spec.source_id:
        problems.append(f"{TEMPLATE_FIELD}: only a metric whose quantity is a SQL template runs one")
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
    sql = spec.aggregation == SQL
    if sql and session.get(DataSource, spec.source_id) is None:
        raise UserError(f"source: there is no data source #{spec.source_id}; choose one from the list")
    metric = BillableMetric(code=spec.code, name=spec.name.strip(),
                            event_name="" if sql else spec.event_name.strip(),  # counts no stored events
                            aggregation=spec.aggregation, unique_property=(spec.unique_property or "").strip(),
                            filters={str(k).strip(): str(v) for k, v in (spec.filters or {}).items()},
                            group_by=(spec.group_by or "").strip(),
                            source_id=spec.source_id if sql else None,
                            sql_template=spec.sql_template.strip() if sql else "")
    session.add(metric)
    session.flush()
    details = {"code": metric.code, "aggregation": metric.aggregation, "event_name": metric.event_name}
    if sql:
        details.update(source_id=metric.source_id, sql_template=metric.sql_template)
    audit.record(session, actor=actor.username, action="metric.create", entity_type="metric",
                 entity_id=metric.id, details=details)
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


def events_since(session: Session, metric: BillableMetric, start: datetime, end: datetime, after_id: int) -> bool:
    """Has an event of this metric in [start, end) been stored after event ``after_id``? (Events are only ever
    added, with growing ids: an aggregation made when ``after_id`` was the highest id still holds if not.) Reads
    the events after that id only — a few, between two page loads."""
    t = UsageEvent.__table__.c
    return session.connection().execute(
        select(t.id).where(t.id > after_id, _where(metric, start, end, None)).limit(1)).first() is not None


_MAPPED = "countinghouse_mapped_reads"
MAPPED_BYTES = 1 << 32  # SQLite caps it at its own maximum (2 GiB by default)


@contextmanager
def mapped_reads(session: Session) -> Iterator[None]:
    """SQLite: read the database file through memory-mapped I/O while inside (``PRAGMA mmap_size``, set back
    afterwards). An aggregation reaches each event's quantity through the index, one table page after another in
    no particular order; mapped, a page is a memory read instead of a read() into SQLite's small page cache —
    a third off the aggregations of a bill run. Nothing changes elsewhere (PostgreSQL), nor what is read. Nested
    uses (a bill run around its aggregations) set it once."""
    conn = session.connection()
    if conn.dialect.name != "sqlite" or conn.info.get(_MAPPED):
        yield
        return
    before = conn.exec_driver_sql("PRAGMA mmap_size").scalar()
    conn.exec_driver_sql(f"PRAGMA mmap_size={MAPPED_BYTES}")
    conn.info[_MAPPED] = True
    try:
        yield
    finally:
        conn.info.pop(_MAPPED, None)
        conn.exec_driver_sql(f"PRAGMA mmap_size={int(before or 0)}")


def aggregate(session: Session, metric: BillableMetric, start: datetime, end: datetime,
              customers: list[str] | None = None) -> dict[str, MetricResult]:
    """Billable quantity per customer external id for events in [start, end) — one SQL query. A SQL-template
    metric runs its template on its data source instead (see the module docstring)."""
    if metric.aggregation == SQL:
        return _aggregate_template(session, metric, start, end, customers)
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
    with mapped_reads(session):
        rows = session.connection().execute(stmt).fetchall()
    if not metric.group_by:  # one row per customer (the usual case: 10,000 customers are read on every page load)
        if agg in ("count", "unique_count"):
            return {c: MetricResult(Decimal(int(raw or 0)), None, int(n)) for c, raw, n in rows}
        if agg == "avg":
            return {c: MetricResult(average_quantity(from_scaled(raw, QUANTITY_SCALE), int(n)), None, int(n))
                    for c, raw, n in rows}
        return {c: MetricResult(from_scaled(raw, QUANTITY_SCALE), None, int(n)) for c, raw, n in rows}
    for row in rows:
        customer = row[0]
        grp = row[1] if metric.group_by else None
        raw, n = row[-2], int(row[-1])
        if agg in ("count", "unique_count"):
            qty = Decimal(int(raw or 0))
        elif agg == "avg":
            qty = average_quantity(from_scaled(raw, QUANTITY_SCALE), n)
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
    """The events behind one number: what a finance user opens to check a quantity. A SQL-template metric has
    none stored (its numbers come from its query on the source): an empty list, and ``behind_note`` says why."""
    if metric.aggregation == SQL:
        return []
    stmt = (select(UsageEvent).where(_where(metric, start, end, [customer]))
            .order_by(UsageEvent.timestamp).limit(limit))
    return list(session.exec(stmt).scalars())


def behind_note(session: Session, metric: BillableMetric) -> str | None:
    """For a SQL-template metric, the plain sentence that replaces the list of events behind a number."""
    if metric.aggregation != SQL:
        return None
    source = session.get(DataSource, metric.source_id) if metric.source_id else None
    where = f"the data source '{source.name}'" if source else "its data source"
    return (f"The quantities of {metric.name} come from its SQL template, run on {where} for the period: no "
            "events are stored for it here, so there are none to list. Use “Test query” on the Billable "
            "metrics page to see the rows the source returns.")


# --------------------------------------------------------------------------------------------------
# SQL-template metrics

_SIX = Decimal(1).scaleb(-QUANTITY_SCALE)


def _quantity(value, customer: str, group: str | None, field_name: str) -> Decimal:
    """A result cell as an exact Decimal, or a UserError naming the customer."""
    who = f"customer '{customer}'" + (f", group '{group}'" if group is not None else "")
    if value is None:
        raise UserError(f"{field_name}: the quantity for {who} is empty (NULL); return 0 when there is no usage "
                        "(for example COALESCE(SUM(…), 0))")
    if isinstance(value, bool):
        raise UserError(f"{field_name}: the quantity for {who} is {value}, not a number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UserError(f"{field_name}: the quantity for {who} is {value}, not a number")
        q = Decimal(repr(value))  # the float's shortest exact text, never float arithmetic
    elif isinstance(value, (int, Decimal)):
        q = Decimal(value)
    else:
        try:
            q = Decimal(str(value).strip())
        except InvalidOperation:
            q = None
        if q is None or not q.is_finite():
            raise UserError(f"{field_name}: the quantity for {who} is '{str(value)[:40]}', not a number; "
                            "return a number (0 or more)")
    if not q.is_finite():
        raise UserError(f"{field_name}: the quantity for {who} is {q}, not a number")
    if q < 0:
        raise UserError(f"{field_name}: the quantity for {who} is {q}; a quantity cannot be negative")
    if q != q.quantize(_SIX):
        raise UserError(f"{field_name}: the quantity for {who} is {q}, more than {QUANTITY_SCALE} decimals; round "
                        f"it in the SQL (ROUND(…, {QUANTITY_SCALE}))")
    return q.quantize(_SIX)


def _results(columns: list[str], rows: list[dict], asked: str | None, field_name: str,
             into: dict[str, MetricResult]) -> None:
    """Fold one query's rows into ``into`` (customer -> MetricResult). ``asked``: the customer a template
    with :customer_id was run for."""
    names = {str(c).lower() for c in columns}
    if "quantity" not in names:
        raise UserError(f"{field_name}: the result has no 'quantity' column (it has {', '.join(map(str, columns))}); "
                        "name the number AS quantity")
    if asked is None and "customer_external_id" not in names:
        raise UserError(f"{field_name}: the result has no 'customer_external_id' column (it has "
                        f"{', '.join(map(str, columns))}); return it, or use :customer_id to run the template "
                        "once per customer")
    grouped = "group" in names
    seen: set[tuple] = set()
    for row in rows:
        cells = column_lookup(row, ("customer_external_id", "quantity", "group"))
        customer = cells.get("customer_external_id")
        if asked is not None:
            if customer is not None and str(customer) != asked:
                raise UserError(f"{field_name}: run for customer '{asked}', it returned a row for '{customer}'; "
                                "filter on :customer_id so it reads only that customer")
            customer = asked
        elif customer is None or str(customer).strip() == "":
            raise UserError(f"{field_name}: a row has no customer_external_id; every row needs the customer's "
                            "external id")
        customer = str(customer)
        group = None
        if grouped:
            group = "(none)" if cells.get("group") is None else str(cells["group"])
        if (customer, group) in seen:
            raise UserError(f"{field_name}: two rows for customer '{customer}'"
                            + (f", group '{group}'" if group is not None else "")
                            + "; return one row per customer" + (" and group" if grouped else "")
                            + " (GROUP BY)")
        seen.add((customer, group))
        qty = _quantity(cells.get("quantity"), customer, group, field_name)
        res = into.setdefault(customer, MetricResult())
        if group is None:
            res.quantity = qty
        else:
            res.groups = res.groups or {}
            res.groups[group] = qty
            res.quantity += qty


def _template_params(start: datetime, end: datetime, customer: str | None) -> dict:
    params = {"period_start": start, "period_end": end}
    if customer is not None:
        params["customer_id"] = customer
    return params


def _aggregate_template(session: Session, metric: BillableMetric, start: datetime, end: datetime,
                        customers: list[str] | None) -> dict[str, MetricResult]:
    field_name = f"{TEMPLATE_FIELD} of the metric '{metric.code}'"
    source = session.get(DataSource, metric.source_id) if metric.source_id else None
    if source is None:
        raise UserError(f"{field_name}: its data source is gone; define the metric again on a source")
    results: dict[str, MetricResult] = {}
    check = _checker(field_name)
    try:
        if uses_customer(metric.sql_template):
            wanted = customers if customers is not None else list(session.exec(
                select(Customer.external_id).order_by(Customer.external_id)).scalars())
            answers = read_many(source.url, metric.sql_template,
                                [_template_params(start, end, c) for c in wanted], check=check)
            for c, (columns, rows) in zip(wanted, answers):
                _results(columns, rows, c, field_name, results)
        else:
            columns, rows = read_rows(source.url, metric.sql_template, _template_params(start, end, None),
                                      check=check)
            _results(columns, rows, None, field_name, results)
    except UserError as exc:
        if str(exc).startswith(field_name):
            raise
        raise UserError(f"{field_name}: {exc}") from None
    if customers is not None:
        keep = set(customers)
        results = {k: v for k, v in results.items() if k in keep}
    return results


def _checker(field_name: str):
    def check(sql: str) -> list[str]:
        return [p.replace(TEMPLATE_FIELD, field_name, 1) for p in validate_template(sql)]

    return check


def try_template(session: Session, actor: Actor, *, source_id: int | None, sql_template: str, start: datetime,
                  end: datetime, customer: str | None = None) -> tuple[list[str], list[dict], dict[str, MetricResult]]:
    """The "Test query" button: run the template for one period (and customer) — the first rows as the source
    returned them, and the quantities read from them. Nothing is stored; a problem raises a UserError."""
    require(actor, "metrics:read")
    problems = [] if source_id else ["source: choose the data source the SQL template runs on"]
    problems += validate_template(sql_template)
    if not problems and uses_customer(sql_template) and not (customer or "").strip():
        problems.append("customer: the template uses :customer_id; choose the customer to run it for")
    if problems:
        raise UserError("; ".join(problems))
    source = session.get(DataSource, source_id)
    if source is None:
        raise NotFound(f"source: there is no data source #{source_id}")
    asked = customer.strip() if uses_customer(sql_template) else None
    try:
        columns, rows = read_rows(source.url, sql_template, _template_params(start, end, asked),
                                  check=validate_template)
    except UserError as exc:
        if str(exc).startswith(TEMPLATE_FIELD):
            raise
        raise UserError(f"{TEMPLATE_FIELD}: {exc}") from None
    results: dict[str, MetricResult] = {}
    _results(columns, rows, asked, TEMPLATE_FIELD, results)
    return columns, rows[:TEST_ROWS], results
