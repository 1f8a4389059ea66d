"""A contract change spreads its invoices' unrecognised revenue again (issue 6: redistribution when a contract
changes — front-load, straight-line, back-load), in the same transaction as the change."""
from datetime import date
from decimal import Decimal as D

import pytest
from sqlmodel import select

from core.auth import SYSTEM, Actor
from core.billing.change_revenue import change_line_respread, end_contract_respread
from core.errors import PermissionDenied, UserError
from core.ledger import recognition
from core.models import AuditLog, Contract, ContractLine
from tests.db.test_ledger import _balances, _invoice


def _annual(session):
    """$12,000 a year from 15 Jan 2025 billed in advance (the spec's example), January recognised."""
    inv = _invoice(session, deferred=True, annual=True)
    [sched] = recognition.schedules_of_invoice(session, inv.id)
    recognition.recognise(session, SYSTEM, through=date(2025, 1, 31))
    return inv, sched


def _rows(session, sched):
    return recognition.schedule_rows(session, sched.id)


def test_an_early_end_moves_deferred_revenue_into_the_months_still_served(session):
    inv, sched = _annual(session)
    result = end_contract_respread(session, SYSTEM, contract_id=inv.contract_id, effective=date(2025, 6, 1),
                                   respread="straight_line")
    rows = _rows(session, sched)
    assert rows[0].amount == D("558.90") and rows[0].entry_id is not None  # recognised: never changes
    served = [r for r in rows[1:] if r.period_start < date(2025, 6, 1)]
    assert [r.period_start for r in served] == [date(2025, m, 1) for m in (2, 3, 4, 5)]
    assert all(r.amount == 0 for r in rows if r.period_start >= date(2025, 6, 1))
    # the $11,441.10 still deferred, straight-line by days over Feb (28), Mar (31), Apr (30), May (31): 120 days
    assert sum(r.amount for r in served) == D("12000.00") - D("558.90")
    assert served[0].amount == (D("11441.10") * 28 / 120).quantize(D("0.01"))
    assert result.schedules == 1 and result.amounts == {"USD": D("11441.10")}
    assert session.get(Contract, inv.contract_id).end_date == date(2025, 6, 1)
    # recognised through May: the whole year is revenue, Deferred Revenue is empty
    recognition.recognise(session, SYSTEM, through=date(2025, 5, 31))
    assert _balances(session, "deferred_revenue") == 0
    [log] = session.exec(select(AuditLog).where(AuditLog.action == "revenue.redistribute_contract")).all()
    assert log.details["how"] == "straight_line" and "31 May 2025" in log.details["reason"]


def test_a_price_change_can_front_load_or_leave_the_schedule(session):
    inv, sched = _annual(session)
    before = [r.amount for r in _rows(session, sched)]
    line = session.exec(select(ContractLine).where(ContractLine.contract_id == inv.contract_id)).one()
    change_line_respread(session, SYSTEM, contract_id=inv.contract_id, line_id=line.id, effective=date(2025, 3, 15),
                         params={"amount": "18000"})
    assert [r.amount for r in _rows(session, sched)] == before  # no redistribution asked: the schedule stays
    line2 = session.exec(select(ContractLine).where(ContractLine.contract_id == inv.contract_id)
                         .order_by(ContractLine.id.desc())).first()
    change_line_respread(session, SYSTEM, contract_id=inv.contract_id, line_id=line2.id, effective=date(2025, 4, 15),
                         params={"amount": "20000"}, respread="front_load")
    rows = _rows(session, sched)
    assert rows[1].amount == D("12000.00") - D("558.90") and all(r.amount == 0 for r in rows[2:])


def test_refused_without_accounting_rights_and_nothing_changes(session):
    inv, sched = _annual(session)
    session.commit()
    before = [r.amount for r in _rows(session, sched)]
    sales = Actor("sam", "sales")  # may change contracts, not the ledger
    with pytest.raises(PermissionDenied):
        end_contract_respread(session, sales, contract_id=inv.contract_id, effective=date(2025, 6, 1),
                              respread="straight_line")
    session.rollback()
    assert session.get(Contract, inv.contract_id).end_date is None
    assert [r.amount for r in _rows(session, sched)] == before
    with pytest.raises(UserError, match="choose one of"):
        recognition.redistribute_contract(session, SYSTEM, inv.contract_id, how="sideways")


def test_an_account_that_takes_postings_cannot_become_a_heading(session):
    """A sub-account turns its parent into a heading, which takes no postings: refused while the automatic
    postings, a product or an unfinished revenue schedule still post to the parent."""
    from core.ledger.accounts import chart, create_account
    from core.models import Product

    inv, sched = _annual(session)
    c = chart(session)
    revenue = c.by_id[c.key("revenue")]
    with pytest.raises(UserError, match="automatic postings"):
        create_account(session, SYSTEM, code="4110", name="SaaS revenue", kind="income", parent_id=revenue.id)
    saas = create_account(session, SYSTEM, code="4200", name="SaaS revenue", kind="income",
                          parent_id=revenue.parent_id)  # under the Income heading: fine
    product = session.exec(select(Product)).one()
    product.gl_account = "4200"
    session.add(product)
    with pytest.raises(UserError, match="products PLAT book their revenue to 4200"):
        create_account(session, SYSTEM, code="4210", name="EU SaaS", kind="income", parent_id=saas.id)
    sched.account_id = saas.id  # a schedule still recognising into it
    product.gl_account = ""
    session.add_all([sched, product])
    with pytest.raises(UserError, match="revenue schedules still recognise into 4200"):
        create_account(session, SYSTEM, code="4210", name="EU SaaS", kind="income", parent_id=saas.id)
