"""With TAX_PROVIDER=avatax the invoice run asks AvaTax (here: a local server serving recorded answers)."""
from datetime import date
from decimal import Decimal

import pytest

from core.auth import SYSTEM
from core.billing.contracts import LineSpec
from core.errors import UserError
from core.invoicing.service import generate_drafts, invoice_lines
from core.models import Invoice
from tests.connectors.conftest import ACCOUNT_ID, LICENSE_KEY
from tests.db import factories as f

RUN = dict(period_start=date(2025, 3, 1), period_end=date(2025, 4, 1))


def _setup(session):
    f.seller(session)
    f.customer(session, "C1", country="US", region="CA", city="San Francisco", postal_code="94105",
               address_line1="100 Market St")
    f.contract(session, "C1", [LineSpec("Platform", "flat_fee", {"amount": "250"}),
                               LineSpec("Support", "flat_fee", {"amount": "12.50"})], start=date(2025, 1, 1))


def test_invoice_run_takes_the_tax_from_avatax(session, avatax_server, monkeypatch):
    monkeypatch.setenv("TAX_PROVIDER", "avatax")
    monkeypatch.setenv("AVATAX_BASE_URL", avatax_server.url)
    monkeypatch.setenv("AVATAX_ACCOUNT_ID", ACCOUNT_ID)
    monkeypatch.setenv("AVATAX_LICENSE_KEY", LICENSE_KEY)
    _setup(session)
    inv_id = generate_drafts(session, SYSTEM, **RUN).created[0]
    inv = session.get(Invoice, inv_id)
    assert inv.subtotal == Decimal("262.50") and inv.tax == Decimal("27.17")  # the recorded totalTax
    tax_line = invoice_lines(session, inv_id)[-1]
    assert tax_line.kind == "tax" and "AvaTax" in tax_line.breakdown
    sent = [r for r in avatax_server.requests if r.method == "POST"][-1].body
    assert sent["customerCode"] and sum(Decimal(str(ln["amount"])) for ln in sent["lines"]) == Decimal("262.5")


def test_avatax_selected_but_not_set_up_says_what_is_missing(session, monkeypatch):
    monkeypatch.setenv("TAX_PROVIDER", "avatax")
    for var in ("AVATAX_ACCOUNT_ID", "AVATAX_LICENSE_KEY"):
        monkeypatch.delenv(var, raising=False)
    _setup(session)
    with pytest.raises(UserError, match="account id: required"):
        generate_drafts(session, SYSTEM, **RUN)
