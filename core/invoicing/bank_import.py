"""Bank-statement import: read the bank's export, propose which open invoice each payment received settles,
record what the person confirms — the rest is left for them to match by hand.

Reading (the importers' rules: every bad cell is named by row and column; with any problem nothing is
recorded): a CSV or XLSX with a date, an amount (one signed column, or separate credit/debit columns), a
reference and/or description, optionally the payer's name and the currency. Money in is a positive amount;
money out (negative, or in the debit column) and zero lines are left out with a note.

Matching, line by line in file order (each line sees what earlier lines of the same statement settle):

1. **Duplicate** — a stored payment has the same date, amount, currency and reference (the same statement, or
   an overlapping one, imported before): skipped, so re-importing records nothing twice. Counted: a statement
   holding two identical lines of which one is stored has one duplicate and one new line.
2. **Invoice number in the reference** — the entity's prefix and number, case-insensitive, with or without the
   prefix's dash, with spaces, zero padding optional: ``INV-000012``, ``inv000012``, ``INV 12``.
   - one open invoice named, amount = its amount due → *matched*;
   - one open invoice named, amount differs → *partial* (less: partly pays it; more: pays it, the rest goes to the
     customer's wallet), with a note;
   - several open invoices of one customer named and the amount is exactly what they owe together → *matched*,
     split across them oldest due date first; not adding up → *unmatched*, for a person.
3. **No invoice number** — the customer's name or external id appears in the reference, description or payer
   column, and exactly one open invoice of theirs in the line's currency has exactly that amount due → *matched*.
4. Everything else → *unmatched*, with a note saying what was found; a person assigns it to a customer (and
   optionally invoices) or leaves it.

Recording (:func:`record_statement`) goes through :func:`core.invoicing.payments.record_payment` (method bank
transfer, no provider, the bank reference as the payment's reference), every line in one savepoint of the
caller's transaction: all or nothing. The matches are worked out again inside that transaction; if they no
longer are what the person confirmed (someone recorded a payment meanwhile), nothing is recorded and the
person checks the statement again.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.errors import UserError
from core.importers.columns import match_columns
from core.importers.files import ImportFileError, read_table
from core.importers.report import RowError
from core.invoicing import settlement
from core.invoicing.payments import record_payment
from core.models import BusinessEntity, Customer, Invoice, Payment, utcnow
from core.money import ZERO, MoneyError, currency, format_money, round_money
from core.pilot_reconciliation import parse_amount, parse_date

ALIASES = {
    "date": ("date", "booking_date", "transaction_date", "posting_date", "posted_date", "date_posted", "value_date",
             "entry_date", "completed_date", "txn_date", "trans_date", "booked"),
    "amount": ("amount", "transaction_amount", "amount_received", "net_amount", "value"),
    "credit": ("credit", "credits", "paid_in", "money_in", "credit_amount", "amount_in", "deposit", "deposits",
               "in"),
    "debit": ("debit", "debits", "paid_out", "money_out", "debit_amount", "amount_out", "withdrawal", "withdrawals",
              "out"),
    "reference": ("reference", "payment_reference", "ref", "bank_reference", "customer_reference",
                  "transaction_reference", "remittance_information", "remittance_info", "remittance"),
    "description": ("description", "details", "narrative", "memo", "transaction_description",
                    "transaction_details", "particulars", "purpose", "payment_details", "booking_text", "text"),
    "payer": ("payer", "payer_name", "name", "counterparty", "counterparty_name", "counter_party", "from",
              "remitter", "originator", "sender", "ordering_party", "debtor", "debtor_name", "other_party",
              "paid_by"),
    "currency": ("currency", "ccy", "currency_code", "cur"),
}
DATE_ORDERS = {"DMY": "day/month/year (31/10/2026)", "MDY": "month/day/year (10/31/2026)"}

MATCHED, PARTIAL, UNMATCHED, DUPLICATE = "matched", "partial", "unmatched", "duplicate"
STATUSES = (MATCHED, PARTIAL, UNMATCHED, DUPLICATE)
OPEN = ("approved", "partially_paid")
METHOD = "bank_transfer"
MAX_REFERENCE = 200  # Payment.reference

_SEP = r"[\s\-_/.#:]*"
_WORDS = re.compile(r"[^0-9a-z]+")
_SLASHED = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")


class BankFileError(ImportFileError):
    """The statement cannot be used; ``problems`` names every cell to fix. Nothing was recorded."""


@dataclass(frozen=True)
class StatementLine:
    """A payment received, as the bank reported it. ``row`` is the spreadsheet row (header = 1)."""

    row: int
    received_on: date
    amount: Decimal
    currency: str
    reference: str  # what the payment is stored with: the bank reference, else the description (≤ 200 chars)
    description: str = ""
    payer: str = ""

    @property
    def text(self) -> str:
        """Everything the bank said about the payment, searched for invoice numbers and customer names."""
        return " ".join(t for t in (self.reference, self.description, self.payer) if t)


@dataclass(frozen=True)
class IgnoredLine:
    row: int
    amount: Decimal | None
    why: str


@dataclass
class Statement:
    filename: str
    lines: list[StatementLine]  # money in, in file order
    ignored: list[IgnoredLine] = field(default_factory=list)  # money out, zero
    notes: list[str] = field(default_factory=list)


@dataclass
class Proposal:
    """What the import would do with one line. ``allocations`` maps invoice ids to amounts (oldest due first);
    for *unmatched* and *duplicate* lines it is empty and ``customer_id`` may be None."""

    line: StatementLine
    status: str
    customer_id: int | None = None
    customer: str = ""  # "Name (external id)"
    allocations: dict[int, Decimal] = field(default_factory=dict)
    invoices: list[str] = field(default_factory=list)  # the allocations' invoice numbers, same order
    note: str = ""

    @property
    def row(self) -> int:
        return self.line.row

    @property
    def to_wallet(self) -> Decimal:
        return self.line.amount - sum(self.allocations.values(), ZERO) if self.customer_id else ZERO

    @property
    def recordable(self) -> bool:
        return self.status in (MATCHED, PARTIAL)

    def key(self) -> tuple:
        return (self.status, self.customer_id, tuple(sorted(self.allocations.items())))


@dataclass(frozen=True)
class Assignment:
    """A person's match for a line: the customer who paid, and optionally which of their open invoices it pays
    (settled oldest due first; none chosen: their open invoices in that currency, oldest due first, as
    :func:`record_payment` does). Whatever is not allocated goes to the customer's wallet."""

    customer_id: int
    invoice_ids: tuple[int, ...] = ()


