"""Journal exports in the import formats of Xero, QuickBooks Online, NetSuite and Zoho Books, and the mapping of
our chart of accounts to each ERP's accounts.

Formats (../shared/design/real-components.md, "ERP import formats"):

- **Xero** manual journals: ``*Narration,*Date,Description,*AccountCode,*TaxRate,*Amount,TrackingName1,
  TrackingOption1,TrackingName2,TrackingOption2``. Rows sharing Narration and Date form one journal, so the
  narration starts with the entry's reference (``CH-12 Invoice INV-000001 approved``): two entries with the same
  memo on the same day stay two journals. Dates dd/mm/yyyy; one signed amount (debit +, credit −); the tax rate
  by name (from the mapping); at most 300 lines a file — a longer export is split into several files, never in
  the middle of a journal (a single journal of more than 300 lines is refused).
- **QuickBooks Online** journal import: ``Journal No.,Journal Date,Account Name,Debits,Credits,Description,
  Name``. One Journal No. per entry (its reference); dates MM/DD/YYYY; debits and credits as positive amounts in
  their own columns; the account by name, a sub-account as its whole path ``Parent:Sub`` (the mapping holds the
  path, see :func:`set_mapping`); Name (the customer) on every line that has one, and required on Accounts
  Receivable lines (QuickBooks refuses an A/R line without one: so does the export). Description: the line's,
  or the entry's memo when the line has none (the format has no memo column).
- **NetSuite** CSV import (journal entry): ``External ID,Subsidiary,Currency,Date,Memo,Account,Debit,Credit,
  Line Memo,Name``. The External ID (the entry's reference) is on every row: it groups the lines and makes a
  re-import of the same file find the journals it already created instead of duplicating them. Subsidiary: the
  business entity's name. Dates MM/DD/YYYY (NetSuite's default date format: the importing user's Date Format
  preference must be MM/DD/YYYY). At least two balanced lines per journal; amounts at most 10 digits before the
  point and 2 after — a larger amount, or one with more decimals (a 3-decimal currency's), is refused.
- **Zoho Books** manual journals: ``Journal Date,Reference Number,Journal Number Prefix,Journal Number Suffix,
  Notes,Journal Type,Currency,Account,Description,Contact Name,Debit,Credit``. Dates yyyy-mm-dd (pick that
  format on Zoho's import screen); reference ``CH-12``, journal number ``CH-`` + ``12``; Journal Type ``Both``
  (the entries are accrual postings, reported on the accrual and the cash basis alike); the account by name;
  Contact Name: the customer.

A journal is one entry in one currency. The reference is ``CH-<entry id>``; an entry with lines in several
currencies (a manual entry balanced in each) becomes one journal per currency, ``CH-<id>-<currency>``.

Currencies: Xero and QuickBooks manual journals have no currency column — their amounts are in the
organisation's base currency. Those exports therefore hold one currency: ``currency=`` chooses it, and without
it the export refuses a range with entries in more than one currency, naming them (converting at a rate we do not
know, or silently leaving entries out, would both put wrong books into the ERP). NetSuite and Zoho carry the
currency on every row and export every currency (``currency=`` filters them too).

Business entities: NetSuite has a Subsidiary column; Xero, QuickBooks and Zoho keep one organisation per
company, so their exports refuse a range with entries of more than one entity unless ``entity_id`` picks one.

Amounts: money is stored with 3 decimals; each amount is written with its currency's minor units (``1180.00``,
``¥1500`` as ``1500``, ``BHD 1.250`` as ``1.250``) — an amount with more decimals than its currency has is refused,
never rounded (a journal rounded line by line might no longer balance). No thousands separators.

Files: CSV, UTF-8 without a byte-order mark, ``\\r\\n`` line ends, cells quoted only when they must be. ``\\r\\n``
is what Excel (and RFC 4180) writes, the files these importers are made for; no byte-order mark because the
importers match the first header exactly, and some read a BOM as part of it (``ï»¿*Narration``) and reject the
file. Text cells are neutralised against formula injection (a leading ``=``, ``+``, ``-`` or ``@`` gets a
leading apostrophe, :func:`core.importers.files.neutralise`); line breaks and tabs in text become spaces;
numbers (Xero's negative amounts) and dates are never touched. Mapped account codes and tax rates cannot start
with those characters (:func:`set_mapping` refuses them), so they are written as they are.

This module never imports streamlit or fastapi: the page and the API call it.
"""
from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.importers.files import neutralise
from core.ledger.accounts import Chart, chart
from core.models import Account, BusinessEntity, Customer, ErpAccountMap, JournalEntry, JournalLine, utcnow
from core.money import MoneyError, currency as currency_info, format_money

