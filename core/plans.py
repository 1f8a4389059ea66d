"""Plans: reusable contract patterns. A contract made from a plan inherits its lines, modifiers and terms,
may override any line's price, and remembers the plan it came from (plan_id).

A plan line has the same fields as a contract line (core.billing.contracts.LineSpec), with its phase window
given in months from the contract start (``start_offset_months`` / ``end_offset_months``) instead of dates:
a 3-month $0 trial is a line with end_offset_months 3, the paid line then has start_offset_months 3.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import date

from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.billing.contracts import RENEWAL_POLICIES, ContractSpec, LineSpec, _clean_params, validate_lines
from core.billing.periods import add_months
from core.errors import NotFound, UserError
from core.models import Plan
from core.money import MoneyError, currency

LINE_FIELDS = {f.name for f in fields(LineSpec)} - {"start_date", "end_date"}


@dataclass
class PlanSpec:
    name: str
    currency: str = "USD"
    description: str = ""
    payment_terms_days: int = 30
    term_months: int | None = None
    renewal_policy: str = "none"
    modifiers: dict = field(default_factory=dict)
    lines: list[dict] = field(default_factory=list)  # LineSpec fields + start/end_offset_months


def line_from_plan(row: dict, start: date) -> LineSpec:
    known = {k: v for k, v in row.items() if k in LINE_FIELDS}
    spec = LineSpec(**known)
    if row.get("start_offset_months"):
        spec.start_date = add_months(start, int(row["start_offset_months"]))
    if row.get("end_offset_months"):
        spec.end_date = add_months(start, int(row["end_offset_months"]))
    return spec


def validate_plan(session: Session, spec: PlanSpec) -> list[str]:
    problems = []
    if not (spec.name or "").strip():
        problems.append("name: a plan name is required")
    try:
        currency(spec.currency)
    except MoneyError as exc:
        problems.append(f"currency: {exc}")
    if spec.renewal_policy not in RENEWAL_POLICIES:
        problems.append(f"renewal: choose one of {', '.join(RENEWAL_POLICIES)}")
    from core.billing.modifiers import validate_contract_modifiers

    problems.extend(f"plan modifiers: {p}" for p in validate_contract_modifiers(spec.modifiers or {}))
    for i, row in enumerate(spec.lines, start=1):
        unknown = set(row) - LINE_FIELDS - {"start_offset_months", "end_offset_months"}
        if unknown:
            problems.append(f"line {i}: unknown fields {', '.join(sorted(unknown))}")
    lines = [line_from_plan(r, date(2000, 1, 1)) for r in spec.lines if set(r) <= LINE_FIELDS |
             {"start_offset_months", "end_offset_months"}]
    problems.extend(validate_lines(session, lines))
    return problems


def create_plan(session: Session, actor: Actor, spec: PlanSpec) -> Plan:
    require(actor, "catalog:write")
    problems = validate_plan(session, spec)
    if session.exec(select(Plan).where(Plan.name == (spec.name or "").strip())).first():
        problems.append(f"name: a plan called '{spec.name}' already exists")
    if problems:
        raise UserError("The plan was not saved:\n- " + "\n- ".join(problems))
    plan = Plan(name=spec.name.strip(), description=spec.description, currency=currency(spec.currency).code,
                payment_terms_days=spec.payment_terms_days, term_months=spec.term_months,
                renewal_policy=spec.renewal_policy, modifiers=_clean_params(spec.modifiers or {}),
                lines=[_clean_params(r) for r in spec.lines])
    session.add(plan)
    session.flush()
    audit.record(session, actor=actor.username, action="plan.create", entity_type="plan", entity_id=plan.id,
                 details={"name": plan.name, "lines": len(plan.lines)})
    return plan


def plan_from_contract_spec(name: str, spec: ContractSpec, description: str = "") -> PlanSpec:
    """Save a contract's pattern as a plan (phase dates become month offsets from the contract start)."""
    rows = []
    for line in spec.lines:
        row = {k: v for k, v in asdict(line).items() if k in LINE_FIELDS}
        for key, when in (("start_offset_months", line.start_date), ("end_offset_months", line.end_date)):
            if when:
                row[key] = (when.year - spec.start_date.year) * 12 + when.month - spec.start_date.month
        rows.append(row)
    return PlanSpec(name=name, currency=spec.currency, description=description,
                    payment_terms_days=spec.payment_terms_days, term_months=spec.term_months,
                    renewal_policy=spec.renewal_policy, modifiers=dict(spec.modifiers), lines=rows)


def list_plans(session: Session, *, include_archived: bool = False) -> list[Plan]:
    q = select(Plan).order_by(Plan.name)
    if not include_archived:
        q = q.where(Plan.archived == False)  # noqa: E712
    return list(session.exec(q))


def get_plan(session: Session, plan_id: int) -> Plan:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"there is no plan #{plan_id}")
    return plan


def contract_from_plan(plan: Plan, *, customer_external_id: str, start_date: date, name: str | None = None,
                       end_date: date | None = None, overrides: dict[int, dict] | None = None,
                       status: str = "active") -> ContractSpec:
    """A ContractSpec inheriting everything from the plan. ``overrides`` maps a line index (0-based) to the
    fields that differ for this customer (usually ``params`` — the price — or ``free_units``)."""
    overrides = overrides or {}
    lines = []
    for i, row in enumerate(plan.lines):
        line = line_from_plan(row, start_date)
        for key, value in (overrides.get(i) or {}).items():
            if key not in LINE_FIELDS:
                raise UserError(f"line {i + 1}: '{key}' cannot be overridden")
            setattr(line, key, value)
        lines.append(line)
    if end_date is None and plan.term_months:
        end_date = add_months(start_date, plan.term_months)
    return ContractSpec(customer_external_id=customer_external_id, name=name or plan.name, currency=plan.currency,
                        start_date=start_date, end_date=end_date, payment_terms_days=plan.payment_terms_days,
                        lines=lines, term_months=plan.term_months, renewal_policy=plan.renewal_policy,
                        modifiers=dict(plan.modifiers or {}), status=status, plan_id=plan.id)
