"""Read helpers for the accounting screens and the CLI: the journal with its lines, revenue schedules with their
progress, what a recognition run would post, revenue billed against revenue recognised by month, the deferred
revenue waterfall, and the accounts that have postings. Reads only; every change goes through
:mod:`core.ledger.posting`, :mod:`core.ledger.accounts` and :mod:`core.ledger.recognition`.

Month by month figures (exact: the journal's amounts are scaled integers, summed in SQL):

- **Recognised revenue** of a month: what its entries credited to income accounts, less what they debited
  (immediate revenue at approval, deferred revenue released by its schedule, usage accrued as it is delivered,
  and any reversal or manual entry on an income account).
- **Billed revenue** of a month: the revenue on the invoices approved in it, before tax — what the approval
  entries credited to income accounts, to Deferred Revenue (recognised later) and to Unbilled Revenue (usage
  already accrued). Credit notes are not netted off.
- **Deferred revenue waterfall**: per month, the balance of Deferred Revenue at its start, plus what approvals
  deferred, less what recognition released, plus or minus everything else (credit notes on unrecognised revenue,
  reversals, manual entries), giving the balance at its end — which is the next month's opening.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import BigInteger, String, and_, case, func, or_, select, type_coerce
from sqlmodel import Session
from sqlmodel import select as sselect

from core.ledger.accounts import chart
from core.models import (
    Account, BusinessEntity, Customer, Invoice, JournalEntry, JournalLine, Product, RevenueSchedule,
    RevenueScheduleRow,
)
from core.money import ZERO
from core.types import MONEY_SCALE, from_scaled

#: what each kind of journal entry is, in words
SOURCE_TYPES: dict[str, str] = {
    "invoice": "Invoice approved", "unbilled": "Usage delivered, not yet invoiced", "wallet": "Customer wallet",
    "payment": "Payment received", "credit_note": "Credit note", "refund": "Refund", "write_off": "Write-off",
    "recognition": "Revenue recognised", "manual": "Manual entry", "reversal": "Reversal",
}

L = JournalLine.__table__.c
E = JournalEntry.__table__.c
_A = type_coerce(L.amount, BigInteger())  # sums stay integers, converted once


def _d(v) -> Decimal:  # noqa: ANN001
    return from_scaled(v or 0, MONEY_SCALE)


def _in_range(start: date | None, end: date | None, entity_id: int | None, currency: str | None):  # noqa: ANN202
    conds = []
    if start is not None:
        conds.append(L.entry_date >= start)
    if end is not None:
        conds.append(L.entry_date <= end)
    if entity_id is not None:
        conds.append(L.entity_id == entity_id)
    if currency:
        conds.append(L.currency == currency)
    return and_(True, *conds)


# ---------------------------------------------------------------------------------------------------------------
# small lists for the filters


def entities(session: Session) -> list[BusinessEntity]:
    return list(session.exec(sselect(BusinessEntity).order_by(BusinessEntity.name)))


def ledger_currencies(session: Session) -> list[str]:
    """The currencies the journal has lines in (read through the balance index: one row per account)."""
    rows = session.connection().execute(select(L.account_id, L.currency).group_by(L.account_id, L.currency))
    return sorted({c for _, c in rows})


def ledger_span(session: Session) -> tuple[date, date] | None:
    """The first and the last day with postings (None: the journal is empty)."""
    first, last = session.connection().execute(select(func.min(E.entry_date), func.max(E.entry_date))).one()
    return (first, last) if first is not None else None


def posted_accounts(session: Session, *, start: date, end: date, entity_id: int | None = None) -> list[Account]:
    """Accounts with postings dated in [start, end], by code."""
    q = select(L.account_id).where(_in_range(start, end, entity_id, None)).distinct()
    ids = [a for (a,) in session.connection().execute(q)]
    if not ids:
        return []
    return list(session.exec(sselect(Account).where(Account.id.in_(ids)).order_by(Account.code)))


def account_tree(session: Session) -> list[tuple[Account, int]]:
    """Every account in chart order: each account followed by its sub-accounts, with its depth."""
    accs = chart(session).by_id
    children: dict[int | None, list[Account]] = defaultdict(list)
    for a in sorted(accs.values(), key=lambda a: a.code):
        children[a.parent_id if a.parent_id in accs else None].append(a)
    out: list[tuple[Account, int]] = []

    def walk(parent: int | None, depth: int) -> None:
        for a in children.get(parent, []):
            out.append((a, depth))
            walk(a.id, depth + 1)

    walk(None, 0)
    return out


# ---------------------------------------------------------------------------------------------------------------
# the journal


@dataclass
class LineView:
    account_id: int
    account_code: str
    account: str
    currency: str
    debit: Decimal
    credit: Decimal
    description: str
    customer: str
    invoice: str


@dataclass
class EntryView:
    id: int
    entry_date: date
    entity: str
    memo: str
    source_type: str
    posted_by: str
    posted_at: object
    reverses_id: int | None
    reversed_by: int | None
    lines: list[LineView] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return SOURCE_TYPES.get(self.source_type, self.source_type)

    def totals(self) -> dict[str, Decimal]:
        """Currency → the entry's debits (equal to its credits)."""
        out: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for ln in self.lines:
            out[ln.currency] += ln.debit
        return dict(out)


