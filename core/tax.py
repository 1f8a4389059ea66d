"""Sales tax and VAT: the manual rate table, customer exemption, and tax providers.

- The rate table holds one rate per country and optional region (region '' = the whole country).
  :func:`rate_for` picks the customer's region rate when there is one, else the country rate.
- A tax-exempt customer gets ``TaxRule.exempt_rule(reason)``: the invoice shows a $0.00 "Tax exempt" line
  saying why (what a finance user and an auditor expect), instead of silently leaving tax out.
  ``None`` means no rate applies at all (no country on the customer, or no rate for it): no tax line.
- A provider (:class:`TaxProvider`) quotes the tax of a whole pre-tax document: :class:`ManualRates` (the
  table) or :class:`AvaTax` (Avalara's REST v2, see ``connectors/tax/avatax.py``). The invoice run prices
  the document without tax, asks the provider, then prices it again with ``quote.rule()``
  (:func:`tax_rule_from_provider` does the three steps).

Tax itself is computed by :func:`core.billing.modifiers.price_document`, once per document.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol, runtime_checkable

from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.billing.modifiers import DocumentResult, TaxRule
from core.errors import NotFound, UserError
from core.models import Customer, TaxRate
from core.money import HUNDRED, ZERO, MoneyError, format_number, to_decimal
from core.types import QUANTITY_SCALE

__all__ = [
    "TaxRule", "set_rate", "list_rates", "delete_rate", "rate_for", "describe_tax", "set_tax_exempt",
    "TaxAddress", "TaxDocumentLine", "TaxDocument", "Jurisdiction", "TaxQuote", "TaxProvider", "ManualRates",
    "AvaTax", "document_for", "tax_rule_from_provider",
]

EXEMPT_REASON = "the customer is marked tax exempt"


# --------------------------------------------------------------------------------------------------
# the rate table


def _country(value: str) -> str:
    c = (value or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", c):
        raise UserError(f"country: '{value}' is not a two-letter country code (for example US, DE, IN)")
    return c


def _percent(value) -> Decimal:
    try:
        p = to_decimal(value, field="percent")
    except MoneyError as exc:
        raise UserError(str(exc)) from None
    if not ZERO <= p <= HUNDRED:
        raise UserError("percent: a tax rate must be between 0 and 100")
    if p != p.quantize(Decimal(1).scaleb(-QUANTITY_SCALE)):
        raise UserError(f"percent: at most {QUANTITY_SCALE} decimals")
    return p


def _same_region(a: str, b: str) -> bool:
    return (a or "").strip().casefold() == (b or "").strip().casefold()


def set_rate(session: Session, actor: Actor, *, country: str, region: str = "", name: str = "Tax",
             percent) -> TaxRate:
    """Create or change the rate for a country (region '') or one of its regions."""
    require(actor, "catalog:write")
    country = _country(country)
    region = (region or "").strip()
    name = (name or "").strip()
    if not name:
        raise UserError("name: give the tax a name as it appears on invoices (VAT, GST, Sales tax)")
    if len(name) > 60:
        raise UserError("name: at most 60 characters")
    if len(region) > 100:
        raise UserError("region: at most 100 characters")
    pct = _percent(percent)
    existing = next((r for r in session.exec(select(TaxRate).where(TaxRate.country == country))
                     if _same_region(r.region, region)), None)
    before = None
    if existing is None:
        rate = TaxRate(country=country, region=region, name=name, percent=pct)
    else:
        rate = existing
        before = {"name": rate.name, "percent": _plain(rate.percent)}
        rate.name, rate.percent = name, pct
    session.add(rate)
    session.flush()
    audit.record(session, actor=actor.username, action="tax_rate.set", entity_type="tax_rate", entity_id=rate.id,
                 details={"country": country, "region": region, "name": name, "percent": pct, "before": before,
                          "after": {"name": name, "percent": _plain(pct)}})
    return rate


def _plain(percent: Decimal) -> str:
    """'5' rather than the stored '5.000000' (and '7.25' as typed), so the audit log reads 5 → 7.25."""
    return format(Decimal(percent).normalize(), "f")


def list_rates(session: Session, *, country: str | None = None) -> list[TaxRate]:
    q = select(TaxRate).order_by(TaxRate.country, TaxRate.region)
    if country:
        q = q.where(TaxRate.country == country.strip().upper())
    return list(session.exec(q))


def delete_rate(session: Session, actor: Actor, rate_id: int) -> None:
    require(actor, "catalog:delete")
    rate = session.get(TaxRate, rate_id)
    if rate is None:
        raise NotFound(f"there is no tax rate with id {rate_id}")
    audit.record(session, actor=actor.username, action="tax_rate.delete", entity_type="tax_rate", entity_id=rate.id,
                 details={"country": rate.country, "region": rate.region, "name": rate.name, "percent": rate.percent})
    session.delete(rate)
    session.flush()


def _customer(session: Session, customer: Customer | int) -> Customer:
    if isinstance(customer, Customer):
        return customer
    found = session.get(Customer, customer)
    if found is None:
        raise NotFound(f"there is no customer with id {customer}")
    return found


def _pick(rates: Sequence[TaxRate], region: str) -> TaxRate | None:
    """The region's own rate beats the country-wide rate (region '')."""
    if (region or "").strip():
        own = next((r for r in rates if r.region and _same_region(r.region, region)), None)
        if own is not None:
            return own
    return next((r for r in rates if not r.region), None)


