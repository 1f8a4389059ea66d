"""The demo pilot: a SaaS seller, 20 customers, contracts using every pricing model, a month of usage.

Seeded through the same services the pages and the CLI use, so the demo exercises the real paths. A dataset is a
folder: ``pilot.json`` (the seller, products, metrics, tax rates, contract line templates and contracts, the
months already billed and the month to draft), ``customers.csv`` and ``usage_<month>.csv``. ``data/demo`` is the
SaaS pilot ``make run`` seeds into the main database; the other industries' folders (``data/demo_<industry>``) are
seeded into demo workspaces of their own (core.workspaces).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

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
from core.invoicing.payments import record_payment
from core.invoicing.service import amount_due, approve_invoices, generate_drafts
from core.metering.metrics import MetricSpec, create_metric
from core.models import BusinessEntity, Customer, Invoice
from core.money import round_money

DEMO_DIR = DATA_DIR / "demo"


@dataclass
class SeedResult:
    seeded: bool
    message: str


def is_empty(session: Session) -> bool:
    return (session.exec(select(func.count()).select_from(BusinessEntity)).one() == 0
            and session.exec(select(func.count()).select_from(Customer)).one() == 0)


def seed_demo(session: Session, actor: Actor, *, if_empty: bool = True, dataset: Path | None = None) -> SeedResult:
    """Seed the demo pilot of ``dataset`` (a folder as described above; default the SaaS pilot, data/demo) into an
    empty database."""
    require(actor, "users:write")
    if not is_empty(session):
        if if_empty:
            return SeedResult(False, "the database already has data; the demo was not seeded")
        raise UserError("the demo can only be seeded into an empty database")
    folder = Path(dataset) if dataset is not None else DEMO_DIR
    pilot = json.loads((folder / "pilot.json").read_text())
    entity = create_entity(session, actor, **pilot["entity"])
    for p in pilot["products"]:
        create_product(session, actor, **p)
    for m in pilot["metrics"]:
        create_metric(session, actor, MetricSpec(**m))
    report = import_customers(session, actor, (folder / "customers.csv").read_bytes(), "customers.csv",
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
                                                     currency=c.get("currency", entity.default_currency),
                                                     start_date=date.fromisoformat(c["start"]), lines=lines,
                                                     modifiers=c.get("modifiers", {})))
    usage_file = folder / f"usage_{pilot['invoice_month']}.csv"
    history = _seed_history(session, actor, pilot.get("history_months", []), usage_file, pilot["invoice_month"])
    usage = import_usage(session, actor, usage_file.read_bytes(), usage_file.name)
    if not usage.ok:
        raise UserError(f"demo usage did not import: {usage.summary()}")
    start, end = parse_month(pilot["invoice_month"])
    run = generate_drafts(session, actor, period_start=start, period_end=end)
    from core.receivables.dunning import seed_demo_dunning

    seed_demo_dunning(session, actor)  # the built-in email templates and the "Standard reminders" policy
    from core.entitlements.demo import seed_demo_entitlements

    seed_demo_entitlements(session, actor)  # grants of each kind, one near its limit and one over
    from core.receivables.segments import seed_demo_receivables

    seed_demo_receivables(session, actor)  # customer attributes, a 90+ and a current invoice, two segments
    from core.pilot.demo import seed_demo_pilot

    seed_demo_pilot(session, actor)  # the pilot plan: criteria met and open, samples, reconciliations saved
    return SeedResult(True, f"demo pilot seeded: {len(pilot['contracts'])} contracts, "
                            f"{usage.summary()}; {history}{run.summary()}")


def _history_usage(october: str, month: str, share: int, invoice_month: str = "2026-10") -> bytes:
    """A past month's usage, made from the demo month's file (``invoice_month``'s): the same customers and events
    moved to ``month`` (days past the month's end dropped), keeping ``share`` rows in ten — a business growing month
    by month. Keys ``evt-<invoice month>-…`` become ``evt-<month>-…``."""
    import csv
    import io
    import zlib

    src = csv.reader(io.StringIO(october))
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    header = next(src)
    w.writerow(header)
    key, ts = header.index("idempotency_key"), header.index("timestamp")
    last_day = (parse_month(month)[1] - timedelta(days=1)).day
    for row in src:
        if zlib.crc32(row[key].encode()) % 10 >= share or int(row[ts][8:10]) > last_day:
            continue
        row[key] = row[key].replace(f"evt-{invoice_month}", f"evt-{month}")
        row[ts] = month + row[ts][7:]
        w.writerow(row)
    return out.getvalue().encode()


def _seed_history(session: Session, actor: Actor, months: list[str], usage_file,  # noqa: ANN001
                  invoice_month: str = "2026-10") -> str:
    """Earlier months already billed, so receivables, the ledger and the dashboards have a past: each month's
    usage (the demo month's customers, fewer events the further back), its drafts generated and approved (journal
    entries posted by the approval), then paid — all but a few customers for the older months, about half for the
    latest, one of them partly — leaving overdue invoices to chase."""
    approved = paid = 0
    october = usage_file.read_text()
    for i, month in enumerate(months):
        start, end = parse_month(month)
        share = 10 - (len(months) - i)  # 7, 8, 9 in ten for July, August, September
        usage = import_usage(session, actor, _history_usage(october, month, share, invoice_month),
                             f"usage_{month}.csv")
        if not usage.ok:
            raise UserError(f"demo usage for {month} did not import: {usage.summary()}")
        generate_drafts(session, actor, period_start=start, period_end=end)
        drafts = session.exec(select(Invoice).where(Invoice.status == "draft", Invoice.period_start == start)
                              .order_by(Invoice.id)).all()
        invoices = approve_invoices(session, actor, [inv.id for inv in drafts])
        approved += len(invoices)
        latest = i == len(months) - 1
        for n, inv in enumerate(sorted(invoices, key=lambda x: x.id)):
            due = amount_due(inv)
            if due <= 0 or (n % 7 == 3) or (latest and n % 2 == 1):
                continue  # left unpaid: overdue once its due date has passed
            amount = round_money(due / 2, inv.currency) if latest and n % 4 == 2 else due
            record_payment(session, actor, customer_id=inv.customer_id, currency_code=inv.currency, amount=amount,
                           method="bank_transfer", received_on=min(inv.due_date, date.today()),
                           reference=f"demo {inv.number}", allocations={inv.id: amount})
            paid += 1
    if months:  # the revenue of the months served so far recognised, as the nightly run would have
        from core.ledger.recognition import recognise

        recognise(session, actor, through=min(parse_month(months[-1])[1] - timedelta(days=1), date.today()))
    return f"{approved} earlier invoices approved and {paid} paid; " if months else ""
