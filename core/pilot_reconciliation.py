"""Pilot reconciliation: the prospect's own invoices for a period, side by side with the ones we generated.

A pilot proves Counting House bills like the prospect's current system — or shows where that system was wrong.
The prospect exports its invoices for the period (CSV/XLSX, one row per invoice line: customer, invoice date,
line, amount; optional invoice number and currency) and we compare them with our invoices of the same run.

How the comparison works (decided here, shown on the page):

- **Per customer.** Their rows and our invoices are compared customer by customer — the totals and then the
  lines — because the two systems may split a customer's charges over a different number of invoices. Their
  ``customer`` cell may hold our external id or the customer's name (both compared case-insensitively).
- **Our side** is every invoice of the chosen run month (invoices whose billing period starts in it), drafts
  included, void ones left out.
- **Lines** are paired in this order: same description (ignoring case, spacing and punctuation) and same amount
  → *matched*; same description, different amount → *differs*; same amount, different wording → *matched*
  (the description difference is noted); similar descriptions (≥ 60 % alike) → *differs*; the rest are
  *only in Counting House* or *only in theirs*. Lines of zero on one side only are listed but never count as
  a difference.
- **Amounts** are compared to the cent of the currency (``round_money``), within an optional tolerance.
- A customer **matches** when its totals agree and no line differs. The match rate is matched customers over
  every customer on either side.

Reading the file follows the importers' rules: every problem names the row and column, and with any problem
no comparison is made. Nothing is stored unless the user saves the result (:func:`save_run`): the summary and one
row per invoice compared go to the pilot, where the success criterion "all sample invoices match" reads them.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from difflib import SequenceMatcher
from io import BytesIO

from sqlmodel import Session, select

from core.auth import Actor, require
from core.errors import UserError
from core.billing.periods import add_months
from core.importers.columns import match_columns
from core.importers.files import ImportFileError, read_table
from core.importers.report import RowError
from core.models import Customer, Invoice, InvoiceLine
from core.money import ZERO, MoneyError, currency, round_money, to_decimal

ALIASES = {
    "customer": ("customer", "customer_id", "customer_external_id", "external_id", "customer_name", "client",
                 "account", "account_name"),
    "invoice_date": ("invoice_date", "date", "issue_date", "invoice date", "created"),
    "description": ("description", "line", "line_description", "item", "product", "line_item"),
    "amount": ("amount", "line_amount", "total", "line_total", "net_amount"),
    "invoice_number": ("invoice_number", "invoice", "number", "invoice_id", "invoice_no"),
    "currency": ("currency", "currency_code"),
}
REQUIRED = ("customer", "invoice_date", "description", "amount")
SIMILAR = 0.6  # descriptions at least this alike (difflib ratio) are paired as the same line, amounts differing

MATCHED, DIFFERS, ONLY_OURS, ONLY_THEIRS = "matched", "differs", "only in Counting House", "only in theirs"
_WORDS = re.compile(r"[^0-9a-z]+")
_SYMBOLS = re.compile(r"^[£€$¥₹]|[£€$¥₹]$")
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                       "dec"), start=1)}
_TEXT_DATE = re.compile(r"^(\d{1,2})\s+([a-z]{3})[a-z]*\.?,?\s+(\d{4})$|^([a-z]{3})[a-z]*\.?\s+(\d{1,2}),?\s+(\d{4})$")


class ReconciliationFileError(ImportFileError):
    """The prospect's file cannot be compared; ``problems`` names every cell to fix."""


@dataclass(frozen=True)
class TheirLine:
    row: int  # spreadsheet row (header = 1)
    customer: str  # as written in their file
    invoice_date: date
    description: str
    amount: Decimal
    invoice_number: str = ""
    currency: str = ""


@dataclass
class LineMatch:
    status: str
    ours: str = ""  # our description
    theirs: str = ""
    our_amount: Decimal | None = None
    their_amount: Decimal | None = None
    their_row: int | None = None
    invoice: str = ""  # our invoice number (or "Draft #id")
    note: str = ""

    @property
    def difference(self) -> Decimal:
        return (self.our_amount or ZERO) - (self.their_amount or ZERO)


@dataclass
class CustomerMatch:
    label: str  # the customer's name (or their file's text when we do not know the customer)
    external_id: str  # "" when the customer is not in Counting House
    currency: str
    our_total: Decimal
    their_total: Decimal
    status: str
    lines: list[LineMatch] = field(default_factory=list)
    our_invoices: list[str] = field(default_factory=list)
    their_invoices: list[str] = field(default_factory=list)
    note: str = ""
    customer_id: int | None = None
    invoice_refs: list[tuple[int, str, Decimal]] = field(default_factory=list)  # our (id, label, total) compared

    @property
    def difference(self) -> Decimal:
        return self.our_total - self.their_total


