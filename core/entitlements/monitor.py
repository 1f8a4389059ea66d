"""Usage monitors: every customer near (≥ a percentage of the limit, default 80%) or past the limit of an
entitlement, and the "entitlement exhausted" record — written once per grant and period when a limit is first seen
passed, with the ``entitlement.exhausted`` webhook event. ``python -m cli check-entitlements`` (cron, hourly or
nightly) records them; the Entitlements page has the same button."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.entitlements.balances import NEAR_PERCENT, STATUS_LABELS, Balance, balances_of
from core.entitlements.grants import KINDS, LIMIT_TYPES
from core.errors import UserError
from core.ledger.exports import Column, Report
from core.models import Customer, EntitlementExhaustion, EntitlementGrant
from core.money import HUNDRED, MoneyError, format_number, to_decimal


def _limited_grants(session: Session, on: date, *, customer_id: int | None = None,
                    kind: str | None = None) -> list[EntitlementGrant]:
    conds = [EntitlementGrant.kind.in_([kind] if kind else ["quantity", "credit"]),
             EntitlementGrant.start_date <= on,
             or_(EntitlementGrant.end_date.is_(None), EntitlementGrant.end_date > on)]
    if customer_id is not None:
        conds.append(EntitlementGrant.customer_id == customer_id)
    # plain rows (read-only, with the grant's attributes), not ORM objects: the monitor reads every grant
    return list(session.connection().execute(select(EntitlementGrant.__table__).where(*conds)
                                             .order_by(EntitlementGrant.id)))


def near_percent(value) -> Decimal:
    """The monitor's threshold as a Decimal percentage, 1–100."""
    try:
        pct = to_decimal(value, field="near the limit from (%)")
    except MoneyError as exc:
        raise UserError(str(exc)) from None
    if not (0 < pct <= HUNDRED):
        raise UserError(f"near the limit from (%): {pct} is not between 1 and 100")
    return pct


def monitor(session: Session, actor: Actor, *, on: date, near=NEAR_PERCENT, customer_id: int | None = None,
            kind: str | None = None) -> list[Balance]:
    """Grants in effect on ``on`` whose use is at least ``near`` % of the limit (passed ones first, then by share
    used). Consumption computed in SQL for all customers at once (see :mod:`core.entitlements.balances`)."""
    require(actor, "entitlements:read")
    pct = near_percent(near)
    if kind == "feature":
        return []
    rows = [b for b in balances_of(session, _limited_grants(session, on, customer_id=customer_id, kind=kind), on)
            if b.percent is not None and b.percent >= pct]
    rows.sort(key=lambda b: (not b.passed, -b.percent, b.customer_external_id, b.grant.key))
    return rows


@dataclass
class SweepResult:
    recorded: list[EntitlementExhaustion] = field(default_factory=list)
    webhooks: bool = True

    def summary(self) -> str:
        n = len(self.recorded)
        return f"{n} entitlement{'s' if n != 1 else ''} newly exhausted"


def record_exhaustions(session: Session, actor: Actor, *, on: date) -> SweepResult:
    """Record each grant whose limit is passed on ``on`` — once per grant and period (running again records nothing
    new) — audit it, and emit the ``entitlement.exhausted`` webhook event."""
    require(actor, "entitlements:write")
    result = SweepResult()
    passed = [b for b in balances_of(session, _limited_grants(session, on), on) if b.passed]
    if not passed:
        return result
    seen = {(x.grant_id, x.period_start) for x in session.exec(select(EntitlementExhaustion).where(
        EntitlementExhaustion.grant_id.in_([b.grant.id for b in passed])))}
    for b in passed:
        g = b.grant
        if (g.id, b.period_start) in seen:
            continue
        row = EntitlementExhaustion(grant_id=g.id, period_start=b.period_start, period_end=b.period_end, used=b.used,
                                    limit_value=b.limit, limit_type=g.limit_type, recorded_by=actor.username)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:  # recorded by a concurrent run in the meantime: still once
            continue
        result.recorded.append(row)
        audit.record(session, actor=actor.username, action="entitlement.exhausted", entity_type="entitlement_grant",
                     entity_id=g.id, details={"customer": b.customer_external_id, "key": g.key, "used": b.used,
                                              "limit": b.limit, "limit_type": g.limit_type,
                                              "period_start": b.period_start})
        _emit(session, b)
    return result


