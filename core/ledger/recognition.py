"""Revenue recognition (spec section 6).

Policies per product (``Product.revenue_policy``): ``immediate`` — revenue when the invoice is approved;
``deferred`` — the invoice credits Deferred Revenue and a schedule releases it over the line's service period;
``unbilled`` — usage revenue as it is delivered (recognised when invoiced, in arrears).

A schedule splits an amount over the calendar months of ``[start, end)``, equally by days (each month's share of
the days) or equally by month (whole months equal, part months by their share of the month's days). Each period
is rounded half-up to the currency's minor unit and the last period takes the remainder, so a schedule always
sums exactly: $12,000 over 15 Jan 2025 – 14 Jan 2026 by days gives January $558.90, February $920.55, … the last
14 days $460.27.

A recognition run posts every period due up to a date — one entry per business entity and day (Dr Deferred
Revenue, Cr the product's revenue account, a line per customer and product) — and marks the rows it posted, so
running it twice posts nothing twice. When a contract changes, :func:`redistribute` spreads what is still
unrecognised differently (front-load, straight-line, back-load); a credit note on a deferred line takes its
amount off the rows not yet recognised (:func:`reduce_for_credit`).
"""
from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import update
from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.ledger.accounts import chart
from core.ledger.posting import Draft, post_many
from core.models import BusinessEntity, RevenueSchedule, RevenueScheduleRow, utcnow
from core.money import ZERO, round_money

METHODS = {"days": "Equally by days", "months": "Equally by month"}
REDISTRIBUTIONS = {"straight_line": "Straight-line over the remaining periods",
                   "front_load": "Front-load: all of it in the next period",
                   "back_load": "Back-load: all of it in the last period"}


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # exclusive
    amount: Decimal

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)


def _months(start: date, end: date) -> list[tuple[date, date]]:
    """The calendar-month pieces of ``[start, end)``."""
    out, cur = [], start
    while cur < end:
        nxt = date(cur.year + (cur.month == 12), cur.month % 12 + 1, 1)
        out.append((cur, min(nxt, end)))
        cur = nxt
    return out


def split(total: Decimal, start: date, end: date, code: str, method: str = "days",
          weights: list[Decimal] | None = None) -> list[Period]:
    """``total`` over the calendar months of ``[start, end)``: each period rounded half-up, the last one the
    remainder. ``weights`` (one per month piece) overrides the method's own."""
    if end <= start:
        raise UserError(f"service period: it ends ({end - timedelta(days=1):%-d %b %Y}) before it starts "
                        f"({start:%-d %b %Y})")
    if method not in METHODS:
        raise UserError(f"recognition method: choose {' or '.join(METHODS)}")
    pieces = _months(start, end)
    if weights is None:
        if method == "days":
            weights = [Decimal((b - a).days) for a, b in pieces]
        else:
            weights = [Decimal((b - a).days) / Decimal(calendar.monthrange(a.year, a.month)[1]) for a, b in pieces]
    whole = sum(weights, ZERO)
    out, given = [], ZERO
    for k, ((a, b), w) in enumerate(zip(pieces, weights)):
        if k == len(pieces) - 1:
            amount = total - given
        else:
            amount = round_money(total * w / whole, code) if whole else ZERO
        given += amount
        out.append(Period(a, b, amount))
    return out


def new_schedules(session: Session, specs: list[dict]) -> None:
    """Write schedules and their rows (the approval's deferred lines) with a fixed number of statements. Each
    spec: entity_id, invoice_id, invoice_line_id, customer_id, product_id, account_id, currency, total, method,
    service_start, service_end."""
    if not specs:
        return
    from core.invoicing.service import _bulk_insert, _in

    now = utcnow()
    rows = [{**s, "created_at": now} for s in specs]
    _bulk_insert(session, RevenueSchedule.__table__, rows)
    # ids back by (invoice, line): one schedule per deferred line group of an invoice
    found = session.exec(select(RevenueSchedule.id, RevenueSchedule.invoice_id, RevenueSchedule.invoice_line_id,
                                RevenueSchedule.service_start)
                         .where(_in(session, RevenueSchedule.invoice_id, sorted({s["invoice_id"] for s in specs})))
                         ).all()
    ids = {(inv, line, start): sid for sid, inv, line, start in found}
    cols: dict[str, list] = {k: [] for k in ("schedule_id", "period_start", "period_end", "recognise_on", "amount")}
    for s in specs:
        sid = ids[(s["invoice_id"], s["invoice_line_id"], s["service_start"])]
        for p in split(s["total"], s["service_start"], s["service_end"], s["currency"], s["method"]):
            cols["schedule_id"].append(sid)
            cols["period_start"].append(p.start)
            cols["period_end"].append(p.end)
            cols["recognise_on"].append(p.last_day)
            cols["amount"].append(p.amount)
    _bulk_insert(session, RevenueScheduleRow.__table__, columns=cols)


