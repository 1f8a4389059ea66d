"""Contract renewal, applied by a job (CLI `renew-contracts`, cron): a contract whose term has ended and
whose policy says so is followed by a new contract starting the day the old one ended, for the same term
length — with the same lines, prices and discounts ("same_terms") or with its plan's current list prices
("list_prices"). Running the job twice renews nothing twice."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.billing.contracts import ContractSpec, LineSpec, contract_lines, create_contract
from core.billing.periods import add_months
from core.models import BillableMetric, Contract, Customer, Plan, Product


@dataclass
class RenewalResult:
    renewed: list[tuple[int, int]] = field(default_factory=list)  # (old contract id, new contract id)
    ended: list[int] = field(default_factory=list)  # ended without renewal (policy "none")

    def summary(self) -> str:
        return (f"{len(self.renewed)} contract{'s' if len(self.renewed) != 1 else ''} renewed, "
                f"{len(self.ended)} ended without renewal")


def _line_specs(session: Session, contract: Contract) -> list[LineSpec]:
    metrics = {m.id: m.code for m in session.exec(select(BillableMetric))}
    skus = {p.id: p.sku for p in session.exec(select(Product))}
    specs = []
    for ln in contract_lines(session, contract.id):
        # the terms in force when the old term ends carry over (a trial or an early ramp step does not);
        # the renewed lines run for the whole new term
        if ln.end_date and contract.end_date and ln.end_date < contract.end_date:
            continue
        specs.append(LineSpec(description=ln.description, pricing_model=ln.pricing_model, params=dict(ln.params),
                              metric_code=metrics.get(ln.metric_id) if ln.metric_id else None,
                              fixed_quantity=ln.fixed_quantity, free_units=ln.free_units, cadence=ln.cadence,
                              timing=ln.timing, product_sku=skus.get(ln.product_id) if ln.product_id else None,
                              modifiers=dict(ln.modifiers or {}), phase=ln.phase))
    return specs


def renew_due_contracts(session: Session, actor: Actor, *, on: date) -> RenewalResult:
    require(actor, "contracts:write")
    result = RenewalResult()
    due = session.exec(select(Contract).where(Contract.status == "active", Contract.end_date.is_not(None),
                                              Contract.end_date <= on).order_by(Contract.id)).all()
    renewed_ids = set(session.exec(select(Contract.renewed_from_id).where(Contract.renewed_from_id.is_not(None))))
    for old in due:
        if old.id in renewed_ids:
            continue
        old.status = "ended"
        session.add(old)
        if old.renewal_policy == "none" or not old.term_months:
            result.ended.append(old.id)
            audit.record(session, actor=actor.username, action="contract.end", entity_type="contract",
                         entity_id=old.id, details={"end_date": old.end_date, "policy": old.renewal_policy,
                                                    "before": "active", "after": "ended"})
            continue
        customer = session.get(Customer, old.customer_id)
        lines = _line_specs(session, old)
        if old.renewal_policy == "list_prices" and old.plan_id:
            plan = session.get(Plan, old.plan_id)
            from core.plans import line_from_plan

            # the plan's current list prices; a limited phase (a trial) is not offered again
            lines = [line_from_plan(row, old.end_date) for row in plan.lines if not row.get("end_offset_months")]
            for ln in lines:
                ln.start_date = None
        spec = ContractSpec(customer_external_id=customer.external_id, name=old.name, currency=old.currency,
                            start_date=old.end_date, end_date=add_months(old.end_date, old.term_months),
                            payment_terms_days=old.payment_terms_days, lines=lines,
                            payment_terms_basis=old.payment_terms_basis, payment_terms_eom=old.payment_terms_eom,
                            billing_anchor_day=old.billing_anchor_day, term_months=old.term_months,
                            renewal_policy=old.renewal_policy, modifiers=dict(old.modifiers or {}),
                            status="active", plan_id=old.plan_id)
        new = create_contract(session, actor, spec)
        new.renewed_from_id = old.id
        session.add(new)
        result.renewed.append((old.id, new.id))
        audit.record(session, actor=actor.username, action="contract.renew", entity_type="contract",
                     entity_id=old.id, details={"new_contract": new.id, "policy": old.renewal_policy,
                                                "new_start": new.start_date, "new_end": new.end_date,
                                                "before": "active", "after": "ended"})
    session.flush()
    return result
