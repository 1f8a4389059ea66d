"""Changing a running contract from its detail view: a new price from a day, or an early end."""
from datetime import date

from sqlmodel import Session, select

from core.db import make_engine
from core.models import Contract, ContractLine
from tests.ui.test_contracts_page import contract_id


def _lines(url: str, cid: int) -> list[ContractLine]:
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            return list(s.exec(select(ContractLine).where(ContractLine.contract_id == cid)
                               .order_by(ContractLine.id)))
    finally:
        engine.dispose()


def test_finance_changes_a_price_from_a_day(open_page, demo_db):
    cid = contract_id(demo_db, "Acme — Growth")
    at = open_page("pages/contracts.py", "finance")
    at.selectbox(key="contracts_open").set_value(cid).run()
    key = f"contracts_change_{cid}"
    at.date_input(key=f"{key}_date").set_value(date(2026, 11, 16))
    at.text_input(key=f"{key}_value").input("650")
    at.button(key=f"{key}_apply").click().run()
    assert "changes on 16 Nov 2026" in " ".join(s.value for s in at.success)
    platform = [ln for ln in _lines(demo_db, cid) if ln.description == "Platform fee"]
    assert [(ln.params["amount"], ln.start_date, ln.end_date) for ln in platform] == [
        ("500", None, date(2026, 11, 16)), ("650", date(2026, 11, 16), None)]


def test_end_early_and_viewer_cannot_change(open_page, demo_db):
    cid = contract_id(demo_db, "Acme — Growth")
    at = open_page("pages/contracts.py", "admin")
    at.selectbox(key="contracts_open").set_value(cid).run()
    at.date_input(key=f"contracts_change_{cid}_end").set_value(date(2026, 12, 20))
    at.button(key=f"contracts_change_{cid}_end_apply").click().run()
    engine = make_engine(demo_db)
    with Session(engine) as s:
        assert s.get(Contract, cid).end_date == date(2026, 12, 21)
    engine.dispose()
    viewer = open_page("pages/contracts.py", "viewer")
    viewer.selectbox(key="contracts_open").set_value(cid).run()
    assert not [b for b in viewer.button if (b.key or "").startswith("contracts_change_")]


def test_an_early_end_asks_what_happens_to_deferred_revenue(open_page, demo_db):
    """The demo billed October's platform fee in advance (September's invoice), so Acme has revenue deferred:
    finance is asked how to recognise it; sales, who may change contracts but not the ledger, is not asked."""
    from core.models import AuditLog

    cid = contract_id(demo_db, "Acme — Growth")
    key = f"contracts_change_{cid}"
    sales = open_page("pages/contracts.py", "sales")
    sales.selectbox(key="contracts_open").set_value(cid).run()
    assert not [s for s in sales.selectbox if s.key == f"{key}_end_respread"]
    at = open_page("pages/contracts.py", "finance")
    at.selectbox(key="contracts_open").set_value(cid).run()
    choice = at.selectbox(key=f"{key}_end_respread")
    assert "1 schedule" in choice.label and not choice.value  # left on its schedule unless chosen
    choice.set_value("front_load")
    at.date_input(key=f"{key}_end").set_value(date(2026, 10, 20))
    at.button(key=f"{key}_end_apply").click().run()
    assert "Deferred revenue: front-load" in " ".join(s.value for s in at.success)
    engine = make_engine(demo_db)
    with Session(engine) as s:
        [log] = s.exec(select(AuditLog).where(AuditLog.action == "revenue.redistribute_contract")).all()
        assert log.entity_id == str(cid) and log.actor == "finance-user" and log.details["how"] == "front_load"
        assert s.get(Contract, cid).end_date == date(2026, 10, 21)
    engine.dispose()
