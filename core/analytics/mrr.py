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

from sqlalchemy import func, select
from sqlmodel import Session

from core.analytics.facts import BILLED_STATES, SPREAD
from core.analytics.scope import Scope, customer_filter, index_of, month_of
from core.models import BilledMonth, Invoice
from core.money import ZERO
from core.types import MONEY_SCALE

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
    latest with approved invoices if every one has drafts. Only the bill runs' invoices (of a contract) count: a
    one-off invoice dated in a later month does not make that month billed — its MRR would read 0, everyone
    churned."""
    i = Invoice.__table__.c
    conds = [i.currency == scope.currency, i.contract_id.is_not(None),
             *customer_filter(session, scope, i.customer_id, i.entity_id)]
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


def _billed(session: Session, scope: Scope, kind: str, lo: int, hi: int, *cols):  # noqa: ANN202
    """Rows of ``billed_month`` (core/analytics/facts.py) of one kind, months lo..hi, in the scope, void invoices
    left out, summed by ``cols``."""
    f, inv = BilledMonth.__table__.c, Invoice.__table__.c
    void = select(inv.id).where(inv.status == "void")
    return session.connection().execute(
        select(*[f[c] for c in cols], func.sum(f.amount))
        .where(f.currency == scope.currency, f.kind == kind, f.month >= lo, f.month <= hi, f.invoice_id.not_in(void),
               *customer_filter(session, scope, f.customer_id, f.entity_id))
        .group_by(*[f[c] for c in cols])).all()


def customer_mrr(session: Session, scope: Scope, through: int) -> dict[int, dict[int, int]]:
    """customer id → {month index → MRR × 27,720 in scaled units}, every month with MRR (> 0) through ``through``.
    One GROUP BY (customer, month) over the monthly figures written at approval (core/analytics/facts.py)."""
    out: dict[int, dict[int, int]] = {}
    for m, c, x in _billed(session, scope, "mrr", 0, through, "month", "customer_id"):  # the index's order
        if x and x > 0:
            out.setdefault(c, {})[m] = int(x)
    return out


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
    """Usage charges (the priced usage lines, before discounts and tax) of approved invoices, by the month their
    service starts in (from the monthly figures written at approval, core/analytics/facts.py)."""
    rows = _billed(session, scope, "usage", scope.first_month, scope.last_month, "month")
    return {month_of(m): Decimal(int(v or 0)).scaleb(-MONEY_SCALE) for m, v in sorted(rows)}


__all__ = ["FORMULAS", "MOVEMENTS", "MOVEMENT_LABELS", "MrrMonth", "MrrReport", "Retention", "complete_through",
           "customer_mrr", "mrr_report", "usage_by_month"]
