"""Tax rates by country/region, exemption, and the customer wallet — on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from core import audit
from core.auth import SYSTEM, Actor
from core.billing.modifiers import ContractInput, LineInput, TaxRule, price_document
from core.errors import NotFound, PermissionDenied, UserError
from core.tax import ManualRates, TaxAddress, TaxDocument, TaxDocumentLine, delete_rate, describe_tax, list_rates, \
    rate_for, set_rate, set_tax_exempt
from core.wallet import add_credit, balance, balances, entries, use_credit
from tests.db import factories as f

FINANCE = Actor("fiona", "finance")
SALES = Actor("sam", "sales")
OPS = Actor("olga", "ops")
VIEWER = Actor("vic", "viewer")


@pytest.fixture
def people(session):
    f.seller(session)
    out = {
        "ca": f.customer(session, "C-CA", country="US", region="CA"),
        "ca_lower": f.customer(session, "C-ca", country="us", region="ca"),
        "tx": f.customer(session, "C-TX", country="US", region="TX"),
        "de": f.customer(session, "C-DE", country="DE", region="BY", currency="EUR"),
        "nowhere": f.customer(session, "C-0"),
    }
    session.commit()
    return out


def _pct(rule: TaxRule | None):
    return None if rule is None else (rule.name, rule.percent, rule.exempt)


# --------------------------------------------------------------------------------------------------
# tax rates


def test_region_rate_beats_country_rate(session, people):
    set_rate(session, FINANCE, country="us", name="Sales tax", percent="5")
    set_rate(session, FINANCE, country="US", region="CA", name="Sales tax", percent="7.25")
    session.commit()
    assert _pct(rate_for(session, people["ca"])) == ("Sales tax", D("7.25"), False)
    assert _pct(rate_for(session, people["ca_lower"].id)) == ("Sales tax", D("7.25"), False)  # case-insensitive
    assert _pct(rate_for(session, people["tx"])) == ("Sales tax", D("5"), False)  # no TX rate: the country's
    assert rate_for(session, people["de"]) is None  # no rate for DE at all
    assert rate_for(session, people["nowhere"]) is None  # no country
    assert rate_for(session, people["ca"]).note == "tax table: US/CA"
    assert describe_tax(session, people["ca"]) == "Sales tax 7.25% — the rate for US, CA."
    assert describe_tax(session, people["tx"]) == "Sales tax 5% — the rate for US (whole country)."
    assert describe_tax(session, people["de"]) == "No tax: the tax table has no rate for DE/BY."
    assert describe_tax(session, people["nowhere"]) == "No tax: the customer has no country, so no rate applies."


def test_a_region_rate_without_a_country_rate(session, people):
    set_rate(session, FINANCE, country="DE", region="BY", name="VAT", percent="19")
    assert _pct(rate_for(session, people["de"])) == ("VAT", D("19"), False)
    assert rate_for(session, people["ca"]) is None


def test_set_rate_changes_the_rate_of_a_place_and_delete_falls_back(session, people):
    country = set_rate(session, FINANCE, country="US", name="Sales tax", percent="5")
    ca = set_rate(session, FINANCE, country="US", region="CA", name="Sales tax", percent="7.25")
    again = set_rate(session, FINANCE, country="US", region="ca", name="CA sales tax", percent="8.875")
    session.commit()
    assert again.id == ca.id
    assert [(r.country, r.region, r.name, r.percent) for r in list_rates(session)] == [
        ("US", "", "Sales tax", D("5")), ("US", "CA", "CA sales tax", D("8.875"))]
    assert _pct(rate_for(session, people["ca"])) == ("CA sales tax", D("8.875"), False)
    logged = audit.recent(session, action="tax_rate.set")
    assert logged[0].details["before"] == {"name": "Sales tax", "percent": "7.25"}
    delete_rate(session, FINANCE, ca.id)
    session.commit()
    assert [r.id for r in list_rates(session)] == [country.id]
    assert _pct(rate_for(session, people["ca"])) == ("Sales tax", D("5"), False)
    assert audit.recent(session, action="tax_rate.delete")[0].details["region"] == "CA"
    with pytest.raises(NotFound):
        delete_rate(session, FINANCE, ca.id)


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(country="USA", percent="5"), "country: 'USA' is not a two-letter country code"),
        (dict(country="US", percent="101"), "percent: a tax rate must be between 0 and 100"),
        (dict(country="US", percent="-1"), "percent: a tax rate must be between 0 and 100"),
        (dict(country="US", percent=0.1), "got the float 0.1"),
        (dict(country="US", percent="5.0000001"), "percent: at most 6 decimals"),
        (dict(country="US", percent="5", name=" "), "name: give the tax a name"),
    ],
)
def test_set_rate_refuses_bad_input(session, fields, message):
    with pytest.raises(UserError, match=message):
        set_rate(session, FINANCE, **fields)


def test_exempt_customers_get_an_exempt_tax_line(session, people):
    set_rate(session, FINANCE, country="US", name="Sales tax", percent="5")
    with pytest.raises(UserError, match="reason: say why"):
        set_tax_exempt(session, SALES, people["tx"].id, True)
    set_tax_exempt(session, SALES, people["tx"].id, True, reason="resale certificate TX-123")
    session.commit()
    rule = rate_for(session, people["tx"].id)
    assert rule.exempt and rule.name == "Tax exempt"
    assert describe_tax(session, people["tx"]) == "Tax exempt: invoices show a zero tax line marked exempt."
    result = price_document([LineInput("1", "Seats", D("100"))], None, "USD", rule)
    assert [(s.kind, s.description, s.amount) for s in result.steps][-1] == ("tax", "Tax exempt", D("0.00"))
    assert result.total == D("100.00")
    assert audit.recent(session, action="customer.tax_exempt")[0].details["reason"] == "resale certificate TX-123"
    set_tax_exempt(session, SALES, people["tx"].id, False)
    assert _pct(rate_for(session, people["tx"])) == ("Sales tax", D("5"), False)


def test_manual_rates_as_a_provider(session, people):
    set_rate(session, FINANCE, country="US", region="CA", name="Sales tax", percent="7.25")
    provider = ManualRates(session)
    doc = TaxDocument("DRAFT-1", "C-CA", "USD", date(2025, 1, 31), TaxAddress(region="CA", country="US"),
                      tuple(TaxDocumentLine(str(i), D("0.10")) for i in range(3)))
    quote = provider.quote(doc)
    assert quote.amount == D("0.02175")  # precise; the invoice rounds it once
    assert quote.rule() == TaxRule.rate("Sales tax", D("7.25"), note="tax table: US/CA")
    nowhere = TaxDocument("DRAFT-2", "C-0", "USD", date(2025, 1, 31), TaxAddress(country="FR"), doc.lines)
    assert provider.quote(nowhere).rule() is None
    exempt = TaxDocument("DRAFT-3", "C-CA", "USD", date(2025, 1, 31), doc.ship_to, doc.lines, exempt=True)
    assert provider.quote(exempt).rule().exempt


# --------------------------------------------------------------------------------------------------
# wallet


def test_wallet_balance_is_exact(session, people):
    cid = people["ca"].id
    for _ in range(10):
        add_credit(session, FINANCE, customer_id=cid, currency="USD", amount="0.10", kind="prepaid")
    session.commit()
    assert balance(session, cid, "USD") == D("1.00")
    assert str(balance(session, cid, "usd")) == "1.00"
    use_credit(session, cid, "USD", D("0.30"), None)
    session.commit()
    assert balance(session, cid, "USD") == D("0.70") and isinstance(balance(session, cid, "USD"), D)

    add_credit(session, FINANCE, customer_id=cid, currency="BHD", amount="1.001", kind="grant")
    add_credit(session, FINANCE, customer_id=cid, currency="BHD", amount="0.002", kind="manual", note="goodwill")
    add_credit(session, FINANCE, customer_id=cid, currency="JPY", amount="500", kind="credit_note")
    session.commit()
    assert str(balance(session, cid, "BHD")) == "1.003"
    assert str(balance(session, cid, "JPY")) == "500"
    assert balances(session, cid) == {"BHD": D("1.003"), "JPY": D("500"), "USD": D("0.70")}
    assert balance(session, people["tx"].id, "USD") == D("0")  # no entries
    assert [(e.kind, e.amount) for e in entries(session, cid, "USD")][-2:] == [("prepaid", D("0.10")),
                                                                               ("invoice", D("-0.30"))]


def test_use_credit_never_overdraws(session, people):
    cid = people["ca"].id
    add_credit(session, FINANCE, customer_id=cid, currency="USD", amount="100")
    session.commit()
    with pytest.raises(UserError, match=r"the wallet holds \$100.00; it cannot pay \$100.01"):
        use_credit(session, cid, "USD", "100.01", None)
    with pytest.raises(UserError, match="the wallet holds €0.00"):
        use_credit(session, cid, "EUR", "1", None)  # credit in another currency does not count
    session.rollback()
    assert balance(session, cid, "USD") == D("100.00")
    use_credit(session, cid, "USD", "100", None)
    session.commit()
    assert balance(session, cid, "USD") == D("0.00")
    with pytest.raises(UserError):
        use_credit(session, cid, "USD", "0.01", None)


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(amount="0"), "amount: must be more than zero"),
        (dict(amount="-5"), "amount: must be more than zero"),
        (dict(amount="1.005"), "amount: USD has 2 decimals at most"),
        (dict(amount=1.5), "got the float 1.5"),
        (dict(amount="5", kind="gift"), "kind: choose one of prepaid, grant, credit_note, payment, manual"),
        (dict(amount="5", currency="XXX"), "'XXX' is not a supported currency code"),
    ],
)
def test_add_credit_refuses_bad_input(session, people, fields, message):
    args = {"customer_id": people["ca"].id, "currency": "USD", "kind": "prepaid", **fields}
    with pytest.raises(UserError, match=message):
        add_credit(session, FINANCE, **args)


def test_add_credit_to_an_unknown_customer(session):
    with pytest.raises(NotFound):
        add_credit(session, FINANCE, customer_id=999, currency="USD", amount="5")


def test_the_worked_chain_paid_from_the_wallet(session, people):
    """Rate from the table, wallet balance from the ledger, credits used back into the ledger."""
    set_rate(session, FINANCE, country="US", region="CA", name="Tax", percent="18")
    cid = people["ca"].id
    add_credit(session, FINANCE, customer_id=cid, currency="USD", amount="100", kind="prepaid", note="Q1 prepay")
    session.commit()
    result = price_document(
        [LineInput("calls", "API calls", D("200"), {"discounts": [{"type": "percent", "value": "10"}],
                                                     "minimum_commitment": {"amount": "250"}})],
        ContractInput({"service_fees": [{"type": "percent", "value": "5"}]}), "USD",
        rate_for(session, cid), balance(session, cid, "USD"))
    assert (result.total, result.credits_applied, result.amount_due) == (D("309.75"), D("100.00"), D("209.75"))
    use_credit(session, cid, "USD", result.credits_applied, None, actor=FINANCE)
    session.commit()
    assert balance(session, cid, "USD") == D("0.00")
    assert audit.recent(session, action="wallet.use")[0].details["balance_after"] == "0.00"


# --------------------------------------------------------------------------------------------------
# permissions


@pytest.mark.parametrize("actor", [SALES, OPS, VIEWER])
def test_only_catalog_writers_set_rates(session, actor):
    with pytest.raises(PermissionDenied):
        set_rate(session, actor, country="US", percent="5")


def test_only_catalog_deleters_delete_rates(session):
    rate = set_rate(session, SYSTEM, country="US", percent="5")
    with pytest.raises(PermissionDenied):
        delete_rate(session, SALES, rate.id)


@pytest.mark.parametrize("actor", [SALES, OPS, VIEWER])
def test_only_invoice_writers_move_wallet_money(session, people, actor):
    with pytest.raises(PermissionDenied):
        add_credit(session, actor, customer_id=people["ca"].id, currency="USD", amount="5")
    add_credit(session, FINANCE, customer_id=people["ca"].id, currency="USD", amount="5")
    with pytest.raises(PermissionDenied):
        use_credit(session, people["ca"].id, "USD", "1", None, actor=actor)


def test_viewers_cannot_mark_customers_exempt(session, people):
    with pytest.raises(PermissionDenied):
        set_tax_exempt(session, VIEWER, people["ca"].id, True, reason="x")
