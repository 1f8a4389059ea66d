"""Ledger reports as tables, and every table as a formatted Excel workbook or a CSV file.

A :class:`Report` is what a screen shows and a file holds: a title, the filters in words, typed columns, rows, one
currency per row, and totals rows (per currency: a sum across currencies means nothing). The builders below turn
:mod:`core.ledger.reports` and :mod:`core.ledger.views` into reports; :func:`to_xlsx` and :func:`to_csv` write any
of them, so every report exports the same way:

- XLSX (openpyxl): the title and the filters above a bold, shaded header row that stays in view (frozen pane) and
  carries a filter; money as exact numbers (``Decimal``, never a float — the file holds the Decimal's own digits,
  see :func:`_exact`) rounded once to the currency's minor units (``round_money``) with that currency's number
  format (``"$"#,##0.00``, ``"¥"#,##0``, ``"BHD "#,##0.000``);
  dates as dates; bold totals rows under a rule; column widths fitted to the content; printed landscape, one page
  wide, the header repeated on every page.
- CSV: the header and the rows only (no totals: a system reading the file would count them twice), UTF-8 with a
  byte-order mark so Excel shows accents, ``\\r\\n`` line ends; amounts as plain numbers with the currency's
  decimals (``1180.50``, no symbol, no thousands separator), dates ``YYYY-MM-DD``.

Text cells are neutralised against formula injection in both (:func:`core.importers.files.neutralise`: a leading
``=``, ``+``, ``-`` or ``@`` gets an apostrophe); numbers and dates are never touched.
"""
from __future__ import annotations

import csv
import io
import re
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from core.importers.files import neutralise
from core.ledger import reports, views
from core.ledger.accounts import KINDS
from core.models import BusinessEntity, Customer
from core.money import ZERO, round_money

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv"
ZIP_MIME = "application/zip"
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = "text"  # text | money | date | int
    width: int = 14


@dataclass
class Report:
    title: str
    subtitle: str  # the filters, in words
    columns: list[Column]
    rows: list[list]  # str | Decimal | date | int | None, one per column
    currencies: list[str]  # the currency of each row's money cells
    name: str  # file name without extension
    totals: list[tuple[str, str, dict[int, Decimal]]] = field(default_factory=list)  # (label, currency, col→amount)
    notes: list[str] = field(default_factory=list)
    label_column: int | None = None  # where the totals rows' labels go (default: the first text column)

    def label_col(self) -> int:
        if self.label_column is not None:
            return self.label_column
        return next((i for i, c in enumerate(self.columns) if c.kind == "text"), 0)

    def money_columns(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c.kind == "money"]


# ---------------------------------------------------------------------------------------------------------------
# writing


def _shown(value, kind: str, code: str):  # noqa: ANN001, ANN202
    """The cell's value: money rounded to the currency, text neutralised."""
    if value is None:
        return None
    if kind == "money":
        if isinstance(value, float):
            raise TypeError("money must be a Decimal, never a float")
        return round_money(Decimal(value), code)
    if kind in ("date", "int"):
        return value
    return neutralise(value)


def _csv_text(value, kind: str, code: str) -> str:  # noqa: ANN001
    shown = _shown(value, kind, code)
    if shown is None:
        return ""
    if kind == "money":
        return f"{shown:f}"
    if isinstance(shown, (date, datetime)):
        return shown.isoformat()
    return str(shown)


