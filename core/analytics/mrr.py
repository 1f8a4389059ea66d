"""Monthly recurring revenue (MRR), its movement and net/gross revenue retention — all computed in SQL.

**Definition.** A customer's MRR for a month is the recurring charges billed for service in that month: on approved
invoices (approved, partially paid, paid or written off — drafts and void invoices do not count), the lines of
contract lines that are neither metered nor one-time (the recurring charge itself, its proration adjustments and
its own line discounts), before tax. A charge covering several months (quarterly, yearly, prepaid terms) is spread
evenly over the months of its service period (at most 36), so a $12,000 yearly line is $1,000 of MRR in each of its
twelve months. Usage charges, one-time fees, contract-level discounts, service fees, minimum-commitment true-ups,
credit grants and tax are not MRR; usage is shown separately (:func:`usage_by_month`). A customer counts in a
month when their recurring charges for it are above zero. ARR = 12 × MRR.

**Complete months.** Invoices in arrears are issued after their month, so the latest months are not fully billed
yet: MRR is reported through the latest billing period that has approved invoices and no drafts left
(:func:`complete_through`); later months would show customers churning who simply have not been invoiced yet.

**Movement**, per customer, month over month: *new* (first month with MRR ever), *expansion* / *contraction* (MRR
up / down on the month before), *churn* (had MRR the month before, none now: minus last month's MRR),
*reactivation* (MRR again after one or more months without). For every month: MRR = last month's MRR + new +
expansion + reactivation − contraction − churn (contraction and churn are negative amounts here).

**Retention, trailing 12 months**, for month M, over the customers who had MRR in M − 12:
NRR = Σ MRR(M) / Σ MRR(M − 12); GRR = Σ min(MRR(M), MRR(M − 12)) / Σ MRR(M − 12). NRR counts expansion, GRR
only what was kept (never above 100 %); customers who started after M − 12 count in neither.

Amounts are exact: money columns are scaled integers; spreading multiplies them by 27,720 (divisible by every
number of months from 1 to 12, and by 24 and 36) before dividing, and the Decimal is taken only at the end.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, String, func, select, type_coerce
from sqlmodel import Session

from core.analytics.scope import Scope, customer_filter, index_of, month_of
from core.metering.metrics import mapped_reads
from core.models import ContractLine, Invoice, InvoiceLine
from core.money import ZERO
from core.types import MONEY_SCALE

BILLED_STATES = ("approved", "partially_paid", "paid", "written_off")
RECURRING_KINDS = ("fixed", "adjustment", "discount")
SPREAD = 27_720
MAX_MONTHS = 36
MOVEMENTS = ("new", "expansion", "reactivation", "contraction", "churn")
MOVEMENT_LABELS = {"new": "New", "expansion": "Expansion", "reactivation": "Reactivation",
                   "contraction": "Contraction", "churn": "Churn"}
FORMULAS = ("NRR (trailing 12 months) = MRR now of the customers who had MRR 12 months ago ÷ their MRR 12 months "
            "ago. GRR = the same, counting each customer at most at the MRR they had 12 months ago ÷ their MRR 12 "
            "months ago (expansion excluded, so GRR ≤ 100 %).")


def _money(raw) -> Decimal:  # noqa: ANN001 - a sum of spread, scaled amounts → Decimal
    return (Decimal(int(raw or 0)) / SPREAD).scaleb(-MONEY_SCALE)


@dataclass
class MrrMonth:
    month: date
    mrr: Decimal = ZERO
    customers: int = 0
    movement: dict[str, Decimal] = field(default_factory=lambda: {k: ZERO for k in MOVEMENTS})
    moved: dict[str, int] = field(default_factory=lambda: {k: 0 for k in MOVEMENTS})  # customers per movement
    opening: Decimal = ZERO  # MRR of the month before

    @property
    def arr(self) -> Decimal:
        return self.mrr * 12

    @property
    def net_new(self) -> Decimal:
        return sum(self.movement.values(), ZERO)


@dataclass
class Retention:
    month: date
    start_mrr: Decimal  # of the cohort: customers with MRR 12 months before
    end_mrr: Decimal  # the same customers' MRR now
    kept_mrr: Decimal  # Σ min(now, then)
    cohort: int

    @property
    def nrr(self) -> Decimal | None:
        return self.end_mrr / self.start_mrr if self.start_mrr else None

    @property
    def grr(self) -> Decimal | None:
        return self.kept_mrr / self.start_mrr if self.start_mrr else None


@dataclass
class MrrReport:
    months: list[MrrMonth]
    retention: list[Retention]
    through: date | None  # the last complete month (None: nothing billed yet)


def complete_through(session: Session, scope: Scope) -> int | None:
    """Month index of the latest billing period with approved invoices and no drafts left (in the scope); the
    latest with approved invoices if every one has drafts."""
    i = Invoice.__table__.c
    conds = [i.currency == scope.currency, *customer_filter(session, scope, i.customer_id, i.entity_id)]
    drafts: dict[int, int] = defaultdict(int)
    billed: set[int] = set()
    for start, status, n in session.connection().execute(
            select(i.period_start, i.status, func.count()).where(*conds).group_by(i.period_start, i.status)):
        if status == "draft":
            drafts[index_of(start)] += int(n)
        elif status in BILLED_STATES:
            billed.add(index_of(start))
    if not billed:
        return None
    clean = [m for m in sorted(billed) if not drafts[m]]
    return clean[-1] if clean else max(billed)


def _index(day) -> int:  # noqa: ANN001 - 'YYYY-MM-DD' (SQLite text) or a date (PostgreSQL)
    if isinstance(day, str):
        return int(day[:4]) * 12 + int(day[5:7]) - 1
    return day.year * 12 + day.month - 1


def customer_mrr(session: Session, scope: Scope, through: int) -> dict[int, dict[int, int]]:
    """customer id → {month index → MRR × 27,720 in scaled units}, every month with MRR (> 0) through ``through``.
    One GROUP BY (service period, customer) in SQL; each sum is then spread over its service period's months (the
    dates are read as they are stored, without parsing each into a date object)."""
    ln, inv, cl = InvoiceLine.__table__.c, Invoice.__table__.c, ContractLine.__table__.c
    recurring = select(cl.id).where(cl.metric_id.is_(None), cl.cadence != "one_time")
    stmt = (select(inv.customer_id, type_coerce(ln.period_start, String), type_coerce(ln.period_end, String),
                   func.sum(type_coerce(ln.amount, BigInteger)))
            .select_from(InvoiceLine.__table__.join(Invoice.__table__, inv.id == ln.invoice_id))
            .where(ln.kind.in_(RECURRING_KINDS), inv.status.in_(BILLED_STATES), inv.currency == scope.currency,
                   ln.contract_line_id.in_(recurring), ln.period_start < month_of(through + 1),
                   *customer_filter(session, scope, inv.customer_id, inv.entity_id))
            .group_by(ln.period_start, ln.period_end, inv.customer_id))
    with mapped_reads(session):
        rows = session.connection().execute(stmt).fetchall()
    out: dict[int, dict[int, int]] = {}
    index = {}
    for c, ps, pe, x in rows:
        s = index.get(ps)
        if s is None:
            s = index[ps] = _index(ps)
        e = index.get(pe)
        if e is None:
            e = index[pe] = _index(pe)
        n = e - s
        mine = out.get(c)
        if mine is None:
            mine = out[c] = {}
        if n <= 1:
            mine[s] = mine.get(s, 0) + int(x) * SPREAD
            continue
        n = min(n, MAX_MONTHS)
        share = int(x) * SPREAD // n
        for m in range(s, min(s + n, through + 1)):
            mine[m] = mine.get(m, 0) + share
    return {c: {m: v for m, v in months.items() if v > 0} for c, months in out.items()}


def mrr_report(session: Session, scope: Scope) -> MrrReport:
    """MRR, customers and movement for every complete month of the scope, and trailing-12-month retention (see
    the module docstring). One SQL query gives every customer's MRR by month; the movement is read from it."""
    through = complete_through(session, scope)
    lo = scope.first_month
    hi = min(scope.last_month, through) if through is not None else lo - 1
    if through is None or hi < lo:
        return MrrReport([], [], month_of(through) if through is not None else None)
    per_customer = customer_mrr(session, scope, hi)
    total: dict[int, int] = defaultdict(int)
    count: dict[int, int] = defaultdict(int)
    moves: dict[tuple[int, str], int] = defaultdict(int)
    moved: dict[tuple[int, str], int] = defaultdict(int)
    ret = {i: [0, 0, 0, 0] for i in range(lo, hi + 1)}  # start, end, kept, cohort
    for history in per_customer.values():
        prev_m = prev_v = None
        for m in sorted(history):
            v = history[m]
            if lo - 1 <= m <= hi:
                total[m] += v
                count[m] += 1
            if prev_m is not None and prev_m + 1 < m and lo <= prev_m + 1 <= hi:  # none the month after
                moves[(prev_m + 1, "churn")] -= prev_v
                moved[(prev_m + 1, "churn")] += 1
            if lo <= m <= hi:
                if prev_m is None:
                    kind, delta = "new", v
                elif prev_m < m - 1:
                    kind, delta = "reactivation", v
                else:
                    kind, delta = ("expansion" if v > prev_v else "contraction" if v < prev_v else ""), v - prev_v
                if kind:
                    moves[(m, kind)] += delta
                    moved[(m, kind)] += 1
            if lo <= m + 12 <= hi:
                now = history.get(m + 12, 0)
                r = ret[m + 12]
                r[0] += v
                r[1] += now
                r[2] += min(now, v)
                r[3] += 1
            prev_m, prev_v = m, v
        if prev_m is not None and lo <= prev_m + 1 <= hi:
            moves[(prev_m + 1, "churn")] -= prev_v
            moved[(prev_m + 1, "churn")] += 1
    months = []
    for i in range(lo, hi + 1):
        mm = MrrMonth(month_of(i), _money(total[i]), count[i], opening=_money(total[i - 1]))
        for k in MOVEMENTS:
            mm.movement[k] = _money(moves[(i, k)])
            mm.moved[k] = moved[(i, k)]
        months.append(mm)
    retention = [Retention(month_of(i), _money(s), _money(e), _money(k), n) for i, (s, e, k, n) in ret.items()]
    return MrrReport(months, retention, month_of(through))