@dataclass
class ImportResult:
    filename: str
    payment_ids: list[int] = field(default_factory=list)
    matched: int = 0
    partial: int = 0
    assigned: int = 0
    duplicates: int = 0
    left: int = 0  # lines not recorded (unmatched and not assigned, or left out by the person)
    to_wallet: dict[str, Decimal] = field(default_factory=dict)

    @property
    def recorded(self) -> int:
        return len(self.payment_ids)

    def summary(self) -> str:
        n = self.recorded
        text = f"{n} payment{'s' if n != 1 else ''} recorded"
        bits = [f"{self.matched} matched", f"{self.partial} partial"] + (
            [f"{self.assigned} matched by hand"] if self.assigned else [])
        text += f" ({', '.join(bits)})"
        if self.duplicates:
            text += f"; {self.duplicates} already imported, skipped"
        if self.left:
            text += f"; {self.left} line{'s' if self.left != 1 else ''} left to match"
        if any(self.to_wallet.values()):
            text += "; to wallets: " + ", ".join(format_money(v, k) for k, v in sorted(self.to_wallet.items()) if v)
        return text


# ---- reading ----------------------------------------------------------------------------------------------


def _parse_when(text: str, date_order: str | None) -> date:
    try:
        return parse_date(text)
    except ValueError as exc:
        m = _SLASHED.match(text.strip())
        if not (m and date_order in DATE_ORDERS):
            hint = " (or choose the statement's date order)" if m and "ambiguous" in str(exc) else ""
            raise ValueError(f"{exc}{hint}") from None
        a, b, year = (int(x) for x in m.groups())
        day, month = (a, b) if date_order == "DMY" else (b, a)
        try:
            return date(year, month, day)
        except ValueError:
            raise ValueError(f"'{text.strip()}' is not a date ({DATE_ORDERS[date_order].split(' (')[0]})") from None


def _clean(text: str) -> str:
    return " ".join(str(text or "").split())


