"""Every analytics chart's data as a :class:`core.ledger.exports.Report` — the table behind the chart, downloadable
as a formatted Excel workbook (:func:`to_xlsx`: the ledger's exporter, plus number formats for quantities and
percentages, written with their exact digits)."""
from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

from sqlmodel import Session

from core.analytics.finance import CashMonth, ReceivablesMonth
from core.analytics.mrr import FORMULAS, MOVEMENT_LABELS, MOVEMENTS, MrrReport
from core.analytics.revenue import RevenueRow, UsageReport
from core.analytics.scope import Scope
from core.ledger import exports
from core.ledger.exports import Column, Report
from core.models import BusinessEntity, Segment
from core.money import ZERO, round_money

QTY_FORMAT = "#,##0.######"
PCT_FORMAT = "0.0%"


def scope_words(session: Session, scope: Scope) -> str:
    """The filters in words, for the file's subtitle."""
    ent = session.get(BusinessEntity, scope.entity_id).name if scope.entity_id is not None \
        else "all business entities"
    seg = session.get(Segment, scope.segment_id) if scope.segment_id is not None else None
    months = f"{scope.start:%b %Y} – {scope.end:%b %Y}"
    return f"{months} · {scope.currency} · {ent}" + (f" · segment {seg.name}" if seg else "")


def _stem(name: str, scope: Scope) -> str:
    return f"{name}-{scope.start:%Y-%m}-to-{scope.end:%Y-%m}-{scope.currency}"


def _totals(rows: list[list], code: str, cols: list[int], label: str = "Total") -> list:
    sums = {c: sum((round_money(r[c], code) for r in rows if r[c] is not None), ZERO) for c in cols}
    return [(f"{label} {code}", code, sums)] if rows else []


def billed_collected_report(session: Session, scope: Scope, months: list[CashMonth]) -> Report:
    code = scope.currency
    cols = [Column("Month", width=10), Column("Currency", width=9), Column("Invoices", "int", 9),
            Column("Invoiced", "money", 16), Column("Credit notes", "money", 16), Column("Net billed", "money", 16),
            Column("Payments", "int", 9), Column("Collected", "money", 16), Column("Refunded", "money", 14),
            Column("Net collected", "money", 16)]
    rows = [[f"{m.month:%Y-%m}", code, m.invoices, m.invoiced, m.credited, m.net_billed, m.payments, m.collected,
             m.refunded, m.net_collected] for m in months]
    return Report("Billed and collected by month", scope_words(session, scope), cols, rows, [code] * len(rows),
                  _stem("billed-and-collected", scope), _totals(rows, code, [3, 4, 5, 7, 8, 9]),
                  ["Invoiced: totals (tax included) of the invoices issued in the month, void ones too; credit notes "
                   "issued in the month are taken off. Collected: payments received in the month; refunds paid out "
                   "are taken off."])


def receivables_report(session: Session, scope: Scope, months: list[ReceivablesMonth]) -> Report:
    code = scope.currency
    cols = [Column("Month-end", width=10), Column("Currency", width=9), Column("Outstanding", "money", 16),
            Column("Overdue", "money", 16), Column("Not yet due", "money", 16)]
    rows = [[f"{m.month:%Y-%m}", code, m.outstanding, m.overdue, m.outstanding - m.overdue] for m in months]
    return Report("Outstanding and overdue at month-end", scope_words(session, scope), cols, rows,
                  [code] * len(rows), _stem("receivables-by-month", scope), [],
                  ["Accounts Receivable at each month's end (the sum of open invoice balances); overdue: the part "
                   "on invoices due in or before that month. The current month: as it will be at its end if nothing "
                   "more is paid."])


def mrr_movement_report(session: Session, scope: Scope, report: MrrReport, usage: dict[date, Decimal]) -> Report:
    code = scope.currency
    cols = [Column("Month", width=10), Column("Currency", width=9), Column("Opening MRR", "money", 16)]
    cols += [Column(MOVEMENT_LABELS[k], "money", 14) for k in MOVEMENTS]
    cols += [Column("Net new MRR", "money", 14), Column("MRR", "money", 16), Column("ARR", "money", 16),
             Column("Paying customers", "int", 10)] + [Column(f"{MOVEMENT_LABELS[k]} (customers)", "int", 10)
                                                       for k in MOVEMENTS]
    cols.append(Column("Usage charges (not MRR)", "money", 16))
    rows = [[f"{m.month:%Y-%m}", code, m.opening, *[m.movement[k] for k in MOVEMENTS], m.net_new, m.mrr, m.arr,
             m.customers, *[m.moved[k] for k in MOVEMENTS], usage.get(m.month, ZERO)] for m in report.months]
    through = f"complete through {report.through:%B %Y}" if report.through else "nothing billed yet"
    return Report("MRR and its movement", f"{scope_words(session, scope)} · {through}", cols, rows,
                  [code] * len(rows), _stem("mrr-movement", scope), [],
                  ["MRR: recurring (not metered, not one-time) charges of approved invoices for service in the month, "
                   "net of their line discounts, before tax; charges for several months spread evenly. ARR = 12 × "
                   "MRR. Opening MRR + new + expansion + reactivation + contraction + churn = MRR (contraction and "
                   "churn are negative). Usage charges are shown apart and are not MRR."])


