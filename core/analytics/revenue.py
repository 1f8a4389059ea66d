"""Revenue per customer and per product, and usage per customer and metric by month — GROUP BY queries.

**Revenue** here is billed revenue before tax: the lines of the invoices issued in the range (every invoice past
draft; tax and wallet lines aside — so discounts, fees and true-ups count), less the credit notes issued in the
range (their lines, tax aside). A void invoice and the credit notes that voided it cancel out. One currency at a
time: amounts in different currencies are never added up.

**Usage** is read from the usage events (the metric's event name and filters), by calendar month in UTC, with the
metric's own aggregation per customer and month: sum, count, max, min, distinct count, latest (the month's last
event), average. A month without events counts 0 for sum and count metrics and has no value for the others.
Only the monthly totals across customers (sum and count metrics) and the series of the top
customers are fetched, never one row per event. Metrics computed by a SQL template on a data source have no
events here and are not listed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import BigInteger, String, case, func, literal, select, type_coerce
from sqlmodel import Session

from core.analytics.scope import Scope, customer_filter
from core.billing.periods import add_months
from core.errors import NotFound
from core.metering.metrics import SQL, _where, mapped_reads
from core.models import BillableMetric, CreditNote, CreditNoteLine, Customer, Invoice, InvoiceLine, Product, UsageEvent
from core.money import ZERO, average_quantity
from core.types import MONEY_SCALE, QUANTITY_SCALE, from_scaled

NOT_REVENUE = ("tax", "wallet")
NO_PRODUCT = "(no product: contract discounts, fees, manual lines, credit notes for an amount)"
ADDITIVE = ("sum", "count")


def _d(raw) -> Decimal:  # noqa: ANN001
    return Decimal(int(raw or 0)).scaleb(-MONEY_SCALE)


def _bounds(scope: Scope) -> tuple[date, date]:
    return scope.start.replace(day=1), add_months(scope.end.replace(day=1), 1)


@dataclass
class RevenueRow:
    key: int | None  # customer or product id (None: no product / the "others" row)
    label: str
    detail: str  # customer external id, product SKU
    billed: Decimal
    credited: Decimal

    @property
    def revenue(self) -> Decimal:
        return self.billed - self.credited


def _credit_lines(session: Session, scope: Scope, key):  # noqa: ANN001, ANN202
    lo, hi = _bounds(scope)
    cn, cl, il = CreditNote.__table__.c, CreditNoteLine.__table__.c, InvoiceLine.__table__.c
    return session.connection().execute(
        select(key(cn, il), func.sum(type_coerce(cl.amount, BigInteger)))
        .select_from(CreditNoteLine.__table__.join(CreditNote.__table__, cn.id == cl.credit_note_id)
                     .outerjoin(InvoiceLine.__table__, il.id == cl.invoice_line_id))
        .where(cn.currency == scope.currency, cn.issue_date >= lo, cn.issue_date < hi,
               func.coalesce(il.kind, "") != "tax", *customer_filter(session, scope, cn.customer_id, cn.entity_id))
        .group_by(key(cn, il))).all()


def revenue_by_customer(session: Session, scope: Scope) -> list[RevenueRow]:
    """Every customer with revenue in the range, largest first."""
    lo, hi = _bounds(scope)
    i = Invoice.__table__.c
    cu = Customer.__table__.c
    billed, names = {}, {}
    for cid, name, ext, amount in session.connection().execute(
            select(i.customer_id, cu.name, cu.external_id, func.sum(type_coerce(i.subtotal, BigInteger)))
            .select_from(Invoice.__table__.join(Customer.__table__, cu.id == i.customer_id))
            .where(i.status != "draft", i.currency == scope.currency, i.issue_date >= lo, i.issue_date < hi,
                   *customer_filter(session, scope, i.customer_id, i.entity_id))
            .group_by(i.customer_id, cu.name, cu.external_id)):
        billed[cid], names[cid] = amount, (name, ext)
    credited = dict(_credit_lines(session, scope, lambda cn, il: cn.customer_id))
    ids = set(billed) | set(credited)
    if missing := [c for c in credited if c not in names]:
        names.update({cid: (name, ext) for cid, name, ext in session.connection().execute(
            select(cu.id, cu.name, cu.external_id).where(cu.id.in_(missing)))})
    rows = [RevenueRow(cid, *names.get(cid, (f"customer {cid}", "")), _d(billed.get(cid)), _d(credited.get(cid)))
            for cid in ids]
    return sorted(rows, key=lambda r: (-r.revenue, r.label))


def top_and_others(rows: list[RevenueRow], n: int) -> list[RevenueRow]:
    """The first ``n`` rows and one "others" row summing the rest (rows must be sorted)."""
    if len(rows) <= n:
        return list(rows)
    rest = rows[n:]
    return rows[:n] + [RevenueRow(None, f"Others ({len(rest):,} customers)", "",
                                  sum((r.billed for r in rest), ZERO), sum((r.credited for r in rest), ZERO))]


def revenue_by_product(session: Session, scope: Scope) -> list[RevenueRow]:
    """Revenue by the product of each invoice line, largest first; lines without a product in one row."""
    lo, hi = _bounds(scope)
    ln, i = InvoiceLine.__table__.c, Invoice.__table__.c
    billed = dict(session.connection().execute(
        select(ln.product_id, func.sum(type_coerce(ln.amount, BigInteger)))
        .select_from(InvoiceLine.__table__.join(Invoice.__table__, i.id == ln.invoice_id))
        .where(ln.kind.not_in(NOT_REVENUE), i.status != "draft", i.currency == scope.currency, i.issue_date >= lo,
               i.issue_date < hi, *customer_filter(session, scope, i.customer_id, i.entity_id))
        .group_by(ln.product_id)).all())
    credited = dict(_credit_lines(session, scope, lambda cn, il: il.product_id))
    ids = set(billed) | set(credited)
    names = {pid: (name, sku) for pid, name, sku in session.connection().execute(
        select(Product.id, Product.name, Product.sku).where(Product.id.in_([p for p in ids if p is not None])))}
    rows = [RevenueRow(pid, *(names.get(pid, (f"product {pid}", "")) if pid is not None else (NO_PRODUCT, "")),
                       _d(billed.get(pid)), _d(credited.get(pid))) for pid in ids]
    return sorted(rows, key=lambda r: (-r.revenue, r.label))


# ---------------------------------------------------------------------------------------------------------------
# usage


def usage_metrics(session: Session) -> list[BillableMetric]:
    """Metrics read from the stored usage events (SQL-template metrics read a data source instead)."""
    return list(session.scalars(select(BillableMetric).where(BillableMetric.aggregation != SQL)
                                .order_by(BillableMetric.name)))


@dataclass(frozen=True)
class MetricInfo:
    id: int
    code: str
    name: str
    event_name: str
    aggregation: str


@dataclass
class UsageReport:
    metric: MetricInfo
    months: list[date]
    totals: list[Decimal] | None  # across customers (sum and count metrics only)
    series: dict[str, list[Decimal | None]]  # customer external id → value per month (None: no events)
    names: dict[str, str]  # external id → customer name
    range_totals: dict[str, Decimal]  # external id → the metric over the whole range (the ranking)
    customers: int  # customers with events in the range


def _value(metric: BillableMetric, ev):  # noqa: ANN001, ANN202 - the metric's aggregation over the events subquery
    return {"sum": func.sum(ev.c.q), "count": func.count(), "max": func.max(ev.c.q), "min": func.min(ev.c.q),
            "avg": func.sum(ev.c.q), "latest": func.max(ev.c.q),
            "unique_count": func.count(func.distinct(ev.c.u))}[metric.aggregation]


def _read(metric: BillableMetric, v, n) -> Decimal:  # noqa: ANN001
    if metric.aggregation in ("count", "unique_count"):
        return Decimal(int(v or 0))
    if metric.aggregation == "avg":
        return average_quantity(from_scaled(v, QUANTITY_SCALE), int(n or 0))
    return from_scaled(v, QUANTITY_SCALE)


def _events(metric: BillableMetric, where: list, months: list[date]):  # noqa: ANN202
    """The metric's events in the range as a subquery: customer, month bucket (0 = the first month; by timestamp
    comparisons, no date function per event), raw quantity, the distinct-count property, timestamp, id."""
    t = UsageEvent.__table__.c
    edges = [datetime.combine(m, time.min) for m in months[1:]]
    bucket = case(*[(t.timestamp < edge, i) for i, edge in enumerate(edges)], else_=len(edges)) if edges \
        else literal(0)
    prop = type_coerce(t.properties[metric.unique_property].as_string(), String) \
        if metric.aggregation == "unique_count" and metric.unique_property else literal(None, String)
    return select(t.customer_external_id.label("c"), bucket.label("b"), type_coerce(t.quantity, BigInteger)
                  .label("q"), prop.label("u"), t.timestamp.label("ts"), t.id.label("id")).where(*where).subquery("ev")


def usage_report(session: Session, scope: Scope, metric_id: int, *, top: int = 10,
                 customer: str | None = None) -> UsageReport:
    """The metric by month over the scope's months: the total across customers (sum/count metrics) and the
    series of the ``top`` customers by their total over the range — or of one ``customer`` (external id)."""
    metric = session.get(BillableMetric, metric_id)
    if metric is None or metric.aggregation == SQL:
        raise NotFound(f"metric {metric_id} does not exist or is not computed from usage events")
    lo, hi = _bounds(scope)
    t = UsageEvent.__table__.c
    where = [_where(metric, datetime.combine(lo, time.min), datetime.combine(hi, time.min), None)]
    if scope.entity_id is not None or scope.segment_id is not None:
        members = select(Customer.external_id).where(*customer_filter(session, scope, Customer.id,
                                                                      Customer.entity_id))
        where.append(t.customer_external_id.in_(members))
    if customer:
        where.append(t.customer_external_id == customer)
    conn = session.connection()
    months = scope.months()
    ev = _events(metric, where, months)
    value = _value(metric, ev)
    totals = None
    with mapped_reads(session):
        if metric.aggregation in ADDITIVE:  # one pass: per customer and month, summed both ways here
            return _additive_report(session, metric, months, conn.execute(
                select(ev.c.c, ev.c.b, value).group_by(ev.c.c, ev.c.b)), top)
        ranked = conn.execute(select(ev.c.c, value, func.count(), func.count().over()).group_by(ev.c.c)
                              .order_by(value.desc(), ev.c.c).limit(top)).all()
        customers = ranked[0][3] if ranked else 0  # customers with events: the number of groups
        range_totals = {ext: _read(metric, v, n) for ext, v, n, _ in ranked}
        empty = ZERO if metric.aggregation in ADDITIVE else None  # no events: a count of 0, but no maximum
        series: dict[str, list[Decimal | None]] = {ext: [empty] * len(months) for ext in range_totals}
        if range_totals:
            mine = _events(metric, [*where, t.customer_external_id.in_(list(range_totals))], months)
            if metric.aggregation == "latest":
                last = select(mine.c.c, mine.c.b, mine.c.q, func.row_number().over(
                    partition_by=(mine.c.c, mine.c.b), order_by=(mine.c.ts.desc(), mine.c.id.desc())).label("rn")
                              ).subquery("last")
                stmt = select(last.c.c, last.c.b, last.c.q, last.c.rn).where(last.c.rn == 1)
            else:
                stmt = select(mine.c.c, mine.c.b, _value(metric, mine), func.count()).group_by(mine.c.c, mine.c.b)
            for ext, b, v, n in conn.execute(stmt):
                if 0 <= int(b) < len(months):
                    series[ext][int(b)] = _read(metric, v, n)
            if metric.aggregation == "latest":  # the range's value is the last month's latest
                for ext, values in series.items():
                    range_totals[ext] = next((v for v in reversed(values) if v is not None), ZERO)
    return _report(session, metric, months, totals, series, range_totals, int(customers))


def _report(session: Session, metric: BillableMetric, months: list[date], totals, series, range_totals,  # noqa: ANN001
            customers: int) -> UsageReport:
    names = dict(session.connection().execute(select(Customer.external_id, Customer.name)
                                              .where(Customer.external_id.in_(list(range_totals) or [""]))).all())
    info = MetricInfo(metric.id, metric.code, metric.name, metric.event_name, metric.aggregation)
    return UsageReport(info, months, totals, series, names, range_totals, customers)


def _additive_report(session: Session, metric: BillableMetric, months: list[date], rows, top: int) -> UsageReport:
    """A sum or count metric from rows of (customer, month bucket, raw value): the monthly totals, each customer's
    total over the range, and the months of the ``top`` customers (largest total first, then by id)."""
    per: dict[str, dict[int, int]] = {}
    by_month = [0] * len(months)
    for ext, b, v in rows:
        b, v = int(b), int(v or 0)
        if 0 <= b < len(months):
            by_month[b] += v
            per.setdefault(ext, {})[b] = per.get(ext, {}).get(b, 0) + v
    ranked = sorted(((sum(m.values()), ext) for ext, m in per.items()), key=lambda x: (-x[0], x[1]))[:top]
    range_totals = {ext: _read(metric, raw, None) for raw, ext in ranked}
    series = {ext: [_read(metric, per[ext].get(k, 0), None) for k in range(len(months))] for _, ext in ranked}
    return _report(session, metric, months, [_read(metric, v, None) for v in by_month], series, range_totals,
                   len(per))


__all__ = ["NO_PRODUCT", "RevenueRow", "UsageReport", "revenue_by_customer", "revenue_by_product", "top_and_others",
           "usage_metrics", "usage_report"]
