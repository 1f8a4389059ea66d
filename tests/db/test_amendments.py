"""Mid-period changes of prepaid lines: the next invoice credits the unused days and charges the new terms."""
from datetime import date
from decimal import Decimal

import pytest

from core.auth import SYSTEM
from core.billing.amendments import change_line, end_contract
from core.billing.contracts import LineSpec, contract_lines
from core.errors import UserError
from core.invoicing.service import approve_invoice, generate_drafts, invoice_lines
from core.models import Invoice
from tests.db import factories as f


def run(session, y, m):
    start = date(y, m, 1)
    end = date(y + (m == 12), m % 12 + 1, 1)
    [inv_id] = generate_drafts(session, SYSTEM, period_start=start, period_end=end).created
    approve_invoice(session, SYSTEM, inv_id)
    return inv_id


def _prepaid(session):
    f.seller(session)
    f.customer(session, "C1")
    return f.contract(session, "C1", [LineSpec("Platform", "flat_fee", {"amount": "1000"}, timing="advance")],
                      start=date(2025, 1, 1))


def test_cancelling_a_prepaid_month_credits_the_unused_days(session):
    contract = _prepaid(session)
    run(session, 2025, 2)  # dated 1 March: bills March in advance, $1,000
    end_contract(session, SYSTEM, contract_id=contract.id, effective=date(2025, 3, 21))
    inv_id = run(session, 2025, 3)
    [credit] = [ln for ln in invoice_lines(session, inv_id) if ln.kind == "adjustment"]
    assert credit.amount == Decimal("-354.84")  # 11/31 of $1,000 unused (spec section 3)
    assert "credit for unused days" in credit.description and "20/31 days" in credit.breakdown
    assert session.get(Invoice, inv_id).total == Decimal("-354.84")  # nothing else is due: a net credit


def test_upgrade_mid_period_credits_the_old_and_charges_the_new(session):
    contract = _prepaid(session)
    run(session, 2025, 1)  # dated 1 February: February in advance
    [line] = contract_lines(session, contract.id)
    change_line(session, SYSTEM, contract_id=contract.id, line_id=line.id, effective=date(2025, 2, 11),
                params={"amount": "1500"})
    inv_id = run(session, 2025, 2)  # dated 1 March
    lines = {(ln.kind, ln.amount) for ln in invoice_lines(session, inv_id)}
    assert ("adjustment", Decimal("-642.86")) in lines  # old: 18/28 unused of $1,000
    assert ("adjustment", Decimal("964.29")) in lines  # new: 18/28 of $1,500
    assert ("fixed", Decimal("1500")) in lines  # March in advance at the new price
    assert session.get(Invoice, inv_id).total == Decimal("1821.43")
    # the next run does not adjust again
    nxt = run(session, 2025, 3)
    assert [ln.kind for ln in invoice_lines(session, nxt)] == ["fixed"]


def test_changes_are_checked(session):
    contract = _prepaid(session)
    [line] = contract_lines(session, contract.id)
    with pytest.raises(UserError, match="after 1 Jan 2025"):
        change_line(session, SYSTEM, contract_id=contract.id, line_id=line.id, effective=date(2024, 12, 1))
    with pytest.raises(UserError, match="Platform"):
        change_line(session, SYSTEM, contract_id=contract.id, line_id=line.id, effective=date(2025, 2, 1),
                    params={"amount": "-5"})
    with pytest.raises(UserError, match="end it after that"):
        end_contract(session, SYSTEM, contract_id=contract.id, effective=date(2024, 6, 1))