ERPS: dict[str, str] = {"xero": "Xero", "quickbooks": "QuickBooks Online", "netsuite": "NetSuite",
                        "zoho": "Zoho Books"}

HEADERS: dict[str, list[str]] = {
    "xero": ["*Narration", "*Date", "Description", "*AccountCode", "*TaxRate", "*Amount", "TrackingName1",
             "TrackingOption1", "TrackingName2", "TrackingOption2"],
    "quickbooks": ["Journal No.", "Journal Date", "Account Name", "Debits", "Credits", "Description", "Name"],
    "netsuite": ["External ID", "Subsidiary", "Currency", "Date", "Memo", "Account", "Debit", "Credit", "Line Memo",
                 "Name"],
    "zoho": ["Journal Date", "Reference Number", "Journal Number Prefix", "Journal Number Suffix", "Notes",
             "Journal Type", "Currency", "Account", "Description", "Contact Name", "Debit", "Credit"],
}

#: what the mapping screen asks for, per ERP (shown as the field's help)
ACCOUNT_HELP: dict[str, str] = {
    "xero": "The account's code in Xero's chart of accounts (200, not '200 - Sales'; at most 10 characters) and "
            "the name of a tax rate exactly as Xero's tax settings show it. Choose a rate that adds no tax "
            "('Tax Exempt', 'No VAT', 'BAS Excluded'): the tax is already on lines of its own. Xero takes no "
            "manual journals on its system accounts (Accounts Receivable, Accounts Payable): map receivables to "
            "a current-asset account of their own.",
    "quickbooks": "The account's name exactly as QuickBooks Online shows it. A sub-account: its whole path, parents "
                  "first, separated by colons — 'Income:Subscriptions'. Turn account numbers off in QuickBooks "
                  "while importing. Customers must exist in QuickBooks under the same names.",
    "netsuite": "The account as your NetSuite import references it: its number (4010) or its full name "
                "('Revenue : Subscriptions'). The subsidiary is the business entity's name.",
    "zoho": "The account's name exactly as Zoho Books shows it in the chart of accounts.",
}

REFERENCE_PREFIX = "CH-"
XERO_MAX_LINES = 300  # data lines per file (the header line comes on top)
XERO_MAX_CODE = 10
NETSUITE_MAX_DIGITS = 10  # before the point
NETSUITE_MAX_DECIMALS = 2
MAX_ERP_ACCOUNT = 120
MAX_TAX_RATE = 60
_FORMULA = ("=", "+", "-", "@")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPACES = re.compile(r"[\r\n\t]+")
_MAX_PROBLEMS = 20


@dataclass(frozen=True)
class ExportFile:
    """One file to download: CSV, UTF-8 (no byte-order mark), ``\\r\\n`` line ends — as Excel writes CSV, which
    the ERPs' importers are made for; without a BOM because importers match the first header exactly."""

    name: str
    data: bytes


# ---------------------------------------------------------------------------------------------------------------
# the mapping


def _erp(erp: str) -> str:
    if erp not in ERPS:
        raise UserError(f"ERP: '{erp}' is not one we export to; choose one of {', '.join(ERPS.values())}")
    return erp


def mappings(session: Session, erp: str) -> dict[int, ErpAccountMap]:
    """Account id → its mapping for ``erp``."""
    _erp(erp)
    return {m.account_id: m for m in session.exec(select(ErpAccountMap).where(ErpAccountMap.erp == erp))}


def _clean_account(erp: str, value: str) -> tuple[str, list[str]]:
    """The mapped value as it will be written, and what is wrong with it."""
    label = "account code" if erp == "xero" else "account"
    value = (value or "").strip()
    problems = []
    if _CONTROL.search(value):
        problems.append(f"{label}: no line breaks or tabs")
    if value.startswith(_FORMULA):
        problems.append(f"{label}: cannot start with =, +, - or @ (a spreadsheet would run it as a formula)")
    if erp == "quickbooks" and ":" in value:
        parts = [p.strip() for p in value.split(":")]
        if any(not p for p in parts):
            problems.append(f"account: '{value}' has an empty level; give the QuickBooks path as Parent:Sub")
        value = ":".join(parts)
    if len(value) > MAX_ERP_ACCOUNT:
        problems.append(f"{label}: at most {MAX_ERP_ACCOUNT} characters")
    if erp == "xero" and len(value) > XERO_MAX_CODE:
        problems.append(f"account code: Xero account codes have at most {XERO_MAX_CODE} characters (give the "
                        f"code, 200, not '200 - Sales')")
    return value, problems


