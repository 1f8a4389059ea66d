"""The first-invoice guide: where a new user stands on the way from an empty database to a first approved invoice.

Nothing here writes: every step of the guide calls the service the other pages call (core.catalog,
core.metering.metrics, core.customers / core.importers.customers, core.billing.contracts, core.importers.usage,
core.invoicing.service). This module reads the database to say which steps are done — so the guide knows where
the user is on any later visit, whoever did the work and on whichever page — and builds the small usage files the
usage step offers.

Which records the guide follows:
- the **contract**: the first active contract that already has an approved invoice (the guide is finished), else
  the newest active contract (the one just made);
- the **customer**: that contract's customer, else the newest customer (the one just added);
- the **invoice**: the contract's newest approved invoice, else its newest draft;
- the **month**: the invoice's billing month; without one, the last complete month — or the contract's first
  month when it starts later.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, select

from core.analytics.overview import APPROVED_STATES, billing_month
from core.auth import ROLE_LABELS, ROLES, Actor
from core.billing.periods import month_period
from core.models import (
    BillableMetric,
    BusinessEntity,
    Contract,
    ContractLine,
    Customer,
    Invoice,
    Product,
    UsageEvent,
)


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    purpose: str  # what the step is for, in a finance user's words
    short: str  # its name in the stepper


STEPS: tuple[Step, ...] = (
    Step("company", "Your company",
         "The seller printed on every invoice: its name, the currency you bill in, and where invoice numbers "
         "come from (each company numbers its invoices without gaps).", "Company"),
    Step("product", "What you sell",
         "A product is the line your customer reads on the invoice; its billable metric says how usage is counted "
         "— for example the sum of the requests in every API-call event.", "Product"),
    Step("customer", "A customer",
         "Who you bill. The customer id is the id your other systems use: usage files and contracts point at the "
         "customer by it.", "Customer"),
    Step("contract", "A contract with one price",
         "What this customer pays for your product: one line with one pricing model. You can add discounts, "
         "minimums and more lines later on the Contracts page.", "Contract"),
    Step("usage", "Usage",
         "What the customer used in the month. Upload a small file or type a few events; every row is checked "
         "before anything is saved, and an event sent twice is counted once.", "Usage"),
    Step("invoice", "Generate the invoice",
         "The contract and the month's usage become a draft invoice. A draft can still be regenerated or "
         "deleted: check every line and how its amount was calculated.", "Invoice"),
    Step("approve", "Approve it",
         "Approval gives the invoice its number, freezes it and posts it to the ledger. From then on it can be "
         "emailed, paid, or corrected only with a credit note.", "Approval"),
)
STEP_KEYS = tuple(s.key for s in STEPS)
TITLES = {s.key: s.title for s in STEPS}
SHORT = {s.key: s.short for s in STEPS}

# What each step's service checks (core.auth.require), and what that permission lets a person do.
WORDS = {"users:write": "set up the company (an admin's permission)", "catalog:write": "add products",
         "metrics:write": "define billable metrics", "customers:write": "add customers",
         "contracts:write": "create contracts", "usage:write": "upload usage",
         "invoices:write": "generate invoices", "invoices:approve": "approve invoices"}
# What must be there before a step can be done: the step that makes it.
NEEDS_FIRST = {"customer": ("company",), "contract": ("product", "customer"), "usage": ("contract",),
               "invoice": ("usage",), "approve": ("invoice",)}


@dataclass(frozen=True)
class Facts:
    """A record the guide points at, with what the page shows of it."""

    id: int
    name: str
    code: str = ""  # SKU, metric code, customer id, invoice number
    currency: str = ""
    extra: str = ""  # metric: event name; contract: pricing model; invoice: status


@dataclass
class GuideState:
    month_start: date
    month_end: date
    company: Facts | None = None
    product: Facts | None = None
    metric: Facts | None = None  # the contract's metric when it has a usage line, else the first metric
    customer: Facts | None = None
    contract: Facts | None = None
    contract_start: date | None = None
    contract_lines: int = 0
    usage_line: bool = True  # the contract charges for usage (a flat-fee contract needs none)
    usage_events: int = 0  # the customer's events of the metric in the month
    usage_total: Decimal = Decimal(0)
    invoice: Facts | None = None
    invoice_total: Decimal = Decimal(0)

    def done(self, key: str) -> bool:
        if key == "company":
            return self.company is not None
        if key == "product":
            return self.product is not None and self.metric is not None
        if key == "customer":
            return self.customer is not None
        if key == "contract":
            return self.contract is not None
        if key == "usage":
            return self.contract is not None and (not self.usage_line or self.usage_events > 0)
        if key == "invoice":
            return self.invoice is not None
        if key == "approve":
            return self.invoice is not None and self.invoice.extra in APPROVED_STATES
        raise KeyError(key)

    @property
    def done_count(self) -> int:
        return sum(self.done(k) for k in STEP_KEYS)

    @property
    def current(self) -> str | None:
        """The first step not done yet (None: the guide is finished)."""
        return next((k for k in STEP_KEYS if not self.done(k)), None)

    def blocked_by(self, key: str) -> str | None:
        """The earlier step that must be done before ``key`` can be, if any."""
        return next((k for k in NEEDS_FIRST.get(key, ()) if not self.done(k)), None)


def _first(session: Session, model, *where, newest: bool = False):  # noqa: ANN001, ANN202
    order = model.id.desc() if newest else model.id
    return session.exec(select(model).where(*where).order_by(order).limit(1)).first()


def guide_state(session: Session, *, today: date | None = None) -> GuideState:
    """Which steps are done, from what is in the database (a dozen small queries)."""
    start, end = billing_month(today)
    state = GuideState(month_start=start, month_end=end)
    if entity := _first(session, BusinessEntity):
        state.company = Facts(entity.id, entity.name, currency=entity.default_currency)
    if product := _first(session, Product):
        state.product = Facts(product.id, product.name, code=product.sku, extra=product.unit_name)

    active = Contract.status == "active"
    with_approved = select(Invoice.contract_id).where(Invoice.status.in_(APPROVED_STATES),
                                                      Invoice.contract_id.is_not(None))
    contract = _first(session, Contract, active, Contract.id.in_(with_approved)) or \
        _first(session, Contract, active, newest=True)
    metric = None
    if contract is not None:
        lines = session.exec(select(ContractLine).where(ContractLine.contract_id == contract.id)
                             .order_by(ContractLine.sort_order)).all()
        usage = next((ln for ln in lines if ln.metric_id is not None), None)
        state.usage_line = usage is not None
        metric = session.get(BillableMetric, usage.metric_id) if usage else None
        state.contract = Facts(contract.id, contract.name, currency=contract.currency,
                               extra=lines[0].pricing_model if lines else "")
        state.contract_start, state.contract_lines = contract.start_date, len(lines)
        customer = session.get(Customer, contract.customer_id)
        if contract.start_date >= end:  # starts after the last complete month: its first month is the guide's
            start, end = month_period(contract.start_date.year, contract.start_date.month)
    else:
        customer = _first(session, Customer, Customer.archived == False, newest=True)  # noqa: E712
    metric = metric or _first(session, BillableMetric, BillableMetric.aggregation != "sql")
    if metric is not None:
        state.metric = Facts(metric.id, metric.name, code=metric.code, extra=metric.event_name)
    if customer is not None:
        state.customer = Facts(customer.id, customer.name, code=customer.external_id, currency=customer.currency)

    if contract is not None:
        invoice = _first(session, Invoice, Invoice.contract_id == contract.id,
                         Invoice.status.in_(APPROVED_STATES), newest=True) or \
            _first(session, Invoice, Invoice.contract_id == contract.id, Invoice.status == "draft", newest=True)
        if invoice is not None:
            state.invoice = Facts(invoice.id, invoice.number or "Draft", code=invoice.number or "",
                                  currency=invoice.currency, extra=invoice.status)
            state.invoice_total = invoice.total
            start, end = invoice.period_start, invoice.period_end
    state.month_start, state.month_end = start, end

    if customer is not None and state.metric is not None and state.metric.extra:
        count, total = session.exec(
            select(func.count(), func.sum(UsageEvent.quantity)).where(
                UsageEvent.customer_external_id == customer.external_id,
                UsageEvent.event_name == state.metric.extra,
                UsageEvent.timestamp >= datetime.combine(start, datetime.min.time()),
                UsageEvent.timestamp < datetime.combine(end, datetime.min.time()))).one()
        state.usage_events, state.usage_total = int(count), Decimal(total or 0)
    return state


# ---- permissions, in words ---------------------------------------------------------------------------------


def step_permissions(key: str, state: GuideState) -> tuple[str, ...]:
    """The permissions the services of a step check (the product step only asks for what is still missing)."""
    if key == "product":
        return tuple(p for p, missing in (("catalog:write", state.product is None),
                                          ("metrics:write", state.metric is None)) if missing)
    return {"company": ("users:write",), "customer": ("customers:write",), "contract": ("contracts:write",),
            "usage": ("usage:write",), "invoice": ("invoices:write",),
            "approve": ("invoices:approve",)}.get(key, ())


def _role_name(role: str) -> str:
    return ROLE_LABELS.get(role, role).split(" — ")[0]


def refusal(actor: Actor, permissions: tuple[str, ...]) -> str | None:
    """Why this person cannot do a step, and who can — or None when they can."""
    missing = [p for p in permissions if not actor.can(p)]
    if not missing:
        return None
    what = " and ".join(f"{WORDS.get(p, p)} (`{p}`)" for p in missing)
    can = [_role_name(r) for r, perms in ROLES.items() if all(p in perms for p in missing)]
    who = ", ".join(can[:-1]) + f" or {can[-1]}" if len(can) > 1 else (can[0] if can else "An admin")
    return (f"This step needs permission to {what}, which your role — {_role_name(actor.role)} — does not have. "
            f"{who} can do it: ask a colleague with that role, or ask an admin to grant you the permission on the "
            "**Users** page.")


# ---- the usage step's files --------------------------------------------------------------------------------

USAGE_HEADER = ["idempotency_key", "customer_external_id", "event_name", "timestamp", "quantity"]
EXAMPLE_DAYS = (2, 5, 9, 13, 16, 20, 23, 27)
EXAMPLE_QUANTITIES = ("1200", "850", "2300", "640", "1575", "980", "2150", "1105")


def _csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(USAGE_HEADER)
    writer.writerows(rows)
    return out.getvalue().encode()


def example_usage_csv(customer_external_id: str, event_name: str, month_start: date) -> bytes:
    """A small usage file made for this customer and metric: eight events spread over the month, ready to upload
    (the same columns as the Usage page's template)."""
    stem = f"example-{customer_external_id}-{month_start:%Y-%m}"
    return _csv([[f"{stem}-{i:02d}", customer_external_id, event_name,
                  f"{month_start.replace(day=day):%Y-%m-%d}T10:00:00Z", quantity]
                 for i, (day, quantity) in enumerate(zip(EXAMPLE_DAYS, EXAMPLE_QUANTITIES), start=1)])


def typed_usage_csv(customer_external_id: str, event_name: str, events: list[tuple[object, str]]) -> bytes:
    """Events typed into the guide's table — (day, quantity as typed) — as a usage file for the same importer as
    any upload, so typed events get the same checks and messages (row 2 is the first event). Each event's key is
    made from what it says: saving the same events again stores nothing twice."""
    rows = []
    for i, (day, quantity) in enumerate(events, start=1):
        when = day.isoformat() if isinstance(day, date) else str(day or "").strip()
        text = str(quantity if quantity is not None else "").strip()
        rows.append([f"typed-{customer_external_id}-{when}-{i}-{text}", customer_external_id, event_name,
                     f"{when}T12:00:00Z" if isinstance(day, date) else when, text])
    return _csv(rows)


def default_events(month_start: date) -> list[tuple[date, str]]:
    """Three events to start the typed table with."""
    return [(month_start.replace(day=day), q) for day, q in ((3, "1200"), (12, "850"), (21, "2300"))]