def read_statement(data: bytes, filename: str, *, currency_code: str | None = None,
                   date_order: str | None = None) -> Statement:
    """The payments received in a bank statement. ``currency_code`` is the account's currency, used for lines
    without a currency (required when the file has no currency column); ``date_order`` ("DMY" or "MDY") reads
    slashed dates such as 03/04/2026, refused as ambiguous otherwise. Raises :class:`BankFileError` listing
    every problem."""
    try:
        frame = read_table(data, filename)
    except ImportFileError as exc:
        raise BankFileError(str(exc), exc.problems) from None
    notes = list(frame.attrs.get("notes", []))
    match = match_columns(list(frame.columns), ALIASES, required=("date",))
    problems = list(match.errors)
    col = match.fields
    if "amount" not in col and "credit" not in col:
        problems.append(RowError(1, "amount", "", "the file has no 'amount' column (also accepted: "
                                 "transaction amount, or a 'credit' / 'paid in' column with money in); add it"))
    if "reference" not in col and "description" not in col:
        problems.append(RowError(1, "reference", "", "the file has no 'reference' column (also accepted: "
                                 "description, details, narrative, memo); add it"))
    default_code = ""
    if currency_code:
        try:
            default_code = currency(currency_code).code
        except (KeyError, ValueError, MoneyError):
            problems.append(RowError(0, "", currency_code, f"'{currency_code}' is not a currency code"))
    elif "currency" not in col:
        problems.append(RowError(1, "currency", "", "the file has no currency column: say which currency the "
                                 "account is in"))
    if problems:
        raise BankFileError("the file cannot be read: " + "; ".join(p.message for p in problems[:3]), problems)
    notes.extend(match.notes)
    if match.unused:
        notes.append("not used: " + ", ".join(f"'{c}'" for c in match.unused))

    lines: list[StatementLine] = []
    ignored: list[IgnoredLine] = []
    today = utcnow().date()
    for row, rec in zip(frame.index, frame.to_dict("records")):
        row = int(row)
        cell = {f: str(rec[c]).strip() for f, c in col.items()}
        before = len(problems)

        def bad(fld: str, message: str) -> None:
            problems.append(RowError(row, col.get(fld, fld), cell.get(fld, ""), message))  # noqa: B023

        when = None
        if not cell["date"]:
            bad("date", "date is required")
        else:
            try:
                when = _parse_when(cell["date"], date_order)
            except ValueError as exc:
                bad("date", str(exc))
        amount, money_out = None, False
        amount_field = "amount" if cell.get("amount") else "credit" if cell.get("credit") else None
        if amount_field:
            try:
                amount = parse_amount(cell[amount_field])
            except ValueError as exc:
                bad(amount_field, str(exc))
        elif cell.get("debit"):
            try:
                amount, money_out = -abs(parse_amount(cell["debit"])), True
            except ValueError as exc:
                bad("debit", str(exc))
        else:
            bad("amount" if "amount" in col else "credit", "amount is required")
        code = cell.get("currency", "").upper() or default_code
        received = amount is not None and amount > 0  # money out is left out: its currency and cents do not matter
        if received and cell.get("currency"):
            try:
                code = currency(code).code
            except (KeyError, ValueError, MoneyError):
                bad("currency", f"'{cell['currency']}' is not a currency code (for example USD, EUR, GBP)")
                code = ""
        elif received and not code:
            bad("currency", "currency is required (or choose the account's currency)")
        if received and code and amount != round_money(amount, code):
            bad(amount_field or "debit", f"{cell[amount_field or 'debit']} has more decimals than {code} allows "
                                         f"({currency(code).minor_units})")
        if when is not None and when > today and not money_out and (amount is None or amount > 0):
            bad("date", f"{when:%-d %b %Y} is in the future")
        if len(problems) != before:
            continue
        if amount < 0:
            ignored.append(IgnoredLine(row, amount, "money out"))
            continue
        if amount == 0:
            ignored.append(IgnoredLine(row, amount, "nothing received (zero)"))
            continue
        ref = _clean(cell.get("reference", ""))
        desc = _clean(cell.get("description", ""))
        lines.append(StatementLine(row, when, amount, code, (ref or desc)[:MAX_REFERENCE], desc if ref else "",
                                   _clean(cell.get("payer", ""))))
    if problems:
        n = len(problems)
        raise BankFileError(f"{n} problem{'s' if n != 1 else ''} in the file; nothing was recorded", problems)
    out = [i for i in ignored if i.why == "money out"]
    if out:
        notes.append(f"{len(out)} line{'s' if len(out) != 1 else ''} of money out left out "
                     f"(row{'s' if len(out) != 1 else ''} {', '.join(str(i.row) for i in out[:20])}"
                     f"{'…' if len(out) > 20 else ''}): only payments received are imported")
    zero = [i for i in ignored if i.why != "money out"]
    if zero:
        notes.append(f"{len(zero)} line{'s' if len(zero) != 1 else ''} of zero left out "
                     f"(row{'s' if len(zero) != 1 else ''} {', '.join(str(i.row) for i in zero[:20])})")
    if not lines:
        if ignored:
            notes.append("the statement holds no payment received")
        else:
            raise BankFileError("the file has no statement lines under its header")
    return Statement(filename, lines, ignored, notes)


