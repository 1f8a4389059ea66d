"""Invoice runs and the invoice life cycle: generate drafts (idempotent), regenerate, delete, approve.

Approval assigns the next number of the business entity's gapless sequence inside the approving
transaction (an atomic UPDATE … RETURNING), so two people approving at once never share or skip a number.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import BigInteger, delete, or_, type_coerce, update
from sqlmodel import Session, func, select

from core import audit, pricing
from core.auth import Actor, require
from core.billing.calculate import ContractTerms, compute_invoice
from core.billing.contracts import terms_for
from core.errors import NotFound, UserError
from core.metering.metrics import MetricResult, aggregate
from core.models import (BillableMetric, BusinessEntity, Contract, ContractLine, Customer, Invoice, InvoiceLine,
                         Product, UsageEvent, utcnow)
from core.money import ZERO, format_money
from core.pricing.base import Usage
from core.types import QUANTITY_SCALE, from_scaled

EDITABLE = ("draft",)


@dataclass
class RunResult:
    created: list[int] = field(default_factory=list)
    skipped_existing: int = 0
    contracts_considered: int = 0
    total_by_currency: dict[str, object] = field(default_factory=dict)

    def summary(self) -> str:
        totals = ", ".join(format_money(v, c) for c, v in sorted(self.total_by_currency.items())) or "nothing"
        n, k = len(self.created), self.skipped_existing
        return (f"{n} draft invoice{'' if n == 1 else 's'} created ({totals}); "
                f"{k} already existed for this period and {'was' if k == 1 else 'were'} left as "
                f"{'it is' if k == 1 else 'they are'}")


def _dt(d: date) -> datetime:
    return datetime.combine(d, time.min)


def _window(contract: Contract, start: date, end: date) -> tuple[date, date]:
    return max(start, contract.start_date), min(end, contract.end_date) if contract.end_date else end


def _needs_transactions(line: ContractLine) -> bool:
    p = line.params or {}
    return line.pricing_model == "percent" and any(p.get(k) not in (None, "", "0") for k in
                                                   ("fixed_fee", "min_fee", "max_fee"))


def _transactions(session: Session, metric: BillableMetric, start: datetime, end: datetime,
                  customers: list[str]) -> dict[str, tuple]:
    t = UsageEvent.__table__.c
    stmt = (select(t.customer_external_id, type_coerce(t.quantity, BigInteger))
            .where(t.event_name == metric.event_name, t.timestamp >= start, t.timestamp < end,
                   t.customer_external_id.in_(customers))
            .order_by(t.customer_external_id, t.timestamp, t.id))
    out: dict[str, list] = defaultdict(list)
    for cust, raw in session.connection().execute(stmt):
        out[cust].append(from_scaled(raw, QUANTITY_SCALE))
    return {k: tuple(v) for k, v in out.items()}


def _load_terms(session: Session, contracts: list[Contract]) -> dict[int, tuple[ContractTerms, list[ContractLine]]]:
    ids = [c.id for c in contracts]
    lines_by_contract: dict[int, list[ContractLine]] = defaultdict(list)
    for ln in session.exec(select(ContractLine).where(ContractLine.contract_id.in_(ids))
                           .order_by(ContractLine.contract_id, ContractLine.sort_order)):
        lines_by_contract[ln.contract_id].append(ln)
    metric_codes = {m.id: m.code for m in session.exec(select(BillableMetric))}
    units = {p.id: p.unit_name for p in session.exec(select(Product))}
    return {c.id: (terms_for(c, lines_by_contract[c.id], metric_codes, units), lines_by_contract[c.id])
            for c in contracts}


def _usage_for(session: Session, contracts: list[Contract], customers: dict[int, Customer],
               loaded: dict, start: date, end: date) -> dict[int, dict[int, Usage]]:
    """Usage per contract line: one aggregation query per metric and distinct contract window."""
    metrics = {m.id: m for m in session.exec(select(BillableMetric))}
    wanted: dict[tuple[int, date, date], list[Contract]] = defaultdict(list)
    for c in contracts:
        for ln in loaded[c.id][1]:
            if ln.metric_id:
                wanted[(ln.metric_id, *_window(c, start, end))].append(c)
    results: dict[tuple[int, date, date], dict[str, MetricResult]] = {}
    txns: dict[tuple[int, date, date], dict[str, tuple]] = {}
    for key, cs in wanted.items():
        metric_id, ws, we = key
        if ws >= we:
            continue
        externals = sorted({customers[c.customer_id].external_id for c in cs})
        results[key] = aggregate(session, metrics[metric_id], _dt(ws), _dt(we), externals)
        if any(_needs_transactions(ln) for c in cs for ln in loaded[c.id][1] if ln.metric_id == metric_id):
            txns[key] = _transactions(session, metrics[metric_id], _dt(ws), _dt(we), externals)
    usage: dict[int, dict[int, Usage]] = {}
    for c in contracts:
        ext = customers[c.customer_id].external_id
        per_line: dict[int, Usage] = {}
        for ln in loaded[c.id][1]:
            if not ln.metric_id:
                continue
            key = (ln.metric_id, *_window(c, start, end))
            res = results.get(key, {}).get(ext, MetricResult())
            tx = txns.get(key, {}).get(ext) if _needs_transactions(ln) else None
            per_line[ln.id] = Usage(quantity=res.quantity, groups=res.groups, transactions=tx)
        usage[c.id] = per_line
    return usage


def _build(session: Session, contract: Contract, customer: Customer, terms: ContractTerms, usage: dict,
           start: date, end: date, issue_date: date, invoice: Invoice | None = None) -> Invoice:
    draft = compute_invoice(terms, usage, start, end)
    if invoice is None:
        invoice = Invoice(entity_id=customer.entity_id, customer_id=customer.id, contract_id=contract.id,
                          run_key=f"contract:{contract.id}",
                          currency=contract.currency, period_start=start, period_end=end, issue_date=issue_date,
                          due_date=issue_date + timedelta(days=contract.payment_terms_days))
    invoice.subtotal, invoice.tax, invoice.total = draft.subtotal, draft.tax, draft.total
    session.add(invoice)
    session.flush()
    for ln in draft.lines:
        session.add(InvoiceLine(invoice_id=invoice.id, contract_line_id=ln.contract_line_id, kind=ln.kind,
                                description=ln.description, quantity=ln.quantity, amount=ln.amount,
                                breakdown=ln.breakdown, period_start=ln.period_start, period_end=ln.period_end,
                                sort_order=ln.sort_order))
    return invoice


def generate_drafts(session: Session, actor: Actor, *, period_start: date, period_end: date,
                    contract_ids: list[int] | None = None, issue_date: date | None = None) -> RunResult:
    """Draft invoices for every active contract overlapping [period_start, period_end).
    Idempotent: a contract that already has an invoice for this period is skipped."""
    require(actor, "invoices:write")
    if period_end <= period_start:
        raise UserError("the period must end after it starts")
    issue_date = issue_date or period_end
    q = select(Contract).where(Contract.status == "active", Contract.start_date < period_end,
                               or_(Contract.end_date.is_(None), Contract.end_date > period_start))
    if contract_ids is not None:
        q = q.where(Contract.id.in_(contract_ids))
    contracts = list(session.exec(q.order_by(Contract.id)))
    result = RunResult(contracts_considered=len(contracts))
    if not contracts:
        return result
    existing = set(session.exec(select(Invoice.contract_id).where(
        Invoice.period_start == period_start, Invoice.period_end == period_end,
        Invoice.run_key.in_([f"contract:{c.id}" for c in contracts]))))
    todo = [c for c in contracts if c.id not in existing]
    result.skipped_existing = len(contracts) - len(todo)
    if not todo:
        return result
    customers = {c.id: c for c in session.exec(select(Customer).where(
        Customer.id.in_({c.customer_id for c in todo})))}
    loaded = _load_terms(session, todo)
    usage = _usage_for(session, todo, customers, loaded, period_start, period_end)
    totals: dict[str, object] = defaultdict(lambda: ZERO)
    for c in todo:
        try:
            inv = _build(session, c, customers[c.customer_id], loaded[c.id][0], usage[c.id], period_start,
                         period_end, issue_date)
        except pricing.PricingError as exc:
            raise UserError(f"contract '{c.name}' (#{c.id}) could not be priced: {exc}") from None
        result.created.append(inv.id)
        totals[inv.currency] += inv.total
    result.total_by_currency = dict(totals)
    audit.record(session, actor=actor.username, action="invoice.generate", entity_type="invoice_run",
                 entity_id=f"{period_start}..{period_end}",
                 details={"created": len(result.created), "skipped_existing": result.skipped_existing,
                          "totals": {k: str(v) for k, v in totals.items()}})
    return result


def get_invoice(session: Session, invoice_id: int) -> Invoice:
    inv = session.get(Invoice, invoice_id)
    if inv is None:
        raise NotFound(f"there is no invoice #{invoice_id}")
    return inv


def invoice_lines(session: Session, invoice_id: int) -> list[InvoiceLine]:
    return list(session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id)
                             .order_by(InvoiceLine.sort_order, InvoiceLine.id)))


def regenerate_draft(session: Session, actor: Actor, invoice_id: int) -> Invoice:
    """Recompute a draft from current usage and terms (late usage arrived). Approved invoices are frozen."""
    require(actor, "invoices:write")
    inv = get_invoice(session, invoice_id)
    if inv.status not in EDITABLE:
        raise UserError(f"invoice {inv.number} is {inv.status}; only drafts can be regenerated")
    contract = session.get(Contract, inv.contract_id)
    customer = session.get(Customer, inv.customer_id)
    before = inv.total
    session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == inv.id))
    loaded = _load_terms(session, [contract])
    usage = _usage_for(session, [contract], {customer.id: customer}, loaded, inv.period_start, inv.period_end)
    _build(session, contract, customer, loaded[contract.id][0], usage[contract.id], inv.period_start,
           inv.period_end, inv.issue_date, invoice=inv)
    audit.record(session, actor=actor.username, action="invoice.regenerate", entity_type="invoice",
                 entity_id=inv.id, details={"before_total": before, "after_total": inv.total})
    return inv


def delete_draft(session: Session, actor: Actor, invoice_id: int) -> None:
    require(actor, "invoices:delete")
    inv = get_invoice(session, invoice_id)
    if inv.status not in EDITABLE:
        raise UserError(f"invoice {inv.number} is {inv.status}; only drafts can be deleted")
    session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == inv.id))
    session.delete(inv)
    session.flush()
    audit.record(session, actor=actor.username, action="invoice.delete_draft", entity_type="invoice",
                 entity_id=invoice_id, details={"total": inv.total, "period_start": inv.period_start})


def _next_number(session: Session, entity_id: int) -> str:
    stmt = (update(BusinessEntity).where(BusinessEntity.id == entity_id)
            .values(next_invoice_number=BusinessEntity.next_invoice_number + 1)
            .returning(BusinessEntity.next_invoice_number, BusinessEntity.invoice_prefix))
    new_next, prefix = session.connection().execute(stmt).one()
    return f"{prefix}{new_next - 1:06d}"


def approve_invoice(session: Session, actor: Actor, invoice_id: int) -> Invoice:
    require(actor, "invoices:approve")
    inv = get_invoice(session, invoice_id)
    if inv.status != "draft":
        raise UserError(f"invoice {inv.number or '#' + str(inv.id)} is already {inv.status}")
    inv.number = _next_number(session, inv.entity_id)
    inv.status = "approved"
    inv.approved_at = utcnow()
    inv.approved_by = actor.username
    session.add(inv)
    session.flush()
    audit.record(session, actor=actor.username, action="invoice.approve", entity_type="invoice", entity_id=inv.id,
                 details={"number": inv.number, "total": inv.total, "currency": inv.currency,
                          "before": "draft", "after": "approved"})
    return inv


def approve_invoices(session: Session, actor: Actor, invoice_ids: list[int]) -> list[Invoice]:
    require(actor, "invoices:approve")
    return [approve_invoice(session, actor, i) for i in sorted(invoice_ids)]


@dataclass
class InvoiceRow:
    id: int
    number: str | None
    status: str
    customer: str
    customer_external_id: str
    period_start: date
    period_end: date
    issue_date: date
    due_date: date
    currency: str
    total: object
    amount_due: object
    overdue: bool


def list_invoices(session: Session, *, status: str | None = None, customer_id: int | None = None,
                  period_start: date | None = None, search: str = "", limit: int = 5000,
                  today: date | None = None) -> list[InvoiceRow]:
    today = today or date.today()
    q = select(Invoice, Customer).join(Customer, Customer.id == Invoice.customer_id)
    if status:
        q = q.where(Invoice.status == status)
    if customer_id:
        q = q.where(Invoice.customer_id == customer_id)
    if period_start:
        q = q.where(Invoice.period_start == period_start)
    if search:
        like = f"%{search.strip()}%"
        q = q.where(or_(Customer.name.ilike(like), Customer.external_id.ilike(like), Invoice.number.ilike(like)))
    q = q.order_by(Invoice.period_start.desc(), Invoice.id.desc()).limit(limit)
    rows = []
    for inv, cust in session.exec(q):
        due = inv.total - inv.amount_paid if inv.status != "void" else ZERO
        rows.append(InvoiceRow(inv.id, inv.number, inv.status, cust.name, cust.external_id, inv.period_start,
                               inv.period_end, inv.issue_date, inv.due_date, inv.currency, inv.total, due,
                               inv.status != "draft" and due > 0 and inv.due_date < today))
    return rows


def count_by_status(session: Session) -> dict[str, int]:
    return dict(session.exec(select(Invoice.status, func.count()).group_by(Invoice.status)).all())
