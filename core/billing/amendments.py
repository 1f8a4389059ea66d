"""Changing a running contract: a new price or quantity for a time-based line from a day, or ending the
contract early. The change is recorded as dated terms (the old line ends, a new line starts); the next invoice
run compares what was billed in advance with what the new terms charge and adds the difference as its own line
— a credit for the unused days of a prepaid line, a prorated charge for the new one (spec section 3)."""
from __future__ import annotations

from datetime import date

from sqlmodel import Session

from core import audit, pricing
from core.auth import Actor, require
from core.billing.contracts import get_contract
from core.errors import NotFound, UserError
from core.models import ContractLine
from core.money import MoneyError, to_decimal


def change_line(session: Session, actor: Actor, *, contract_id: int, line_id: int, effective: date,
                params: dict | None = None, fixed_quantity=None, description: str | None = None) -> ContractLine:
    """From ``effective`` on, the line is billed with the new params and/or quantity (an upgrade or a
    downgrade). Returns the new line."""
    require(actor, "contracts:write")
    contract = get_contract(session, contract_id)
    old = session.get(ContractLine, line_id)
    if old is None or old.contract_id != contract.id:
        raise NotFound(f"contract '{contract.name}' has no line #{line_id}")
    if old.metric_id:
        raise UserError(f"'{old.description}' is a usage line: its price applies to each period's usage; "
                        "change it from the next period instead")
    start = old.start_date or contract.start_date
    end = old.end_date or contract.end_date
    if effective <= start or (end is not None and effective >= end):
        raise UserError(f"the change must take effect after {start:%-d %b %Y}"
                        + (f" and before {end:%-d %b %Y}" if end else ""))
    new_params = params if params is not None else dict(old.params)
    problems = pricing.validate(old.pricing_model, new_params)
    if problems:
        raise UserError(f"'{old.description}': " + "; ".join(problems))
    try:
        qty = to_decimal(fixed_quantity, field="quantity") if fixed_quantity not in (None, "") else old.fixed_quantity
    except MoneyError as exc:
        raise UserError(str(exc)) from None
    if qty is not None and qty < 0:
        raise UserError("quantity cannot be negative")
    new = ContractLine(contract_id=contract.id, product_id=old.product_id, description=description or old.description,
                       pricing_model=old.pricing_model, params=new_params, metric_id=None, fixed_quantity=qty,
                       free_units=old.free_units, cadence=old.cadence, timing=old.timing,
                       sort_order=old.sort_order, start_date=effective, end_date=old.end_date, phase=old.phase,
                       modifiers=dict(old.modifiers or {}))
    before = {"params": dict(old.params), "quantity": old.fixed_quantity, "end_date": old.end_date}
    old.end_date = effective
    session.add(old)
    session.add(new)
    session.flush()
    audit.record(session, actor=actor.username, action="contract.change_line", entity_type="contract",
                 entity_id=contract.id, details={"line": old.id, "new_line": new.id, "effective": effective,
                                                 "before": before,
                                                 "after": {"params": new_params, "quantity": qty}})
    from core.webhooks import outbox, payloads

    outbox.emit(session, "contract.updated", lambda: payloads.contract(session, contract, change="line_changed"))
    return new


def end_contract(session: Session, actor: Actor, *, contract_id: int, effective: date) -> None:
    """End the contract early: ``effective`` is the first day no longer served (half-open end). Prepaid days
    after it are credited on the next invoice."""
    require(actor, "contracts:write")
    contract = get_contract(session, contract_id)
    if effective <= contract.start_date:
        raise UserError(f"the contract starts on {contract.start_date:%-d %b %Y}; end it after that")
    if contract.end_date is not None and effective >= contract.end_date:
        raise UserError(f"the contract already ends on {contract.end_date:%-d %b %Y}")
    before = contract.end_date
    contract.end_date = effective
    contract.renewal_policy = "none"
    session.add(contract)
    audit.record(session, actor=actor.username, action="contract.end_early", entity_type="contract",
                 entity_id=contract.id, details={"before": before, "after": effective})
    from core.webhooks import outbox, payloads

    outbox.emit(session, "contract.updated", lambda: payloads.contract(session, contract, change="ended_early"))
