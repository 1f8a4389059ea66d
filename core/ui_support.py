"""Small read helpers the Streamlit pages need and core did not have yet (owned by the UI; tiny on purpose)."""
from __future__ import annotations

from sqlmodel import Session, select

from core.billing.contracts import ContractSpec, LineSpec, contract_lines, get_contract
from core.models import BillableMetric, Customer, Product


def spec_from_contract(session: Session, contract_id: int) -> ContractSpec:
    """A saved contract as the ContractSpec that would create it again (for "Save as plan" and previews)."""
    c = get_contract(session, contract_id)
    customer = session.get(Customer, c.customer_id)
    metrics = {m.id: m.code for m in session.exec(select(BillableMetric))}
    skus = {p.id: p.sku for p in session.exec(select(Product))}
    lines = [LineSpec(description=ln.description, pricing_model=ln.pricing_model, params=dict(ln.params),
                      metric_code=metrics.get(ln.metric_id) if ln.metric_id else None,
                      fixed_quantity=None if ln.fixed_quantity is None else str(ln.fixed_quantity),
                      free_units=str(ln.free_units or 0), cadence=ln.cadence, timing=ln.timing,
                      product_sku=skus.get(ln.product_id) if ln.product_id else None,
                      modifiers=dict(ln.modifiers or {}), start_date=ln.start_date, end_date=ln.end_date,
                      phase=ln.phase or "")
             for ln in contract_lines(session, contract_id)]
    return ContractSpec(customer_external_id=customer.external_id if customer else "", name=c.name,
                        currency=c.currency, start_date=c.start_date, end_date=c.end_date,
                        payment_terms_days=c.payment_terms_days, lines=lines,
                        payment_terms_basis=c.payment_terms_basis, payment_terms_eom=c.payment_terms_eom,
                        billing_anchor_day=c.billing_anchor_day, term_months=c.term_months,
                        renewal_policy=c.renewal_policy, modifiers=dict(c.modifiers or {}),
                        pauses=list(c.pauses or []), status=c.status, plan_id=c.plan_id)
