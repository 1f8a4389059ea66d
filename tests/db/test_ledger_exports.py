"""Ledger reports to Excel and CSV, as finance opens them: the workbook opens, the title and the filters sit above a
bold header row that stays in view, every amount is an exact number in its currency's format and equals the
report, totals rows close the table; the CSV has the rows with plain amounts; text cannot run as a formula.
Plus the month-by-month figures the charts draw. Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from core import tax
from core.auth import SYSTEM
from core.billing.contracts import LineSpec
from core.catalog import create_product
from core.invoicing import credit_notes, payments
from core.invoicing.export import money_format
from core.invoicing.service import approve_invoice, generate_drafts
from core.ledger import exports, posting, recognition, reports, views
from core.ledger.accounts import chart
from core.models import BusinessEntity
from core.money import round_money
from tests.db import factories as f

D = Decimal
START, END = date(2024, 12, 1), date(2025, 3, 31)


def _books(session) -> dict:
    """A taxed monthly invoice (paid in part, credited), a $12,000 yearly deferred fee recognised through March,
    and a customer whose name would be a formula."""
    f.seller(session)
    tax.set_rate(session, SYSTEM, country="IN", name="GST", percent="18")
    f.customer(session, "C1", country="IN")
    f.customer(session, "EVIL", name="=HYPERLINK(\"http://x\",\"click\")")
    create_product(session, SYSTEM, sku="PLAT", name="Platform", kind="time")
    create_product(session, SYSTEM, sku="YEAR", name="Yearly licence", kind="time", revenue_policy="deferred")
    f.contract(session, "C1", [LineSpec("Platform fee", "flat_fee", {"amount": "1000"}, product_sku="PLAT",
                                        cadence="monthly", timing="arrears")], start=date(2025, 1, 1))
    f.contract(session, "EVIL", [LineSpec("Licence", "flat_fee", {"amount": "12000"}, product_sku="YEAR",
                                          cadence="yearly", timing="advance")], start=date(2025, 1, 15),
               billing_anchor_day=15)
    [yearly] = generate_drafts(session, SYSTEM, period_start=date(2024, 12, 1), period_end=date(2025, 1, 1)).created
    approve_invoice(session, SYSTEM, yearly)
    monthly = [i for i in generate_drafts(session, SYSTEM, period_start=date(2025, 1, 1),
                                          period_end=date(2025, 2, 1)).created]
    inv = approve_invoice(session, SYSTEM, monthly[0])
    payments.record_payment(session, SYSTEM, customer_id=inv.customer_id, currency_code="USD", amount="400",
                            method="bank_transfer", received_on=date(2025, 2, 3), allocations={inv.id: "400"})
    credit_notes.issue_credit_note(session, SYSTEM, inv.id, reason="Outage", amount="118")
    recognition.recognise(session, SYSTEM, through=END)
    return {"invoice": inv}


def _sheet(data: bytes):
    wb = load_workbook(io.BytesIO(data))
    assert len(wb.worksheets) == 1
    return wb.worksheets[0]


def _header(ws) -> list[str]:
    return [c.value for c in ws[exports.HEADER_ROW]]


def _data_rows(ws, report: exports.Report) -> list:
    first = exports.HEADER_ROW + 1
    return list(ws.iter_rows(min_row=first, max_row=first + len(report.rows) - 1))


def _exact(data: bytes) -> set[str]:
    """Every number as written in the sheet's XML (openpyxl on its own writes 9501.37 as 9501.370000000001)."""
    xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    return set(re.findall(r'<c r="[A-Z]+\d+"[^>]*t="n"[^>]*><v>([^<]*)</v>', xml))


