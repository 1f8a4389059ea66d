"""Contracts and their lines: validated as a whole before anything is written."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from core import audit, pricing
from core.auth import Actor, require
from core.billing.calculate import ContractTerms, LineTerms
from core.billing.periods import CADENCES
from core.errors import NotFound, UserError
from core.models import BillableMetric, Contract, ContractLine, Customer, Product, utcnow
from core.money import MoneyError, ZERO, currency, to_decimal
from core.types import QUANTITY_SCALE


@dataclass
class LineSpec:
    """A contract line as a form or a file describes it."""

    description: str
    pricing_model: str
    params: dict
    metric_code: str | None = None  # usage line when set
    fixed_quantity: object = None  # time-based line quantity (seats, licences); default 1
    free_units: object = "0"
    cadence: str = "monthly"
    timing: str = "arrears"
    product_sku: str | None = None
    modifiers: dict = field(default_factory=dict)  # credit grants, discounts, minimum commitment
    start_date: date | None = None  # phase window inside the contract (trial, ramp); None = contract start
    end_date: date | None = None  # exclusive; None = contract end
    phase: str = ""


RENEWAL_POLICIES = {"none": "Do not renew", "same_terms": "Renew with the same terms",
                    "list_prices": "Renew at the plan's list prices"}
STATUSES = ("draft", "active")


@dataclass
class ContractSpec:
    customer_external_id: str
    name: str
    currency: str
    start_date: date
    end_date: date | None = None
    payment_terms_days: int = 30
    lines: list[LineSpec] = field(default_factory=list)
    payment_terms_basis: str = "creation"  # creation | approval
    payment_terms_eom: bool = False
    billing_anchor_day: int = 1
    term_months: int | None = None
    renewal_policy: str = "none"
    modifiers: dict = field(default_factory=dict)  # contract-level discounts, minimum, service fees
    pauses: list = field(default_factory=list)  # [{"start": date, "end": date}]
    status: str = "active"  # draft (saved, not billed) | active
    plan_id: int | None = None


def validate_contract(session: Session, spec: ContractSpec) -> list[str]:
    """Every problem in the contract, in words a finance user can act on ("line 2 (API calls): …")."""
    problems: list[str] = []
    if not (spec.name or "").strip():
        problems.append("name: a contract name is required")
    try:
        currency(spec.currency)
    except MoneyError as exc:
        problems.append(f"currency: {exc}")
    if spec.end_date is not None and spec.end_date <= spec.start_date:
        problems.append("end date: the contract must end after it starts")
    if not (0 <= int(spec.payment_terms_days) <= 365):
        problems.append("payment terms: between 0 and 365 days")
    if spec.payment_terms_basis not in ("creation", "approval"):
        problems.append("payment terms: count the days from 'creation' or from 'approval'")
    if not (1 <= int(spec.billing_anchor_day) <= 28):
        problems.append("billing day: choose a day between 1 and 28 (every month has it)")
    if spec.renewal_policy not in RENEWAL_POLICIES:
        problems.append(f"renewal: choose one of {', '.join(RENEWAL_POLICIES)}")
    if spec.renewal_policy != "none" and not spec.term_months:
        problems.append("renewal: a contract that renews needs a term length in months")
    if spec.term_months is not None and not (1 <= int(spec.term_months) <= 120):
        problems.append("term: between 1 and 120 months")
    if spec.status not in STATUSES:
        problems.append("status: a new contract is saved as 'draft' or 'active'")
    for i, pause in enumerate(spec.pauses or [], start=1):
        ps, pe = _as_date(pause.get("start")), _as_date(pause.get("end"))
        if ps is None or pe is None or pe <= ps:
            problems.append(f"pause {i}: give a start and an end after it")
    from core.billing.modifiers import validate_contract_modifiers

    problems.extend(f"contract modifiers: {p}" for p in validate_contract_modifiers(spec.modifiers or {}))
    if session.exec(select(Customer).where(Customer.external_id == spec.customer_external_id)).first() is None:
        problems.append(f"customer: there is no customer with the id '{spec.customer_external_id}'")
    problems.extend(validate_lines(session, spec.lines, contract_end=spec.end_date))
    return problems


def validate_lines(session: Session, lines: list[LineSpec], *, contract_end: date | None = None) -> list[str]:
    """Every problem in a list of lines (a contract's or a plan's)."""
    from core.billing.modifiers import validate_line_modifiers

    problems: list[str] = []
    if not lines:
        problems.append("lines: a contract needs at least one line")
    metric_rows = {m.code: m for m in session.exec(select(BillableMetric))}
    metrics = set(metric_rows)
    skus = {p.sku for p in session.exec(select(Product))}
    for i, line in enumerate(lines, start=1):
        label = f"line {i} ({line.description or 'no description'})"
        if not (line.description or "").strip():
            problems.append(f"line {i}: a description is required")
        try:
            problems.extend(f"{label}: {p}" for p in pricing.validate(line.pricing_model, line.params))
        except pricing.PricingError as exc:
            problems.append(f"{label}: {exc}")
        if line.cadence not in CADENCES:
            problems.append(f"{label}: cadence must be one of {', '.join(CADENCES)}")
        if line.timing not in ("advance", "arrears"):
            problems.append(f"{label}: timing must be 'advance' or 'arrears'")
        if line.metric_code:
            if line.metric_code not in metrics:
                problems.append(f"{label}: there is no billable metric '{line.metric_code}'")
            if line.cadence == "one_time":
                problems.append(f"{label}: a usage line cannot be one-time")
            fees = {k for k in ("fixed_fee", "min_fee", "max_fee") if (line.params or {}).get(k) not in (None, "", "0")}
            if line.pricing_model == "percent" and fees and line.metric_code in metrics \
                    and metric_rows[line.metric_code].aggregation == "sql":
                problems.append(f"{label}: per-transaction fees ({', '.join(sorted(fees))}) need the individual "
                                f"transactions, and the SQL-template metric '{line.metric_code}' only gives totals; "
                                "use an event metric or drop the fees")
        elif line.fixed_quantity not in (None, ""):
            try:
                q = to_decimal(line.fixed_quantity, field="quantity")
                if q < 0:
                    problems.append(f"{label}: quantity cannot be negative")
                elif _too_precise(q):
                    problems.append(f"{label}: quantity has more than {QUANTITY_SCALE} decimals")
            except MoneyError as exc:
                problems.append(f"{label}: {exc}")
        try:
            free = to_decimal(line.free_units or "0", field="free units")
            if free < 0:
                problems.append(f"{label}: free units cannot be negative")
            elif _too_precise(free):
                problems.append(f"{label}: free units have more than {QUANTITY_SCALE} decimals")
        except MoneyError as exc:
            problems.append(f"{label}: {exc}")
        if line.product_sku and line.product_sku not in skus:
            problems.append(f"{label}: there is no product with SKU '{line.product_sku}'")
        if line.start_date and line.end_date and line.end_date <= line.start_date:
            problems.append(f"{label}: the phase must end after it starts")
        if line.start_date and contract_end and line.start_date >= contract_end:
            problems.append(f"{label}: the phase starts after the contract ends")
        problems.extend(f"{label}: {p}" for p in validate_line_modifiers(line.modifiers or {}))
    return problems


def _too_precise(q: Decimal) -> bool:
    scaled = q.scaleb(QUANTITY_SCALE)
    return scaled != scaled.to_integral_value()


def _as_date(value) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None


def create_contract(session: Session, actor: Actor, spec: ContractSpec) -> Contract:
    require(actor, "contracts:write")
    problems = validate_contract(session, spec)
    if problems:
        raise UserError("The contract was not saved:\n- " + "\n- ".join(problems))
    customer = session.exec(select(Customer).where(Customer.external_id == spec.customer_external_id)).one()
    contract = Contract(customer_id=customer.id, name=spec.name.strip(), currency=currency(spec.currency).code,
                        start_date=spec.start_date, end_date=spec.end_date,
                        payment_terms_days=int(spec.payment_terms_days), created_by=actor.username,
                        payment_terms_basis=spec.payment_terms_basis, payment_terms_eom=bool(spec.payment_terms_eom),
                        billing_anchor_day=int(spec.billing_anchor_day), term_months=spec.term_months,
                        renewal_policy=spec.renewal_policy, modifiers=_clean_params(spec.modifiers or {}),
                        pauses=[{"start": str(_as_date(p["start"])), "end": str(_as_date(p["end"]))}
                                for p in spec.pauses or []],
                        status=spec.status, plan_id=spec.plan_id,
                        activated_at=utcnow() if spec.status == "active" else None)
    session.add(contract)
    session.flush()
    metrics = {m.code: m.id for m in session.exec(select(BillableMetric))}
    products = {p.sku: p.id for p in session.exec(select(Product))}
    for order, line in enumerate(spec.lines):
        fixed = None
        if not line.metric_code:
            fixed = to_decimal(line.fixed_quantity, field="quantity") if line.fixed_quantity not in (None, "") \
                else Decimal(1)
        session.add(ContractLine(
            contract_id=contract.id, description=line.description.strip(), pricing_model=line.pricing_model,
            params=_clean_params(line.params), metric_id=metrics.get(line.metric_code) if line.metric_code else None,
            fixed_quantity=fixed, free_units=to_decimal(line.free_units or "0", field="free units"),
            cadence=line.cadence, timing="arrears" if line.metric_code else line.timing, sort_order=order,
            product_id=products.get(line.product_sku) if line.product_sku else None,
            modifiers=_clean_params(line.modifiers or {}), start_date=line.start_date, end_date=line.end_date,
            phase=(line.phase or "").strip(),
        ))
    session.flush()
    audit.record(session, actor=actor.username, action="contract.create", entity_type="contract",
                 entity_id=contract.id, details={"customer": spec.customer_external_id, "name": contract.name,
                                                 "lines": len(spec.lines), "currency": contract.currency,
                                                 "status": contract.status, "plan_id": contract.plan_id})
    from core.webhooks import outbox, payloads

    outbox.emit(session, "contract.created", lambda: payloads.contract(session, contract))
    return contract


def activate_contract(session: Session, actor: Actor, contract_id: int) -> Contract:
    """A draft contract starts being billed once activated."""
    require(actor, "contracts:write")
    contract = get_contract(session, contract_id)
    if contract.status != "draft":
        raise UserError(f"contract '{contract.name}' is {contract.status}; only a draft can be activated")
    contract.status = "active"
    contract.activated_at = utcnow()
    session.add(contract)
    audit.record(session, actor=actor.username, action="contract.activate", entity_type="contract",
                 entity_id=contract.id, details={"before": "draft", "after": "active"})
    from core.webhooks import outbox, payloads

    outbox.emit(session, "contract.updated", lambda: payloads.contract(session, contract, change="activated"))
    return contract


def _clean_params(params: dict) -> dict:
    """Stored params keep numbers as strings, so they stay exact in JSON."""
    def conv(v):
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    return conv(params)


def get_contract(session: Session, contract_id: int) -> Contract:
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise NotFound(f"there is no contract #{contract_id}")
    return contract


def contract_lines(session: Session, contract_id: int) -> list[ContractLine]:
    return list(session.exec(select(ContractLine).where(ContractLine.contract_id == contract_id)
                             .order_by(ContractLine.sort_order)))


def list_contracts(session: Session, *, customer_id: int | None = None) -> list[tuple[Contract, Customer]]:
    q = select(Contract, Customer).join(Customer, Customer.id == Contract.customer_id).order_by(Contract.id)
    if customer_id is not None:
        q = q.where(Contract.customer_id == customer_id)
    return list(session.exec(q))


def terms_for(contract: Contract, lines: list[ContractLine], metric_codes: dict[int, str],
              products: dict[int, Product] | None = None) -> ContractTerms:
    """The pure snapshot billing works on. Add-ons and sub-products are shown indented under their parent."""
    products = products or {}

    def indent(pid: int | None) -> int:
        p = products.get(pid) if pid else None
        return 1 if p is not None and (p.is_addon or p.parent_id) else 0

    return ContractTerms(
        id=contract.id, currency=contract.currency, start_date=contract.start_date, end_date=contract.end_date,
        anchor_day=contract.billing_anchor_day or 1, pauses=tuple(
            (_as_date(p.get("start")), _as_date(p.get("end"))) for p in (contract.pauses or [])),
        modifiers=dict(contract.modifiers or {}), name=contract.name,
        lines=tuple(
            LineTerms(id=ln.id, description=ln.description, pricing_model=ln.pricing_model, params=ln.params,
                      cadence=ln.cadence, timing=ln.timing,
                      metric_code=metric_codes.get(ln.metric_id) if ln.metric_id else None,
                      fixed_quantity=ln.fixed_quantity, free_units=ln.free_units or ZERO,
                      unit_name=products[ln.product_id].unit_name if ln.product_id in products else "unit",
                      modifiers=dict(ln.modifiers or {}), start_date=ln.start_date, end_date=ln.end_date,
                      phase=ln.phase or "", product_id=ln.product_id, indent=indent(ln.product_id))
            for ln in lines
        ),
    )
