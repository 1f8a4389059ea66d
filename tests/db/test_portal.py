"""core.portal on SQLite and PostgreSQL: signed, expiring, per-customer links; the view holds only that customer's
issued invoices; the customer's own edits are validated and audited; the CLI makes a link."""
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from cli import main
from core import portal
from core.auth import SYSTEM
from core.errors import UserError
from core.invoicing.service import approve_invoice, generate_drafts
from core.models import AuditLog, Customer
from core.portal_links import LinkInvalid, invoice_token
from tests.db import factories as f
from core.billing.contracts import LineSpec


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("PORTAL_SECRET", "portal-secret-for-the-db-tests-0123456789")


def _two_customers(session):
    f.seller(session)
    for ext in ("C1", "C2"):
        f.customer(session, ext)
        f.contract(session, ext, [LineSpec("Platform fee", "flat_fee", {"amount": "100"})], start=date(2025, 1, 1))
    ids = generate_drafts(session, SYSTEM, period_start=date(2025, 1, 1), period_end=date(2025, 2, 1)).created
    invoices = [approve_invoice(session, SYSTEM, i) for i in ids]
    c1, c2 = (session.exec(select(Customer).where(Customer.external_id == e)).one() for e in ("C1", "C2"))
    return c1, c2, invoices


def test_a_link_opens_one_customer_and_nothing_else(session):
    c1, c2, invoices = _two_customers(session)
    link = portal.create_link(session, SYSTEM, c1.id, days=7)
    v = portal.view(session, link.token)
    assert v.customer.id == c1.id
    assert [i.number for i in v.invoices] == [inv.number for inv in invoices if inv.customer_id == c1.id]
    assert v.due_by_currency() == {"USD": invoices[0].total}
    other = next(inv for inv in invoices if inv.customer_id == c2.id)
    with pytest.raises(LinkInvalid, match="not one of this account"):
        portal.invoice_pdf(session, link.token, other.id)
    cid, stamp, sig = link.token.split(".")
    for bad in (f"c{c2.id}.{stamp}.{sig}", f"{cid}.{int(stamp) + 1}.{sig}", invoice_token(session, other.id),
                link.token[:-3], ""):
        with pytest.raises(LinkInvalid):
            portal.verify(session, bad)
    with pytest.raises(LinkInvalid, match="expired"):
        portal.verify(session, link.token, now=datetime.now(UTC) + timedelta(days=8))
    c1.archived = True
    session.add(c1)
    with pytest.raises(LinkInvalid, match="no longer opens"):
        portal.verify(session, link.token)


def test_the_customer_edits_only_its_billing_details(session):
    c1, _, _ = _two_customers(session)
    token = portal.create_link(session, SYSTEM, c1.id).token
    with pytest.raises(UserError, match="email"):
        portal.update_details(session, token, {"email": "nope"})
    with pytest.raises(UserError, match="currency: cannot be changed from the portal"):
        portal.update_details(session, token, {"currency": "EUR"})
    portal.update_details(session, token, {"email": "ap@c1.example", "tax_id": "DE123456789"})
    session.commit()
    cust = session.get(Customer, c1.id)
    assert (cust.email, cust.tax_id, cust.currency) == ("ap@c1.example", "DE123456789", "USD")
    log = session.exec(select(AuditLog).where(AuditLog.action == "customer.update")).all()[-1]
    assert log.actor == "portal:C1" and set(log.details) == {"email", "tax_id"}


def test_cli_makes_a_link(engine, db_url, monkeypatch, capsys, session):
    _two_customers(session)
    session.commit()
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("APP_BASE_URL", "https://billing.example")
    assert main(["portal-link", "C2", "--days", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("https://billing.example/portal?token=c")
    token = out.split("token=")[1].split()[0]
    assert portal.verify(session, token).external_id == "C2"
    assert main(["portal-link", "C9"]) == 1
    assert "no customer with the id 'C9'" in capsys.readouterr().err