def payload(b: Balance) -> dict:
    """The ``data`` of an ``entitlement.exhausted`` webhook event (object "entitlement")."""
    g = b.grant
    num = (lambda v: None if v is None else format(v.normalize(), "f"))
    return {"object": "entitlement", "grant_id": g.id, "customer_external_id": b.customer_external_id,
            "key": g.key, "name": g.name, "kind": g.kind, "limit_type": g.limit_type,
            "status": "blocked" if g.limit_type == "hard" else "flagged", "period_start": b.period_start,
            "period_end": b.period_end, "used": num(b.used), "limit": num(b.limit),
            "currency": g.currency or None, "unit": b.unit, "contract_id": g.contract_id}


def _emit(session: Session, b: Balance) -> None:
    from core.webhooks.outbox import emit

    emit(session, "entitlement.exhausted", lambda: payload(b))


def recent_exhaustions(session: Session, actor: Actor, *, limit: int = 200) -> list[tuple[EntitlementExhaustion,
                                                                                          EntitlementGrant, str]]:
    require(actor, "entitlements:read")
    q = (select(EntitlementExhaustion, EntitlementGrant, Customer.external_id)
         .join(EntitlementGrant, EntitlementGrant.id == EntitlementExhaustion.grant_id)
         .join(Customer, Customer.id == EntitlementGrant.customer_id)
         .order_by(EntitlementExhaustion.id.desc()).limit(limit))
    return list(session.exec(q))


def monitor_report(session: Session, actor: Actor, *, on: date, near=NEAR_PERCENT, customer_id: int | None = None,
                   kind: str | None = None) -> Report:
    """The monitor as a table for XLSX/CSV (core.ledger.exports). Credit amounts are money columns in their
    currency; unit counts are exact numbers written as text (the report has no quantity column type)."""
    rows_in = monitor(session, actor, on=on, near=near, customer_id=customer_id, kind=kind)
    pct = near_percent(near)
    cols = [Column("Customer ID", width=14), Column("Customer", width=24), Column("Entitlement", width=24),
            Column("Key", width=14), Column("Kind", width=9), Column("Limit", width=6),
            Column("Period from", "date", 12), Column("Period to", "date", 12), Column("Unit", width=14),
            Column("Units used", width=12), Column("Units limit", width=12),
            Column("Credit used", "money", 14), Column("Credit limit", "money", 14),
            Column("% used", width=8), Column("Status", width=26)]
    rows, codes = [], []
    for b in rows_in:
        g = b.grant
        credit = g.kind == "credit"
        last = None if b.period_end is None else b.period_end.fromordinal(b.period_end.toordinal() - 1)
        rows.append([b.customer_external_id, b.customer_name, g.name, g.key, g.kind, g.limit_type, b.period_start,
                     last, b.unit, None if credit else format_number(b.used), None if credit else
                     format_number(b.limit), b.used if credit else None, b.limit if credit else None,
                     format_number(b.percent.quantize(Decimal("0.1"))), STATUS_LABELS[b.status(pct)]])
        codes.append(g.currency if credit else "USD")
    kinds = KINDS.get(kind, "quantity and credit") if kind else "quantity and credit"
    return Report("Entitlement monitor", f"On {on:%-d %b %Y} · at least {format_number(pct)}% of the limit · {kinds}",
                  cols, rows, codes, f"entitlement-monitor-{on.isoformat()}",
                  notes=[f"Limit: {', '.join(LIMIT_TYPES.values())}. Periods end on the day shown (inclusive)."])
