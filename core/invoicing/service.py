"""Invoice runs and the invoice life cycle: generate drafts (idempotent), regenerate, delete, approve.

Approval assigns the next number of the business entity's gapless sequence inside the approving
transaction (an atomic UPDATE … RETURNING), so two people approving at once never share or skip a number.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, delete, or_, type_coerce, update
from sqlmodel import Session, func, select

from core import audit, pricing
from core.auth import Actor, require
from core.billing import schedule, terms
from core.billing.calculate import (ContractRun, ContractTerms, DraftInvoice, compute_invoice, plan_contract_run,
                                    price_contract)
from core.billing.contracts import terms_for
from core.billing.modifiers import ModifierError
from core.billing.periods import add_months
from core.errors import NotFound, UserError
from core.metering.metrics import MetricResult, aggregate
from core.models import (BillableMetric, BusinessEntity, Contract, ContractLine, Customer, Invoice, InvoiceLine,
                         Product, UsageEvent, utcnow)
from core.money import ZERO, format_money
from core.pricing.base import Usage
from core.types import MONEY_SCALE, QUANTITY_SCALE, from_scaled

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
    products = {p.id: p for p in session.exec(select(Product))}
    return {c.id: (terms_for(c, lines_by_contract[c.id], metric_codes, products), lines_by_contract[c.id])
            for c in contracts}


def _merge(a: MetricResult, b: MetricResult) -> MetricResult:
    """Two windows of one period (a pause cut a hole): quantities add up."""
    groups = None
    if a.groups or b.groups:
        groups = dict(a.groups or {})
        for k, v in (b.groups or {}).items():
            groups[k] = groups.get(k, ZERO) + v
    return MetricResult(a.quantity + b.quantity, groups, a.events + b.events)


def _usage_for(session: Session, runs: dict[int, object], contracts: dict[int, Contract],
               customers: dict[int, Customer], loaded: dict, tz_of: dict[int, str]) -> dict[int, dict[int, Usage]]:
    """Usage per contract line: one aggregation query per metric and distinct (UTC) window, for all customers."""
    metrics = {m.id: m for m in session.exec(select(BillableMetric))}
    wanted: dict[tuple, set[str]] = defaultdict(set)
    line_windows: dict[tuple[int, int], list[tuple]] = {}
    for cid, plan in runs.items():
        ext = customers[contracts[cid].customer_id].external_id
        lines = {ln.id: ln for ln in loaded[cid][1]}
        for charge in plan.charges:
            ln = lines[charge.line_id]
            if charge.kind != "usage" or not ln.metric_id:
                continue
            windows = charge.windows or ((charge.active_start, charge.active_end),)
            keys = []
            for ws, we in windows:
                us, ue = schedule.period_bounds_utc(ws, we, tz_of[cid])
                key = (ln.metric_id, us, ue, _needs_transactions(ln))
                wanted[key].add(ext)
                keys.append(key)
            line_windows[(cid, ln.id)] = keys
    results: dict[tuple, dict[str, MetricResult]] = {}
    txns: dict[tuple, dict[str, tuple]] = {}
    for key, externals in wanted.items():
        metric_id, us, ue, with_tx = key
        results[key] = aggregate(session, metrics[metric_id], us, ue, sorted(externals))
        if with_tx:
            txns[key] = _transactions(session, metrics[metric_id], us, ue, sorted(externals))
    usage: dict[int, dict[int, Usage]] = {}
    for cid in runs:
        ext = customers[contracts[cid].customer_id].external_id
        per_line: dict[int, Usage] = {}
        for ln in loaded[cid][1]:
            keys = line_windows.get((cid, ln.id))
            if not keys:
                continue
            res, tx = MetricResult(), None
            for key in keys:
                res = _merge(res, results[key].get(ext, MetricResult()))
                if key[3]:
                    tx = (tx or ()) + txns[key].get(ext, ())
            per_line[ln.id] = Usage(quantity=res.quantity, groups=res.groups, transactions=tx)
        usage[cid] = per_line
    return usage


def _history(session: Session, contract_ids: list[int], before: date) -> dict[int, dict[str, Decimal]]:
    """What each contract's discounts, grants and fees already gave in earlier periods (caps, grant pools)."""
    rows = session.exec(
        select(InvoiceLine.contract_id, InvoiceLine.modifier_key, func.sum(type_coerce(InvoiceLine.amount,
                                                                                       BigInteger)))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(InvoiceLine.contract_id.in_(contract_ids), InvoiceLine.modifier_key.is_not(None),
               Invoice.status != "void", Invoice.period_start < before)
        .group_by(InvoiceLine.contract_id, InvoiceLine.modifier_key)).all()
    out: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for cid, key, raw in rows:
        out[cid][key] = abs(from_scaled(raw, MONEY_SCALE))
    return out


