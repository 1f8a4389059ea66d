"""Posting journal entries: the one way anything reaches the ledger.

- An entry's lines must sum to zero in each currency (debits = credits) before anything is written; on
  PostgreSQL the schema checks it again at commit. Amounts are exact Decimals (no rounding here: the business
  events post the rounded amounts their documents show).
- Posted entries are never changed (the schema refuses UPDATE/DELETE on journal rows): :func:`reverse` posts
  the mirror image, linked to the original, and an entry is reversed at most once.
- Nothing posts on or before a business entity's ``books_closed_through`` date. Automatic postings of events
  that happen after the close but belong to a closed period (an invoice dated in a closed month approved today)
  are dated the first open day, and their memo says so; manual entries into a closed period are refused.
- ``source_key`` makes automatic postings idempotent: the same business event posts once.
- Many entries go in with a fixed number of statements (:func:`post_many`): bulk approval of 10,000 invoices
  posts their entries with two inserts.
"""
from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.ledger.accounts import Chart, chart
from core.models import BusinessEntity, JournalEntry, JournalLine, utcnow
from core.money import ZERO, MoneyError, currency, format_money, to_decimal
from core.types import MONEY_SCALE


_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)


@dataclass
class Leg:
    """One journal line: ``amount`` signed, debit + and credit −."""

    account_id: int
    currency: str
    amount: Decimal
    description: str = ""
    customer_id: int | None = None
    product_id: int | None = None
    invoice_id: int | None = None


@dataclass
class Draft:
    entity_id: int
    entry_date: date
    memo: str
    source_type: str
    legs: list[Leg] = field(default_factory=list)
    source_id: int | None = None
    source_key: str | None = None
    reverses_id: int | None = None

    def debit(self, account_id: int, code: str, amount: Decimal, **kw) -> None:
        if amount:
            self.legs.append(Leg(account_id, code, amount, **kw))

    def credit(self, account_id: int, code: str, amount: Decimal, **kw) -> None:
        if amount:
            self.legs.append(Leg(account_id, code, -amount, **kw))


def imbalance(legs: list[Leg]) -> dict[str, Decimal]:
    """Currency → debits − credits, for the currencies that do not balance."""
    sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for leg in legs:
        sums[leg.currency] += leg.amount
    return {c: v for c, v in sums.items() if v != 0}


def check(draft: Draft, accounts: Chart) -> list[str]:
    """What is wrong with an entry, in words (empty: it can be posted)."""
    problems = []
    legs = [leg for leg in draft.legs if leg.amount != 0]
    if len(legs) < 2:
        problems.append("an entry needs at least two lines with an amount (a debit and a credit)")
    headers = accounts.headers()
    for n, leg in enumerate(draft.legs, start=1):
        acc = accounts.by_id.get(leg.account_id)
        if acc is None:
            problems.append(f"line {n}: there is no account #{leg.account_id}")
            continue
        if leg.account_id in headers:
            problems.append(f"line {n}: {acc.code} {acc.name} has sub-accounts; post to one of them")
        if not acc.active:
            problems.append(f"line {n}: {acc.code} {acc.name} is inactive")
        if isinstance(leg.amount, float):
            problems.append(f"line {n}: the amount is a float; give a Decimal")
            continue
        try:
            currency(leg.currency)
        except MoneyError as exc:
            problems.append(f"line {n}: {exc}")
            continue
        leg.amount = Decimal(leg.amount)
        if not leg.amount.is_finite() or leg.amount != leg.amount.quantize(_QUANTUM):
            problems.append(f"line {n}: {leg.amount} has more than {MONEY_SCALE} decimals")
    if not problems:
        for code, diff in imbalance(legs).items():
            debits = sum((leg.amount for leg in legs if leg.currency == code and leg.amount > 0), ZERO)
            credits = -sum((leg.amount for leg in legs if leg.currency == code and leg.amount < 0), ZERO)
            problems.append(f"{code}: debits {format_money(debits, code, precise=True)} and credits "
                            f"{format_money(credits, code, precise=True)} differ by "
                            f"{format_money(abs(diff), code, precise=True)}; an entry must balance in each currency")
    return problems


def closed_through(session: Session, entity_ids) -> dict[int, date | None]:  # noqa: ANN001
    ids = sorted(set(entity_ids))
    if not ids:
        return {}
    return dict(session.exec(select(BusinessEntity.id, BusinessEntity.books_closed_through)
                             .where(BusinessEntity.id.in_(ids))).all())


