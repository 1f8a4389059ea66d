"""Pilot reconciliation page: upload the prospect's invoices, read the match rate and the differing line, download
the Excel report; a bad file names the cell and shows no comparison."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import select

from core.db import make_engine, session_scope
from core.models import Customer, Invoice, InvoiceLine
from tests.ui.conftest import texts

PAGE = "pages/pilot.py"
OCTOBER = date(2026, 10, 1)  # the demo pilot's invoice run


def _their_file(url: str) -> tuple[bytes, str, int]:
    """Every October demo line as the prospect's system would export it, with one line $10 higher."""
    engine = make_engine(url)
    rows, changed, customers = [], None, set()
    try:
        with session_scope(engine) as s:
            q = (select(Customer.external_id, Invoice.issue_date, Invoice.currency, InvoiceLine.description,
                        InvoiceLine.amount).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                 .join(Customer, Customer.id == Invoice.customer_id)
                 .where(Invoice.period_start >= OCTOBER, Invoice.period_start < date(2026, 11, 1))
                 .order_by(Invoice.id, InvoiceLine.sort_order))
            for ext, issued, code, desc, amount in s.exec(q):
                customers.add(ext)
                if changed is None and amount > 100:
                    changed, amount = ext, amount + 10
                rows.append(f'{ext},{issued},"{desc}",{amount},{code}')
    finally:
        engine.dispose()
    body = "Customer,Invoice date,Description,Amount,Currency\n" + "\n".join(rows) + "\n"
    return body.encode(), changed, len(customers)


def test_compare_with_their_invoices(open_page, demo_db):
    content, changed, n = _their_file(demo_db)
    assert n >= 3 and changed
    at = open_page(PAGE, role="finance")
    assert "Choose the file with their invoice lines" in texts(at)
    at.selectbox(key="pilot_month").set_value(OCTOBER).run()
    at.file_uploader(key="pilot_file").upload("their-invoices.csv", content, "text/csv").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    expected_rate = (Decimal(n - 1) * 100 / n).quantize(Decimal("0.1"))
    assert f"{expected_rate}% of customers match" in shown
    table = at.dataframe[0].value
    first = table.iloc[0]
    assert first["Status"] == "Differs" and first["Customer id"] == changed
    assert first["Difference"].startswith("-") and "10.00" in first["Difference"]
    assert (table["Status"] == "Match").sum() == n - 1
    lines = at.dataframe[1].value  # the differing customer is picked first
    assert (lines["Status"] == "Differs").sum() == 1
    assert any(b.label == "Download the report (Excel)" for b in at.get("download_button"))


def test_bad_file_names_the_cell(open_page):
    at = open_page(PAGE, role="finance")
    bad = b"Customer,Invoice date,Description,Amount\nACME-001,31/10/2026,Platform fee,500\n"
    at.file_uploader(key="pilot_file").upload("theirs.csv", bad, "text/csv").run()
    assert not at.exception
    assert "1 problem in the file; nothing was compared" in " ".join(e.value for e in at.error)
    problems = at.dataframe[0].value
    assert list(problems.iloc[0][["Row", "Column"]]) == [2, "Invoice date"]
    assert "ambiguous" in problems.iloc[0]["Problem"]
    assert "% of customers match" not in texts(at)