def _entry_filter(*, start: date | None, end: date | None, entity_id: int | None, source_type: str | None,
                  account_id: int | None, customer_id: int | None, search: str):  # noqa: ANN202
    conds = []
    if start is not None:
        conds.append(E.entry_date >= start)
    if end is not None:
        conds.append(E.entry_date <= end)
    if entity_id is not None:
        conds.append(E.entity_id == entity_id)
    if source_type:
        conds.append(E.source_type == source_type)
    if account_id is not None or customer_id is not None:
        sub = select(L.entry_id)
        if account_id is not None:
            sub = sub.where(L.account_id == account_id)
        if customer_id is not None:
            sub = sub.where(L.customer_id == customer_id)
        conds.append(E.id.in_(sub))
    text = (search or "").strip()
    if text:
        like = f"%{text}%"
        cond = E.memo.ilike(like)
        digits = text.lstrip("#")
        if digits.isdigit():
            cond = or_(cond, E.id == int(digits))
        conds.append(cond)
    return and_(True, *conds)


def journal(session: Session, *, start: date | None = None, end: date | None = None, entity_id: int | None = None,
            source_type: str | None = None, account_id: int | None = None, customer_id: int | None = None,
            search: str = "", limit: int = 200) -> tuple[list[EntryView], int]:
    """The newest ``limit`` entries matching the filters, each with its lines (account, debit, credit, customer,
    invoice) and whether it reverses or was reversed by another; and how many entries match in all."""
    where = _entry_filter(start=start, end=end, entity_id=entity_id, source_type=source_type,
                          account_id=account_id, customer_id=customer_id, search=search)
    conn = session.connection()
    count = conn.execute(select(func.count()).select_from(JournalEntry.__table__).where(where)).scalar_one()
    heads = conn.execute(select(E.id, E.entry_date, E.entity_id, E.memo, E.source_type, E.posted_by, E.posted_at,
                                E.reverses_id).where(where)
                         .order_by(E.entry_date.desc(), E.id.desc()).limit(limit)).all()
    if not heads:
        return [], count
    ids = [h.id for h in heads]
    accounts = chart(session).by_id
    ents = dict(session.exec(sselect(BusinessEntity.id, BusinessEntity.name)).all())
    lines = conn.execute(select(L.entry_id, L.account_id, L.currency, L.amount, L.description, L.customer_id,
                                L.invoice_id).where(L.entry_id.in_(ids)).order_by(L.entry_id, L.id)).all()
    cust_ids = {ln.customer_id for ln in lines if ln.customer_id}
    inv_ids = {ln.invoice_id for ln in lines if ln.invoice_id}
    customers = dict(session.exec(sselect(Customer.id, Customer.name).where(Customer.id.in_(cust_ids))).all()) \
        if cust_ids else {}
    invoices = {i: n or f"draft #{i}" for i, n in
                session.exec(sselect(Invoice.id, Invoice.number).where(Invoice.id.in_(inv_ids))).all()} \
        if inv_ids else {}
    reversed_by = {r: i for i, r in conn.execute(select(E.id, E.reverses_id).where(E.reverses_id.in_(ids))).all()}
    views = {h.id: EntryView(h.id, h.entry_date, ents.get(h.entity_id, f"#{h.entity_id}"), h.memo, h.source_type,
                             h.posted_by, h.posted_at, h.reverses_id, reversed_by.get(h.id)) for h in heads}
    for ln in lines:
        acc = accounts.get(ln.account_id)
        amount = _d(ln.amount) if not isinstance(ln.amount, Decimal) else ln.amount
        views[ln.entry_id].lines.append(LineView(
            ln.account_id, acc.code if acc else "", acc.name if acc else f"#{ln.account_id}", ln.currency,
            amount if amount > 0 else ZERO, -amount if amount < 0 else ZERO, ln.description or "",
            customers.get(ln.customer_id, "") if ln.customer_id else "",
            invoices.get(ln.invoice_id, "") if ln.invoice_id else ""))
    return [views[i] for i in ids], count