@dataclass
class Reconciliation:
    run_start: date  # first day of the run month
    tolerance: Decimal
    customers: list[CustomerMatch]
    their_dates: tuple[date, date] | None

    def count(self, status: str) -> int:
        return sum(1 for c in self.customers if c.status == status)

    @property
    def match_rate(self) -> Decimal:
        """Matched customers / all customers on either side, as a percentage (0 when there is nothing)."""
        if not self.customers:
            return ZERO
        return (Decimal(self.count(MATCHED)) * 100 / len(self.customers)).quantize(Decimal("0.1"))

    @property
    def lines(self) -> list[tuple[CustomerMatch, LineMatch]]:
        return [(c, ln) for c in self.customers for ln in c.lines]


# ---- reading their file -------------------------------------------------------------------------------------


def parse_date(text: str) -> date:
    """2026-10-31, 2026-10-31 00:00:00, 31 Oct 2026, Oct 31, 2026. Slashed dates are refused: 03/04/2026 is
    3 April in London and 4 March in New York."""
    s = text.strip()
    try:
        return datetime.fromisoformat(s).date() if len(s) > 10 else date.fromisoformat(s)
    except ValueError:
        pass
    if m := _TEXT_DATE.match(s.casefold()):
        day, mon, year = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(5), m.group(4), m.group(6))
        if mon in _MONTHS:
            try:
                return date(int(year), _MONTHS[mon], int(day))
            except ValueError:
                pass
    if "/" in s or "." in s:
        raise ValueError(f"'{s}' is ambiguous (day/month or month/day?); write dates as YYYY-MM-DD, "
                         "for example 2026-10-31")
    raise ValueError(f"'{s}' is not a date; write it as YYYY-MM-DD, for example 2026-10-31")


def parse_amount(text: str) -> Decimal:
    """1,500.25 · -20 · (20.00) (an accountant's negative) · $1,500 · 1500 €."""
    s = _SYMBOLS.sub("", text.strip()).strip()
    negative = s.startswith("(") and s.endswith(")")
    if negative:
        s = s[1:-1].strip()
    try:
        d = to_decimal(s, field="amount")
    except MoneyError:
        raise ValueError(f"'{text.strip()}' is not an amount; write it like 1500.25 or -20") from None
    return -d if negative else d


def read_their_invoices(data: bytes, filename: str) -> tuple[list[TheirLine], list[str]]:
    """Their lines and notes for the user; raises :class:`ReconciliationFileError` listing every problem."""
    try:
        frame = read_table(data, filename)
    except ImportFileError as exc:
        raise ReconciliationFileError(str(exc), exc.problems) from None
    notes = list(frame.attrs.get("notes", []))
    match = match_columns(list(frame.columns), ALIASES, required=REQUIRED)
    if match.errors:
        raise ReconciliationFileError("the file is missing columns: " + "; ".join(e.message for e in match.errors),
                                      match.errors)
    notes.extend(match.notes)
    if match.unused:
        notes.append("not used: " + ", ".join(f"'{c}'" for c in match.unused))
    col = match.fields
    problems: list[RowError] = []
    lines: list[TheirLine] = []
    for row, rec in zip(frame.index, frame.to_dict("records")):
        cell = {f: str(rec[c]).strip() for f, c in col.items()}
        before = len(problems)
        for fld in REQUIRED:
            if not cell[fld]:
                problems.append(RowError(int(row), col[fld], "", f"{fld.replace('_', ' ')} is required"))
        when = amount = None
        if cell["invoice_date"]:
            try:
                when = parse_date(cell["invoice_date"])
            except ValueError as exc:
                problems.append(RowError(int(row), col["invoice_date"], cell["invoice_date"], str(exc)))
        if cell["amount"]:
            try:
                amount = parse_amount(cell["amount"])
            except ValueError as exc:
                problems.append(RowError(int(row), col["amount"], cell["amount"], str(exc)))
        code = cell.get("currency", "").upper()
        if code:
            try:
                currency(code)
            except (KeyError, ValueError, MoneyError):
                problems.append(RowError(int(row), col["currency"], cell["currency"],
                                         f"'{cell['currency']}' is not a currency code (for example USD, EUR, GBP)"))
        if len(problems) == before:
            lines.append(TheirLine(int(row), cell["customer"], when, cell["description"], amount,
                                   cell.get("invoice_number", ""), code))
    if problems:
        raise ReconciliationFileError(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in the file; "
                                      "nothing was compared", problems)
    if not lines:
        raise ReconciliationFileError("the file has no invoice lines under its header")
    return lines, notes


