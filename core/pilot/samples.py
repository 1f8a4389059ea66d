"""The pilot's samples as the page shows them: the sample contracts (pricing models, status, invoices so far) and
the sample invoices (status, totals, and where each stands against the prospect's invoice), plus the choices
offered when picking them."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import Session, func, select

from core.auth import Actor, require
from core.billing.periods import add_months, format_period
from core.invoicing.settlement import STATUS_LABELS, due
from core.models import Contract, ContractLine, Customer, Invoice
from core.money import format_money, round_money
from core.pilot import plan
from core.pilot.criteria import reconciliation_of

MAX_CHOICES = 2000


@dataclass
class ContractRow:
    id: int
    name: str
    customer: str
    external_id: str
    status: str
    start: date
    models: str
    invoices: int


@dataclass
class InvoiceRow:
    id: int
    number: str
    customer: str
    period: str
    status: str
    total: str
    amount_due: str
    reconciliation: str  # matches | differs | changed since | not reconciled
    detail: str


def _model_labels(session: Session, contract_ids: list[int]) -> dict[int, str]:
    from core.pricing import REGISTRY

    out: dict[int, list[str]] = defaultdict(list)
    for cid, model in session.exec(select(ContractLine.contract_id, ContractLine.pricing_model)
                                   .where(ContractLine.contract_id.in_(contract_ids))
                                   .order_by(ContractLine.contract_id, ContractLine.sort_order)):
        label = getattr(REGISTRY.get(model), "LABEL", model)
        if label not in out[cid]:
            out[cid].append(label)
    return {k: ", ".join(v) for k, v in out.items()}


def sample_contracts(session: Session, actor: Actor, pilot_id: int) -> list[ContractRow]:
    require(actor, "pilot:read")
    ids = plan.sample_ids(session, pilot_id, "contract")
    if not ids:
        return []
    models = _model_labels(session, ids)
    counts = dict(session.exec(select(Invoice.contract_id, func.count()).where(Invoice.contract_id.in_(ids))
                               .group_by(Invoice.contract_id)).all())
    return [ContractRow(c.id, c.name, cust.name, cust.external_id, c.status, c.start_date, models.get(c.id, ""),
                        counts.get(c.id, 0))
            for c, cust in session.exec(select(Contract, Customer).join(Customer, Customer.id == Contract.customer_id)
                                        .where(Contract.id.in_(ids)).order_by(Customer.name, Contract.id))]


def sample_invoices(session: Session, actor: Actor, pilot_id: int,
                    tolerance: Decimal = Decimal(plan.DEFAULT_TOLERANCE)) -> list[InvoiceRow]:
    require(actor, "pilot:read")
    ids = plan.sample_ids(session, pilot_id, "invoice")
    if not ids:
        return []
    recs = reconciliation_of(session, ids, tolerance)
    out = []
    for inv, cust in session.exec(select(Invoice, Customer).join(Customer, Customer.id == Invoice.customer_id)
                                  .where(Invoice.id.in_(ids)).order_by(Invoice.period_start, Customer.name)):
        r = recs.get(inv.id)
        code = inv.currency
        out.append(InvoiceRow(inv.id, inv.number or f"Draft #{inv.id}", cust.name,
                              format_period(inv.period_start, inv.period_end),
                              STATUS_LABELS.get(inv.status, inv.status),
                              format_money(round_money(inv.total, code), code),
                              format_money(round_money(due(inv), code), code) if inv.status != "draft" else "",
                              r.state if r else "", r.detail if r else ""))
    return out


def contract_choices(session: Session, keep: list[int] = ()) -> dict[int, str]:
    """Contracts to pick samples from (the newest ``MAX_CHOICES``, and those already chosen): id → label."""
    q = (select(Contract.id, Contract.name, Customer.name, Customer.external_id)
         .join(Customer, Customer.id == Contract.customer_id))
    rows = list(session.exec(q.order_by(Contract.id.desc()).limit(MAX_CHOICES)))
    if keep:
        rows += list(session.exec(q.where(Contract.id.in_(list(keep)))))
    rows.sort(key=lambda r: (r[2].casefold(), r[0]))
    return {cid: f"{cust} ({ext}) — {name}" for cid, name, cust, ext in rows}


def invoice_months(session: Session) -> list[date]:
    """The months invoices have periods in, newest first."""
    starts = session.exec(select(Invoice.period_start).distinct()).all()
    return sorted({d.replace(day=1) for d in starts}, reverse=True)


def invoice_choices(session: Session, month: date | None, keep: list[int] = ()) -> dict[int, str]:
    """Invoices whose period starts in ``month`` (and those already chosen): id → label."""
    q = (select(Invoice.id, Invoice.number, Invoice.status, Invoice.period_start, Customer.name)
         .join(Customer, Customer.id == Invoice.customer_id).where(Invoice.status != "void"))
    rows = []
    if month is not None:
        rows = list(session.exec(q.where(Invoice.period_start >= month, Invoice.period_start < add_months(month, 1))
                                 .order_by(Customer.name).limit(MAX_CHOICES)))
    if keep:
        rows += list(session.exec(q.where(Invoice.id.in_(list(keep)))))
    rows.sort(key=lambda r: (r[3], r[4].casefold(), r[0]))
    return {i: f"{number or f'Draft #{i}'} — {cust} — {start:%b %Y} ({STATUS_LABELS.get(status, status).lower()})"
            for i, number, status, start, cust in rows}


def invoices_of(session: Session, contract_ids: list[int], month: date) -> list[int]:
    """The invoices (not void) of ``contract_ids`` whose period starts in ``month``."""
    if not contract_ids:
        return []
    return list(session.exec(select(Invoice.id).where(Invoice.contract_id.in_(contract_ids), Invoice.status != "void",
                                                      Invoice.period_start >= month,
                                                      Invoice.period_start < add_months(month, 1))
                             .order_by(Invoice.id)))