def retention_report(session: Session, scope: Scope, report: MrrReport) -> tuple[Report, dict[int, str]]:
    code = scope.currency
    cols = [Column("Month", width=10), Column("Currency", width=9), Column("Customers 12 months before", "int", 12),
            Column("Their MRR 12 months before", "money", 18), Column("Their MRR now", "money", 16),
            Column("Kept MRR (at most the MRR before)", "money", 18), Column("NRR", "int", 9),
            Column("GRR", "int", 9)]
    rows = [[f"{r.month:%Y-%m}", code, r.cohort, r.start_mrr, r.end_mrr, r.kept_mrr, r.nrr, r.grr]
            for r in report.retention]
    return Report("Net and gross revenue retention (trailing 12 months)", scope_words(session, scope), cols, rows,
                  [code] * len(rows), _stem("revenue-retention", scope), [], [FORMULAS]), {6: PCT_FORMAT,
                                                                                            7: PCT_FORMAT}


def revenue_report(session: Session, scope: Scope, rows_: list[RevenueRow], by: str, note: str = "") -> Report:
    code = scope.currency
    label, detail = ("Customer", "Customer id") if by == "customer" else ("Product", "SKU")
    cols = [Column(label, width=32), Column(detail, width=14), Column("Currency", width=9),
            Column("Billed before tax", "money", 16), Column("Credit notes before tax", "money", 16),
            Column("Revenue", "money", 16)]
    rows = [[r.label, r.detail, code, r.billed, r.credited, r.revenue] for r in rows_]
    return Report(f"Revenue by {by}", scope_words(session, scope), cols, rows, [code] * len(rows),
                  _stem(f"revenue-by-{by}", scope), _totals(rows, code, [3, 4, 5]),
                  ["Revenue: invoice lines before tax of the invoices issued in the period, less the credit notes "
                   "issued in it (before tax)." + (f" {note}" if note else "")])


def usage_report_table(session: Session, scope: Scope, rep: UsageReport) -> tuple[Report, dict[int, str]]:
    """One row per customer shown (and the total across customers for sum/count metrics), one column per month."""
    cols = [Column("Customer", width=28), Column("Customer id", width=14)]
    cols += [Column(f"{m:%Y-%m}", "int", 12) for m in rep.months] + [Column("Whole range", "int", 14)]
    rows = []
    if rep.totals is not None:
        rows.append([f"All customers ({rep.customers:,})", "", *rep.totals, sum(rep.totals, ZERO)])
    for ext, values in rep.series.items():
        rows.append([rep.names.get(ext, ext), ext, *values, rep.range_totals.get(ext)])
    m = rep.metric
    title = f"Usage: {m.name} by month"
    formats = {i: QTY_FORMAT for i in range(2, len(cols))}
    return Report(title[:80], f"{scope_words(session, scope).split(' · ', 2)[0]} · {m.aggregation} of "
                  f"{m.event_name}", cols, rows, [scope.currency] * len(rows),
                  f"usage-{m.code}-{scope.start:%Y-%m}-to-{scope.end:%Y-%m}", [],
                  [f"{m.name} ({m.aggregation}) per customer and calendar month (UTC), from the usage events. "
                   "Empty: no events that month."]), formats


def to_xlsx(report: Report, formats: dict[int, str] | None = None) -> bytes:
    """:func:`core.ledger.exports.to_xlsx`, then the given number formats on those columns (0-based), with each
    Decimal written as its own digits."""
    data = exports.to_xlsx(report)
    if not formats:
        return data
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data))
    ws = wb.active
    first = exports.HEADER_ROW + 1
    for r in range(first, first + len(report.rows)):
        for col, fmt in formats.items():
            cell = ws.cell(row=r, column=col + 1)
            value = report.rows[r - first][col]
            if value is None:
                continue
            cell.value = value
            cell.number_format = fmt
            exports._exact(cell)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