# ---- comparing --------------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return _WORDS.sub(" ", text.casefold()).strip()


def _same(a: Decimal, b: Decimal, tolerance: Decimal) -> bool:
    return abs(a - b) <= tolerance


def _pair_lines(ours: list[tuple[str, str, Decimal]], theirs: list[TheirLine], code: str,
                tolerance: Decimal) -> list[LineMatch]:
    """``ours``: (invoice label, description, amount rounded to the currency)."""
    out: list[LineMatch] = []
    left_o = list(range(len(ours)))
    left_t = list(range(len(theirs)))
    t_amount = [round_money(t.amount, code) for t in theirs]

    def take(pred, status: str, note=lambda _o, _t: "") -> None:  # noqa: ANN001
        for i in list(left_o):
            for j in left_t:
                if pred(i, j):
                    inv, desc, amount = ours[i]
                    out.append(LineMatch(status, desc, theirs[j].description, amount, t_amount[j], theirs[j].row,
                                         inv, note(i, j)))
                    left_o.remove(i)
                    left_t.remove(j)
                    break

    same_text = lambda i, j: _norm(ours[i][1]) == _norm(theirs[j].description)  # noqa: E731
    same_money = lambda i, j: _same(ours[i][2], t_amount[j], tolerance)  # noqa: E731
    take(lambda i, j: same_text(i, j) and same_money(i, j), MATCHED)
    take(same_text, DIFFERS, lambda i, j: "the amounts differ")
    take(lambda i, j: same_money(i, j) and ours[i][2] != 0, MATCHED,
         lambda i, j: "same amount, described differently")
    # similar wording: best pairs first
    scored = sorted(((SequenceMatcher(None, _norm(ours[i][1]), _norm(theirs[j].description)).ratio(), i, j)
                     for i in left_o for j in left_t), reverse=True)
    for ratio, i, j in scored:
        if ratio < SIMILAR:
            break
        if i in left_o and j in left_t:
            inv, desc, amount = ours[i]
            out.append(LineMatch(DIFFERS, desc, theirs[j].description, amount, t_amount[j], theirs[j].row, inv,
                                 f"descriptions {int(ratio * 100)}% alike; the amounts differ"))
            left_o.remove(i)
            left_t.remove(j)
    for i in left_o:
        inv, desc, amount = ours[i]
        out.append(LineMatch(ONLY_OURS, desc, "", amount, None, None, inv,
                             "zero — not a difference" if amount == 0 else "not on their invoices"))
    for j in left_t:
        out.append(LineMatch(ONLY_THEIRS, "", theirs[j].description, None, t_amount[j], theirs[j].row, "",
                             "zero — not a difference" if t_amount[j] == 0 else "not on our invoices"))
    return out