def set_mapping(session: Session, actor: Actor, erp: str, account_id: int, erp_account: str,
                tax_rate: str = "") -> ErpAccountMap:
    """Map one of our accounts to the ERP's account (an empty ``erp_account`` removes the mapping).

    What to give, per ERP (:data:`ACCOUNT_HELP` says it to the user):

    - Xero: the account code (≤ 10 characters) and ``tax_rate``, the name of a Xero tax rate (required: every
      Xero journal line has one).
    - QuickBooks Online: the account name; a sub-account as its whole path, parents first, separated by colons
      (``Income:Subscriptions``) — spaces around the colons are dropped, an empty level is refused. The export
      writes the path as it is.
    - NetSuite, Zoho Books: the account as the import references it (number or name).

    ``tax_rate`` is Xero's only; giving one for another ERP is refused. Values cannot start with = + - @ (they
    are written into spreadsheets as they are). Audited (``erp.mapping``) with the mapping before and after;
    a removal says ``removed``. Returns the mapping — after a removal, the removed row (no longer stored), or
    an unsaved empty one when there was nothing to remove."""
    require(actor, "accounting:write")
    _erp(erp)
    acc = session.get(Account, account_id) if account_id is not None else None
    if acc is None:
        raise NotFound(f"there is no account #{account_id}")
    value, problems = _clean_account(erp, erp_account)
    rate = (tax_rate or "").strip()
    if value:
        if erp == "xero":
            if not rate:
                problems.append("tax rate: Xero needs a tax rate on every journal line; give its name as Xero shows "
                                "it (e.g. Tax Exempt)")
            elif len(rate) > MAX_TAX_RATE:
                problems.append(f"tax rate: at most {MAX_TAX_RATE} characters")
            elif _CONTROL.search(rate) or rate.startswith(_FORMULA):
                problems.append("tax rate: no line breaks, and it cannot start with =, +, - or @")
        elif rate:
            problems.append(f"tax rate: only Xero journals carry a tax rate; leave it empty for {ERPS[erp]}")
    if problems:
        raise UserError(f"{acc.code} {acc.name} → {ERPS[erp]}: " + "; ".join(problems))
    current = session.exec(select(ErpAccountMap).where(ErpAccountMap.erp == erp,
                                                       ErpAccountMap.account_id == acc.id)).first()
    before = {"erp_account": current.erp_account, "tax_rate": current.tax_rate} if current else None
    details = {"erp": erp, "account": f"{acc.code} {acc.name}", "before": before}
    if not value:
        if current is None:
            return ErpAccountMap(erp=erp, account_id=acc.id, erp_account="", tax_rate="")
        session.delete(current)
        session.flush()
        audit.record(session, actor=actor.username, action="erp.mapping", entity_type="account", entity_id=acc.id,
                     details={**details, "after": None, "removed": True})
        return current
    after = {"erp_account": value, "tax_rate": rate}
    if before == after:
        return current
    if current is None:
        current = ErpAccountMap(erp=erp, account_id=acc.id)
    current.erp_account, current.tax_rate = value, rate
    current.updated_by, current.updated_at = actor.username[:100], utcnow()
    session.add(current)
    session.flush()
    audit.record(session, actor=actor.username, action="erp.mapping", entity_type="account", entity_id=acc.id,
                 details={**details, "after": after})
    return current


def _posted_accounts(session: Session, *, start: date, end: date, entity_id: int | None) -> list[int]:
    L = JournalLine.__table__.c
    q = sa_select(L.account_id).where(L.entry_date >= start, L.entry_date <= end).distinct()
    if entity_id is not None:
        q = q.where(L.entity_id == entity_id)
    return [a for (a,) in session.connection().execute(q)]