def _lookup(session: Session, country: str, region: str) -> TaxRate | None:
    country = (country or "").strip().upper()
    if not country:
        return None
    return _pick(list_rates(session, country=country), region)


def _rule(rate: TaxRate) -> TaxRule:
    where = f"{rate.country}/{rate.region}" if rate.region else rate.country
    return TaxRule.rate(rate.name, rate.percent, note=f"tax table: {where}")


def rate_for(session: Session, customer: Customer | int) -> TaxRule | None:
    """The tax rule for a customer's invoices: exempt, the region rate, the country rate, or None."""
    c = _customer(session, customer)
    if c.tax_exempt:
        return TaxRule.exempt_rule(EXEMPT_REASON)
    rate = _lookup(session, c.country, c.region)
    return _rule(rate) if rate is not None else None


def rates_for(session: Session, customers: Sequence[Customer]) -> dict[int, TaxRule | None]:
    """``rate_for`` for many customers with one query (the invoice run)."""
    by_country: dict[str, list[TaxRate]] = {}
    for r in list_rates(session):
        by_country.setdefault(r.country, []).append(r)
    out: dict[int, TaxRule | None] = {}
    rules: dict[int, TaxRule] = {}  # id of a rate row -> its rule: customers of one rate share it (it is frozen)
    exempt: TaxRule | None = None
    for c in customers:
        if c.tax_exempt:
            if exempt is None:
                exempt = TaxRule.exempt_rule(EXEMPT_REASON)
            out[c.id] = exempt
            continue
        rate = _pick(by_country.get((c.country or "").strip().upper(), []), c.region)
        if rate is None:
            out[c.id] = None
            continue
        rule = rules.get(id(rate))
        if rule is None:
            rule = rules[id(rate)] = _rule(rate)
        out[c.id] = rule
    return out


def describe_tax(session: Session, customer: Customer | int) -> str:
    """Why a customer is (or is not) charged tax, in one sentence for the customer page."""
    c = _customer(session, customer)
    if c.tax_exempt:
        return "Tax exempt: invoices show a zero tax line marked exempt."
    if not c.country:
        return "No tax: the customer has no country, so no rate applies."
    rate = _lookup(session, c.country, c.region)
    if rate is None:
        place = f"{c.country}/{c.region}" if c.region else c.country
        return f"No tax: the tax table has no rate for {place}."
    where = f"{rate.country}, {rate.region}" if rate.region else f"{rate.country} (whole country)"
    return f"{rate.name} {format_number(rate.percent)}% — the rate for {where}."


def set_tax_exempt(session: Session, actor: Actor, customer_id: int, exempt: bool, *, reason: str = "") -> Customer:
    """Mark a customer tax exempt (or not); the reason (certificate number…) goes to the audit log."""
    require(actor, "customers:write")
    c = _customer(session, customer_id)
    if exempt and not (reason or "").strip():
        raise UserError("reason: say why the customer is exempt (for example the exemption certificate number)")
    before = c.tax_exempt
    c.tax_exempt = bool(exempt)
    session.add(c)
    session.flush()
    audit.record(session, actor=actor.username, action="customer.tax_exempt", entity_type="customer",
                 entity_id=c.id, details={"before": before, "after": c.tax_exempt, "reason": (reason or "").strip()})
    return c


# --------------------------------------------------------------------------------------------------
# providers


@dataclass(frozen=True)
class TaxAddress:
    line1: str = ""
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country: str = ""


@dataclass(frozen=True)
class TaxDocumentLine:
    number: str
    amount: Decimal  # the line's net amount (negative for a contract-level discount)
    description: str = ""
    tax_code: str = ""  # the provider's product tax code, e.g. AvaTax "SW054000" (SaaS)
    item_code: str = ""
    quantity: Decimal = Decimal(1)


@dataclass(frozen=True)
class TaxDocument:
    """A pre-tax document as a provider needs it."""

    code: str  # our document reference (draft id or invoice number)
    customer_code: str
    currency: str
    date: date
    ship_to: TaxAddress
    lines: tuple[TaxDocumentLine, ...]
    ship_from: TaxAddress | None = None
    kind: str = "SalesOrder"  # SalesOrder: a quote, nothing recorded; SalesInvoice: the approved invoice
    commit: bool = False
    exempt: bool = False
    exemption_no: str = ""

    @property
    def amount(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), ZERO)


@dataclass(frozen=True)
class Jurisdiction:
    name: str  # "WASHINGTON", "SEATTLE"
    kind: str  # State, County, City, Country, Special
    rate: Decimal  # as a fraction: 0.065
    tax: Decimal
    taxable: Decimal = ZERO
    tax_name: str = ""