def post_many(session: Session, drafts: list[Draft], *, posted_by: str, automatic: bool = True,
              accounts: Chart | None = None) -> list[int]:
    """Check and post entries: returns their ids in order (an entry whose ``source_key`` was posted before is
    skipped and its id is the earlier one's). Raises :class:`UserError` naming the entry and line when one does
    not balance — nothing is written then."""
    drafts = [d for d in drafts if any(leg.amount for leg in d.legs)]
    if not drafts:
        return []
    accounts = accounts or chart(session)
    problems = []
    for d in drafts:
        for p in check(d, accounts):
            problems.append(f"{d.memo or d.source_key}: {p}")
    if problems:
        raise UserError("; ".join(problems[:20]) + (f"; and {len(problems) - 20} more" if len(problems) > 20 else ""))
    closed = closed_through(session, (d.entity_id for d in drafts))
    for d in drafts:
        lock = closed.get(d.entity_id)
        if lock is not None and d.entry_date <= lock:
            if not automatic:
                raise UserError(f"date: the books are closed through {lock:%-d %b %Y}; date the entry "
                                f"{lock + timedelta(days=1):%-d %b %Y} or later, or reopen the period")
            d.memo = f"{d.memo} (dated {d.entry_date:%-d %b %Y}, in a closed period)"[:300]
            d.entry_date = lock + timedelta(days=1)
        if d.source_key is None:
            d.source_key = f"{d.source_type}:{uuid.uuid4().hex}"
    keys = [d.source_key for d in drafts]
    if len(set(keys)) != len(keys):
        raise UserError("the same business event was posted twice in one batch")
    from core.invoicing.service import _bulk_insert, _in

    existing = dict(session.exec(select(JournalEntry.source_key, JournalEntry.id)
                                 .where(_in(session, JournalEntry.source_key, keys))).all())
    fresh = [d for d in drafts if d.source_key not in existing]
    if fresh:
        now = utcnow()
        session.flush()
        _bulk_insert(session, JournalEntry.__table__, columns={
            "entity_id": [d.entity_id for d in fresh], "entry_date": [d.entry_date for d in fresh],
            "memo": [d.memo[:300] for d in fresh], "source_type": [d.source_type for d in fresh],
            "source_id": [d.source_id for d in fresh], "source_key": [d.source_key for d in fresh],
            "reverses_id": [d.reverses_id for d in fresh], "posted_by": [posted_by[:100]] * len(fresh),
            "posted_at": [now] * len(fresh)})
        ids = dict(session.exec(select(JournalEntry.source_key, JournalEntry.id)
                                .where(_in(session, JournalEntry.source_key, [d.source_key for d in fresh]))).all())
        cols: dict[str, list] = {k: [] for k in ("entry_id", "entity_id", "entry_date", "account_id", "currency",
                                                 "amount", "description", "customer_id", "product_id",
                                                 "invoice_id")}
        for d in fresh:
            eid = ids[d.source_key]
            for leg in d.legs:
                if not leg.amount:
                    continue
                cols["entry_id"].append(eid)
                cols["entity_id"].append(d.entity_id)
                cols["entry_date"].append(d.entry_date)
                cols["account_id"].append(leg.account_id)
                cols["currency"].append(leg.currency)
                cols["amount"].append(leg.amount)
                cols["description"].append((leg.description or "")[:300])
                cols["customer_id"].append(leg.customer_id)
                cols["product_id"].append(leg.product_id)
                cols["invoice_id"].append(leg.invoice_id)
        _bulk_insert(session, JournalLine.__table__, columns=cols)
        existing.update(ids)
    return [existing[d.source_key] for d in drafts]


def post(session: Session, draft: Draft, *, posted_by: str, automatic: bool = True) -> int | None:
    ids = post_many(session, [draft], posted_by=posted_by, automatic=automatic)
    return ids[0] if ids else None


# ---------------------------------------------------------------------------------------------------------------
# what a finance user does by hand


def _amount(value, line: int) -> Decimal:  # noqa: ANN001
    if value in (None, ""):
        return ZERO
    if isinstance(value, float):
        raise UserError(f"line {line}: give the amount as text or a Decimal, not a float")
    try:
        return to_decimal(value, field=f"line {line}")
    except MoneyError as exc:
        raise UserError(str(exc)) from None


