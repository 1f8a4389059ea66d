"""The AvaTax REST v2 client against a local stand-in serving recorded responses (see conftest.py)."""
from __future__ import annotations

import json
import socket
from datetime import date
from decimal import Decimal as D

import pytest

from connectors.tax.avatax import AvaTaxClient, AvaTaxConfig, AvaTaxError, build_transaction, dumps_exact, \
    parse_transaction
from core.billing.modifiers import ContractInput, LineInput, TaxRule, price_document
from core.errors import UserError
from core.models import Customer
from core.money import MoneyError
from core.tax import AvaTax, TaxAddress, TaxDocument, TaxDocumentLine, TaxProvider, document_for, \
    tax_rule_from_provider

ACCOUNT_ID = "2000123456"  # what the stand-in server accepts (conftest.py)
LICENSE_KEY = "1A2B3C4D5E6F7A8B"
SELLER = TaxAddress("255 S King St", "Seattle", "WA", "98104", "US")


def _customer(**extra) -> Customer:
    fields = dict(external_id="ACME", name="Acme Corp", address_line1="1100 2nd Ave", city="Seattle", region="WA",
                  postal_code="98101", country="US", entity_id=1)
    return Customer(**{**fields, **extra})


def _pre_tax():
    """The worked chain before tax: $200 usage, 10% off, $250 minimum, 5% service fee → $262.50."""
    return price_document(
        [LineInput("calls", "API calls", D("200"), {"discounts": [{"type": "percent", "value": "10"}],
                                                     "minimum_commitment": {"amount": "250"}})],
        ContractInput({"service_fees": [{"type": "percent", "value": "5", "description": "Service fee"}]}), "USD")


def _provider(url: str, **extra) -> AvaTax:
    return AvaTax(base_url=url, account_id=extra.pop("account_id", ACCOUNT_ID),
                  license_key=extra.pop("license_key", LICENSE_KEY), company_code=extra.pop("company_code", "DEFAULT"),
                  ship_from=SELLER, **extra)


def _document(customer: Customer | None = None) -> TaxDocument:
    return document_for(_pre_tax(), customer=customer or _customer(), code="DRAFT-42", on=date(2025, 1, 31),
                        tax_codes={"calls": "SW054000", "contract:service_fee:0": "SW054000"})


def test_quote_reads_total_tax_lines_and_jurisdictions(avatax_server):
    provider = _provider(avatax_server.url)
    assert isinstance(provider, TaxProvider)
    quote = provider.quote(_document())
    assert quote.amount == D("27.17") and isinstance(quote.amount, D)
    assert quote.lines == {"calls": D("25.88"), "contract:service_fee:0": D("1.29")}
    assert [(j.name, j.kind, j.rate, j.tax) for j in quote.jurisdictions] == [
        ("WASHINGTON", "State", D("0.065"), D("17.06")), ("SEATTLE", "City", D("0.0245"), D("6.43")),
        ("REGIONAL TRANSIT AUTHORITY", "Special", D("0.014"), D("3.68"))]
    assert sum(j.tax for j in quote.jurisdictions) == quote.amount
    assert quote.reference == "DRAFT-42" and quote.provider == "AvaTax"


def test_the_request_is_a_create_transaction_model(avatax_server):
    _provider(avatax_server.url).quote(_document())
    (req,) = avatax_server.requests
    assert (req.method, req.path) == ("POST", "/api/v2/transactions/create")
    headers = {k.lower(): v for k, v in req.headers.items()}
    assert headers["authorization"].startswith("Basic ")
    assert headers["content-type"] == "application/json"
    assert headers["x-avalara-client"].startswith("Counting House; 1.0; ")
    body = req.body
    assert {k: body[k] for k in ("type", "code", "companyCode", "date", "customerCode", "currencyCode", "commit")} == {
        "type": "SalesOrder", "code": "DRAFT-42", "companyCode": "DEFAULT", "date": "2025-01-31",
        "customerCode": "ACME", "currencyCode": "USD", "commit": False}
    assert body["addresses"] == {
        "shipFrom": {"line1": "255 S King St", "city": "Seattle", "region": "WA", "country": "US",
                     "postalCode": "98104"},
        "shipTo": {"line1": "1100 2nd Ave", "city": "Seattle", "region": "WA", "country": "US",
                   "postalCode": "98101"}}
    assert body["lines"] == [
        {"number": "calls", "quantity": 1, "amount": D("250.00"), "taxCode": "SW054000", "description": "API calls"},
        {"number": "contract:service_fee:0", "quantity": 1, "amount": D("12.50"), "taxCode": "SW054000",
         "description": "Service fee"}]
    assert "exemptionNo" not in body