def test_trial_balance_workbook_is_formatted_and_exact(session):
    _books(session)
    report = exports.trial_balance_report(session, start=START, end=END, currency="USD")
    data = exports.to_xlsx(report)
    ws = _sheet(data)
    assert ws.title == "Trial balance"
    assert ws["A1"].value == "Trial balance" and ws["A1"].font.bold
    assert ws["A2"].value == "1 Dec 2024 – 31 Mar 2025 · all business entities · USD"
    assert _header(ws) == ["Code", "Account", "Type", "Currency", "Opening balance", "Debits", "Credits",
                           "Closing debit", "Closing credit"]
    assert all(c.font.bold for c in ws[exports.HEADER_ROW])
    assert ws.freeze_panes == f"A{exports.HEADER_ROW + 1}"
    assert ws.auto_filter.ref.startswith(f"A{exports.HEADER_ROW}:I")
    assert ws.column_dimensions["B"].width >= 28  # account names fit
    tb = reports.trial_balance(session, start=START, end=END, currency="USD")
    rows = _data_rows(ws, report)
    assert [r[0].value for r in rows] == [t.code for t in tb]
    for cells, t in zip(rows, tb):
        for cell, value in zip(cells[4:], (t.opening, t.debits, t.credits, t.debit_balance, t.credit_balance)):
            assert cell.number_format == money_format("USD") == '"$"#,##0.00;-"$"#,##0.00'
            assert D(str(cell.value)) == round_money(value, "USD")
    written = _exact(data)  # the Decimal's digits, as they are: no float rounding (9501.370000000001)
    assert written and all(re.fullmatch(r"-?\d+\.\d\d", v) for v in written), written
    assert "9501.37" in written  # deferred revenue left at 31 March
    total = list(ws.iter_rows(min_row=exports.HEADER_ROW + len(tb) + 1, max_row=exports.HEADER_ROW + len(tb) + 1))[0]
    assert total[1].value == "Total USD" and all(c.font.bold for c in total)
    debits, credits = D(str(total[5].value)), D(str(total[6].value))
    assert debits == credits == sum((round_money(t.debits, "USD") for t in tb), D(0))
    assert D(str(total[7].value)) == D(str(total[8].value))
    assert D(str(total[4].value)) == 0


@pytest.mark.parametrize("build", [
    lambda s: exports.trial_balance_report(s, start=START, end=END),
    lambda s: exports.income_statement_report(s, start=START, end=END),
    lambda s: exports.balance_sheet_report(s, at=END),
    *[lambda s, k=k: exports.subledger_report(s, k, start=START, end=END) for k in exports.SUBLEDGERS],
    lambda s: exports.revenue_by_month_report(s, start=START, end=END),
    lambda s: exports.deferred_waterfall_report(s, start=START, end=END),
    lambda s: exports.journal_report(views.journal(s, start=START, end=END)[0], subtitle="all", name="journal"),
    lambda s: exports.schedules_report(views.schedules(s), subtitle="all"),
], ids=["trial_balance", "income_statement", "balance_sheet", *exports.SUBLEDGERS, "revenue_by_month",
        "deferred_waterfall", "journal", "schedules"])
def test_every_report_exports_to_a_workbook_and_a_csv_that_hold_its_numbers(session, build):
    _books(session)
    report = build(session)
    ws = _sheet(exports.to_xlsx(report))
    assert _header(ws) == [c.header for c in report.columns]
    assert ws.freeze_panes == f"A{exports.HEADER_ROW + 1}"
    money = report.money_columns()
    for cells, row, code in zip(_data_rows(ws, report), report.rows, report.currencies):
        for i in money:
            if row[i] is None:
                assert cells[i].value is None
            else:
                assert cells[i].number_format == money_format(code)
                assert D(str(cells[i].value)) == round_money(row[i], code)
    start = exports.HEADER_ROW + len(report.rows) + 1
    for n, (label, code, amounts) in enumerate(report.totals):
        cells = list(ws.iter_rows(min_row=start + n, max_row=start + n))[0]
        assert cells[report.label_col()].value == label and cells[report.label_col()].font.bold
        for i, amount in amounts.items():
            assert D(str(cells[i].value)) == amount and cells[i].number_format == money_format(code)
    # the CSV: the header and the rows, amounts plain with the currency's decimals
    lines = list(csv.reader(io.StringIO(exports.to_csv(report).decode("utf-8-sig"))))
    assert lines[0] == [c.header for c in report.columns]
    assert len(lines) == 1 + len(report.rows)
    for line, row, code in zip(lines[1:], report.rows, report.currencies):
        for i in money:
            assert line[i] == ("" if row[i] is None else f"{round_money(row[i], code):f}")


def test_sums_in_the_totals_rows_are_per_currency_and_match_the_ledger(session):
    _books(session)
    ar = exports.subledger_report(session, "ar_by_customer", start=START, end=END)
    balance = -sum((r.closing for r in reports.trial_balance(session, end=END)
                    if r.code == "1200"), D(0))
    assert [(label, code) for label, code, _ in ar.totals] == [("Total USD", "USD")]
    assert ar.totals[0][2][3] == -balance  # AR by customer adds up to Accounts Receivable
    bs = exports.balance_sheet_report(session, at=END)
    totals = {label: amounts[4] for label, _, amounts in bs.totals}
    assert totals["Total assets USD"] == totals["Liabilities and equity USD"]