# ---------------------------------------------------------------------------------------------------------------
# revenue schedules


@dataclass
class ScheduleView:
    id: int
    entity_id: int
    invoice_id: int
    invoice: str
    customer_id: int
    customer: str
    product: str
    account: str
    currency: str
    total: Decimal
    recognised: Decimal
    method: str
    service_start: date
    service_end: date  # exclusive
    periods: int
    periods_done: int
    next_due: date | None

    @property
    def remaining(self) -> Decimal:
        return self.total - self.recognised

    @property
    def done(self) -> bool:
        return self.periods_done == self.periods


def schedules(session: Session, *, entity_id: int | None = None, customer_id: int | None = None,
              status: str | None = None, limit: int = 500) -> list[ScheduleView]:
    """Revenue schedules, newest service first: ``status`` "open" (something left to recognise), "done", or all."""
    S, R = RevenueSchedule.__table__.c, RevenueScheduleRow.__table__.c
    conds = []
    if entity_id is not None:
        conds.append(S.entity_id == entity_id)
    if customer_id is not None:
        conds.append(S.customer_id == customer_id)
    posted = R.entry_id.is_not(None)
    one = case((posted, 1), else_=0)
    q = (select(S.id, func.count(R.id), func.sum(one), func.sum(case((posted, type_coerce(R.amount, BigInteger())),
                                                                      else_=0)),
                func.min(case((R.entry_id.is_(None), R.recognise_on))))
         .select_from(RevenueSchedule.__table__.join(RevenueScheduleRow.__table__, R.schedule_id == S.id))
         .where(and_(True, *conds)).group_by(S.id, S.service_start)
         .order_by(S.service_start.desc(), S.id.desc()).limit(limit))
    if status == "open":
        q = q.having(func.sum(one) < func.count(R.id))
    elif status == "done":
        q = q.having(func.sum(one) == func.count(R.id))
    progress = {sid: (n, done or 0, _d(amount), nxt) for sid, n, done, amount, nxt in session.connection().execute(q)}
    if not progress:
        return []
    found = {r.id: r for r in session.exec(sselect(RevenueSchedule).where(RevenueSchedule.id.in_(list(progress))))}
    rows = [found[i] for i in progress]
    accounts = chart(session)
    cust = dict(session.exec(sselect(Customer.id, Customer.name)
                             .where(Customer.id.in_({r.customer_id for r in rows}))).all())
    prods = {r.product_id for r in rows if r.product_id}
    products = dict(session.exec(sselect(Product.id, Product.name).where(Product.id.in_(prods))).all()) \
        if prods else {}
    invoices = dict(session.exec(sselect(Invoice.id, Invoice.number)
                                 .where(Invoice.id.in_({r.invoice_id for r in rows}))).all())
    out = []
    for r in rows:
        n, done, recognised, nxt = progress[r.id]
        if isinstance(nxt, str):  # SQLite returns MIN() of a date as text
            nxt = date.fromisoformat(nxt)
        out.append(ScheduleView(r.id, r.entity_id, r.invoice_id, invoices.get(r.invoice_id) or f"#{r.invoice_id}",
                                r.customer_id, cust.get(r.customer_id, f"#{r.customer_id}"),
                                products.get(r.product_id, "") if r.product_id else "",
                                accounts.label(r.account_id) if r.account_id in accounts.by_id else "", r.currency,
                                r.total, recognised, r.method, r.service_start, r.service_end, n, int(done), nxt))
    return out


def due_for_recognition(session: Session, *, through: date) -> tuple[int, dict[str, Decimal]]:
    """What a recognition run through ``through`` would post from the schedules: the number of periods and the
    amount per currency (usage accrued for drafts comes on top)."""
    R, S = RevenueScheduleRow.__table__.c, RevenueSchedule.__table__.c
    q = (select(S.currency, func.count(R.id), func.sum(type_coerce(R.amount, BigInteger())))
         .select_from(RevenueScheduleRow.__table__.join(RevenueSchedule.__table__, S.id == R.schedule_id))
         .where(R.entry_id.is_(None), R.recognise_on <= through, R.amount != 0).group_by(S.currency))
    n, amounts = 0, {}
    for code, count, amount in session.connection().execute(q):
        n += count
        amounts[code] = _d(amount)
    return n, amounts


# ---------------------------------------------------------------------------------------------------------------
# month by month


