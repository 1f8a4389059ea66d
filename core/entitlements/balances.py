"""Balances of entitlement grants on a day, the history of one grant, and ``check`` — the question a product asks.

Consumption is computed on read from the records that already exist, so it is always the invoice's truth:

- **quantity** grants count their metric's usage (:func:`core.metering.metrics.aggregate`) in the current window:
  the customer's billing period (its contract's billing day, in its time zone — as the invoice counts it), the
  calendar month in that zone, or the grant's whole window when it never resets; always inside the grant's own
  dates and up to the end of the day asked about. Grants sharing a metric and window share one SQL query for all
  their customers (a handful of queries per metric, never one per customer).
- **credit** grants count the totals (tax included) of the customer's invoices in the grant's currency issued in
  the grant's window and approved — approved, partly paid, paid or written off; drafts and voided invoices do not
  count — less the credit notes issued against those invoices (a credit note gives budget back). One SQL query for
  every credit grant, and one for their credit notes.

Exact Decimals throughout (the sums run on scaled integers). Passing the limit (used ≥ limit) *flags* a soft grant
and *blocks* a hard one; "near" is at least the monitor's percentage (default 80%) of the limit."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, timedelta

from decimal import Decimal

from sqlalchemy import BigInteger, and_, func, or_, select as sa_select, type_coerce
from sqlmodel import Session, select

from core.auth import Actor, require
from core.billing.periods import add_months
from core.billing.schedule import billing_timezone, cycle_period, local_midnight_utc
from core.errors import NotFound
from core.metering.metrics import aggregate, get_metric
from core.models import (
    AuditLog, BillableMetric, BusinessEntity, CreditNote, Customer, EntitlementExhaustion, EntitlementGrant, Invoice,
)
from core.money import HUNDRED, ZERO, format_money, format_number
from core.types import MONEY_SCALE, from_scaled

COUNTED_STATUSES = ("approved", "partially_paid", "paid", "written_off")  # an invoice that consumes credit
NEAR_PERCENT = Decimal(80)
HISTORY_PERIODS = 36  # periods shown in one grant's history, most recent first
NAMED_CUSTOMERS = 1000  # up to this many customers in one window, the usage query names them


@dataclass(frozen=True)
class Balance:
    """One grant on one day. ``used``/``limit``/``remaining`` are units (quantity) or money (credit); None for a
    feature, or for a grant not valid that day."""

    grant: EntitlementGrant
    customer_external_id: str
    customer_name: str
    unit: str  # the metric's name, the currency, or "" for a feature
    active: bool
    period_start: date | None = None
    period_end: date | None = None  # exclusive; None: open-ended
    used: Decimal | None = None
    limit: Decimal | None = None

    @property
    def remaining(self) -> Decimal | None:
        if self.used is None or self.limit is None:
            return None
        return max(self.limit - self.used, ZERO)

    @property
    def percent(self) -> Decimal | None:
        """Share of the limit used, exact (the page rounds it for display)."""
        if self.used is None or not self.limit:
            return None
        return self.used * HUNDRED / self.limit

    @property
    def passed(self) -> bool:
        return self.used is not None and self.limit is not None and self.used >= self.limit

    def status(self, near: Decimal = NEAR_PERCENT) -> str:
        """inactive | on | off | blocked (hard limit reached) | flagged (soft limit passed) | near | ok"""
        if not self.active:
            return "inactive"
        if self.grant.kind == "feature":
            return "on" if self.grant.enabled else "off"
        if self.passed:
            return "blocked" if self.grant.limit_type == "hard" else "flagged"
        if self.percent is not None and self.percent >= near:
            return "near"
        return "ok"

    def show(self, value: Decimal | None) -> str:
        if value is None:
            return "—"
        return format_money(value, self.grant.currency) if self.grant.kind == "credit" else format_number(value)


STATUS_LABELS = {"inactive": "Not in effect", "on": "On", "off": "Off", "blocked": "Blocked (hard limit reached)",
                 "flagged": "Flagged (soft limit passed)", "near": "Near the limit", "ok": "Within the limit"}


def is_active(grant: EntitlementGrant, on: date) -> bool:
    return grant.start_date <= on and (grant.end_date is None or on < grant.end_date)


def _clip(start: date, end: date | None, grant: EntitlementGrant) -> tuple[date, date | None]:
    s = max(start, grant.start_date)
    if grant.end_date is None:
        return s, end
    return s, grant.end_date if end is None else min(end, grant.end_date)


def _window_for(grant: EntitlementGrant, anchor: int, on: date) -> tuple[date, date | None]:
    """The grant's current window on ``on``: local dates ``[start, end)`` (end None: open)."""
    if grant.reset == "billing_period":
        return _clip(*cycle_period(anchor, on), grant)
    if grant.reset == "month":
        return _clip(*cycle_period(1, on), grant)
    return grant.start_date, grant.end_date


