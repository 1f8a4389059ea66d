"""Invoices to a spreadsheet finance can open: one sheet of invoices, one of their lines.

Amounts are written as exact numbers (Decimal, never float) with a money number format per currency,
so Excel sums them; a totals row per currency closes each sheet (a sum across currencies means nothing).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import Session, select

from core.billing.periods import format_period, inclusive_end
from core.models import Customer, Invoice, InvoiceLine
from core.invoicing.service import amount_due
from core.money import ZERO, currency, round_money

from core.invoicing.settlement import STATUS_LABELS  # noqa: E402  (one list of labels)
DATE_FORMAT = "d mmm yyyy"
HEADER_FILL = PatternFill("solid", fgColor="E8EEF7")
BOLD = Font(bold=True)
TOP_LINE = Border(top=Side(style="thin"))

INVOICE_COLUMNS = [  # (header, width, kind)
    ("Number", 14, "text"), ("Status", 14, "text"), ("Customer", 30, "text"), ("Customer id", 16, "text"),
    ("Period", 18, "text"), ("Period start", 13, "date"), ("Period end (inclusive)", 13, "date"),
    ("Issue date", 13, "date"), ("Due date", 13, "date"), ("Currency", 10, "text"), ("Subtotal", 15, "money"),
    ("Tax", 13, "money"), ("Total", 15, "money"), ("Paid", 13, "money"), ("Amount due", 15, "money"),
    ("Overdue", 10, "text"),
]
LINE_COLUMNS = [
    ("Invoice", 14, "text"), ("Customer", 30, "text"), ("Period", 18, "text"), ("Line", 6, "int"),
    ("Description", 34, "text"), ("Quantity", 14, "qty"), ("Currency", 10, "text"), ("Amount", 15, "money"),
    ("How it was calculated", 70, "text"),
]


def money_format(code: str) -> str:
    """An Excel number format showing the currency the way the app does: '"$"#,##0.00'."""
    c = currency(code)
    decimals = "." + "0" * c.minor_units if c.minor_units else ""
    return f'"{c.symbol}"#,##0{decimals};-"{c.symbol}"#,##0{decimals}'


def _plain(d: Decimal) -> Decimal:
    """1500.000000 -> 1500, 0.500000 -> 0.5 (no exponent notation in the cell)."""
    n = d.normalize()
    return n.quantize(Decimal(1)) if n == n.to_integral_value() else n


def _ids(invoices: Iterable) -> list[int]:
    return [int(getattr(i, "id", i)) for i in invoices]


def _load(session: Session, ids: list[int]) -> list[tuple[Invoice, Customer]]:
    found: dict[int, tuple[Invoice, Customer]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for inv, cust in session.exec(select(Invoice, Customer).join(Customer, Customer.id == Invoice.customer_id)
                                      .where(Invoice.id.in_(chunk))):
            found[inv.id] = (inv, cust)
    return [found[i] for i in ids if i in found]


def _lines(session: Session, ids: list[int]) -> dict[int, list[InvoiceLine]]:
    out: dict[int, list[InvoiceLine]] = defaultdict(list)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for ln in session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id.in_(chunk))
                               .order_by(InvoiceLine.invoice_id, InvoiceLine.sort_order, InvoiceLine.id)):
            out[ln.invoice_id].append(ln)
    return out


def start_sheet(ws: Worksheet, columns: list[tuple[str, int, str]]) -> None:
    for col, (title, width, _) in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=col, value=title)
        cell.font = BOLD
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(col)].width = width
    ws.freeze_panes = "A2"


def write_row(ws: Worksheet, columns: list[tuple[str, int, str]], values: Sequence, code: str) -> None:
    from core.importers.files import neutralise

    row = ws.max_row + 1
    for col, ((_, _, kind), value) in enumerate(zip(columns, values), start=1):
        # text is never a formula (a customer called "=HYPERLINK(…)" stays text): formula-injection safe
        cell = ws.cell(row=row, column=col, value=neutralise(value) if isinstance(value, str) else value)
        if kind == "money" and value is not None:
            cell.number_format = money_format(code)
        elif kind == "date" and value is not None:
            cell.number_format = DATE_FORMAT
        elif kind == "qty":
            cell.number_format = "#,##0.######"


def _totals(ws: Worksheet, columns: list[tuple[str, int, str]], sums: dict[str, dict[int, Decimal]],
            label_col: int = 1) -> None:
    """One bold 'Total USD' row per currency under the data, summing the money columns."""
    for n, code in enumerate(sorted(sums)):
        row = ws.max_row + 1
        ws.cell(row=row, column=label_col, value=f"Total {code}")
        for col, amount in sums[code].items():
            cell = ws.cell(row=row, column=col, value=amount)
            cell.number_format = money_format(code)
        for col in range(1, len(columns) + 1):
            ws.cell(row=row, column=col).font = BOLD
            if n == 0:
                ws.cell(row=row, column=col).border = TOP_LINE


def export_invoices_xlsx(session: Session, invoices: Iterable, *, today: date | None = None) -> bytes:
    """The given invoices (ids, or rows with an ``id``), in the given order, as an .xlsx file."""
    today = today or date.today()
    ids = _ids(invoices)
    loaded = _load(session, ids)
    lines = _lines(session, [inv.id for inv, _ in loaded])

    wb = Workbook()
    ws = wb.active
    ws.title = "Invoices"
    start_sheet(ws, INVOICE_COLUMNS)
    wl = wb.create_sheet("Lines")
    start_sheet(wl, LINE_COLUMNS)
    money_cols = [i for i, (_, _, kind) in enumerate(INVOICE_COLUMNS, start=1) if kind == "money"]
    inv_sums: dict[str, dict[int, Decimal]] = defaultdict(lambda: {c: ZERO for c in money_cols})
    line_sums: dict[str, dict[int, Decimal]] = defaultdict(lambda: {8: ZERO})

    for inv, cust in loaded:
        code = inv.currency
        number = inv.number or f"Draft #{inv.id}"
        period = format_period(inv.period_start, inv.period_end)
        amounts = [round_money(v, code) for v in (inv.subtotal, inv.tax, inv.total, inv.amount_paid)]
        due = round_money(amount_due(inv), code)
        overdue = inv.status not in ("draft", "void") and due > 0 and inv.due_date < today
        write_row(ws, INVOICE_COLUMNS, [number, STATUS_LABELS.get(inv.status, inv.status), cust.name, cust.external_id,
                                     period, inv.period_start, inclusive_end(inv.period_end), inv.issue_date,
                                     inv.due_date, code, *amounts, due, "Yes" if overdue else ""], code)
        for col, amount in zip(money_cols, [*amounts, due]):
            inv_sums[code][col] += amount
        for n, ln in enumerate(lines.get(inv.id, []), start=1):
            amount = round_money(ln.amount, code)
            write_row(wl, LINE_COLUMNS, [number, cust.name, period, n, ln.description, _plain(ln.quantity), code,
                                      amount, ln.breakdown], code)
            line_sums[code][8] += amount

    _totals(ws, INVOICE_COLUMNS, inv_sums)
    _totals(wl, LINE_COLUMNS, line_sums)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(INVOICE_COLUMNS))}{max(1, len(loaded) + 1)}"
    for row in wl.iter_rows(min_row=2, min_col=9, max_col=9):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