def unmapped(session: Session, erp: str, *, start: date, end: date, entity_id: int | None = None) -> list[Account]:
    """Accounts with postings in [start, end] that have no mapping for ``erp`` (the export refuses while any is
    left), by code."""
    have = mappings(session, erp)
    ids = [a for a in _posted_accounts(session, start=start, end=end, entity_id=entity_id)
           if a not in have or not have[a].erp_account]
    if not ids:
        return []
    return list(session.exec(select(Account).where(Account.id.in_(ids)).order_by(Account.code)))


# ---------------------------------------------------------------------------------------------------------------
# the export


@dataclass
class _Line:
    account_id: int
    amount: Decimal
    description: str
    customer_id: int | None


@dataclass
class _Journal:
    """One entry's lines in one currency: what every format turns into one journal."""

    entry_id: int
    entity_id: int
    entry_date: date
    currency: str
    memo: str = ""
    reference: str = ""
    lines: list[_Line] = field(default_factory=list)


def _text(value: object) -> str:
    """A text cell: one line, and never a formula."""
    return neutralise(_SPACES.sub(" ", "" if value is None else str(value)).strip())


def _day(d: date, erp: str) -> str:
    if erp == "xero":
        return f"{d:%d/%m/%Y}"
    if erp == "zoho":
        return d.isoformat()
    return f"{d:%m/%d/%Y}"  # QuickBooks, NetSuite


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def _places(erp: str, code: str) -> int:
    minor = currency_info(code).minor_units
    return min(minor, NETSUITE_MAX_DECIMALS) if erp == "netsuite" else minor


def _amount_problem(erp: str, amount: Decimal, code: str) -> str | None:
    try:
        places = _places(erp, code)
    except MoneyError as exc:
        return str(exc)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        if erp == "netsuite" and places < currency_info(code).minor_units:
            return (f"{format_money(amount, code, precise=True)} has more than {places} decimals, which NetSuite "
                    f"does not take")
        return (f"{format_money(amount, code, precise=True)} has more decimals than {code} has ({places}); "
                f"correct it with a reversing entry")
    if erp == "netsuite" and abs(amount) >= Decimal(10) ** NETSUITE_MAX_DIGITS:
        return (f"{format_money(amount, code)} has more than {NETSUITE_MAX_DIGITS} digits before the point, more "
                f"than NetSuite takes; split it into several entries")
    return None


def _number(amount: Decimal, places: int) -> str:
    return f"{amount.quantize(Decimal(1).scaleb(-places)):f}"


def _receivables(accounts: Chart) -> set[int]:
    """Accounts Receivable and its sub-accounts: the lines QuickBooks (and the others) want a customer on."""
    try:
        root = accounts.key("accounts_receivable")
    except UserError:
        return set()
    out = {root}
    grew = True
    while grew:
        new = {a.id for a in accounts.by_id.values() if a.parent_id in out} - out
        out |= new
        grew = bool(new)
    return out


def _names(session: Session, model, ids: set[int]) -> dict[int, str]:  # noqa: ANN001
    if not ids:
        return {}
    from core.invoicing.service import _in

    return dict(session.exec(select(model.id, model.name).where(_in(session, model.id, sorted(ids)))).all())


def _range_label(start: date, end: date) -> str:
    return f"{start:%-d %b %Y} to {end:%-d %b %Y}"


def _raise(problems: list[str]) -> None:
    if problems:
        more = len(problems) - _MAX_PROBLEMS
        raise UserError("; ".join(problems[:_MAX_PROBLEMS]) + (f"; and {more} more" if more > 0 else ""))