def _billing(session: Session, grants: list[EntitlementGrant], on: date,
             customers: dict[int, Customer]) -> dict[tuple[int, int], tuple[int, str]]:
    """(customer id, metric id) -> (billing day, time zone) for the quantity grants (three queries)."""
    from core.metering.periods import billing_of

    qty = [g for g in grants if g.kind == "quantity"]
    if not qty:
        return {}
    found = billing_of(session, [customers[g.customer_id] for g in qty], {g.metric_id for g in qty}, on)
    return {k: (b.anchor_day, b.tz) for k, b in found.items()}


def _customers(session: Session, ids) -> dict[int, object]:
    """id -> a light row (id, external_id, name, timezone, entity_id): plain rows, not ORM objects — 10,000
    customers as objects cost more than the aggregation itself."""
    from core.invoicing.service import _in

    ids = sorted(set(ids))
    if not ids:
        return {}
    c = Customer.__table__.c
    return {r.id: r for r in session.connection().execute(
        sa_select(c.id, c.external_id, c.name, c.timezone, c.entity_id).where(_in(session, c.id, ids)))}


def _credit_used(session: Session, grants: list[EntitlementGrant], on: date) -> dict[int, Decimal]:
    """grant id -> approved invoices less their credit notes, issued in the grant's window up to ``on``."""
    from core.invoicing.service import _in

    ids = [g.id for g in grants]
    if not ids:
        return {}
    g, i, cn = EntitlementGrant.__table__, Invoice.__table__, CreditNote.__table__
    counted = and_(i.c.customer_id == g.c.customer_id, i.c.currency == g.c.currency,
                   i.c.issue_date >= g.c.start_date, or_(g.c.end_date.is_(None), i.c.issue_date < g.c.end_date),
                   i.c.issue_date <= on, i.c.status.in_(COUNTED_STATUSES))
    used: dict[int, Decimal] = defaultdict(lambda: ZERO)
    conn = session.connection()
    for gid, total in conn.execute(
            sa_select(g.c.id, func.sum(type_coerce(i.c.total, BigInteger)))
            .select_from(g.join(i, counted)).where(_in(session, g.c.id, ids)).group_by(g.c.id)):
        used[gid] += from_scaled(total, MONEY_SCALE)
    for gid, total in conn.execute(
            sa_select(g.c.id, func.sum(type_coerce(cn.c.total, BigInteger)))
            .select_from(g.join(i, counted).join(cn, cn.c.invoice_id == i.c.id))
            .where(_in(session, g.c.id, ids), cn.c.issue_date <= on).group_by(g.c.id)):
        used[gid] -= from_scaled(total, MONEY_SCALE)
    return {gid: max(v, ZERO) for gid, v in used.items()}


@lru_cache(maxsize=4096)
def _midnight(day: date, tz: str) -> datetime:
    return local_midnight_utc(day, tz)


def balances_of(session: Session, grants: list[EntitlementGrant], on: date) -> list[Balance]:
    """The balance of each grant on ``on`` (in the order given). Queries: three for billing days, one per metric and
    distinct window for quantities, two for all credits — never one per customer."""
    customers = _customers(session, [g.customer_id for g in grants])
    entities = {e.id: e.timezone for e in session.exec(select(BusinessEntity))}
    billing = _billing(session, grants, on, customers)
    metrics = {m.id: m for m in session.exec(select(BillableMetric).where(
        BillableMetric.id.in_(sorted({g.metric_id for g in grants if g.metric_id is not None}) or [-1])))}
    credit = _credit_used(session, [g for g in grants if g.kind == "credit" and is_active(g, on)], on)
    windows: dict[int, tuple[date, date | None]] = {}
    groups: dict[tuple[int, datetime, datetime], list[EntitlementGrant]] = defaultdict(list)
    for g in grants:
        if g.kind != "quantity" or not is_active(g, on):
            continue
        cust = customers[g.customer_id]
        anchor, tz = billing.get((g.customer_id, g.metric_id),
                                 (1, billing_timezone(cust.timezone, entities.get(cust.entity_id))))
        start, end = _window_for(g, anchor, on)
        windows[g.id] = (start, end)
        stop = on + timedelta(days=1) if end is None else min(end, on + timedelta(days=1))
        groups[(g.metric_id, _midnight(start, tz), _midnight(stop, tz))].append(g)
    per_metric: dict[int, int] = defaultdict(int)
    for metric_id, _, _ in groups:
        per_metric[metric_id] += 1
    used: dict[int, Decimal] = {}
    for (metric_id, u_start, u_end), members in groups.items():
        exts = sorted({customers[g.customer_id].external_id for g in members})
        # one query for the group's customers: named (an indexed lookup) when few or when the metric has several
        # windows, else every customer's usage in the window at once
        whole = per_metric[metric_id] == 1 and len(exts) > NAMED_CUSTOMERS
        found = aggregate(session, metrics[metric_id], u_start, u_end, customers=None if whole else exts)
        for g in members:
            res = found.get(customers[g.customer_id].external_id)
            used[g.id] = res.quantity if res is not None else ZERO
    out = []
    for g in grants:
        cust = customers[g.customer_id]
        unit = (metrics[g.metric_id].name if g.kind == "quantity" and g.metric_id in metrics
                else g.currency if g.kind == "credit" else "")
        base = dict(grant=g, customer_external_id=cust.external_id, customer_name=cust.name, unit=unit)
        if not is_active(g, on):
            out.append(Balance(**base, active=False))
        elif g.kind == "quantity":
            start, end = windows[g.id]
            out.append(Balance(**base, active=True, period_start=start, period_end=end, used=used[g.id],
                               limit=g.units))
        elif g.kind == "credit":
            out.append(Balance(**base, active=True, period_start=g.start_date, period_end=g.end_date,
                               used=credit.get(g.id, ZERO), limit=g.amount))
        else:
            out.append(Balance(**base, active=True, period_start=g.start_date, period_end=g.end_date))
    return out


