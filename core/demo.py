"""The demo pilot: a SaaS seller, 20 customers, contracts using every pricing model, a month of usage.

Seeded through the same services the pages and the CLI use, so the demo exercises the real paths.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, func, select

from core.auth import Actor, require
from core.billing.contracts import ContractSpec, LineSpec, create_contract
from core.billing.periods import parse_month
from core.catalog import create_entity, create_product
from core.tax import set_rate
from core.db import DATA_DIR
from core.errors import UserError
from core.importers.customers import import_customers
from core.importers.usage import import_usage
from core.invoicing.service import generate_drafts
from core.metering.metrics import MetricSpec, create_metric
from core.models import BusinessEntity, Customer

DEMO_DIR = DATA_DIR / "demo"


@dataclass
class SeedResult:
    seeded: bool
    message: str


def is_empty(session: Session) -> bool:
    return (session.exec(select(func.count()).select_from(BusinessEntity)).one() == 0
            and session.exec(select(func.count()).select_from(Customer)).one() == 0)


def seed_demo(session: Session, actor: Actor, *, if_empty: bool = True) -> SeedResult:
    require(actor, "users:write")
    if not is_empty(session):
        if if_empty:
            return SeedResult(False, "the database already has data; the demo was not seeded")
        raise UserError("the demo can only be seeded into an empty database")
    pilot = json.loads((DEMO_DIR / "pilot.json").read_text())
    entity = create_entity(session, actor, **pilot["entity"])
    for p in pilot["products"]:
        create_product(session, actor, **p)
    for m in pilot["metrics"]:
        create_metric(session, actor, MetricSpec(**m))
    report = import_customers(session, actor, (DEMO_DIR / "customers.csv").read_bytes(), "customers.csv",
                              entity_id=entity.id)
    if not report.ok:
        raise UserError(f"demo customers did not import: {report.summary()}")
    for rate in pilot.get("tax_rates", []):
        set_rate(session, actor, **rate)
    templates = pilot["templates"]
    for c in pilot["contracts"]:
        overrides = c.get("line_overrides", {})
        lines = [LineSpec(**{**templates[name], **overrides.get(name, {})}) for name in c["lines"]]
        create_contract(session, actor, ContractSpec(customer_external_id=c["customer"], name=c["name"],
                                                     currency=c.get("currency", "USD"),
                                                     start_date=date.fromisoformat(c["start"]), lines=lines,
                                                     modifiers=c.get("modifiers", {})))
    usage_file = DEMO_DIR / f"usage_{pilot['invoice_month']}.csv"
    usage = import_usage(session, actor, usage_file.read_bytes(), usage_file.name)
    if not usage.ok:
        raise UserError(f"demo usage did not import: {usage.summary()}")
    start, end = parse_month(pilot["invoice_month"])
    run = generate_drafts(session, actor, period_start=start, period_end=end)
    return SeedResult(True, f"demo pilot seeded: {len(pilot['contracts'])} contracts, "
                            f"{usage.summary()}; {run.summary()}")
