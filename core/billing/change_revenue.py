"""A contract change together with what it does to revenue already billed: the change (core.billing.amendments)
and the spreading again of its invoices' unrecognised revenue (core.ledger.recognition.redistribute_contract) in
one transaction — both happen or neither."""
from __future__ import annotations

from datetime import date

from sqlmodel import Session

from core.auth import Actor
from core.billing.amendments import change_line, end_contract
from core.ledger.recognition import ContractRespread, redistribute_contract


def change_line_respread(session: Session, actor: Actor, *, contract_id: int, respread: str | None = None,
                         **change) -> ContractRespread:
    """``change_line`` (a new price or quantity from a day), then, when ``respread`` names a redistribution, the
    revenue of the contract's invoices not yet recognised spread again that way."""
    change_line(session, actor, contract_id=contract_id, **change)
    if not respread:
        return ContractRespread(0, {})
    return redistribute_contract(session, actor, contract_id, how=respread,
                                 reason=f"price change from {change['effective']:%-d %b %Y}")


def end_contract_respread(session: Session, actor: Actor, *, contract_id: int, effective: date,
                          respread: str | None = None) -> ContractRespread:
    """``end_contract`` (``effective`` is the first day no longer served), then, when ``respread`` names a
    redistribution, the revenue still deferred moved to the periods served before the end."""
    end_contract(session, actor, contract_id=contract_id, effective=effective)
    if not respread:
        return ContractRespread(0, {})
    return redistribute_contract(session, actor, contract_id, how=respread, served_until=effective,
                                 reason="contract ended early, last day served "
                                        f"{date.fromordinal(effective.toordinal() - 1):%-d %b %Y}")