# ---- matching ---------------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return _WORDS.sub(" ", str(text).casefold()).strip()


def _number_patterns(prefixes: Iterable[str]) -> list[tuple[str, re.Pattern]]:
    """(prefix, pattern finding that prefix's invoice numbers in free text): INV-000012, inv000012, INV 12."""
    out = []
    for prefix in sorted(set(prefixes), key=len, reverse=True):
        chunks = re.findall(r"[0-9A-Za-z]+", prefix)
        if chunks:
            head = _SEP.join(re.escape(c) for c in chunks)
            pat = re.compile(rf"(?<![0-9A-Za-z]){head}{_SEP}(\d+)(?!\d)", re.IGNORECASE)
        else:  # no prefix: only a full, zero-padded number stands on its own
            pat = re.compile(r"(?<![0-9A-Za-z])(\d{6,})(?![0-9])")
        out.append((prefix, pat))
    return out


def invoice_numbers_in(text: str, patterns: list[tuple[str, re.Pattern]]) -> list[str]:
    """The invoice numbers (as stored: prefix + 6 digits) ``text`` names, in order of appearance."""
    found: list[tuple[int, str]] = []
    for prefix, pat in patterns:
        for m in pat.finditer(text):
            n = int(m.group(1))
            if n > 0:
                found.append((m.start(), f"{prefix}{n:06d}"))
    return list(dict.fromkeys(num for _pos, num in sorted(found)))


def _names_customer(c: Customer, text: str, payer: str) -> bool:
    """The customer's external id or name appears in the line (as whole words), or the payer column holds
    a leading part of their name."""
    words = f" {_norm(text)} "
    ext, name = _norm(c.external_id), _norm(c.name)
    if ext and len(ext.replace(" ", "")) >= 2 and f" {ext} " in words:
        return True
    if name and len(name.replace(" ", "")) >= 3 and f" {name} " in words:
        return True
    p = _norm(payer)
    return bool(p) and len(p.replace(" ", "")) >= 4 and f" {name} ".startswith(f" {p} ")