def _journals(session: Session, *, start: date, end: date, entity_id: int | None,
              currency: str | None) -> list[_Journal]:
    """The journals in the range, oldest first (by date, then entry), their lines in posting order."""
    L = JournalLine.__table__.c
    q = (sa_select(L.entry_id, L.entity_id, L.entry_date, L.account_id, L.currency, L.amount, L.description,
                   L.customer_id)
         .where(L.entry_date >= start, L.entry_date <= end)
         .order_by(L.entry_date, L.entry_id, L.id))
    if entity_id is not None:
        q = q.where(L.entity_id == entity_id)
    if currency:
        q = q.where(L.currency == currency)
    journals: dict[tuple[int, str], _Journal] = {}
    for entry_id, ent, day, account_id, code, amount, description, customer_id in session.connection().execute(q):
        j = journals.get((entry_id, code))
        if j is None:
            j = journals[(entry_id, code)] = _Journal(entry_id, ent, day, code)
        j.lines.append(_Line(account_id, amount, description or "", customer_id))
    out = list(journals.values())
    if not out:
        return out
    from core.invoicing.service import _in

    ids = sorted({j.entry_id for j in out})
    memos = dict(session.exec(select(JournalEntry.id, JournalEntry.memo)
                              .where(_in(session, JournalEntry.id, ids))).all())
    currencies_of: dict[int, set[str]] = defaultdict(set)
    for j in out:
        currencies_of[j.entry_id].add(j.currency)
    # an entry split by a currency filter keeps its suffix too: the reference stays the same in every export
    split = set()
    if currency:
        Lc = JournalLine.__table__.c
        for (eid,) in session.connection().execute(
                sa_select(Lc.entry_id).where(_in(session, Lc.entry_id, ids), Lc.currency != currency).distinct()):
            split.add(eid)
    for j in out:
        j.memo = memos.get(j.entry_id, "") or ""
        several = len(currencies_of[j.entry_id]) > 1 or j.entry_id in split
        j.reference = f"{REFERENCE_PREFIX}{j.entry_id}" + (f"-{j.currency}" if several else "")
    return out


def _rows(erp: str, journals: list[_Journal], maps: dict[int, ErpAccountMap], customers: dict[int, str],
          entities: dict[int, str]) -> list[tuple[_Journal, list[list[str]]]]:
    out = []
    for j in journals:
        places = _places(erp, j.currency)
        rows = []
        for ln in j.lines:
            account = maps[ln.account_id].erp_account
            name = _text(customers.get(ln.customer_id, "")) if ln.customer_id else ""
            debit = _number(ln.amount, places) if ln.amount > 0 else ""
            credit = _number(-ln.amount, places) if ln.amount < 0 else ""
            if erp == "xero":
                rows.append([_text(f"{j.reference} {j.memo}"), _day(j.entry_date, erp), _text(ln.description),
                             account, maps[ln.account_id].tax_rate, _number(ln.amount, places), "", "", "", ""])
            elif erp == "quickbooks":
                rows.append([j.reference, _day(j.entry_date, erp), account, debit, credit,
                             _text(ln.description or j.memo), name])
            elif erp == "netsuite":
                rows.append([j.reference, _text(entities.get(j.entity_id, "")), j.currency, _day(j.entry_date, erp),
                             _text(j.memo), account, debit, credit, _text(ln.description), name])
            else:  # zoho
                rows.append([_day(j.entry_date, erp), j.reference, REFERENCE_PREFIX,
                             j.reference[len(REFERENCE_PREFIX):], _text(j.memo), "Both", j.currency, account,
                             _text(ln.description), name, debit, credit])
        out.append((j, rows))
    return out