def usage_by_month(session: Session, scope: Scope) -> dict[date, Decimal]:
    """Usage charges (the priced usage lines, before discounts and tax) of approved invoices, by service month
    (grouped by service start day in SQL, put in months here)."""
    ln, inv = InvoiceLine.__table__.c, Invoice.__table__.c
    out: dict[date, Decimal] = {}
    with mapped_reads(session):
        rows = session.connection().execute(
            select(ln.period_start, func.sum(type_coerce(ln.amount, BigInteger)))
            .select_from(InvoiceLine.__table__.join(Invoice.__table__, inv.id == ln.invoice_id))
            .where(ln.kind == "usage", inv.status.in_(BILLED_STATES), inv.currency == scope.currency,
                   ln.period_start >= scope.start.replace(day=1), ln.period_start < month_of(scope.last_month + 1),
                   *customer_filter(session, scope, inv.customer_id, inv.entity_id))
            .group_by(ln.period_start)).all()
    for day, v in rows:
        m = month_of(index_of(day))
        out[m] = out.get(m, ZERO) + Decimal(int(v or 0)).scaleb(-MONEY_SCALE)
    return out


__all__ = ["FORMULAS", "MOVEMENTS", "MOVEMENT_LABELS", "MrrMonth", "MrrReport", "Retention", "complete_through",
           "customer_mrr", "mrr_report", "usage_by_month"]