def to_csv(report: Report) -> bytes:
    """The header and the rows (no totals), UTF-8 with a byte-order mark."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([neutralise(c.header) for c in report.columns])
    for row, code in zip(report.rows, report.currencies):
        w.writerow([_csv_text(v, c.kind, code) for c, v in zip(report.columns, row)])
    return buf.getvalue().encode("utf-8-sig")


def _exact(cell) -> None:  # noqa: ANN001 - an openpyxl cell holding a Decimal
    """Write the Decimal's own digits into the file. openpyxl serialises numbers with ``"%.16g" % value``, which goes
    through a binary float: $9,501.37 would be written as 9501.370000000001. A numeric cell whose value is text is
    written as that text, so the file holds exactly 9501.37 (the cell stays numeric: ``t="n"``)."""
    if isinstance(cell._value, Decimal):
        cell._value = f"{cell._value:f}"


_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")
HEADER_ROW = 4  # title, filters, a blank row, then the header


def to_xlsx(report: Report) -> bytes:
    """A formatted workbook of one sheet (see the module's docstring)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    from core.invoicing.export import DATE_FORMAT, money_format

    wb = Workbook()
    ws = wb.active
    ws.title = _SHEET_BAD.sub(" ", report.title)[:31].strip() or "Report"
    ws.cell(row=1, column=1, value=neutralise(report.title)).font = Font(bold=True, size=14)
    ws.cell(row=2, column=1, value=neutralise(report.subtitle)).font = Font(italic=True, color="555555")
    fill, bold = PatternFill("solid", fgColor="E8EEF7"), Font(bold=True)
    widths = [max(c.width, len(c.header) + 2) for c in report.columns]
    for col, c in enumerate(report.columns, start=1):
        cell = ws.cell(row=HEADER_ROW, column=col, value=neutralise(c.header))
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(vertical="center", wrap_text=True,
                                   horizontal="right" if c.kind in ("money", "int") else None)
    ws.freeze_panes = ws.cell(row=HEADER_ROW + 1, column=1)

    def put(r: int, col: int, c: Column, value, code: str):  # noqa: ANN001, ANN202
        cell = ws.cell(row=r, column=col, value=_shown(value, c.kind, code))
        if value is None:
            return cell
        if c.kind == "money":
            _exact(cell)
            cell.number_format = money_format(code)
            text = f"{round_money(Decimal(value), code):,}" + "xx"  # room for the symbol
        elif c.kind == "date":
            cell.number_format = DATE_FORMAT
            text = "00 Mmm 0000"
        elif c.kind == "int":
            cell.number_format = "#,##0"
            text = f"{value:,}"
        else:
            text = str(value)
        widths[col - 1] = min(60, max(widths[col - 1], len(text) + 2))
        return cell

    r = HEADER_ROW
    for row, code in zip(report.rows, report.currencies):
        r += 1
        for col, (c, v) in enumerate(zip(report.columns, row), start=1):
            put(r, col, c, v, code)
    last_data = r
    rule = Border(top=Side(style="thin"))
    label_col = report.label_col() + 1
    for n, (label, code, amounts) in enumerate(report.totals):
        r += 1
        ws.cell(row=r, column=label_col, value=neutralise(label))
        for idx, amount in amounts.items():
            put(r, idx + 1, report.columns[idx], amount, code)
        for col in range(1, len(report.columns) + 1):
            cell = ws.cell(row=r, column=col)
            cell.font = bold
            if n == 0:
                cell.border = rule
    if report.notes:
        r += 1
        for note in report.notes:
            r += 1
            ws.cell(row=r, column=1, value=neutralise(note)).font = Font(italic=True, color="555555")
    for col, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.auto_filter.ref = f"A{HEADER_ROW}:{get_column_letter(len(report.columns))}{max(last_data, HEADER_ROW)}"
    ws.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def zip_files(files: list[tuple[str, bytes]]) -> bytes:
    """Several files as one .zip (the ERP export of a long range comes in parts)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files:
            z.writestr(name, data)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# the reports


def _day(d: date | None) -> str:
    return f"{d:%-d %b %Y}" if d else ""


def _scope(session: Session, entity_id: int | None, currency: str | None) -> str:
    ent = session.get(BusinessEntity, entity_id).name if entity_id is not None else "all business entities"
    return f"{ent} · {currency or 'all currencies'}"


def _stem(name: str, start: date | None, end: date, currency: str | None) -> str:
    span = f"{start.isoformat()}-to-{end.isoformat()}" if start else f"at-{end.isoformat()}"
    return f"{name}-{span}" + (f"-{currency}" if currency else "")


def _sum_by_currency(rows: list[list], currencies: list[str], cols: list[int]) -> dict[str, dict[int, Decimal]]:
    sums: dict[str, dict[int, Decimal]] = defaultdict(lambda: {c: ZERO for c in cols})
    for row, code in zip(rows, currencies):
        for c in cols:
            if row[c] is not None:
                sums[code][c] += round_money(row[c], code)
    return dict(sorted(sums.items()))


def trial_balance_report(session: Session, *, start: date, end: date, entity_id: int | None = None,
                         currency: str | None = None) -> Report:
    cols = [Column("Code", width=8), Column("Account", width=32), Column("Type", width=10),
            Column("Currency", width=9), Column("Opening balance", "money", 16), Column("Debits", "money", 16),
            Column("Credits", "money", 16), Column("Closing debit", "money", 16),
            Column("Closing credit", "money", 16)]
    data = reports.trial_balance(session, start=start, end=end, entity_id=entity_id, currency=currency)
    rows = [[r.code, r.name, KINDS.get(r.kind, r.kind), r.currency, r.opening, r.debits, r.credits, r.debit_balance,
             r.credit_balance] for r in data]
    codes = [r.currency for r in data]
    totals = [(f"Total {c}", c, v) for c, v in _sum_by_currency(rows, codes, [4, 5, 6, 7, 8]).items()]
    return Report("Trial balance", f"{_day(start)} – {_day(end)} · {_scope(session, entity_id, currency)}", cols,
                  rows, codes, _stem("trial-balance", start, end, currency), totals,
                  ["Opening balance: debit positive, credit negative. In every currency the debits equal the credits, "
                   "and the closing debits equal the closing credits."], label_column=1)


def income_statement_report(session: Session, *, start: date, end: date, entity_id: int | None = None,
                            currency: str | None = None) -> Report:
    cols = [Column("Section", width=10), Column("Code", width=8), Column("Account", width=34),
            Column("Currency", width=9), Column("Amount", "money", 16)]
    data, net = reports.income_statement(session, start=start, end=end, entity_id=entity_id, currency=currency)
    order = {"Income": 0, "Expenses": 1}
    data.sort(key=lambda r: (r.currency, order.get(r.section, 2), r.code))
    rows = [[r.section, r.code, r.name, r.currency, r.amount] for r in data]
    codes = [r.currency for r in data]
    totals = []
    for code in sorted(set(codes) | set(net)):
        income = sum((round_money(r.amount, code) for r in data if r.currency == code and r.section == "Income"), ZERO)
        expenses = sum((round_money(r.amount, code) for r in data if r.currency == code and r.section == "Expenses"),
                       ZERO)
        totals += [(f"Total income {code}", code, {4: income}), (f"Total expenses {code}", code, {4: expenses}),
                   (f"Net income {code}", code, {4: income - expenses})]
    return Report("Income statement", f"{_day(start)} – {_day(end)} · {_scope(session, entity_id, currency)}", cols,
                  rows, codes, _stem("income-statement", start, end, currency), totals,
                  ["Income and expenses booked in the period. Net income = total income − total expenses."],
                  label_column=2)


def balance_sheet_report(session: Session, *, at: date, entity_id: int | None = None,
                         currency: str | None = None) -> Report:
    cols = [Column("Section", width=12), Column("Code", width=8), Column("Account", width=44),
            Column("Currency", width=9), Column("Amount", "money", 16)]
    data, sections = reports.balance_sheet(session, at=at, entity_id=entity_id, currency=currency)
    rows = [[r.section, r.code, r.name, r.currency, r.amount] for r in data]
    codes = [r.currency for r in data]
    totals = []
    for code in sorted(sections):
        t = {k: sum((round_money(r.amount, code) for r in data if r.currency == code and r.section == k), ZERO)
             for k in ("Assets", "Liabilities", "Equity")}
        totals += [(f"Total assets {code}", code, {4: t["Assets"]}),
                   (f"Total liabilities {code}", code, {4: t["Liabilities"]}),
                   (f"Total equity {code}", code, {4: t["Equity"]}),
                   (f"Liabilities and equity {code}", code, {4: t["Liabilities"] + t["Equity"]})]
    return Report("Balance sheet", f"at {_day(at)} · {_scope(session, entity_id, currency)}", cols, rows, codes,
                  _stem("balance-sheet", None, at, currency), totals,
                  ["Assets = liabilities + equity. Current earnings: income less expenses to date, not yet closed "
                   "to retained earnings."], label_column=2)


#: key → (title, account system key, grouped by, movement over the range (True) or balance at its end)
SUBLEDGERS: dict[str, tuple[str, str, str, bool]] = {
    "revenue_by_product": ("Revenue by product", "revenue", "product", True),
    "revenue_by_customer": ("Revenue by customer", "revenue", "customer", True),
    "ar_by_customer": ("Accounts receivable by customer", "accounts_receivable", "customer", False),
    "ar_by_invoice": ("Accounts receivable by invoice", "accounts_receivable", "invoice", False),
    "deferred_by_customer": ("Deferred revenue by customer", "deferred_revenue", "customer", False),
    "unbilled_by_customer": ("Unbilled revenue by customer", "unbilled_revenue", "customer", False),
    "wallet_by_customer": ("Customer wallet balances", "customer_wallet", "customer", False),
}

SUBLEDGER_NOTES = {
    "revenue_by_product": "Revenue booked to every income account in the period, by the product invoiced. "
                          "(none): revenue posted without a product, such as manual entries.",
    "revenue_by_customer": "Revenue booked to every income account in the period, by customer.",
    "ar_by_customer": "What customers owe at the date: approved invoices less payments, wallet credit, credit notes "
                      "and write-offs. The total equals Accounts Receivable on the balance sheet.",
    "ar_by_invoice": "What is still due on each invoice at the date. The total equals Accounts Receivable.",
    "deferred_by_customer": "Billed but not yet recognised at the date: released month by month by the revenue "
                            "recognition run.",
    "unbilled_by_customer": "Usage delivered but not yet invoiced at the date (accrued from the draft invoices).",
    "wallet_by_customer": "Credit customers hold at the date (overpayments, prepaid credit, credit notes kept as "
                          "credit, grants): owed to them, used on their next invoices.",
}


def subledger_report(session: Session, kind: str, *, start: date, end: date, entity_id: int | None = None,
                     currency: str | None = None) -> Report:
    title, key, by, movement = SUBLEDGERS[kind]
    rows_ = reports.account_balances_by(session, key, by, start=start if movement else None, end=end,
                                        entity_id=entity_id, currency=currency)
    label = {"customer": "Customer", "product": "Product", "invoice": "Invoice"}[by]
    cols = [Column(label, width=32)]
    extra = {}
    if by == "customer":
        cols.append(Column("Customer id", width=14))
        ids = [r.customer_id for r in rows_ if r.customer_id]
        extra = dict(session.exec(select(Customer.id, Customer.external_id).where(Customer.id.in_(ids))).all()) \
            if ids else {}
    cols += [Column("Currency", width=9), Column("Amount", "money", 16)]
    rows = [[r.key] + ([extra.get(r.customer_id, "")] if by == "customer" else []) + [r.currency, r.amount]
            for r in rows_]
    codes = [r.currency for r in rows_]
    money_col = len(cols) - 1
    totals = [(f"Total {c}", c, v) for c, v in _sum_by_currency(rows, codes, [money_col]).items()]
    span = f"{_day(start)} – {_day(end)}" if movement else f"at {_day(end)}"
    return Report(title, f"{span} · {_scope(session, entity_id, currency)}", cols, rows, codes,
                  _stem(kind.replace("_", "-"), start if movement else None, end, currency), totals,
                  [SUBLEDGER_NOTES[kind]])


def journal_report(entries: list[views.EntryView], *, subtitle: str, name: str) -> Report:
    """The journal, one row per line."""
    cols = [Column("Entry", "int", 8), Column("Date", "date", 12), Column("Type", width=18), Column("Memo", width=40),
            Column("Code", width=8), Column("Account", width=28), Column("Currency", width=9),
            Column("Debit", "money", 14), Column("Credit", "money", 14), Column("Customer", width=24),
            Column("Invoice", width=12), Column("Line description", width=30), Column("Posted by", width=14)]
    rows, codes = [], []
    for e in entries:
        for ln in e.lines:
            rows.append([e.id, e.entry_date, e.kind, e.memo, ln.account_code, ln.account, ln.currency,
                         ln.debit or None, ln.credit or None, ln.customer, ln.invoice, ln.description, e.posted_by])
            codes.append(ln.currency)
    totals = [(f"Total {c}", c, v) for c, v in _sum_by_currency(rows, codes, [7, 8]).items()]
    return Report("Journal", subtitle, cols, rows, codes, name, totals,
                  ["Debits equal credits in every entry and currency. Posted entries never change: a correction "
                   "is a reversing entry."], label_column=5)


def revenue_by_month_report(session: Session, *, start: date, end: date, entity_id: int | None = None,
                            currency: str | None = None) -> Report:
    data = views.revenue_by_month(session, start=start, end=end, entity_id=entity_id, currency=currency)
    cols = [Column("Month", width=10), Column("Currency", width=9), Column("Billed", "money", 16),
            Column("Recognised", "money", 16), Column("Billed − recognised", "money", 18)]
    rows = [[f"{m.month:%Y-%m}", m.currency, m.billed, m.recognised, m.difference] for m in data]
    codes = [m.currency for m in data]
    totals = [(f"Total {c}", c, v) for c, v in _sum_by_currency(rows, codes, [2, 3, 4]).items()]
    return Report("Billed vs recognised revenue", f"{_day(start)} – {_day(end)} · "
                  f"{_scope(session, entity_id, currency)}", cols, rows, codes,
                  _stem("revenue-by-month", start, end, currency), totals,
                  ["Billed: revenue on the invoices approved in the month, before tax (recognised at once, deferred "
                   "or already accrued as usage). Recognised: revenue booked to income accounts in the month."])


def deferred_waterfall_report(session: Session, *, start: date, end: date, entity_id: int | None = None,
                              currency: str | None = None) -> Report:
    data = views.deferred_waterfall(session, start=start, end=end, entity_id=entity_id, currency=currency)
    cols = [Column("Month", width=10), Column("Currency", width=9), Column("Opening", "money", 16),
            Column("Billed (deferred)", "money", 16), Column("Recognised", "money", 16),
            Column("Credit notes and adjustments", "money", 18), Column("Closing", "money", 16)]
    rows = [[f"{w.month:%Y-%m}", w.currency, w.opening, w.billed, w.recognised, w.adjustments, w.closing]
            for w in data]
    codes = [w.currency for w in data]
    totals = [(f"Total {c}", c, v) for c, v in _sum_by_currency(rows, codes, [3, 4, 5]).items()]
    return Report("Deferred revenue waterfall", f"{_day(start)} – {_day(end)} · "
                  f"{_scope(session, entity_id, currency)}", cols, rows, codes,
                  _stem("deferred-revenue-waterfall", start, end, currency), totals,
                  ["Closing = opening + billed (deferred) − recognised + credit notes and adjustments; each month's "
                   "closing balance is the next month's opening."])


def schedules_report(rows: list[views.ScheduleView], *, subtitle: str) -> Report:
    cols = [Column("Schedule", "int", 9), Column("Invoice", width=12), Column("Customer", width=26),
            Column("Product", width=22), Column("Service from", "date", 12), Column("Service to", "date", 12),
            Column("Currency", width=9), Column("Total", "money", 14), Column("Recognised", "money", 14),
            Column("Remaining", "money", 14), Column("Next period ends", "date", 14)]
    data = [[s.id, s.invoice, s.customer, s.product, s.service_start, s.service_end - _ONE_DAY, s.currency, s.total,
             s.recognised, s.remaining, s.next_due] for s in rows]
    codes = [s.currency for s in rows]
    totals = [(f"Total {c}", c, v) for c, v in _sum_by_currency(data, codes, [7, 8, 9]).items()]
    return Report("Revenue schedules", subtitle, cols, data, codes, "revenue-schedules", totals,
                  ["Remaining is still in Deferred Revenue; each period is recognised on its last day."])