def schedule_rows(session: Session, schedule_id: int) -> list[RevenueScheduleRow]:
    # fresh from the database: the recognition run marks rows with a bulk UPDATE the session's objects miss
    return list(session.exec(select(RevenueScheduleRow).where(RevenueScheduleRow.schedule_id == schedule_id)
                             .order_by(RevenueScheduleRow.period_start)
                             .execution_options(populate_existing=True)))


def schedules_of_invoice(session: Session, invoice_id: int) -> list[RevenueSchedule]:
    return list(session.exec(select(RevenueSchedule).where(RevenueSchedule.invoice_id == invoice_id)
                             .order_by(RevenueSchedule.id)))


def _respread(rows: list[RevenueScheduleRow], remaining: Decimal, code: str, how: str) -> None:
    """Give the not-yet-recognised ``rows`` amounts summing exactly to ``remaining``."""
    if not rows:
        if remaining:
            raise UserError("every period of this schedule is already recognised; nothing is left to change")
        return
    if how == "front_load":
        weights = [Decimal(1)] + [ZERO] * (len(rows) - 1)
    elif how == "back_load":
        weights = [ZERO] * (len(rows) - 1) + [Decimal(1)]
    elif how == "straight_line":
        weights = [Decimal((r.period_end - r.period_start).days) for r in rows]
    else:
        raise UserError(f"redistribution: choose one of {', '.join(REDISTRIBUTIONS)}")
    whole = sum(weights, ZERO)
    given = ZERO
    for k, (r, w) in enumerate(zip(rows, weights)):
        amount = remaining - given if k == len(rows) - 1 else round_money(remaining * w / whole, code)
        given += amount
        r.amount = amount


def redistribute(session: Session, actor: Actor, schedule_id: int, *, how: str, new_total: Decimal | None = None,
                 reason: str = "") -> RevenueSchedule:
    """Spread what is not yet recognised of a schedule again — after a contract change, say — with the rows
    already recognised left as they are. ``new_total`` changes the schedule's total (the difference goes to
    or comes off the remaining rows)."""
    require(actor, "accounting:write")
    sched = session.get(RevenueSchedule, schedule_id)
    if sched is None:
        raise NotFound(f"there is no revenue schedule #{schedule_id}")
    rows = schedule_rows(session, schedule_id)
    done = sum((r.amount for r in rows if r.entry_id is not None), ZERO)
    total = sched.total if new_total is None else round_money(Decimal(new_total), sched.currency)
    open_rows = [r for r in rows if r.entry_id is None]
    before = {str(r.period_start): r.amount for r in open_rows}
    _respread(open_rows, total - done, sched.currency, how)
    sched.total = total
    session.add_all([sched, *open_rows])
    session.flush()
    audit.record(session, actor=actor.username, action="revenue.redistribute", entity_type="revenue_schedule",
                 entity_id=sched.id, details={"how": how, "reason": reason, "total": total, "before": before,
                                              "after": {str(r.period_start): r.amount for r in open_rows}})
    return sched


@dataclass(frozen=True)
class ContractRespread:
    schedules: int  # schedules with revenue still to recognise that were spread again
    amounts: dict[str, Decimal]  # currency -> revenue spread again


def open_schedules_of_contract(session: Session, contract_id: int) -> list[RevenueSchedule]:
    """The contract's schedules (through its invoices) with a period not yet recognised."""
    from core.models import Invoice

    return list(session.exec(
        select(RevenueSchedule).join(Invoice, Invoice.id == RevenueSchedule.invoice_id)
        .where(Invoice.contract_id == contract_id,
               RevenueSchedule.id.in_(select(RevenueScheduleRow.schedule_id)
                                      .where(RevenueScheduleRow.entry_id.is_(None))))
        .order_by(RevenueSchedule.id)))


def redistribute_contract(session: Session, actor: Actor, contract_id: int, *, how: str, reason: str = "",
                          served_until: date | None = None) -> ContractRespread:
    """After a contract changes, spread what its invoices' schedules have not recognised yet again, by ``how``
    (front-load, straight-line, back-load). With ``served_until`` (the first day no longer served — an early
    end), periods starting on or after it get nothing: the revenue still deferred goes to the periods served
    before it, or, when none is left to come, to the first open period (recognised by the next run)."""
    require(actor, "accounting:write")
    if how not in REDISTRIBUTIONS:
        raise UserError(f"redistribution: choose one of {', '.join(REDISTRIBUTIONS.values())}")
    amounts: dict[str, Decimal] = defaultdict(lambda: ZERO)
    done = []
    for sched in open_schedules_of_contract(session, contract_id):
        rows = schedule_rows(session, sched.id)
        open_rows = [r for r in rows if r.entry_id is None]
        remaining = sched.total - sum((r.amount for r in rows if r.entry_id is not None), ZERO)
        served = [r for r in open_rows if served_until is None or r.period_start < served_until] or open_rows[:1]
        before = {str(r.period_start): r.amount for r in open_rows}
        for r in open_rows:
            r.amount = ZERO
        _respread(served, remaining, sched.currency, how)
        session.add_all(open_rows)
        amounts[sched.currency] += remaining
        done.append({"schedule": sched.id, "before": before,
                     "after": {str(r.period_start): r.amount for r in open_rows}})
    session.flush()
    if done:
        audit.record(session, actor=actor.username, action="revenue.redistribute_contract", entity_type="contract",
                     entity_id=contract_id, details={"how": how, "reason": reason, "served_until": served_until,
                                                     "schedules": done})
    return ContractRespread(len(done), dict(amounts))


