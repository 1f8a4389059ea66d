"""In a real browser: a new installation, the first admin, and the first invoice guide from the empty database to an
approved invoice — with the usage file the guide offers for the customer just created, downloaded and uploaded
again as a person would. Screenshots: tests/e2e/artifacts/test_the_first_invoice_guide_in_a_browser/.
"""
from __future__ import annotations

import time
from decimal import Decimal

import pytest

from core.analytics.overview import billing_month
from core.guide import EXAMPLE_QUANTITIES
from tests.e2e.browser import Walk, first_admin, stored_invoices

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
FIVE_MINUTES = 300


def test_the_first_invoice_guide_in_a_browser(walk: Walk, app_server, tmp_path):
    began = time.monotonic()
    month = f"{billing_month()[0]:%B %Y}"
    first_admin(walk)
    walk.see("New here?")  # the Overview of an empty database points at the guide
    walk.shot("overview-points-at-the-guide")
    walk.page.get_by_role("link", name="Start the guide").click()
    walk.heading("First invoice guide")
    walk.see("0 of 7 steps done")
    walk.see("The seller printed on every invoice")
    walk.type("Company name (printed on your invoices)", "Northwind Cloud", commit=False)
    walk.shot("step-1-company")
    walk.press("Save my company")
    walk.see("Your company Northwind Cloud is set up, billing in USD.")
    walk.heading("Step 2 of 7 · What you sell")
    walk.shot("step-2-product")
    walk.press("Save the product")
    walk.heading("Step 3 of 7 · A customer")
    walk.press("Add the customer")
    walk.see("Acme Corp (ACME-001) is your customer.")
    walk.heading("Step 4 of 7 · A contract with one price")
    walk.see("1,500 × $0.01")  # the live price of the default pricing model
    walk.shot("step-4-contract")
    walk.press("Create the contract")
    walk.heading("Step 5 of 7 · Usage")

    walk.tab("Upload a file")
    example = walk.download("Download an example file for Acme Corp (CSV)", tmp_path)
    assert example.read_text().count(",ACME-001,api_request,") == len(EXAMPLE_QUANTITIES)
    walk.upload(example)
    walk.see("Ready to import.")
    walk.shot("step-5-usage-upload")
    walk.press("Import 8 usage events")
    total = sum(Decimal(q) for q in EXAMPLE_QUANTITIES)
    walk.see(f"8 api_request events for Acme Corp in {month}: {total:,} in all.")
    walk.heading("Step 6 of 7 · Generate the invoice")
    walk.press(f"Generate the invoice for {month}")
    walk.heading("Step 7 of 7 · Approve it")
    amount = f"${total * Decimal('0.01'):,.2f}"
    walk.see(f"The draft invoice for {month} is generated: {amount}.")
    walk.see(f"{total:,} × $0.01")  # how the amount was calculated, on the preview
    walk.shot("step-7-approve")
    walk.press("Approve the invoice")
    walk.see("7 of 7 steps done")
    walk.see(f"Invoice INV-000001 approved: {amount}")
    walk.shot("guide-finished")
    assert time.monotonic() - began < FIVE_MINUTES

    [invoice] = stored_invoices(app_server.db_url)
    assert (invoice["status"], invoice["number"], invoice["total"]) == ("approved", "INV-000001",
                                                                       total * Decimal("0.01"))
