"""A live invoice preview for a contract that is being built (not saved): the next invoice as it would look,
with sample quantities typed by the user instead of stored usage. The same calculation as a real run."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from core.billing.calculate import ContractRun, ContractTerms, DraftLine, LineTerms, compute_invoice, plan_contract_run
from core.billing.contracts import ContractSpec
from core.errors import UserError
from core.models import Customer, Product
from core.money import ZERO, MoneyError, to_decimal
from core.pricing.base import Usage


@dataclass(frozen=True)
class InvoicePreview:
    currency: str
    invoice_date: date | None
    period_start: date
    period_end: date
    steps: tuple[DraftLine, ...]  # description, amount, breakdown, indent, kind, period_start/end
    subtotal: Decimal
    tax: Decimal
    total: Decimal


def _usage(sample: object) -> Usage:
    """A sample quantity: a number, or {category: number} for matrix / two-dimensional lines."""
    if isinstance(sample, Usage):
        return sample
    if isinstance(sample, dict):
        groups = {str(k): to_decimal(v or "0", field=f"quantity for {k}") for k, v in sample.items()}
        return Usage(quantity=sum(groups.values(), ZERO), groups=groups)
    return Usage(quantity=to_decimal(sample or "0", field="sample quantity"))


def preview_invoice(session: Session, spec: ContractSpec, samples: dict[int, object], year: int,
                    month: int) -> InvoicePreview:
    """The invoice of the billing run for ``year``/``month`` (see core.billing.schedule); ``samples`` maps a
    usage line's index in ``spec.lines`` to its sample quantity. Raises UserError with a readable message."""
    products = {p.sku: p for p in session.exec(select(Product))}
    lines = []
    for i, ln in enumerate(spec.lines):
        prod = products.get(ln.product_sku or "")
        lines.append(LineTerms(
            id=i, description=ln.description, pricing_model=ln.pricing_model, params=ln.params,
            cadence=ln.cadence, timing="arrears" if ln.metric_code else ln.timing, metric_code=ln.metric_code,
            fixed_quantity=to_decimal(ln.fixed_quantity, field="quantity") if ln.fixed_quantity not in (None, "")
            else None, free_units=to_decimal(ln.free_units or "0", field="free units"), modifiers=ln.modifiers or {},
            start_date=ln.start_date, end_date=ln.end_date, phase=ln.phase or "",
            indent=1 if prod is not None and (prod.is_addon or prod.parent_id) else 0))
    terms = ContractTerms(id=None, currency=spec.currency, start_date=spec.start_date, end_date=spec.end_date,
                          lines=tuple(lines), anchor_day=int(spec.billing_anchor_day or 1),
                          pauses=tuple((p["start"], p["end"]) for p in spec.pauses or []),
                          modifiers=spec.modifiers or {}, name=spec.name)
    try:
        plan = plan_contract_run(terms, year, month)
        usage = {i: _usage(samples.get(i)) for i, ln in enumerate(spec.lines) if ln.metric_code}
        customer = session.exec(select(Customer).where(Customer.external_id == spec.customer_external_id)).first()
        tax_rule = None
        if customer is not None:
            from core import tax

            tax_rule = tax.rate_for(session, customer)
        draft = compute_invoice([ContractRun(terms, plan, usage)], spec.currency, tax=tax_rule)
    except (MoneyError, ValueError) as exc:
        raise UserError(f"the preview cannot be calculated yet: {exc}") from None
    return InvoicePreview(spec.currency, draft.invoice_date, plan.run_start, plan.run_end, draft.lines,
                          draft.subtotal, draft.tax, draft.total)