def reduce_for_credit(session: Session, schedule_id: int, amount: Decimal) -> Decimal:
    """Take up to ``amount`` off the rows of a schedule not yet recognised (straight-line over them); returns
    how much was taken (the rest of a credit was already recognised: it goes to Sales Returns)."""
    sched = session.get(RevenueSchedule, schedule_id)
    rows = schedule_rows(session, schedule_id)
    open_rows = [r for r in rows if r.entry_id is None]
    left = sum((r.amount for r in open_rows), ZERO)
    taken = min(amount, left) if left > 0 else ZERO
    if taken:
        _respread(open_rows, left - taken, sched.currency, "straight_line")
        sched.total -= taken
        session.add_all([sched, *open_rows])
        session.flush()
    return taken


@dataclass
class RunResult:
    through: date
    entries: int
    rows: int
    amounts: dict[str, Decimal]
    unbilled_accruals: int = 0


def recognise(session: Session, actor: Actor, *, through: date) -> RunResult:
    """Post every schedule period due on or before ``through`` and not posted yet: one entry per business entity
    and day. Idempotent: the rows posted are marked, so a second run posts only what has come due since."""
    require(actor, "accounting:write")
    if through > utcnow().date():
        raise UserError(f"recognise through: {through:%-d %b %Y} is in the future; revenue is recognised once "
                        "the service is delivered")
    from core.invoicing.service import _in

    accounts = chart(session)
    deferred = accounts.key("deferred_revenue")
    due = session.exec(
        select(RevenueScheduleRow, RevenueSchedule)
        .join(RevenueSchedule, RevenueSchedule.id == RevenueScheduleRow.schedule_id)
        .where(RevenueScheduleRow.entry_id.is_(None), RevenueScheduleRow.recognise_on <= through,
               RevenueScheduleRow.amount != 0)
        .order_by(RevenueSchedule.entity_id, RevenueScheduleRow.recognise_on, RevenueScheduleRow.id)).all()
    groups: dict[tuple[int, date], list] = defaultdict(list)
    for row, sched in due:
        groups[(sched.entity_id, row.recognise_on)].append((row, sched))
    drafts, members = [], []
    amounts: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for (entity_id, day), items in groups.items():
        d = Draft(entity_id=entity_id, entry_date=day, memo=f"Revenue recognised for {day:%-d %b %Y}",
                  source_type="recognition", source_key=f"recognition:{entity_id}:{day}:{items[0][0].id}")
        for row, sched in items:
            desc = (f"Invoice #{sched.invoice_id}, "
                    f"{row.period_start:%-d %b}–{row.period_end - timedelta(days=1):%-d %b %Y}")
            d.debit(deferred, sched.currency, row.amount, description=desc, customer_id=sched.customer_id,
                    product_id=sched.product_id, invoice_id=sched.invoice_id)
            d.credit(sched.account_id, sched.currency, row.amount, description=desc, customer_id=sched.customer_id,
                     product_id=sched.product_id, invoice_id=sched.invoice_id)
            amounts[sched.currency] += row.amount
        drafts.append(d)
        members.append([row.id for row, _ in items])
    ids = post_many(session, drafts, posted_by=actor.username, accounts=accounts) if drafts else []
    t = RevenueScheduleRow.__table__
    for eid, row_ids in zip(ids, members):  # rows of zero are never due, so every draft posted an entry
        session.connection().execute(update(t).where(_in(session, t.c.id, row_ids)).values(entry_id=eid))
    from core.ledger.events import accrue_drafts

    accrued = accrue_drafts(session, through=through, posted_by=actor.username, accounts=accounts)
    n_rows = sum(len(m) for m in members)
    audit.record(session, actor=actor.username, action="revenue.recognise", entity_type="ledger",
                 details={"through": through, "entries": len(ids), "periods": n_rows, "amounts": dict(amounts),
                          "unbilled_accruals": accrued})
    return RunResult(through, len(ids), n_rows, dict(amounts), accrued)


def entity_ids(session: Session) -> list[int]:
    return list(session.exec(select(BusinessEntity.id).order_by(BusinessEntity.id)))