def reconcile(session: Session, actor: Actor, theirs: list[TheirLine], *, run_month: date,
              tolerance: Decimal | str = "0") -> Reconciliation:
    """Compare their lines with our invoices of the run for ``run_month`` (any day of that month)."""
    require(actor, "invoices:read")
    tol = to_decimal(tolerance, field="tolerance")
    if tol < 0:
        raise MoneyError("tolerance: must be zero or more")
    start = run_month.replace(day=1)
    invoices = session.exec(select(Invoice).where(Invoice.period_start >= start,
                                                  Invoice.period_start < add_months(start, 1),
                                                  Invoice.status != "void").order_by(Invoice.id)).all()
    lines_by_invoice: dict[int, list[InvoiceLine]] = defaultdict(list)
    if invoices:
        for ln in session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id.in_([i.id for i in invoices]))
                               .order_by(InvoiceLine.invoice_id, InvoiceLine.sort_order, InvoiceLine.id)):
            lines_by_invoice[ln.invoice_id].append(ln)
    customers = {c.id: c for c in session.exec(select(Customer))}
    by_external = {c.external_id.casefold(): c for c in customers.values()}
    by_name: dict[str, list[Customer]] = defaultdict(list)
    for c in customers.values():
        by_name[c.name.casefold().strip()].append(c)

    ours: dict[int, list[Invoice]] = defaultdict(list)
    for inv in invoices:
        ours[inv.customer_id].append(inv)
    their_by: dict[object, list[TheirLine]] = defaultdict(list)  # customer id, or their text when unknown
    unknown_note: dict[str, str] = {}
    for t in theirs:
        key = t.customer.casefold().strip()
        hit = by_external.get(key)
        if hit is None and len(by_name.get(key, [])) == 1:
            hit = by_name[key][0]
        if hit is None:
            unknown_note[t.customer] = ("several customers have this name; use the external id"
                                        if len(by_name.get(key, [])) > 1 else "no customer with this id or name "
                                                                             "in Counting House")
        their_by[hit.id if hit else t.customer].append(t)

    results: list[CustomerMatch] = []
    for key in list(dict.fromkeys([*ours, *their_by])):
        cust = customers.get(key) if isinstance(key, int) else None
        our_invs = ours.get(key, []) if cust else []
        their_lines = their_by.get(key, [])
        codes = {i.currency for i in our_invs} | {t.currency for t in their_lines if t.currency}
        code = (our_invs[0].currency if our_invs else next((t.currency for t in their_lines if t.currency),
                                                          cust.currency if cust else "USD"))
        note = ""
        if len(codes) > 1:
            note = "different currencies (" + ", ".join(sorted(codes)) + "): amounts are not comparable"
        our_lines = [(inv.number or f"Draft #{inv.id}", ln.description, round_money(ln.amount, code))
                     for inv in our_invs for ln in lines_by_invoice[inv.id]]
        paired = _pair_lines(our_lines, their_lines, code, tol)
        our_total = sum((round_money(inv.total, code) for inv in our_invs), ZERO)
        their_total = sum((round_money(t.amount, code) for t in their_lines), ZERO)
        if not our_invs:
            status = ONLY_THEIRS
            note = note or unknown_note.get(their_lines[0].customer, "") or "no invoice of ours in this run"
        elif not their_lines:
            status = ONLY_OURS
            note = note or "not in their file"
        elif note or not _same(our_total, their_total, tol) or any(
                ln.status == DIFFERS or (ln.status in (ONLY_OURS, ONLY_THEIRS) and ln.difference != 0)
                for ln in paired):
            status = DIFFERS
        else:
            status = MATCHED
        results.append(CustomerMatch(
            cust.name if cust else str(key), cust.external_id if cust else "", code, our_total, their_total,
            status, paired, [inv.number or f"Draft #{inv.id}" for inv in our_invs],
            sorted({t.invoice_number for t in their_lines if t.invoice_number}), note, cust.id if cust else None,
            [(inv.id, inv.number or f"Draft #{inv.id}", round_money(inv.total, code)) for inv in our_invs]))
    order = {DIFFERS: 0, ONLY_THEIRS: 1, ONLY_OURS: 2, MATCHED: 3}
    results.sort(key=lambda c: (order[c.status], -abs(c.difference), c.label.casefold()))
    dates = [t.invoice_date for t in theirs]
    return Reconciliation(start, tol, results, (min(dates), max(dates)) if dates else None)


# ---- keeping a result ---------------------------------------------------------------------------------------

MAX_LINES_KEPT = 200  # differing lines kept per saved row (the evidence); a file with more is a different problem


def _line_evidence(ln: LineMatch) -> dict:
    text = lambda v: "" if v is None else str(v)  # noqa: E731
    return {"status": ln.status, "invoice": ln.invoice, "ours": ln.ours, "theirs": ln.theirs,
            "our_amount": text(ln.our_amount), "their_amount": text(ln.their_amount),
            "difference": str(ln.difference), "their_row": ln.their_row, "note": ln.note}