class _Matcher:
    """The database facts every line is matched against, loaded once; ``due`` follows what earlier lines of the
    statement would pay."""

    def __init__(self, session: Session, lines: list[StatementLine]):
        self.session = session
        self.customers = {c.id: c for c in session.exec(select(Customer))}
        self.patterns = _number_patterns(session.exec(select(BusinessEntity.invoice_prefix)).all())
        self.named = {ln.row: invoice_numbers_in(ln.text, self.patterns) for ln in lines}
        numbers = sorted({n for ns in self.named.values() for n in ns})
        self.by_number: dict[str, list[Invoice]] = defaultdict(list)
        for i in range(0, len(numbers), 500):
            for inv in session.exec(select(Invoice).where(Invoice.number.in_(numbers[i:i + 500]))
                                    .order_by(Invoice.id)):
                self.by_number[inv.number].append(inv)
        codes = sorted({ln.currency for ln in lines})
        self.open = list(session.exec(select(Invoice).where(Invoice.status.in_(OPEN), Invoice.currency.in_(codes))
                                      .order_by(Invoice.due_date, Invoice.id))) if codes else []
        self.invoices = {inv.id: inv for inv in self.open}
        for invs in self.by_number.values():
            for inv in invs:
                self.invoices.setdefault(inv.id, inv)
        self.due = {i: settlement.due(inv) if inv.status in OPEN else ZERO for i, inv in self.invoices.items()}
        self.settled_by: dict[int, int] = {}  # invoice id -> row of this statement that settles it
        self.stored = _stored(session, lines)

    def who(self, customer_id: int) -> str:
        c = self.customers.get(customer_id)
        return f"{c.name} ({c.external_id})" if c else f"customer #{customer_id}"

    def take(self, line: StatementLine, status: str, invs: list[Invoice], note: str) -> Proposal:
        allocations, left = {}, line.amount
        for inv in sorted(invs, key=lambda i: (i.due_date, i.id)):
            part = min(self.due[inv.id], left)
            if part > 0:
                allocations[inv.id] = part
                left -= part
        for inv_id, part in allocations.items():
            self.due[inv_id] -= part
            if self.due[inv_id] <= 0:
                self.settled_by[inv_id] = line.row
        cust = invs[0].customer_id
        return Proposal(line, status, cust, self.who(cust), allocations,
                        [settlement.label(self.invoices[i]) for i in allocations], note)

    def propose(self, line: StatementLine) -> Proposal:
        code = line.currency
        money = lambda v: format_money(v, code)  # noqa: E731
        key = (line.received_on, line.amount, code, line.reference)
        if self.stored.get(key, 0) > 0:
            self.stored[key] -= 1
            return Proposal(line, DUPLICATE, note=f"already recorded: a payment of {money(line.amount)} received "
                                                  f"{line.received_on:%-d %b %Y} with this reference")
        named: list[Invoice] = []
        for num in self.named[line.row]:
            invs = self.by_number.get(num, [])
            if len(invs) > 1:  # the same number at two sellers: the currency may tell them apart
                invs = [i for i in invs if i.currency == code] or invs
            named.extend(invs)
        if named:
            return self._by_number(line, named, money)
        return self._by_customer(line, money)

    def _by_number(self, line: StatementLine, named: list[Invoice], money) -> Proposal:  # noqa: ANN001
        code, why = line.currency, []
        usable = []
        for inv in named:
            label = settlement.label(inv)
            if inv.currency != code:
                why.append(f"{label} is in {inv.currency}, the payment in {code}")
            elif inv.status not in OPEN:
                why.append(f"{label} is {inv.status.replace('_', ' ')}")
            elif self.due[inv.id] <= 0:
                row = self.settled_by.get(inv.id)
                why.append(f"{label} is paid by row {row} of this statement" if row else f"nothing is due on {label}")
            else:
                usable.append(inv)
        note_why = ("; ".join(why) + ". ") if why else ""
        if not usable:
            return Proposal(line, UNMATCHED, note=f"{note_why}Match it by hand.")
        owners = {inv.customer_id for inv in usable}
        if len(owners) > 1:
            return Proposal(line, UNMATCHED, note=f"{note_why}The reference names invoices of "
                                                  f"{len(owners)} customers ({', '.join(self.who(c) for c in owners)}):"
                                                  " one payment is for one customer — match it by hand.")
        if len(usable) == 1:
            inv = usable[0]
            due, label = self.due[inv.id], settlement.label(inv)
            if line.amount == due:
                return self.take(line, MATCHED, usable, note_why.strip())
            if line.amount < due:
                return self.take(line, PARTIAL, usable, f"{note_why}Pays {money(line.amount)} of the {money(due)} "
                                                        f"due on {label}; {money(due - line.amount)} stays due.")
            return self.take(line, PARTIAL, usable, f"{note_why}{money(line.amount - due)} more than the "
                                                    f"{money(due)} due on {label}: the rest goes to the "
                                                    "customer's wallet.")
        together = sum((self.due[i.id] for i in usable), ZERO)
        labels = ", ".join(settlement.label(i) for i in usable)
        if line.amount == together:
            return self.take(line, MATCHED, usable, f"{note_why}One payment for {len(usable)} invoices "
                                                    f"({labels}), oldest due first.")
        return Proposal(line, UNMATCHED, note=f"{note_why}The reference names {labels} ({money(together)} due "
                                              f"together, {self.who(usable[0].customer_id)}) but "
                                              f"{money(line.amount)} was paid: match it by hand.")

    def _by_customer(self, line: StatementLine, money) -> Proposal:  # noqa: ANN001
        # only customers with something open in this currency can be matched: check their names alone
        mine = [inv for inv in self.open if inv.currency == line.currency and self.due[inv.id] > 0]
        named = {cid for cid in {inv.customer_id for inv in mine}
                 if _names_customer(self.customers[cid], line.text, line.payer)}
        exact = [inv for inv in mine if self.due[inv.id] == line.amount]
        exact_named = [inv for inv in exact if inv.customer_id in named]
        labels = lambda invs: ", ".join(settlement.label(i) for i in invs[:5]) + ("…" if len(invs) > 5 else "")  # noqa: E731
        if len(exact_named) == 1:
            return self.take(line, MATCHED, exact_named, f"No invoice number: the only open invoice of "
                                                         f"{money(line.amount)} of a customer named in the line.")
        if exact_named:
            return Proposal(line, UNMATCHED, note=f"No invoice number; {len(exact_named)} open invoices of "
                                                  f"{money(line.amount)} ({labels(exact_named)}) of customers named "
                                                  "in the line: match it by hand.")
        if named:
            who = sorted(self.who(c) for c in named)
            names = ", ".join(who[:3]) + ("…" if len(who) > 3 else "")
            return Proposal(line, UNMATCHED, note=f"No invoice number; from {names}? No open {line.currency} "
                                                  f"invoice of exactly {money(line.amount)}: match it by hand.")
        if exact:
            n = len(exact)
            return Proposal(line, UNMATCHED, note=f"No invoice number and no customer named in it; {n} open "
                                                  f"invoice{'s' if n != 1 else ''} of exactly {money(line.amount)} "
                                                  f"({labels(exact)}): match it by hand.")
        return Proposal(line, UNMATCHED, note="No invoice number, and no open invoice of exactly "
                                              f"{money(line.amount)} for a customer named in it: match it by hand.")