def balances(session: Session, actor: Actor, *, on: date, customer_id: int | None = None, kind: str | None = None,
             offset: int = 0, limit: int = 500) -> tuple[list[Balance], int]:
    """One page of grants (filtered in SQL) with their balances on ``on``, and how many grants match."""
    from core.entitlements.grants import find_grants

    grants, total = find_grants(session, actor, customer_id=customer_id, kind=kind, offset=offset, limit=limit)
    return balances_of(session, grants, on), total


# ---------------------------------------------------------------------------------------------------------------
# check: what a product asks


@dataclass(frozen=True)
class Decision:
    """The answer to "may this customer use this?". ``flagged``: a soft limit is passed (allowed, but warn)."""

    allowed: bool
    remaining: Decimal | None
    limit: Decimal | None
    reason: str
    kind: str = ""
    used: Decimal | None = None
    flagged: bool = False
    grant_id: int | None = None


def check(session: Session, customer_external_id: str, key: str, *, on: date | None = None) -> Decision:
    """May the customer use ``key`` on ``on`` (default today)? Reads only; an unknown customer raises NotFound.
    No grant in effect: not allowed. A feature: allowed when on. A quantity or credit: allowed while below a hard
    limit; past a soft limit still allowed, but ``flagged``."""
    on = on or date.today()
    ext = (customer_external_id or "").strip()
    cust = session.exec(select(Customer).where(Customer.external_id == ext)).first()
    if cust is None:
        raise NotFound(f"customer: there is no customer '{ext}'")
    key = (key or "").strip().lower()
    grant = session.exec(select(EntitlementGrant).where(
        EntitlementGrant.customer_id == cust.id, EntitlementGrant.key == key, EntitlementGrant.start_date <= on,
        or_(EntitlementGrant.end_date.is_(None), EntitlementGrant.end_date > on))).first()
    if grant is None:
        return Decision(False, None, None, f"{ext} has no '{key}' entitlement in effect on {on:%-d %b %Y}")
    [b] = balances_of(session, [grant], on)
    if grant.kind == "feature":
        return Decision(grant.enabled, None, None, f"'{key}' is {'on' if grant.enabled else 'off'} for {ext}",
                        kind="feature", grant_id=grant.id)
    used, lim = b.show(b.used), b.show(b.limit)
    common = dict(kind=grant.kind, used=b.used, grant_id=grant.id)
    if b.passed and grant.limit_type == "hard":
        return Decision(False, b.remaining, b.limit, f"blocked: {ext} has used {used} of its hard limit of {lim} for "
                                                     f"'{key}'", **common)
    if b.passed:
        return Decision(True, b.remaining, b.limit, f"flagged: {ext} has used {used}, past its soft limit of {lim} "
                                                    f"for '{key}'", flagged=True, **common)
    return Decision(True, b.remaining, b.limit, f"within the limit: {b.show(b.remaining)} of {lim} left", **common)


# ---------------------------------------------------------------------------------------------------------------
# history of one grant


@dataclass(frozen=True)
class HistoryRow:
    when: date  # the period start, or the document's issue date
    what: str  # "Period 1 Oct 2026 – 31 Oct 2026", "Invoice INV-0001", "Credit note CN-0001"
    amount: Decimal  # used in the period, or the document's amount (negative for a credit note)
    used: Decimal  # consumed so far (credit), or in the period (quantity)
    limit: Decimal
    remaining: Decimal
    exhausted_at: datetime | None = None  # when passing the limit was recorded