def manual_entry(session: Session, actor: Actor, *, entity_id: int, entry_date: date, memo: str,
                 lines: list[dict]) -> JournalEntry:
    """A journal entry made by a person. ``lines``: dicts with ``account_id``, ``debit`` or ``credit`` (one of
    them), ``currency``, optional ``description`` and ``customer_id``. Same checks as automatic postings, plus:
    a memo, and a date after the books' close."""
    require(actor, "accounting:write")
    memo = (memo or "").strip()
    problems = []
    if not memo:
        problems.append("memo: say what the entry is for")
    elif len(memo) > 300:
        problems.append("memo: at most 300 characters")
    if session.get(BusinessEntity, entity_id) is None:
        problems.append(f"business entity: there is no entity #{entity_id}")
    if entry_date > utcnow().date() + timedelta(days=366):
        problems.append("date: more than a year ahead; check the year")
    draft = Draft(entity_id=entity_id, entry_date=entry_date, memo=memo, source_type="manual")
    for n, ln in enumerate(lines, start=1):
        try:
            debit, credit = _amount(ln.get("debit"), n), _amount(ln.get("credit"), n)
        except UserError as exc:
            problems.append(str(exc))
            continue
        if debit and credit:
            problems.append(f"line {n}: give a debit or a credit, not both")
        elif debit < 0 or credit < 0:
            problems.append(f"line {n}: amounts are positive; put a credit in the credit column")
        elif not debit and not credit:
            continue
        draft.legs.append(Leg(account_id=int(ln.get("account_id") or 0), currency=(ln.get("currency") or "").upper(),
                              amount=debit - credit, description=(ln.get("description") or "").strip(),
                              customer_id=ln.get("customer_id")))
    if problems:
        raise UserError("; ".join(problems))
    eid = post(session, draft, posted_by=actor.username, automatic=False)
    entry = session.get(JournalEntry, eid)
    audit.record(session, actor=actor.username, action="journal.manual", entity_type="journal_entry", entity_id=eid,
                 details={"date": entry_date, "memo": memo,
                          "lines": [{"account_id": leg.account_id, "currency": leg.currency, "amount": leg.amount}
                                    for leg in draft.legs]})
    return entry


def reverse(session: Session, actor: Actor, entry_id: int, *, reason: str, entry_date: date | None = None
            ) -> JournalEntry:
    """Post the mirror image of an entry (every line's sign flipped), linked to it. An entry is reversed once;
    a reversal itself can be reversed (which re-instates the original)."""
    require(actor, "accounting:write")
    reason = (reason or "").strip()
    if not reason:
        raise UserError("reason: say why the entry is reversed")
    original = session.get(JournalEntry, entry_id)
    if original is None:
        raise NotFound(f"there is no journal entry #{entry_id}")
    if session.exec(select(JournalEntry.id).where(JournalEntry.reverses_id == entry_id)).first():
        raise UserError(f"journal entry #{entry_id} is already reversed")
    lines = list(session.exec(select(JournalLine).where(JournalLine.entry_id == entry_id).order_by(JournalLine.id)))
    when = entry_date or utcnow().date()
    draft = Draft(entity_id=original.entity_id, entry_date=when, memo=f"Reversal of #{entry_id}: {reason}"[:300],
                  source_type="reversal", source_id=entry_id, source_key=f"reversal:{entry_id}",
                  reverses_id=entry_id,
                  legs=[Leg(ln.account_id, ln.currency, -ln.amount, ln.description, ln.customer_id, ln.product_id,
                            ln.invoice_id) for ln in lines])
    eid = post(session, draft, posted_by=actor.username, automatic=False)
    audit.record(session, actor=actor.username, action="journal.reverse", entity_type="journal_entry",
                 entity_id=eid, details={"reverses": entry_id, "reason": reason, "date": when})
    return session.get(JournalEntry, eid)


def close_books(session: Session, actor: Actor, entity_id: int, through: date | None) -> BusinessEntity:
    """Close the books through a day (nothing may post on or before it), or reopen them (``None``)."""
    require(actor, "accounting:approve")
    ent = session.get(BusinessEntity, entity_id)
    if ent is None:
        raise NotFound(f"there is no business entity #{entity_id}")
    if through is not None and through >= utcnow().date():
        raise UserError(f"close date: {through:%-d %b %Y} is not in the past; close a period once it has ended")
    before = ent.books_closed_through
    ent.books_closed_through = through
    session.add(ent)
    session.flush()
    audit.record(session, actor=actor.username, action="books.close" if through else "books.reopen",
                 entity_type="business_entity", entity_id=ent.id, details={"before": before, "after": through})
    return ent


def entry_lines(session: Session, entry_id: int) -> list[JournalLine]:
    return list(session.exec(select(JournalLine).where(JournalLine.entry_id == entry_id).order_by(JournalLine.id)))
