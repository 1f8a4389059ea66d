"""Ledger reports, read straight from the journal lines with grouped SQL (exact: amounts are scaled integers).

- Trial balance: per account and currency, the balance before the range, debits and credits in it, the balance
  at its end. Debits and credits over all accounts are equal in each currency (the sum of balances is zero).
- Income statement: income and expense accounts over a range; net income.
- Balance sheet: asset, liability and equity accounts at a date, with the income not yet closed to retained
  earnings shown as "Current earnings", so assets = liabilities + equity.
- Sub-ledgers: revenue by product and by customer, AR by customer and invoice, deferred and unbilled revenue by
  customer, customer wallet balances — each from the account's own lines.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, and_, case, func, select, type_coerce
from sqlmodel import Session

from core.ledger.accounts import DEBIT_NORMAL, chart
from core.models import Customer, Invoice, JournalEntry, JournalLine, Product
from core.types import MONEY_SCALE, from_scaled

L = JournalLine.__table__.c
A = type_coerce(L.amount, BigInteger())  # the scaled integer itself: sums stay integers, converted once


def _d(v) -> Decimal:  # noqa: ANN001
    return from_scaled(v, MONEY_SCALE)


def _where(start: date | None, end: date | None, entity_id: int | None, currency: str | None):  # noqa: ANN202
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


@dataclass
class TrialRow:
    account_id: int
    code: str
    name: str
    kind: str
    currency: str
    opening: Decimal  # debit +, credit −
    debits: Decimal
    credits: Decimal
    closing: Decimal

    @property
    def debit_balance(self) -> Decimal:
        return self.closing if self.closing > 0 else Decimal(0)

    @property
    def credit_balance(self) -> Decimal:
        return -self.closing if self.closing < 0 else Decimal(0)


def trial_balance(session: Session, *, start: date | None = None, end: date | None = None,
                  entity_id: int | None = None, currency: str | None = None) -> list[TrialRow]:
    """Every account with postings up to ``end``: opening balance at ``start``, movements in [start, end]."""
    accounts = chart(session)
    before = case((L.entry_date < start, A), else_=0) if start is not None else None
    inside = (L.entry_date >= start) if start is not None else True
    cols = [L.account_id, L.currency,
            func.sum(before) if before is not None else func.sum(0),
            func.sum(case((and_(inside, A > 0), A), else_=0)),
            func.sum(case((and_(inside, A < 0), -A), else_=0)),
            func.sum(A)]
    q = select(*cols).where(_where(None, end, entity_id, currency)).group_by(L.account_id, L.currency)
    rows = []
    for account_id, code, opening, debits, credits, closing in session.connection().execute(q):
        acc = accounts.by_id[account_id]
        rows.append(TrialRow(account_id, acc.code, acc.name, acc.kind, code, _d(opening), _d(debits), _d(credits),
                             _d(closing)))
    rows.sort(key=lambda r: (r.currency, r.code))
    return rows


@dataclass
class StatementRow:
    section: str  # Income | Expenses | Assets | Liabilities | Equity
    account_id: int | None
    code: str
    name: str
    currency: str
    amount: Decimal  # shown the natural way round: income and liabilities positive when credit


def _natural(kind: str, closing: Decimal) -> Decimal:
    return closing if kind in DEBIT_NORMAL else -closing


SECTIONS = {"income": "Income", "expense": "Expenses", "asset": "Assets", "liability": "Liabilities",
            "equity": "Equity"}


def income_statement(session: Session, *, start: date, end: date, entity_id: int | None = None,
                     currency: str | None = None) -> tuple[list[StatementRow], dict[str, Decimal]]:
    """Income and expenses over [start, end]; returns the rows and net income per currency."""
    rows, net = [], {}
    for r in trial_balance(session, start=start, end=end, entity_id=entity_id, currency=currency):
        if r.kind not in ("income", "expense"):
            continue
        movement = r.closing - r.opening
        if not movement:
            continue
        rows.append(StatementRow(SECTIONS[r.kind], r.account_id, r.code, r.name, r.currency,
                                 _natural(r.kind, movement)))
        net[r.currency] = net.get(r.currency, Decimal(0)) - movement
    return rows, net


def balance_sheet(session: Session, *, at: date, entity_id: int | None = None,
                  currency: str | None = None) -> tuple[list[StatementRow], dict[str, dict[str, Decimal]]]:
    """Assets, liabilities and equity at ``at``; income and expenses to date appear as "Current earnings" in
    equity. Returns the rows and, per currency, the section totals (Assets = Liabilities + Equity)."""
    rows, totals = [], {}
    earnings: dict[str, Decimal] = {}
    for r in trial_balance(session, end=at, entity_id=entity_id, currency=currency):
        if r.kind in ("income", "expense"):
            earnings[r.currency] = earnings.get(r.currency, Decimal(0)) - r.closing
            continue
        if not r.closing:
            continue
        row = StatementRow(SECTIONS[r.kind], r.account_id, r.code, r.name, r.currency, _natural(r.kind, r.closing))
        rows.append(row)
    for code, amount in earnings.items():
        if amount:
            rows.append(StatementRow("Equity", None, "", "Current earnings (income less expenses to date)", code,
                                     amount))
    for row in rows:
        t = totals.setdefault(row.currency, {"Assets": Decimal(0), "Liabilities": Decimal(0), "Equity": Decimal(0)})
        t[row.section] += row.amount
    order = {"Assets": 0, "Liabilities": 1, "Equity": 2}
    rows.sort(key=lambda r: (r.currency, order[r.section], r.code or "~"))
    return rows, totals


@dataclass
class SubledgerRow:
    key: str  # customer name, product name, invoice number
    currency: str
    amount: Decimal
    customer_id: int | None = None
    invoice_id: int | None = None
    product_id: int | None = None


def account_balances_by(session: Session, system_key: str, by: str, *, start: date | None = None,
                        end: date | None = None, entity_id: int | None = None, currency: str | None = None,
                        natural: bool = True) -> list[SubledgerRow]:
    """One account's balance (or movement in a range) grouped by ``customer``, ``product`` or ``invoice``."""
    accounts = chart(session)
    acc_id = accounts.key(system_key)
    kind = accounts.by_id[acc_id].kind
    if system_key == "revenue":  # every income account: the product accounts too
        ids = [a.id for a in accounts.by_id.values() if a.kind == "income"]
    else:
        ids = [acc_id]
    col = {"customer": L.customer_id, "product": L.product_id, "invoice": L.invoice_id}[by]
    q = (select(col, L.currency, func.sum(A)).where(L.account_id.in_(ids),
                                                           _where(start, end, entity_id, currency))
         .group_by(col, L.currency))
    raw = [(k, c, _d(v)) for k, c, v in session.connection().execute(q)]
    names: dict = {}
    keys = [k for k, _, _ in raw if k is not None]
    if keys:
        if by == "customer":
            names = dict(session.exec(select(Customer.id, Customer.name).where(Customer.id.in_(keys))).all())
        elif by == "product":
            names = dict(session.exec(select(Product.id, Product.name).where(Product.id.in_(keys))).all())
        else:
            names = {i: n or f"draft #{i}" for i, n in
                     session.exec(select(Invoice.id, Invoice.number).where(Invoice.id.in_(keys))).all()}
    out = []
    for k, code, amount in raw:
        if not amount:
            continue
        shown = _natural(kind, amount) if natural else amount
        label = names.get(k, f"#{k}") if k is not None else "(none)"
        out.append(SubledgerRow(label, code, shown, **{f"{by}_id": k}))
    out.sort(key=lambda r: (r.currency, -r.amount, r.key))
    return out