def export_journal(session: Session, actor: Actor, erp: str, *, start: date, end: date,
                   entity_id: int | None = None, currency: str | None = None) -> list[ExportFile]:
    """Every journal entry dated in [start, end] (of one business entity, or all), in ``erp``'s import format.

    One file, except for Xero: at most 300 lines a file, a journal never split across files. ``currency``
    exports that currency's lines only; Xero and QuickBooks take one currency per export (see the module's
    docstring) and refuse a range in several without it. Raises :class:`UserError` — naming what to fix — when
    there is nothing in the range, when accounts are not mapped (or a Xero mapping has no tax rate), when an
    amount does not fit the format, when QuickBooks (or NetSuite, Zoho) would refuse an Accounts Receivable
    line without a customer. Audited as ``ledger.export``."""
    require(actor, "accounting:read")
    _erp(erp)
    if start is None or end is None:
        raise UserError("dates: give the first and the last day to export")
    if end < start:
        raise UserError(f"dates: the range ends ({end:%-d %b %Y}) before it starts ({start:%-d %b %Y})")
    code = (currency or "").strip().upper() or None
    if code is not None:
        try:
            currency_info(code)
        except MoneyError as exc:
            raise UserError(f"currency: {exc}") from None
    if entity_id is not None and session.get(BusinessEntity, entity_id) is None:
        raise NotFound(f"there is no business entity #{entity_id}")
    where = _range_label(start, end) + (f" in {code}" if code else "")
    journals = _journals(session, start=start, end=end, entity_id=entity_id, currency=code)
    if not journals:
        raise UserError(f"there are no journal entries from {where}: nothing to export")
    name = ERPS[erp]
    entities = _names(session, BusinessEntity, {j.entity_id for j in journals})
    # one organisation, one currency (see the module's docstring)
    if erp != "netsuite" and entity_id is None and len(entities) > 1:
        raise UserError(f"the entries from {where} belong to {len(entities)} business entities "
                        f"({', '.join(sorted(entities.values()))}); {name} keeps one organisation per company: "
                        f"export one entity at a time")
    if erp in ("xero", "quickbooks") and code is None:
        counts: dict[str, int] = defaultdict(int)
        for j in journals:
            counts[j.currency] += 1
        if len(counts) > 1:
            listed = ", ".join(f"{c} ({n} {'entry' if n == 1 else 'entries'})" for c, n in sorted(counts.items()))
            org = "organisation" if erp == "xero" else "company"
            raise UserError(f"{name} journals are in the {org}'s home currency and have no currency column, but the "
                            f"entries from {where} are in {listed}: export one currency at a time (choose the "
                            f"currency), each into the {name} {org} kept in it")
    accounts = chart(session)
    maps = mappings(session, erp)
    used = {ln.account_id for j in journals for ln in j.lines}
    missing = sorted((accounts.by_id[a] for a in used if a not in maps or not maps[a].erp_account),
                     key=lambda a: a.code)
    if missing:
        raise UserError(f"map these accounts to {name} accounts first (ERP account mapping): "
                        + ", ".join(f"{a.code} {a.name}" for a in missing))
    if erp == "xero":
        no_rate = sorted((accounts.by_id[a] for a in used if not maps[a].tax_rate), key=lambda a: a.code)
        if no_rate:
            raise UserError("give these accounts a Xero tax rate in the ERP account mapping (every Xero journal line "
                            "has one): " + ", ".join(f"{a.code} {a.name}" for a in no_rate))
    problems = []
    receivable = _receivables(accounts)
    for j in journals:
        if len(j.lines) < 2:
            problems.append(f"{j.reference} ({j.memo}): a journal needs at least two lines")
        if sum((ln.amount for ln in j.lines), Decimal(0)) != 0:
            problems.append(f"{j.reference} ({j.memo}): its {j.currency} lines do not balance")
        for n, ln in enumerate(j.lines, start=1):
            p = _amount_problem(erp, ln.amount, j.currency)
            if p:
                problems.append(f"{j.reference} ({j.memo}), line {n} ({accounts.label(ln.account_id)}): {p}")
            if erp != "xero" and ln.account_id in receivable and ln.customer_id is None:
                problems.append(f"{j.reference} ({j.memo}), line {n}: {name} needs a customer on every Accounts "
                                f"Receivable line, and this one has none; reverse it and post it again with the "
                                f"customer")
    if erp == "xero":
        for j in journals:
            if len(j.lines) > XERO_MAX_LINES:
                problems.append(f"{j.reference} ({j.memo}) has {len(j.lines)} lines; Xero imports at most "
                                f"{XERO_MAX_LINES} lines a file, so it cannot be imported whole")
    _raise(problems)
    customers = _names(session, Customer, {ln.customer_id for j in journals for ln in j.lines if ln.customer_id})
    rendered = _rows(erp, journals, maps, customers, entities)
    header = HEADERS[erp]
    parts: list[list[list[str]]] = [[]]
    for _, rows in rendered:
        if erp == "xero" and parts[-1] and len(parts[-1]) + len(rows) > XERO_MAX_LINES:
            parts.append([])
        parts[-1].extend(rows)
    base = f"{erp}-journal-{start.isoformat()}-{end.isoformat()}" + (f"-{code}" if code else "")
    if code is None and erp in ("xero", "quickbooks"):
        base += f"-{journals[0].currency}"
    if len(parts) == 1:
        files = [ExportFile(f"{base}.csv", _csv(header, parts[0]))]
    else:
        files = [ExportFile(f"{base}-{n}of{len(parts)}.csv", _csv(header, rows))
                 for n, rows in enumerate(parts, start=1)]
    audit.record(session, actor=actor.username, action="ledger.export", entity_type="ledger", entity_id="",
                 details={"erp": erp, "start": start, "end": end, "entity_id": entity_id, "currency": code,
                          "entries": len({j.entry_id for j in journals}), "journals": len(journals),
                          "lines": sum(len(j.lines) for j in journals), "files": len(files)})
    return files