def test_the_quote_becomes_the_invoice_tax_line(avatax_server):
    pre_tax = _pre_tax()
    rule = tax_rule_from_provider(_provider(avatax_server.url), pre_tax, customer=_customer(), code="DRAFT-42",
                                  on=date(2025, 1, 31))
    assert rule == TaxRule(name="Sales tax", amount=D("27.17"), note="AvaTax DRAFT-42")
    result = price_document(
        [LineInput("calls", "API calls", D("200"), {"discounts": [{"type": "percent", "value": "10"}],
                                                     "minimum_commitment": {"amount": "250"}})],
        ContractInput({"service_fees": [{"type": "percent", "value": "5", "description": "Service fee"}]}), "USD",
        rule, D("0"))
    tax = result.steps[-1]
    assert (tax.kind, tax.description, tax.amount, tax.breakdown) == (
        "tax", "Sales tax", D("27.17"), "calculated by AvaTax DRAFT-42 on $262.50")
    assert result.total == D("289.67")


def test_an_invalid_address_is_a_readable_error(avatax_server):
    with pytest.raises(UserError) as caught:
        _provider(avatax_server.url).quote(_document(_customer(postal_code="00000")))
    err = caught.value
    assert isinstance(err, AvaTaxError) and (err.code, err.status) == ("InvalidAddress", 400)
    message = str(err)
    assert message.startswith("AvaTax refused the address: The address value was incomplete. The address value "
                              "'00000' was incomplete. You must provide either a valid postal code")
    assert err.correlation_id == avatax_server.correlation_ids[-1]
    assert message.endswith(f"(AvaTax reference {err.correlation_id})")


@pytest.mark.parametrize(
    "extra, customer, starts",
    [
        ({"license_key": "wrong"}, {}, "AvaTax refused the sign-in: check the account id and license key"),
        ({"company_code": "NOPE"}, {}, "AvaTax refused the transaction: Company not found. The Company with code "
                                       "'NOPE' was not found. [EntityNotFoundError]"),
        ({}, {"external_id": "BROKEN"}, "AvaTax is unavailable right now (HTTP 503); try again later"),
        ({"timeout": 0.1}, {"external_id": "SLOW"}, "AvaTax did not answer within 0.1 seconds"),
    ],
)
def test_other_errors_are_readable(avatax_server, extra, customer, starts):
    with pytest.raises(AvaTaxError) as caught:
        _provider(avatax_server.url, **extra).quote(_document(_customer(**customer)))
    assert str(caught.value).startswith(starts)


def test_an_unreachable_server_is_a_readable_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(AvaTaxError, match=f"AvaTax could not be reached at http://127.0.0.1:{port}"):
        _provider(f"http://127.0.0.1:{port}").quote(_document())


def test_ping_checks_the_credentials(avatax_server):
    config = AvaTaxConfig(base_url=avatax_server.url, account_id=ACCOUNT_ID, license_key=LICENSE_KEY)
    with AvaTaxClient(config) as client:
        assert client.ping()["authenticatedAccountId"] == 2000123456
    bad = AvaTaxConfig(base_url=avatax_server.url, account_id=ACCOUNT_ID, license_key="nope")
    with AvaTaxClient(bad) as client, pytest.raises(AvaTaxError, match="did not accept the account id"):
        client.ping()


def test_missing_settings_are_listed():
    with pytest.raises(UserError) as caught:
        AvaTaxClient(AvaTaxConfig(base_url="sandbox", account_id="", license_key=""))
    assert str(caught.value) == (
        "AvaTax is not set up: AvaTax URL: must start with https:// (for example https://sandbox-rest.avatax.com); "
        "AvaTax account id: required (AvaTax → Settings → License and API keys); AvaTax license key: required")


def test_build_transaction_variants():
    doc = TaxDocument(code="INV-7", customer_code="C1", currency="EUR", date=date(2025, 3, 1),
                      ship_to=TaxAddress(postal_code="10115", country="DE"),
                      lines=(TaxDocumentLine("1", D("100.005"), "Seats"),), kind="SalesInvoice", commit=True,
                      exempt=True, exemption_no="CERT-9")
    model = build_transaction(doc, company_code="EU1")
    assert model["addresses"] == {"singleLocation": {"country": "DE", "postalCode": "10115"}}
    assert (model["type"], model["commit"], model["exemptionNo"]) == ("SalesInvoice", True, "CERT-9")
    assert '"amount":100.005' in dumps_exact(model)
    with pytest.raises(UserError, match="document type"):
        build_transaction(TaxDocument("x", "c", "USD", date(2025, 1, 1), TaxAddress(), doc.lines, kind="Quote"),
                          company_code="X")


def test_exact_json():
    assert dumps_exact({"a": D("0.10"), "b": [1, True, None, "é\""]}) == '{"a":0.10,"b":[1,true,null,"\\u00e9\\""]}'
    assert json.loads(dumps_exact({"x": D("-262.50")}), parse_float=D) == {"x": D("-262.50")}
    with pytest.raises(MoneyError):
        dumps_exact({"amount": 0.1})


def test_an_exempt_answer_becomes_an_exempt_tax_line():
    quote = parse_transaction({"code": "INV-9", "totalTax": 0, "totalTaxable": 0, "totalExempt": D("100"),
                               "lines": [{"lineNumber": "1", "tax": 0}], "summary": []})
    assert quote.exempt and quote.rule() == TaxRule.exempt_rule("exempt according to AvaTax")
    with pytest.raises(AvaTaxError, match="without a total tax"):
        parse_transaction({"code": "x"})