def save_run(session: Session, actor: Actor, rec: Reconciliation, *, file_name: str, their_lines: int,
             pilot_id: int | None = None):  # noqa: ANN201 - PilotReconRun
    """Keep this comparison with the pilot (``pilot_id``, default the active one): the summary, and one row per
    invoice of ours compared — plus one per customer only the prospect billed — with the customer's totals, the
    largest line difference and the lines that differ. Audited. The success criterion "all sample invoices match"
    reads the newest saved row of each sample invoice."""
    require(actor, "pilot:write")
    from core import audit
    from core.models import PilotReconRow, PilotReconRun
    from core.pilot.plan import active_pilot

    if not rec.customers:
        raise UserError("there is nothing to save: neither side has an invoice for this month")
    if pilot_id is None:
        current = active_pilot(session)
        pilot_id = current.id if current is not None else None
    first, last = rec.their_dates or (None, None)
    run = PilotReconRun(pilot_id=pilot_id, run_month=rec.run_start, tolerance=rec.tolerance,
                        file_name=(file_name or "")[:200], their_lines=their_lines, their_first_date=first,
                        their_last_date=last, customers=len(rec.customers), matched=rec.count(MATCHED),
                        differs=rec.count(DIFFERS), only_ours=rec.count(ONLY_OURS), only_theirs=rec.count(ONLY_THEIRS),
                        match_rate=str(rec.match_rate), saved_by=actor.username)
    session.add(run)
    session.flush()
    rows = []
    for c in rec.customers:
        widest = max((abs(ln.difference) for ln in c.lines), default=ZERO)
        differing = [ln for ln in c.lines if ln.status != MATCHED and ln.difference != 0]
        common = dict(run_id=run.id, customer_id=c.customer_id, customer_label=c.label[:200],
                      external_id=c.external_id[:100], currency=c.currency, status=c.status, our_total=c.our_total,
                      their_total=c.their_total, difference=c.difference, max_line_difference=widest,
                      note=c.note[:500])
        refs = c.invoice_refs or [(None, "", None)]
        for invoice_id, label, total in refs:
            mine = [_line_evidence(ln) for ln in differing if ln.invoice in (label, "")][:MAX_LINES_KEPT]
            rows.append(PilotReconRow(**common, invoice_id=invoice_id, invoice_label=label[:40], invoice_total=total,
                                      lines=mine))
    session.add_all(rows)
    session.flush()
    audit.record(session, actor=actor.username, action="pilot.reconciliation_save", entity_type="pilot_recon_run",
                 entity_id=run.id, details={"pilot_id": pilot_id, "month": rec.run_start, "file": run.file_name,
                                            "customers": run.customers, "matched": run.matched,
                                            "differs": run.differs, "only_ours": run.only_ours,
                                            "only_theirs": run.only_theirs, "match_rate": run.match_rate,
                                            "tolerance": rec.tolerance, "invoices": sum(1 for r in rows
                                                                                        if r.invoice_id)})
    return run


# ---- export -----------------------------------------------------------------------------------------------

SUMMARY_COLUMNS = [("Customer", 30, "text"), ("Customer id", 16, "text"), ("Status", 22, "text"),
                   ("Currency", 10, "text"), ("Counting House", 16, "money"), ("Theirs", 16, "money"),
                   ("Difference", 16, "money"), ("Our invoices", 24, "text"), ("Their invoices", 24, "text"),
                   ("Note", 50, "text")]
LINE_COLUMNS = [("Customer", 30, "text"), ("Status", 22, "text"), ("Our invoice", 14, "text"),
                ("Our line", 36, "text"), ("Their line", 36, "text"), ("Their row", 10, "int"),
                ("Currency", 10, "text"), ("Counting House", 16, "money"), ("Theirs", 16, "money"),
                ("Difference", 16, "money"), ("Note", 40, "text")]


def reconciliation_xlsx(rec: Reconciliation) -> bytes:
    """Summary, per-customer and per-line sheets; amounts as exact numbers in each currency's format."""
    from openpyxl import Workbook

    from core.importers.files import neutralise
    from core.invoicing.export import start_sheet, write_row

    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    n = len(rec.customers)
    facts = [("Invoice run", rec.run_start.strftime("%B %Y")),
             ("Their invoice dates", f"{rec.their_dates[0]:%d %b %Y} – {rec.their_dates[1]:%d %b %Y}"
              if rec.their_dates else ""),
             ("Customers compared", n), ("Matched", rec.count(MATCHED)), ("Differ", rec.count(DIFFERS)),
             ("Only in Counting House", rec.count(ONLY_OURS)), ("Only in theirs", rec.count(ONLY_THEIRS)),
             ("Match rate", f"{rec.match_rate}%"), ("Tolerance", str(rec.tolerance))]
    for label, value in facts:
        ws.append([label, neutralise(value) if isinstance(value, str) else value])
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 30
    wc = wb.create_sheet("Customers")
    start_sheet(wc, SUMMARY_COLUMNS)
    wl = wb.create_sheet("Lines")
    start_sheet(wl, LINE_COLUMNS)
    for c in rec.customers:
        write_row(wc, SUMMARY_COLUMNS, [c.label, c.external_id, c.status, c.currency, c.our_total, c.their_total,
                                        c.difference, ", ".join(c.our_invoices), ", ".join(c.their_invoices),
                                        c.note], c.currency)
        for ln in c.lines:
            write_row(wl, LINE_COLUMNS, [c.label, ln.status, ln.invoice, ln.ours, ln.theirs, ln.their_row,
                                         c.currency, ln.our_amount, ln.their_amount, ln.difference, ln.note],
                      c.currency)
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
