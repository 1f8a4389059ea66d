"""In a real browser, the pilot as a finance user runs it on a new installation: sign in (the first admin), the
company and the product (through the first invoice guide, the way in on an empty database), import the prospect's
customers from a CSV, build a contract on the Contracts page, upload the month's usage, generate and approve the
invoice, record the payment, reconcile with the prospect's own invoices for the month, and prepare the sign-off
report (the workbook and the PDF) on the pilot plan started on day one.

Screenshots: tests/e2e/artifacts/test_the_pilot_in_a_browser/ (docs/e2e.md shows a few).
"""
from __future__ import annotations

import csv
import re
import shutil
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from core.analytics.overview import billing_month
from core.pilot.signoff import SHEETS
from tests.e2e.browser import ROOT, Walk, first_admin, stored_invoices

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CUSTOMERS = ROOT / "data" / "demo" / "customers.csv"  # the demo pilot's 20 customers: a CRM export in our columns
UNIT_PRICE = Decimal("0.002")
QUANTITIES = (Decimal(12000), Decimal(8000), Decimal(5000))
TOTAL = sum(QUANTITIES) * UNIT_PRICE  # 25,000 requests × $0.002 = $50.00


def usage_file(folder, month: date):  # noqa: ANN001, ANN201
    path = folder / f"usage-{month:%Y-%m}.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["idempotency_key", "customer_external_id", "event_name", "timestamp", "quantity"])
        for i, q in enumerate(QUANTITIES, start=1):
            w.writerow([f"evt-{month:%Y-%m}-{i:04d}", "ACME-001", "api_request",
                        f"{month.replace(day=3 * i):%Y-%m-%d}T09:30:00Z", q])
    return path


def their_invoices(folder, issued: date):  # noqa: ANN001, ANN201
    """The prospect's invoices for the month, as their current system exported them."""
    path = folder / "their-invoices.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer", "invoice_date", "invoice_number", "description", "amount", "currency"])
        w.writerow(["ACME-001", issued.isoformat(), "OLD-1042", "API requests", f"{TOTAL:.2f}", "USD"])
    return path


def test_the_pilot_in_a_browser(walk: Walk, app_server, tmp_path):
    start, end = billing_month()
    month = f"{start:%B %Y}"
    money = f"${TOTAL:,.2f}"

    # sign in: a new installation asks for the first admin
    first_admin(walk)

    # the company and what it sells: the first invoice guide's first two steps
    walk.nav("First invoice guide")
    walk.type("Company name (printed on your invoices)", "Northwind Cloud", commit=False)
    walk.press("Save my company")
    walk.heading("Step 2 of 7 · What you sell")
    walk.press("Save the product")
    walk.heading("Step 3 of 7 · A customer")

    # day one: the pilot plan (who the prospect is, who runs the pilot, the month the samples bill)
    walk.nav("Pilot plan")
    walk.type("Prospect", "Northwind Cloud", commit=False)
    walk.type("Owner", "Jane Finance", commit=False)
    walk.type("Month the samples bill", f"{start:%Y-%m}", commit=False)
    walk.press("Start the pilot")
    walk.see("Pilot with Northwind Cloud saved.")
    walk.shot("pilot-plan-started")

    # the prospect's customers, from a CSV export
    walk.nav("Customers")
    walk.tab("Import from a file")
    shutil.copyfile(CUSTOMERS, tmp_path / "customers.csv")
    walk.upload(tmp_path / "customers.csv")
    walk.see("Ready to import.")
    walk.shot("customers-import-checked")
    walk.press("Import 20 customers")
    walk.see("customers.csv imported.")
    walk.tab("Customers")
    walk.see("20 customers.")
    walk.shot("customers-imported")

    # a contract: one per-unit line on the metric the guide made
    walk.nav("Contracts")
    walk.tab("New contract")
    walk.choose("Customer", "Acme Analytics (ACME-001)")
    walk.type("Contract name", "Acme Analytics — API usage")
    walk.date("First day", start)
    walk.type("Description (printed on the invoice)", "API requests")
    walk.choose("Usage metric", "API requests")
    walk.type("Unit price", str(UNIT_PRICE))
    walk.see("1,500 × $0.002")  # the live price
    walk.press("Add this line")
    walk.see("3. Lines (1)")
    walk.shot("contract-built")
    walk.press("Create and activate")
    walk.see("was saved and is active with 1 line.")

    # the month's usage
    walk.nav("Usage")
    walk.upload(usage_file(tmp_path, start))
    walk.see("Ready to import.")
    walk.press("Import 3 usage events")
    walk.see(f"usage-{start:%Y-%m}.csv imported.")
    walk.see(f"Billable quantity per customer for {month}")
    walk.shot("usage-uploaded")

    # generate the month's draft, open it, approve it
    walk.nav("Invoices")
    walk.press(f"Generate drafts for {month}")
    walk.see("1 draft invoice created")
    walk.choose("Open an invoice", re.compile(rf"Draft · Acme Analytics · {month}"))
    walk.see("Draft invoice for Acme Analytics")
    walk.see(f"{sum(QUANTITIES):,} × $0.002")
    walk.shot("invoice-draft")
    walk.press("Approve", exact=True)
    walk.see(f"Invoice approved and numbered INV-000001 (Acme Analytics, {month}, {money}).")
    walk.shot("invoice-approved")

    # the customer pays
    walk.nav("Payments")
    walk.choose("Customer", "Acme Analytics (ACME-001)")
    walk.type("Amount received", f"{TOTAL:.2f}")
    walk.see(f"Allocated {money} of {money}")
    walk.press("Record the payment")
    walk.see(f"Payment of {money} from Acme Analytics recorded.")
    walk.shot("payment-recorded")

    # the pilot reconciliation: their invoices for the month against ours
    [ours] = stored_invoices(app_server.db_url)
    walk.nav("Pilot reconciliation")
    walk.upload(their_invoices(tmp_path, ours["issue_date"]))
    walk.see(re.compile(r"^100(\.0)?% of customers match$"))
    walk.shot("pilot-reconciliation")

    walk.press("Save this result to the pilot")
    walk.see("Saved to the pilot: 1 of 1 customers match")

    # sign-off: the report to send to the prospect, a workbook and a PDF
    walk.nav("Pilot plan")
    walk.tab("Sign-off report")
    walk.press("Prepare the sign-off report")
    walk.see(re.compile(r"^Prepared .* Download both and send them to Northwind Cloud\.$"))
    walk.shot("sign-off-report")
    workbook = walk.download("Download the workbook (Excel)", tmp_path)
    summary = walk.download("Download the summary (PDF)", tmp_path)
    book = load_workbook(workbook, read_only=True)
    assert tuple(book.sheetnames) == SHEETS
    assert ("Acme Analytics — API usage", "Acme Analytics", "ACME-001") in [
        row[:3] for row in book["Configuration"].iter_rows(values_only=True)]  # the contract built above
    recon = list(book["Reconciliation"].iter_rows(values_only=True))
    header = next(row for row in recon if "Their file" in row)
    [saved] = [dict(zip(header, row)) for row in recon if "their-invoices.csv" in row]  # the run saved above
    assert (saved["Invoice run"], saved["Customers"], saved["Matched"], saved["Differ"]) == (month, 1, 1, 0)
    assert summary.read_bytes().startswith(b"%PDF-")

    [invoice] = stored_invoices(app_server.db_url)
    assert (invoice["number"], invoice["status"], invoice["total"], invoice["amount_paid"]) == (
        "INV-000001", "paid", TOTAL, TOTAL)
    assert invoice["period_start"] == start and invoice["period_end"] == end
