"""The demo's pilot plan: the demo's seller (Northwind Cloud in the SaaS demo) piloting Counting House, in its
second week.

Seeded through the same services the Pilot plan page uses, after the rest of the demo: objectives and success
criteria agreed on day one (some met, some open, one not met with its evidence), five sample contracts covering
different pricing models with their invoices of the last two months (the earlier approved, mostly paid; the latest
drafts), the prospect's own invoices for both months reconciled and saved — the earlier month matches; in the
latest their spreadsheet billed one partial package (8.00) less than the contract says on one customer's usage
line — and two of the four reminder templates previewed. The pilot starts two weeks after the latest billed month
and is to be signed off eighteen days later (SaaS demo: 16 November and 4 December 2026).
"""
from __future__ import annotations

from datetime import date, timedelta

from sqlmodel import Session, func, select

from core.auth import Actor
from core.billing.periods import add_months
from core.models import BusinessEntity, Contract, ContractLine, Customer, EmailTemplate, Invoice, InvoiceLine, Pilot
from core.pilot.plan import ItemRow, save_items, save_pilot, set_samples
from core.pilot_reconciliation import TheirLine, reconcile, save_run

SAMPLE_CUSTOMERS = ("ACME-001", "GLOBEX-002", "INITECH-003", "UMBRELLA-004", "STARK-005")  # the SaaS demo's
SAMPLES = 5
OWNER, CONTROLLER = "Maya Chen (pilot lead)", "Sam Reed (controller)"

def _items(short: str, month: date) -> tuple[list[ItemRow], list[ItemRow]]:
    finance = f"Dana Ortiz ({short} finance)"
    objectives = [
        ItemRow("Bill the usage-based customers from Counting House instead of the billing spreadsheets", finance,
                "in progress"),
        ItemRow("Every invoice line explains its arithmetic, so support can answer a customer's question", finance,
                "met"),
        ItemRow("Collections and revenue recognition run from the same data as billing", CONTROLLER, "open"),
    ]
    criteria = [
        ItemRow(f"All sample invoices match {short}'s own within 0.01", finance, "open", "invoices_match",
                tolerance="0.01"),
        ItemRow(f"Usage for all pilot customers received for {month:%B %Y}", OWNER, "open", "usage_received",
                month=f"{month:%Y-%m}"),
        ItemRow("Journal entries balance, and every approved sample invoice is posted", CONTROLLER, "open",
                "journal_balanced"),
        ItemRow("Dunning emails previewed before the first reminder goes out", finance, "open", "dunning_previewed"),
        ItemRow("Finance approves the invoice PDF layout", finance, "met", notes="Approved on the second weekly call."),
        ItemRow("Revenue recognition schedule agreed with the controller", CONTROLLER, "in progress"),
    ]
    return objectives, criteria


def _sample_contracts(session: Session) -> list[int]:
    """The SaaS demo's five, else five contracts that between them use the most pricing models."""
    known = session.exec(select(Contract.id).join(Customer, Customer.id == Contract.customer_id)
                         .where(Customer.external_id.in_(SAMPLE_CUSTOMERS)).order_by(Contract.id)).all()
    if known:
        return list(known)
    models: dict[int, set[str]] = {}
    for cid, model in session.exec(select(ContractLine.contract_id, ContractLine.pricing_model)
                                   .order_by(ContractLine.contract_id)):
        models.setdefault(cid, set()).add(model)
    chosen: list[int] = []
    seen: set[str] = set()
    while models and len(chosen) < SAMPLES:
        best = max(models, key=lambda c: (len(models[c] - seen), -c))
        chosen.append(best)
        seen |= models.pop(best)
    return sorted(chosen)


def _their_lines(session: Session, month: date, short_by: int | None = None) -> list[TheirLine]:
    """The prospect's export of its own invoices for ``month``: our lines, as its spreadsheet wrote them — with
    the first usage line of at least 8.00 of customer ``short_by`` billed 8.00 (one package) less."""
    q = (select(Customer.id, Customer.external_id, Invoice.issue_date, Invoice.currency, InvoiceLine.description,
                InvoiceLine.amount, Invoice.id, InvoiceLine.kind)
         .join(Invoice, Invoice.id == InvoiceLine.invoice_id).join(Customer, Customer.id == Invoice.customer_id)
         .where(Invoice.period_start >= month, Invoice.period_start < add_months(month, 1), Invoice.status != "void")
         .order_by(Invoice.id, InvoiceLine.sort_order, InvoiceLine.id))
    out = []
    for row, (cust_id, ext, issued, code, desc, amount, inv_id, kind) in enumerate(session.exec(q), start=2):
        if cust_id == short_by and kind == "usage" and amount >= 8:
            amount -= 8  # their spreadsheet does not round the last partial package up
            short_by = None
        out.append(TheirLine(row, ext, issued, desc, amount, f"NWC-{inv_id:05d}", code))
    return out


def seed_demo_pilot(session: Session, actor: Actor) -> Pilot | None:
    """The demo's pilot plan (see the module's docstring); nothing when the demo has no Northwind customers."""
    contracts = _sample_contracts(session)
    latest = (session.exec(select(func.max(Invoice.period_start)).where(Invoice.status == "draft")).one()
              or session.exec(select(func.max(Invoice.period_start))).one())  # the month being drafted
    seller = session.exec(select(BusinessEntity).order_by(BusinessEntity.id)).first()
    if not contracts or latest is None or seller is None:
        return None
    latest = latest.replace(day=1)
    months = (add_months(latest, -1), latest)
    short = seller.name.split(",")[0].split()[0]
    start = add_months(latest, 1) + timedelta(days=15)
    pilot = save_pilot(session, actor, prospect=seller.name, start_date=start, signoff_date=start + timedelta(days=18),
                       owner=OWNER, usage_month=latest,
                       notes="Pilot of usage-based billing for five representative customers, chosen so that "
                             "their contracts use as many pricing models as possible.")
    objectives, criteria = _items(short, latest)
    save_items(session, actor, pilot.id, "objective", objectives)
    save_items(session, actor, pilot.id, "criterion", criteria)
    set_samples(session, actor, pilot.id, "contract", contracts)
    invoices = session.exec(select(Invoice.id).where(Invoice.contract_id.in_(contracts),
                                                     Invoice.period_start.in_(months)).order_by(Invoice.id)).all()
    set_samples(session, actor, pilot.id, "invoice", list(invoices))
    differs = session.exec(select(Contract.customer_id).where(Contract.id == contracts[min(2, len(contracts) - 1)])
                           ).one()
    for month in months:
        theirs = _their_lines(session, month, differs if month == latest else None)
        rec = reconcile(session, actor, theirs, run_month=month)
        save_run(session, actor, rec, file_name=f"{short.lower()}-invoices-{month:%Y-%m}.csv",
                 their_lines=len(theirs), pilot_id=pilot.id)
    from core.receivables.templates import record_preview

    previewed_on = session.exec(select(Invoice.id).where(Invoice.id.in_(invoices), Invoice.status != "draft")
                                .order_by(Invoice.id)).first()
    if previewed_on is not None:
        for name in ("Reminder before due", "Overdue — first notice"):
            tpl = session.exec(select(EmailTemplate).where(EmailTemplate.name == name)).first()
            if tpl is not None:
                record_preview(session, actor, template_id=tpl.id, invoice_id=previewed_on)
    return pilot
