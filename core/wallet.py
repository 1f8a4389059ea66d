"""The customer wallet: prepaid credit per customer and currency, kept as a signed ledger.

Money in is a positive entry (prepaid, grant, a credit note kept as credit, an unallocated payment);
money used on an invoice is a negative entry. The balance is the SUM of the entries — one exact SQL query
(amounts are stored as scaled integers, so the sum is exact on SQLite and PostgreSQL alike). The wallet
never goes below zero: :func:`use_credit` refuses to take more than the balance.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import Session, func, select

from core import audit
from core.auth import SYSTEM, Actor, require
from core.errors import NotFound, UserError
from core.models import Customer, WalletEntry, utcnow
from core.money import ZERO, MoneyError, currency, format_money, round_money, to_decimal

CREDIT_KINDS = {
    "prepaid": "Prepaid credit bought by the customer",
    "grant": "Promotional or goodwill credit",
    "credit_note": "Credit note kept as credit",
    "payment": "Unallocated payment",
    "manual": "Manual adjustment",
}
USE_KIND = "invoice"
#: wallet credits that post their own journal entry (payments and credit notes post theirs with the event)
LEDGER_KINDS = {"prepaid", "grant", "manual"}


def _amount(value, code: str) -> Decimal:
    try:
        amount = to_decimal(value, field="amount")
    except MoneyError as exc:
        raise UserError(str(exc)) from None
    if amount <= 0:
        raise UserError("amount: must be more than zero")
    if amount != round_money(amount, code):
        raise UserError(f"amount: {code} has {currency(code).minor_units} decimals at most")
    return amount


def _currency(code: str) -> str:
    try:
        return currency(code).code
    except MoneyError as exc:
        raise UserError(str(exc)) from None


def _customer(session: Session, customer_id: int, *, lock: bool = False) -> Customer:
    q = select(Customer).where(Customer.id == customer_id)
    if lock:
        q = q.with_for_update()  # serialises wallet use per customer on PostgreSQL
    c = session.exec(q).first()
    if c is None:
        raise NotFound(f"there is no customer with id {customer_id}")
    return c


def add_credit(session: Session, actor: Actor, *, customer_id: int, currency: str, amount, kind: str = "prepaid",
               note: str = "", effective_date: date | None = None) -> WalletEntry:
    """Put credit in a customer's wallet (a positive entry)."""
    require(actor, "invoices:write")
    code = _currency(currency)
    value = _amount(amount, code)
    if kind not in CREDIT_KINDS:
        raise UserError(f"kind: choose one of {', '.join(CREDIT_KINDS)}")
    note = (note or "").strip()
    if len(note) > 300:
        raise UserError("note: at most 300 characters")
    customer = _customer(session, customer_id)
    entry = WalletEntry(customer_id=customer.id, currency=code, amount=value, kind=kind, note=note,
                        effective_date=effective_date or utcnow().date(), created_by=actor.username)
    session.add(entry)
    session.flush()
    if kind in LEDGER_KINDS:
        from core.ledger.events import wallet_credit_entry

        wallet_credit_entry(session, entry, entity_id=customer.entity_id, posted_by=actor.username)
    audit.record(session, actor=actor.username, action="wallet.credit", entity_type="customer", entity_id=customer.id,
                 details={"entry": entry.id, "currency": code, "amount": value, "kind": kind, "note": note})
    return entry


def balance(session: Session, customer_id: int, currency: str) -> Decimal:
    """The wallet balance in one currency: the exact SUM of its entries (0 when there are none)."""
    code = _currency(currency)
    total = session.exec(select(func.sum(WalletEntry.amount))
                         .where(WalletEntry.customer_id == customer_id, WalletEntry.currency == code)).one()
    total = to_decimal(total) if total is not None else ZERO
    return shown_balance(total, code)


def shown_balance(total: Decimal, code: str) -> Decimal:
    """A balance as :func:`balance` gives it: at the currency's minor unit when it fits, else exact."""
    shown = round_money(total, code)
    return shown if shown == total else total


def balances(session: Session, customer_id: int) -> dict[str, Decimal]:
    """Every currency the customer holds credit in -> balance (one grouped query)."""
    rows = session.exec(select(WalletEntry.currency, func.sum(WalletEntry.amount))
                        .where(WalletEntry.customer_id == customer_id)
                        .group_by(WalletEntry.currency).order_by(WalletEntry.currency)).all()
    return {code: round_money(to_decimal(total or ZERO), code) for code, total in rows}


def entries(session: Session, customer_id: int, currency: str | None = None, *, limit: int | None = None
            ) -> list[WalletEntry]:
    """The wallet's entries, oldest first."""
    q = select(WalletEntry).where(WalletEntry.customer_id == customer_id)
    if currency:
        q = q.where(WalletEntry.currency == _currency(currency))
    q = q.order_by(WalletEntry.effective_date, WalletEntry.id)
    if limit:
        q = q.limit(limit)
    return list(session.exec(q))