@dataclass(frozen=True)
class TaxQuote:
    amount: Decimal  # tax for the whole document
    name: str = "Tax"
    percent: Decimal | None = None  # when one rate explains it (manual rates)
    lines: dict[str, Decimal] = field(default_factory=dict)  # line number -> tax
    jurisdictions: tuple[Jurisdiction, ...] = ()
    reference: str = ""  # the provider's transaction code/id
    provider: str = ""
    exempt: bool = False
    note: str = ""
    applies: bool = True  # False: no tax applies at all (no rate for the place): no tax line

    def rule(self) -> TaxRule | None:
        if not self.applies:
            return None
        if self.exempt:
            return TaxRule.exempt_rule(self.note or EXEMPT_REASON)
        if self.percent is not None:
            return TaxRule.rate(self.name, self.percent, note=self.note)
        ref = f" {self.reference}" if self.reference else ""
        return TaxRule.provided(self.name, self.amount, note=f"{self.provider or 'the tax provider'}{ref}")


@runtime_checkable
class TaxProvider(Protocol):
    name: str

    def quote(self, document: TaxDocument) -> TaxQuote: ...


class ManualRates:
    """The rate table as a provider: the ship-to country/region's rate on the document amount."""

    name = "Tax table"

    def __init__(self, session: Session):
        self.session = session

    def quote(self, document: TaxDocument) -> TaxQuote:
        if document.exempt:
            return TaxQuote(ZERO, name="Tax exempt", exempt=True, provider=self.name, note=EXEMPT_REASON)
        rate = _lookup(self.session, document.ship_to.country, document.ship_to.region)
        if rate is None:
            return TaxQuote(ZERO, provider=self.name, applies=False,
                            note=f"no rate for {document.ship_to.country or 'an unknown country'}")
        lines = {ln.number: ln.amount * rate.percent / HUNDRED for ln in document.lines}
        return TaxQuote(document.amount * rate.percent / HUNDRED, name=rate.name, percent=rate.percent, lines=lines,
                        provider=self.name, note=_rule(rate).note)


class AvaTax:
    """Avalara AvaTax REST v2 as a provider (the HTTP client lives in ``connectors.tax.avatax``)."""

    name = "AvaTax"

    def __init__(self, *, base_url: str, account_id: str, license_key: str, company_code: str = "DEFAULT",
                 ship_from: TaxAddress | None = None, timeout: int = 15, tax_name: str = "Sales tax"):
        from connectors.tax.avatax import AvaTaxClient, AvaTaxConfig

        self.client = AvaTaxClient(AvaTaxConfig(base_url=base_url, account_id=account_id, license_key=license_key,
                                                company_code=company_code, timeout=timeout))
        self.ship_from = ship_from
        self.tax_name = tax_name

    def close(self) -> None:
        self.client.close()

    def quote(self, document: TaxDocument) -> TaxQuote:
        return self.client.quote(document, ship_from=self.ship_from, tax_name=self.tax_name)


def document_for(result: DocumentResult, *, customer: Customer, code: str, on: date, kind: str = "SalesOrder",
                 tax_codes: dict[str, str] | None = None) -> TaxDocument:
    """The pre-tax document of a priced invoice, for a provider. ``tax_codes``: line number -> tax code."""
    codes = tax_codes or {}
    lines = tuple(TaxDocumentLine(number=t.number, amount=t.amount, description=t.description,
                                  tax_code=codes.get(t.number, ""))
                  for t in result.taxable_lines())
    return TaxDocument(code=code, customer_code=customer.external_id, currency=result.currency, date=on,
                       ship_to=TaxAddress(customer.address_line1, customer.city, customer.region,
                                          customer.postal_code, customer.country),
                       lines=lines, kind=kind, commit=kind == "SalesInvoice", exempt=customer.tax_exempt,
                       exemption_no="TAX-EXEMPT" if customer.tax_exempt else "")


def tax_rule_from_provider(provider: TaxProvider, pre_tax: DocumentResult, *, customer: Customer, code: str,
                           on: date, kind: str = "SalesOrder") -> TaxRule | None:
    """Ask a provider for a priced document's tax; pass the result to ``price_document(tax=...)``
    (``pre_tax`` is the same document priced with ``tax=None``)."""
    quote = provider.quote(document_for(pre_tax, customer=customer, code=code, on=on, kind=kind))
    return quote.rule()


def configured_provider() -> TaxProvider | None:
    """The outside tax provider the invoice run asks, when one is configured: ``TAX_PROVIDER=avatax`` with the
    ``AVATAX_*`` settings (base URL, account id, license key, company code). None: the manual rate table."""
    import os

    if os.environ.get("TAX_PROVIDER", "").strip().lower() != "avatax":
        return None
    from connectors.tax.avatax import AvaTaxConfig

    cfg = AvaTaxConfig.from_env()
    problems = cfg.problems()
    if problems:
        raise UserError("AvaTax is selected (TAX_PROVIDER=avatax) but not set up: " + "; ".join(problems))
    return AvaTax(base_url=cfg.base_url, account_id=cfg.account_id, license_key=cfg.license_key,
                  company_code=cfg.company_code)