def months(start: date, end: date) -> list[date]:
    """The first day of every month that [start, end] touches."""
    out, cur = [], start.replace(day=1)
    while cur <= end:
        out.append(cur)
        cur = date(cur.year + (cur.month == 12), cur.month % 12 + 1, 1)
    return out


def _month_col():  # noqa: ANN202
    return func.substr(func.cast(L.entry_date, String()), 1, 7)


def _month(text: str) -> date:
    return date(int(text[:4]), int(text[5:7]), 1)


@dataclass
class MonthRevenue:
    month: date
    currency: str
    billed: Decimal
    recognised: Decimal

    @property
    def difference(self) -> Decimal:
        """Billed less recognised: what went to (or came out of) deferred and unbilled revenue this month."""
        return self.billed - self.recognised


def revenue_by_month(session: Session, *, start: date, end: date, entity_id: int | None = None,
                     currency: str | None = None) -> list[MonthRevenue]:
    """Billed and recognised revenue per month and currency (see the module's docstring), every month of the
    range listed, in each currency that has revenue in it."""
    accounts = chart(session)
    income = [a.id for a in accounts.by_id.values() if a.kind == "income"]
    billed_accounts = income + [accounts.key("deferred_revenue"), accounts.key("unbilled_revenue")]
    month = _month_col()
    conn = session.connection()
    recognised = conn.execute(select(month, L.currency, func.sum(_A))
                              .where(L.account_id.in_(income), _in_range(start, end, entity_id, currency))
                              .group_by(month, L.currency)).all()
    billed = conn.execute(select(month, L.currency, func.sum(_A))
                          .select_from(JournalLine.__table__.join(JournalEntry.__table__, E.id == L.entry_id))
                          .where(E.source_type == "invoice", L.account_id.in_(billed_accounts),
                                 _in_range(start, end, entity_id, currency))
                          .group_by(month, L.currency)).all()
    table: dict[tuple[date, str], list[Decimal]] = {}
    for m, code, amount in recognised:
        table.setdefault((_month(m), code), [ZERO, ZERO])[1] -= _d(amount)
    for m, code, amount in billed:
        table.setdefault((_month(m), code), [ZERO, ZERO])[0] -= _d(amount)
    codes = sorted({code for _, code in table})
    return [MonthRevenue(m, code, *table.get((m, code), [ZERO, ZERO])) for code in codes for m in months(start, end)]


@dataclass
class WaterfallMonth:
    month: date
    currency: str
    opening: Decimal
    billed: Decimal  # deferred by the month's approvals
    recognised: Decimal  # released by the month's recognition entries
    adjustments: Decimal  # everything else, signed: credit notes (−), reversals, manual entries
    closing: Decimal


def deferred_waterfall(session: Session, *, start: date, end: date, entity_id: int | None = None,
                       currency: str | None = None) -> list[WaterfallMonth]:
    """Deferred Revenue month by month (see the module's docstring); amounts the natural way round (a credit
    balance is positive). Closing = opening + billed − recognised + adjustments, exactly."""
    deferred = chart(session).key("deferred_revenue")
    conn = session.connection()
    opening: dict[str, Decimal] = {code: -_d(v) for code, v in conn.execute(
        select(L.currency, func.sum(_A)).where(L.account_id == deferred, L.entry_date < start,
                                               _in_range(None, None, entity_id, currency))
        .group_by(L.currency))}
    month = _month_col()
    moves: dict[tuple[date, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for m, code, source, amount in conn.execute(
            select(month, L.currency, E.source_type, func.sum(_A))
            .select_from(JournalLine.__table__.join(JournalEntry.__table__, E.id == L.entry_id))
            .where(L.account_id == deferred, _in_range(start, end, entity_id, currency))
            .group_by(month, L.currency, E.source_type)):
        kind = {"invoice": "billed", "recognition": "recognised"}.get(source, "adjustments")
        moves[(_month(m), code)][kind] -= _d(amount)
    codes = sorted({code for code, v in opening.items() if v} | {code for _, code in moves})
    out = []
    for code in codes:
        balance = opening.get(code, ZERO)
        for m in months(start, end):
            mv = moves.get((m, code), {})
            billed, released, other = mv.get("billed", ZERO), -mv.get("recognised", ZERO), mv.get("adjustments", ZERO)
            closing = balance + billed - released + other
            out.append(WaterfallMonth(m, code, balance, billed, released, other, closing))
            balance = closing
    return out


def default_range(today: date) -> tuple[date, date]:
    """The month before ``today`` (the period finance usually reports on)."""
    first = today.replace(day=1)
    last = first - timedelta(days=1)
    return last.replace(day=1), last