def _stored(session: Session, lines: list[StatementLine]) -> Counter:
    """How many succeeded payments are stored per (received on, amount, currency, reference) of the lines."""
    found: Counter = Counter()
    refs = sorted({ln.reference for ln in lines})
    wanted = {(ln.received_on, ln.amount, ln.currency, ln.reference) for ln in lines}
    for i in range(0, len(refs), 500):
        q = select(Payment.received_on, Payment.amount, Payment.currency, Payment.reference).where(
            Payment.reference.in_(refs[i:i + 500]), Payment.status == "succeeded")
        for when, amount, code, ref in session.exec(q):
            key = (when, amount, code, ref)
            if key in wanted:
                found[key] += 1
    return found


def _propose(session: Session, statement: Statement) -> list[Proposal]:
    m = _Matcher(session, statement.lines)
    return [m.propose(ln) for ln in statement.lines]


def propose_matches(session: Session, actor: Actor, statement: Statement) -> list[Proposal]:
    """What importing the statement would do, line by line. Writes nothing."""
    require(actor, "invoices:read")
    return _propose(session, statement)


# ---- recording --------------------------------------------------------------------------------------------


def record_statement(session: Session, actor: Actor, statement: Statement, confirmed: list[Proposal], *,
                     accept: Iterable[int] | None = None,
                     assignments: Mapping[int, Assignment] | None = None) -> ImportResult:
    """Record the statement's payments: the *matched* and *partial* proposals in ``confirmed`` whose rows are in
    ``accept`` (``None``: all of them), and the lines a person matched by hand (``assignments``: row ->
    :class:`Assignment`; it overrides the proposal of that row). Duplicates are never recorded.

    The matches are worked out again here; if an accepted one is no longer what the person confirmed,
    nothing is recorded. All or nothing: any problem (named by row) and no payment is recorded."""
    require(actor, "invoices:write")
    assignments = dict(assignments or {})
    by_row = {p.row: p for p in confirmed}
    accept_rows = {p.row for p in confirmed if p.recordable} if accept is None else set(accept)
    accept_rows -= set(assignments)
    problems = []
    for row in sorted(accept_rows):
        if row not in by_row or not by_row[row].recordable:
            problems.append(f"row {row}: there is no match to record on this line")
    unknown = sorted(set(assignments) - {ln.row for ln in statement.lines})
    problems.extend(f"row {r}: there is no payment received on this row" for r in unknown)
    if not accept_rows and not assignments:
        problems.append("there is no payment to record: confirm a match or match a line by hand")
    if problems:
        raise UserError("; ".join(problems) + "; nothing was recorded")
    # lock what the proposals touch, then match again with the amounts as they are now
    settlement.lock_invoices(session, sorted({i for p in confirmed for i in p.allocations}
                                             | {i for a in assignments.values() for i in a.invoice_ids}))
    fresh = {p.row: p for p in _propose(session, statement)}
    changed = [r for r in sorted(accept_rows) if fresh[r].key() != by_row[r].key()]
    changed += [r for r in sorted(assignments) if fresh[r].status == DUPLICATE]
    if changed:
        raise UserError(f"the open invoices or payments changed since the statement was checked (row"
                        f"{'s' if len(changed) != 1 else ''} {', '.join(map(str, changed))}); nothing was recorded "
                        "— check the statement again")

    result = ImportResult(statement.filename, duplicates=sum(1 for p in fresh.values() if p.status == DUPLICATE))
    done: list[dict] = []
    wallet: dict[str, Decimal] = defaultdict(lambda: ZERO)
    with session.begin_nested():  # all or nothing, even when the caller goes on after an error
        # the confirmed matches first (they were worked out from the invoices as they are), then the lines
        # matched by hand, settled from what is due after them
        todo = [(ln, False) for ln in statement.lines if ln.row in accept_rows] + \
               [(ln, True) for ln in statement.lines if ln.row in assignments]
        for line, by_hand in todo:
            prop = fresh[line.row]
            if by_hand:
                how = "by hand"
                a = assignments[line.row]
                allocations = _assigned(session, line, a) if a.invoice_ids else None
                customer_id = a.customer_id
            else:
                how, customer_id, allocations = prop.status, prop.customer_id, dict(prop.allocations)
            try:
                pay = record_payment(session, actor, customer_id=customer_id, currency_code=line.currency,
                                     amount=line.amount, method=METHOD, received_on=line.received_on,
                                     reference=line.reference, allocations=allocations, provider="")
            except UserError as exc:
                raise UserError(f"row {line.row}: {exc}; nothing was recorded") from None
            result.payment_ids.append(pay.id)
            if how == "by hand":
                result.assigned += 1
            elif how == MATCHED:
                result.matched += 1
            else:
                result.partial += 1
            wallet[line.currency] += pay.unallocated
            done.append({"row": line.row, "payment": pay.id, "how": how, "customer_id": customer_id,
                         "amount": line.amount, "currency": line.currency, "reference": line.reference,
                         "to_wallet": pay.unallocated})
        result.left = len(statement.lines) - result.duplicates - result.recorded
        result.to_wallet = {k: v for k, v in wallet.items() if v}
        audit.record(session, actor=actor.username, action="payment.bank_import", entity_type="bank_statement",
                     entity_id=statement.filename[:60],
                     details={"filename": statement.filename, "lines": len(statement.lines),
                              "recorded": result.recorded, "matched": result.matched, "partial": result.partial,
                              "by_hand": result.assigned, "left_unmatched": result.left,
                              "duplicates": [p.row for p in fresh.values() if p.status == DUPLICATE],
                              "ignored": [{"row": i.row, "why": i.why} for i in statement.ignored],
                              "payments": done})
        session.flush()
    return result


def _assigned(session: Session, line: StatementLine, a: Assignment) -> dict[int, Decimal]:
    """The chosen invoices settled oldest due first with the line's amount, from what is due on them now (after
    the lines recorded before it); what is left goes to the wallet."""
    problems, invs = [], []
    for inv_id in dict.fromkeys(a.invoice_ids):
        inv = session.get(Invoice, inv_id)
        if inv is None:
            problems.append(f"there is no invoice #{inv_id}")
            continue
        label = settlement.label(inv)
        if inv.customer_id != a.customer_id:
            problems.append(f"invoice {label} belongs to another customer")
        elif inv.currency != line.currency:
            problems.append(f"invoice {label} is in {inv.currency}, the payment in {line.currency}")
        elif inv.status not in OPEN or settlement.due(inv) <= 0:
            problems.append(f"nothing is due on invoice {label} ({inv.status.replace('_', ' ')})")
        else:
            invs.append(inv)
    if problems:
        raise UserError(f"row {line.row}: {'; '.join(problems)}; nothing was recorded")
    plan, left = {}, line.amount
    for inv in sorted(invs, key=lambda i: (i.due_date, i.id)):
        part = min(settlement.due(inv), left)
        if part > 0:
            plan[inv.id] = part
            left -= part
    return plan