def _billed_in_advance(session: Session, terms: dict[int, ContractTerms], year: int, month: int) -> dict:
    """Per contract whose previous run was invoiced: what that run's plan charges in advance now, and what was
    actually billed for those periods — the inputs of the advance adjustments (core.billing.calculate)."""
    prev = add_months(date(year, month, 1), -1)
    invoiced = set(session.exec(
        select(InvoiceLine.contract_id).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(InvoiceLine.contract_id.in_(list(terms)), Invoice.status != "void",
               Invoice.period_start >= prev, Invoice.period_start < date(year, month, 1))).all())
    prev_plans = {cid: plan_contract_run(terms[cid], prev.year, prev.month) for cid in invoiced}
    starts = {cid: {c.service_start for c in p.charges if c.kind == "advance"} for cid, p in prev_plans.items()}
    billed: dict[int, dict[tuple, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    all_starts = set().union(*starts.values()) if starts else set()
    if all_starts:  # one query for every contract of the run
        rows = session.exec(
            select(InvoiceLine.contract_id, InvoiceLine.contract_line_id, InvoiceLine.period_start,
                   InvoiceLine.amount)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(InvoiceLine.contract_id.in_(list(prev_plans)), Invoice.status != "void",
                   InvoiceLine.kind.in_(("fixed", "adjustment")), InvoiceLine.period_start.in_(all_starts))).all()
        for cid, line_id, start, amount in rows:
            if start in starts[cid]:
                billed[cid][(line_id, start)] += amount
    return {cid: ({k: v for k, v in billed[cid].items()}, plan) for cid, plan in prev_plans.items()}


def _write(session: Session, invoice: Invoice, draft: DraftInvoice) -> Invoice:
    invoice.subtotal, invoice.tax, invoice.total = draft.subtotal, draft.tax, draft.total
    invoice.credits_applied = draft.credits_applied
    session.add(invoice)
    session.flush()
    for ln in draft.lines:
        session.add(InvoiceLine(invoice_id=invoice.id, contract_line_id=ln.contract_line_id, kind=ln.kind,
                                description=ln.description, quantity=ln.quantity, amount=ln.amount,
                                breakdown=ln.breakdown, period_start=ln.period_start, period_end=ln.period_end,
                                sort_order=ln.sort_order, indent=ln.indent, modifier_key=ln.modifier_key,
                                product_id=ln.product_id, contract_id=ln.contract_id))
    return invoice


def _run_month(period_start: date, period_end: date) -> tuple[int, int]:
    if period_start.day != 1 or period_end != add_months(period_start, 1):
        raise UserError("an invoice run covers one billing month: give the first day of the month and the first "
                        "day of the next month (for example 2026-10-01 to 2026-11-01)")
    return period_start.year, period_start.month


def _candidates(session: Session, period_start: date, contract_ids: list[int] | None) -> list[Contract]:
    """Active contracts that may have a charge in the run: in-arrears charges of this cycle or in-advance
    charges of the next one (a cycle can start up to a month before or after the calendar month)."""
    horizon = add_months(period_start, 3)
    q = select(Contract).where(Contract.status == "active", Contract.start_date < horizon,
                               or_(Contract.end_date.is_(None), Contract.end_date > add_months(period_start, -12)))
    if contract_ids is not None:
        q = q.where(Contract.id.in_(contract_ids))
    return list(session.exec(q.order_by(Contract.id)))


def _price_runs(session: Session, contracts: list[Contract], year: int, month: int,
                reserve_wallet: dict | None = None) -> list[tuple[str, list[Contract], DraftInvoice, dict]]:
    """Plan and price every contract's run; group per invoice (per contract, or per customer and currency when
    the customer consolidates). Returns (run_key, contracts, draft, plans)."""
    from core import tax as taxes
    from core import wallet

    loaded = _load_terms(session, contracts)
    customers = {c.id: c for c in session.exec(select(Customer).where(
        Customer.id.in_({c.customer_id for c in contracts})))}
    entities = {e.id: e for e in session.exec(select(BusinessEntity))}
    tz_of = {c.id: schedule.billing_timezone(customers[c.customer_id].timezone,
                                             entities[customers[c.customer_id].entity_id].timezone)
             for c in contracts}
    plans = {c.id: plan_contract_run(loaded[c.id][0], year, month) for c in contracts}
    prepaid = _billed_in_advance(session, {cid: loaded[cid][0] for cid in plans}, year, month)
    # a contract is in the run when something is charged, or when prepaid periods may need adjusting
    plans = {cid: p for cid, p in plans.items() if p.charges or prepaid.get(cid, ({}, None))[0]}
    by_id = {c.id: c for c in contracts}
    usage = _usage_for(session, plans, by_id, customers, loaded, tz_of)
    history = _history(session, list(plans), date(year, month, 1) if plans else date.max)
    groups: dict[str, list[Contract]] = defaultdict(list)
    for cid in plans:
        c = by_id[cid]
        cust = customers[c.customer_id]
        key = f"customer:{cust.id}:{c.currency}" if cust.consolidate_invoices else f"contract:{cid}"
        groups[key].append(c)
    balances = reserve_wallet if reserve_wallet is not None else {}
    stored = wallet.balances_for(session, [customers[by_id[cid].customer_id].id for cid in plans])
    tax_rules = taxes.rates_for(session, list({by_id[cid].customer_id: customers[by_id[cid].customer_id]
                                               for cid in plans}.values()))
    provider = taxes.configured_provider()
    out = []
    for key, cs in groups.items():
        cust = customers[cs[0].customer_id]
        cur = cs[0].currency
        wallet_key = (cust.id, cur)
        if wallet_key not in balances:
            balances[wallet_key] = stored.get(wallet_key, ZERO)
        runs = [ContractRun(loaded[c.id][0], plans[c.id], usage.get(c.id, {}), history.get(c.id, {}),
                            *prepaid.get(c.id, ({}, None))) for c in cs]
        try:
            rule = tax_rules[cust.id]
            if provider is not None and len(runs) == 1 and not (rule is not None and rule.exempt):
                pre_tax, _ = price_contract(runs[0], cur)
                rule = taxes.tax_rule_from_provider(provider, pre_tax, customer=cust, code=f"{key}:{year}-{month:02d}",
                                                    on=runs[0].plan.invoice_date)
            draft = compute_invoice(runs, cur, tax=rule, wallet_balance=balances[wallet_key])
        except (pricing.PricingError, ModifierError) as exc:
            names = ", ".join(f"'{c.name}' (#{c.id})" for c in cs)
            raise UserError(f"contract {names} could not be priced: {exc}") from None
        if not draft.lines:
            continue  # nothing to bill and nothing to adjust
        balances[wallet_key] -= draft.credits_applied
        out.append((key, cs, draft, {c.id: plans[c.id] for c in cs}))
    return out


def generate_drafts(session: Session, actor: Actor, *, period_start: date, period_end: date,
                    contract_ids: list[int] | None = None, issue_date: date | None = None) -> RunResult:
    """Draft invoices for the billing run of one month: for each active contract, its cycle period starting
    in that month — the period's usage and in-arrears charges, and the next period's in-advance charges,
    dated at the period's end. Idempotent: an invoice that already exists for a contract (or a consolidating
    customer) and period is left as it is."""
    require(actor, "invoices:write")
    if period_end <= period_start:
        raise UserError("the period must end after it starts")
    year, month = _run_month(period_start, period_end)
    contracts = _candidates(session, period_start, contract_ids)
    result = RunResult(contracts_considered=len(contracts))
    if not contracts:
        return result
    month_start = date(year, month, 1)
    existing = set(session.exec(select(Invoice.run_key).where(Invoice.run_key.is_not(None),
                                                              Invoice.period_start >= month_start,
                                                              Invoice.period_start < add_months(month_start, 1))))
    customers = {c.id: c for c in session.exec(select(Customer).where(
        Customer.id.in_({c.customer_id for c in contracts})))}
    todo = [c for c in contracts if f"contract:{c.id}" not in existing and
            f"customer:{c.customer_id}:{c.currency}" not in existing]
    result.skipped_existing = len(contracts) - len(todo)
    if not todo:
        return result
    totals: dict[str, object] = defaultdict(lambda: ZERO)
    for key, cs, draft, plans in _price_runs(session, todo, year, month):
        cust = customers[cs[0].customer_id]
        first = plans[cs[0].id]
        start, end = (first.run_start, first.run_end) if key.startswith("contract:") else \
            (date(year, month, 1), add_months(date(year, month, 1), 1))
        issued = issue_date or draft.invoice_date or end
        c0 = cs[0]
        due = terms.due_date(issued, c0.payment_terms_days, c0.payment_terms_eom)
        inv = Invoice(entity_id=cust.entity_id, customer_id=cust.id,
                      contract_id=c0.id if key.startswith("contract:") else None, run_key=key,
                      currency=c0.currency, period_start=start, period_end=end, issue_date=issued, due_date=due)
        _write(session, inv, draft)
        result.created.append(inv.id)
        totals[inv.currency] += inv.total
    result.total_by_currency = dict(totals)
    audit.record(session, actor=actor.username, action="invoice.generate", entity_type="invoice_run",
                 entity_id=f"{year}-{month:02d}",
                 details={"created": len(result.created), "skipped_existing": result.skipped_existing,
                          "totals": {k: str(v) for k, v in totals.items()}})
    return result


def amount_due(inv: Invoice) -> Decimal:
    """What the customer still owes: the total less prepaid credits applied, payments and credit notes; nothing
    once void (core.invoicing.settlement holds the rules)."""
    from core.invoicing.settlement import due

    return due(inv)


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
    before = inv.total
    if inv.run_key and inv.run_key.startswith("customer:"):
        contracts = [c for c in _candidates(session, inv.period_start.replace(day=1), None)
                     if c.customer_id == inv.customer_id and c.currency == inv.currency]
    else:
        contracts = [session.get(Contract, inv.contract_id)]
    session.execute(delete(InvoiceLine).where(InvoiceLine.invoice_id == inv.id))
    session.flush()
    priced = _price_runs(session, contracts, inv.period_start.year, inv.period_start.month)
    mine = [p for p in priced if p[0] == inv.run_key]
    if mine:
        _write(session, inv, mine[0][2])
    else:
        inv.subtotal = inv.tax = inv.total = inv.credits_applied = ZERO
        session.add(inv)
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
    if inv.credits_applied > 0:  # the draft counted on prepaid credit: take it from the wallet now
        from core import wallet

        if wallet.balance(session, inv.customer_id, inv.currency) < inv.credits_applied:
            raise UserError(f"the customer's prepaid credit is now below the "
                            f"{format_money(inv.credits_applied, inv.currency)} this draft uses; regenerate it")
        wallet.use_credit(session, inv.customer_id, inv.currency, inv.credits_applied, inv.id)
    inv.number = _next_number(session, inv.entity_id)
    inv.status = "approved"
    inv.approved_at = utcnow()
    inv.approved_by = actor.username
    contract = session.get(Contract, inv.contract_id) if inv.contract_id else None
    if contract is not None and contract.payment_terms_basis == "approval":
        inv.due_date = terms.due_date(inv.approved_at.date(), contract.payment_terms_days, contract.payment_terms_eom)
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
        due = amount_due(inv)
        rows.append(InvoiceRow(inv.id, inv.number, inv.status, cust.name, cust.external_id, inv.period_start,
                               inv.period_end, inv.issue_date, inv.due_date, inv.currency, inv.total, due,
                               inv.status != "draft" and due > 0 and inv.due_date < today))
    return rows


def count_by_status(session: Session) -> dict[str, int]:
    return dict(session.exec(select(Invoice.status, func.count()).group_by(Invoice.status)).all())