def use_credit(session: Session, customer_id: int, currency: str, amount, invoice_id: int | None, *,
               actor: Actor = SYSTEM, note: str = "") -> WalletEntry:
    """Pay part of an invoice from the wallet (a negative entry). Never more than the balance."""
    require(actor, "invoices:write")
    code = _currency(currency)
    value = _amount(amount, code)
    customer = _customer(session, customer_id, lock=True)
    available = balance(session, customer.id, code)
    if value > available:
        raise UserError(f"the wallet holds {format_money(available, code)}; it cannot pay {format_money(value, code)}")
    entry = WalletEntry(customer_id=customer.id, currency=code, amount=-value, kind=USE_KIND, invoice_id=invoice_id,
                        note=(note or (f"applied to invoice {invoice_id}" if invoice_id else "applied"))[:300],
                        effective_date=utcnow().date(), created_by=actor.username)
    session.add(entry)
    session.flush()
    audit.record(session, actor=actor.username, action="wallet.use", entity_type="customer", entity_id=customer.id,
                 details={"entry": entry.id, "currency": code, "amount": value, "invoice_id": invoice_id,
                          "balance_before": available, "balance_after": available - value})
    return entry


def balances_for(session: Session, customer_ids: list[int]) -> dict[tuple[int, str], Decimal]:
    """(customer id, currency) -> balance for many customers with one query (the invoice run)."""
    from sqlalchemy import BigInteger, func, type_coerce

    from core.invoicing.service import _in
    from core.types import MONEY_SCALE, from_scaled

    if not customer_ids:
        return {}
    rows = session.exec(select(WalletEntry.customer_id, WalletEntry.currency,
                               func.sum(type_coerce(WalletEntry.amount, BigInteger)))
                        .where(_in(session, WalletEntry.customer_id, sorted(set(customer_ids))))
                        .group_by(WalletEntry.customer_id, WalletEntry.currency)).all()
    return {(cid, cur): from_scaled(raw, MONEY_SCALE) for cid, cur, raw in rows}


# --------------------------------------------------------------------------------------------------
# many invoices at once (bulk approval): use_credit's checks, entries and audit, in a fixed number of statements


@dataclass(frozen=True)
class CreditUse:
    entry_id: int
    customer_id: int
    currency: str
    amount: Decimal  # taken from the wallet (positive; the entry holds it negative)
    invoice_id: int | None
    balance_after: Decimal


def lock_customers(session: Session, customer_ids: list[int]) -> None:
    """Lock the customers' rows until the transaction ends, as :func:`use_credit` does for one (it serialises
    wallet use per customer on PostgreSQL) — one query, in id order."""
    from core.invoicing.service import _in

    ids = sorted(set(customer_ids))
    if not ids:
        return
    found = set(session.exec(select(Customer.id).where(_in(session, Customer.id, ids)).order_by(Customer.id)
                             .with_for_update()))
    for cid in ids:
        if cid not in found:
            raise NotFound(f"there is no customer with id {cid}")


def balances_of(session: Session, keys: list[tuple[int, str]]) -> dict[tuple[int, str], Decimal]:
    """:func:`balance` for many (customer id, currency) pairs with one query."""
    sums = balances_for(session, sorted({cid for cid, _ in keys}))
    out = {}
    for cid, cur in keys:
        code = _currency(cur)
        out[(cid, cur)] = shown_balance(sums.get((cid, code), ZERO), code)
    return out


def checked_use(currency: str, amount, available: Decimal) -> Decimal:
    """:func:`use_credit`'s checks of one use against the balance it finds: the amount to take."""
    code = _currency(currency)
    value = _amount(amount, code)
    if value > available:
        raise UserError(f"the wallet holds {format_money(available, code)}; it cannot pay {format_money(value, code)}")
    return value


def record_uses(session: Session, uses: list[tuple[int, str, Decimal, int, Decimal]], *,
                actor: Actor = SYSTEM) -> list[CreditUse]:
    """The entries :func:`use_credit` writes, for many invoices' uses already checked with :func:`checked_use`:
    (customer id, currency, amount, invoice id, balance before) each, one invoice once — written with one
    executemany, their ids read back with one query. Their audit entries are the caller's to write
    (:func:`use_audit`), in order with its own."""
    from sqlalchemy import insert

    from core.invoicing.service import _in, _model_defaults

    require(actor, "invoices:write")
    if not uses:
        return []
    invoices = [u[3] for u in uses]
    if None in invoices or len(set(invoices)) != len(invoices):
        raise ValueError("record_uses: one use per invoice, each with its invoice id")
    session.flush()
    t = WalletEntry.__table__
    today = utcnow().date()
    defaults = _model_defaults(WalletEntry)
    rows = [{**defaults, "customer_id": cid, "currency": _currency(cur), "amount": -value, "kind": USE_KIND,
             "invoice_id": invoice_id, "note": f"applied to invoice {invoice_id}"[:300], "effective_date": today,
             "created_by": actor.username}
            for cid, cur, value, invoice_id, _ in uses]
    conn = session.connection()
    conn.execute(insert(t), rows)
    # the newest use of each invoice is the one just written (an invoice's credit is used once, on approval)
    ids = dict(conn.execute(select(t.c.invoice_id, func.max(t.c.id))
                            .where(t.c.kind == USE_KIND, _in(session, t.c.invoice_id, sorted(invoices)))
                            .group_by(t.c.invoice_id)).all())
    return [CreditUse(ids[invoice_id], cid, _currency(cur), value, invoice_id, before - value)
            for cid, cur, value, invoice_id, before in uses]


def use_audit(use: CreditUse, *, actor: Actor = SYSTEM) -> dict:
    """The audit entry of one use (``audit.record`` / ``audit.record_many`` arguments), as use_credit writes it."""
    return dict(actor=actor.username, action="wallet.use", entity_type="customer", entity_id=use.customer_id,
                details={"entry": use.entry_id, "currency": use.currency, "amount": use.amount,
                         "invoice_id": use.invoice_id, "balance_before": use.balance_after + use.amount,
                         "balance_after": use.balance_after})