def entries(session: Session, *, start: date | None = None, end: date | None = None, entity_id: int | None = None,
            source_type: str | None = None, limit: int = 500) -> list[JournalEntry]:
    from sqlmodel import select as sselect

    q = sselect(JournalEntry).order_by(JournalEntry.entry_date.desc(), JournalEntry.id.desc()).limit(limit)
    if start is not None:
        q = q.where(JournalEntry.entry_date >= start)
    if end is not None:
        q = q.where(JournalEntry.entry_date <= end)
    if entity_id is not None:
        q = q.where(JournalEntry.entity_id == entity_id)
    if source_type:
        q = q.where(JournalEntry.source_type == source_type)
    return list(session.exec(q))


def monthly(session: Session, system_keys: list[str], *, start: date, end: date, entity_id: int | None = None,
            currency: str | None = None) -> list[tuple[str, str, str, Decimal]]:
    """(month 'YYYY-MM', account system key, currency, movement) for charts: recognised revenue by month etc.
    Movements are shown the natural way round for the account."""
    accounts = chart(session)
    ids = {accounts.key(k): k for k in system_keys}
    month = func.substr(func.cast(L.entry_date, _text()), 1, 7)
    q = (select(month, L.account_id, L.currency, func.sum(A))
         .where(L.account_id.in_(list(ids)), _where(start, end, entity_id, currency))
         .group_by(month, L.account_id, L.currency).order_by(month))
    out = []
    for m, acc, code, amount in session.connection().execute(q):
        out.append((m, ids[acc], code, _natural(accounts.by_id[acc].kind, _d(amount))))
    return out


def _text():  # noqa: ANN202
    from sqlalchemy import String

    return String()