@dataclass
class History:
    grant: EntitlementGrant
    rows: list[HistoryRow] = field(default_factory=list)
    note: str = ""
    changes: list[AuditLog] = field(default_factory=list)  # the grant's audit entries, newest first


def _periods(grant: EntitlementGrant, anchor: int, on: date) -> list[tuple[date, date | None]]:
    """The grant's windows from its start up to the one containing ``on`` (at most HISTORY_PERIODS, newest first)."""
    if grant.reset == "never":
        return [(grant.start_date, grant.end_date)]
    day = 1 if grant.reset == "month" else anchor
    last = min(on, (grant.end_date - timedelta(days=1)) if grant.end_date else on)
    out = []
    start, end = cycle_period(day, last)
    while end > grant.start_date and len(out) < HISTORY_PERIODS:
        out.append(_clip(start, end, grant))
        start, end = add_months(start, -1), start
    return out


def history(session: Session, actor: Actor, grant_id: int, *, on: date) -> History:
    """Quantity: usage per period (newest first). Credit: each approved invoice and credit note that moved the
    budget, with the running total. Feature: nothing consumed (the audit log holds its changes)."""
    require(actor, "entitlements:read")
    grant = session.get(EntitlementGrant, grant_id)
    if grant is None:
        raise NotFound(f"there is no entitlement grant #{grant_id}")
    cust = session.get(Customer, grant.customer_id)
    passed = {x.period_start: x.recorded_at for x in session.exec(
        select(EntitlementExhaustion).where(EntitlementExhaustion.grant_id == grant.id))}
    out = History(grant, changes=list(session.exec(
        select(AuditLog).where(AuditLog.entity_type == "entitlement_grant", AuditLog.entity_id == str(grant.id))
        .order_by(AuditLog.id.desc()).limit(200))))
    if grant.kind == "feature":
        out.note = f"A feature: nothing is consumed. It is {'on' if grant.enabled else 'off'}."
        return out
    if grant.kind == "quantity":
        from core.metering.periods import billing_of

        metric = get_metric(session, grant.metric_id)
        b = billing_of(session, [cust], [grant.metric_id], on)[(cust.id, grant.metric_id)]
        for start, end in _periods(grant, b.anchor_day, on):
            if start > on:
                continue
            stop = on + timedelta(days=1) if end is None else min(end, on + timedelta(days=1))
            found = aggregate(session, metric, local_midnight_utc(start, b.tz), local_midnight_utc(stop, b.tz),
                              customers=[cust.external_id])
            used = found[cust.external_id].quantity if cust.external_id in found else ZERO
            label = f"{start:%-d %b %Y} – " + (f"{end - timedelta(days=1):%-d %b %Y}" if end else "open-ended")
            out.rows.append(HistoryRow(start, label, used, used, grant.units, max(grant.units - used, ZERO),
                                       passed.get(start)))
        out.note = (f"{metric.name} per {'billing period' if grant.reset == 'billing_period' else 'calendar month'}"
                    if grant.reset != "never" else f"{metric.name} over the grant's whole window (no reset)")
        return out
    i, cn = Invoice, CreditNote
    in_window = [i.customer_id == grant.customer_id, i.currency == grant.currency, i.issue_date >= grant.start_date,
                 i.issue_date <= on, i.status.in_(COUNTED_STATUSES)]
    if grant.end_date is not None:
        in_window.append(i.issue_date < grant.end_date)
    moves = [(inv.issue_date, 0, inv.id, f"Invoice {inv.number or inv.id}", inv.total)
             for inv in session.exec(select(i).where(*in_window))]
    moves += [(note.issue_date, 1, note.id, f"Credit note {note.number} (on invoice {inv.number})", -note.total)
              for note, inv in session.exec(select(cn, i).join(i, i.id == cn.invoice_id)
                                            .where(*in_window, cn.issue_date <= on))]
    moves.sort(key=lambda m: (m[0], m[1], m[2]))
    used = ZERO
    rows = []
    recorded = passed.get(grant.start_date)
    for day, _, _, what, amount in moves:
        used += amount
        shown = max(used, ZERO)
        rows.append(HistoryRow(day, what, amount, shown, grant.amount, max(grant.amount - shown, ZERO),
                               recorded if shown >= grant.amount else None))
    out.rows = list(reversed(rows))
    out.note = (f"Approved invoices in {grant.currency} issued from {grant.start_date:%-d %b %Y}, less their credit "
                "notes; drafts and voided invoices do not count.")
    return out