def test_text_cannot_run_as_a_formula_but_negative_numbers_stay_numbers(session):
    _books(session)
    report = exports.subledger_report(session, "deferred_by_customer", start=START, end=END)
    ws = _sheet(exports.to_xlsx(report))
    names = [c.value for c in ws["A"][exports.HEADER_ROW:exports.HEADER_ROW + len(report.rows)]]
    assert names == ["'=HYPERLINK(\"http://x\",\"click\")"]
    assert ws.cell(row=exports.HEADER_ROW + 1, column=1).data_type == "s"
    assert "'=HYPERLINK" in exports.to_csv(report).decode("utf-8-sig")
    tb = exports.trial_balance_report(session, start=date(2025, 2, 1), end=END)
    openings = [row[4] for row in tb.rows]
    assert any(v < 0 for v in openings)  # credit balances carried in
    lines = list(csv.reader(io.StringIO(exports.to_csv(tb).decode("utf-8-sig"))))
    assert any(line[4].startswith("-") and not line[4].startswith("'") for line in lines[1:])


def test_amounts_show_with_each_currencys_minor_units(session):
    f.seller(session)
    acc = chart(session)
    cash, fees = acc.key("cash"), acc.key("gateway_fees")
    entity_id = session.exec(select(BusinessEntity.id)).first()
    posting.manual_entry(session, SYSTEM, entity_id=entity_id, entry_date=date(2025, 1, 5), memo="Fees", lines=[
        {"account_id": fees, "debit": "1500", "currency": "JPY"}, {"account_id": cash, "credit": "1500",
                                                                   "currency": "JPY"},
        {"account_id": fees, "debit": "1.250", "currency": "BHD"}, {"account_id": cash, "credit": "1.250",
                                                                    "currency": "BHD"}])
    report = exports.trial_balance_report(session, start=date(2025, 1, 1), end=date(2025, 1, 31))
    data = exports.to_xlsx(report)
    ws = _sheet(data)
    formats = {row[3].value: row[5].number_format for row in _data_rows(ws, report)}
    assert formats == {"BHD": '"BHD "#,##0.000;-"BHD "#,##0.000', "JPY": '"¥"#,##0;-"¥"#,##0'}
    assert {"1500", "1.250"} <= _exact(data)
    lines = list(csv.reader(io.StringIO(exports.to_csv(report).decode("utf-8-sig"))))
    assert {(ln[3], ln[5]) for ln in lines[1:] if ln[5] != "0" and ln[5] != "0.000"} == {("BHD", "1.250"),
                                                                                        ("JPY", "1500")}


def test_a_float_never_reaches_a_cell():
    report = exports.Report("T", "", [exports.Column("Amount", "money")], [[0.1]], ["USD"], "t")
    with pytest.raises(TypeError, match="never a float"):
        exports.to_xlsx(report)


def test_billed_and_recognised_by_month_and_the_deferred_waterfall(session):
    _books(session)
    months = views.revenue_by_month(session, start=START, end=END, currency="USD")
    by = {f"{m.month:%Y-%m}": m for m in months}
    assert list(by) == ["2024-12", "2025-01", "2025-02", "2025-03"]
    jan_to_mar = [D("558.90"), D("920.55"), D("1019.18")]  # $12,000 from 15 Jan 2025 by days
    # the yearly fee is billed when its invoice is approved; the monthly fee (immediate) is billed and
    # recognised when its invoice is approved
    billed = sum((m.billed for m in months), D(0))
    recognised = sum((m.recognised for m in months), D(0))
    assert billed == D("12000.00") + D("1000.00")
    assert recognised == sum(jan_to_mar, D(0)) + D("1000.00")
    flow = views.deferred_waterfall(session, start=START, end=END, currency="USD")
    assert [w.recognised for w in flow][1:] == jan_to_mar
    for w in flow:
        assert w.closing == w.opening + w.billed - w.recognised + w.adjustments
    for a, b in zip(flow, flow[1:]):
        assert b.opening == a.closing
    deferred = -sum((r.closing for r in reports.trial_balance(session, end=END, currency="USD")
                     if r.code == "2100"), D(0))
    assert flow[-1].closing == deferred == D("12000.00") - sum(jan_to_mar, D(0))


def test_zip_of_several_files():
    data = exports.zip_files([("a.csv", b"x"), ("b.csv", b"y")])
    z = zipfile.ZipFile(io.BytesIO(data))
    assert z.namelist() == ["a.csv", "b.csv"] and z.read("b.csv") == b"y"
