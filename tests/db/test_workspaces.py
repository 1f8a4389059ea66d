"""Demo workspaces (core.workspaces): each industry's demo seeds into a SQLite file of its own and bills; the main
database (SQLite or PostgreSQL) is untouched but for the audit entry; a reset starts the demo afresh; only those
who may write the pilot load or reset one."""
from __future__ import annotations

import json
import shutil
from datetime import date

import pytest
from sqlalchemy import func, inspect, select, table
from sqlmodel import Session

from core.auth import Actor
from core.customers import create_customer
from core.db import make_engine
from core.errors import PermissionDenied
from core.models import AuditLog, Customer, Invoice
from core.workspaces import DEMO_ACTOR, INDUSTRIES, Industry, is_ready, load_demo, workspace_path, workspace_url

SALES = Actor("sam", "sales")  # sales engineers may write the pilot (pilot:write)


@pytest.fixture(autouse=True)
def _workspaces(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSPACES_DIR", str(tmp_path / "workspaces"))
    return tmp_path / "workspaces"


def row_counts(conn) -> dict[str, int]:  # noqa: ANN001
    return {n: conn.execute(select(func.count()).select_from(table(n))).scalar_one()
            for n in sorted(inspect(conn).get_table_names())}


def demo(key: str):  # noqa: ANN201 - a Session on the workspace's file
    engine = make_engine(workspace_url(key))
    return engine, Session(engine, expire_on_commit=False)


@pytest.mark.parametrize("key", list(INDUSTRIES))
def test_each_industry_loads_into_its_own_workspace_and_bills(session, key):
    main_before = row_counts(session.connection())
    session.commit()
    result = load_demo(session, SALES, key)
    session.commit()
    assert result.created and is_ready(key) and workspace_path(key).name == f"demo_{key}.db"
    # the main database: only the audit entry of the load
    main_after = row_counts(session.connection())
    assert {t: n for t, n in main_after.items() if n != main_before[t]} == {"audit_log": main_before["audit_log"] + 1}
    entry = session.exec(select(AuditLog).order_by(AuditLog.id.desc())).scalars().first()
    assert (entry.action, entry.actor, entry.entity_id) == ("workspace.demo_load", "sam", f"demo_{key}")
    assert entry.details["industry"] == key
    # the workspace: the dataset's customers, three months approved, the month's drafts
    engine, ws = demo(key)
    try:
        pilot = json.loads((INDUSTRIES[key].dataset / "pilot.json").read_text())
        customers = (INDUSTRIES[key].dataset / "customers.csv").read_text().strip().count("\n")
        assert ws.exec(select(func.count()).select_from(Customer)).scalar_one() == customers
        drafts = ws.exec(select(Invoice).where(Invoice.status == "draft", Invoice.period_start == date(2026, 10, 1))
                         ).scalars().all()
        assert len(drafts) >= len(pilot["contracts"]) - 1 and all(inv.total > 0 for inv in drafts)
        issued = ws.exec(select(func.count()).select_from(Invoice).where(Invoice.status != "draft")).scalar_one()
        assert issued >= 2 * len(pilot["contracts"])
        currencies = {inv.currency for inv in drafts}
        assert pilot["entity"]["default_currency"] in currencies
        seeded_by = set(ws.exec(select(AuditLog.actor).distinct()).scalars())
        assert seeded_by == {DEMO_ACTOR.username}  # no account of the main database in the demo's log
    finally:
        ws.close()
        engine.dispose()


def test_opening_again_keeps_it_and_a_reset_starts_it_afresh(session):
    load_demo(session, SALES, "logistics")
    session.commit()
    engine, ws = demo("logistics")
    try:
        create_customer(ws, DEMO_ACTOR, {"external_id": "SHOWN-IN-A-DEMO", "name": "Shown in a demo",
                                         "currency": "EUR"})
        ws.commit()
        fresh = ws.exec(select(func.count()).select_from(Customer)).scalar_one() - 1
    finally:
        ws.close()
        engine.dispose()
    again = load_demo(session, SALES, "logistics")  # opened as it was left: not rebuilt, not audited
    session.commit()
    assert not again.created
    engine, ws = demo("logistics")
    assert ws.exec(select(Customer).where(Customer.external_id == "SHOWN-IN-A-DEMO")).first() is not None
    ws.close()
    engine.dispose()
    reset = load_demo(session, SALES, "logistics", reset=True)
    session.commit()
    assert reset.created and "was reset" in reset.message
    engine, ws = demo("logistics")
    try:
        assert ws.exec(select(Customer).where(Customer.external_id == "SHOWN-IN-A-DEMO")).first() is None
        assert ws.exec(select(func.count()).select_from(Customer)).scalar_one() == fresh
    finally:
        ws.close()
        engine.dispose()
    actions = session.exec(select(AuditLog.action).where(AuditLog.entity_type == "workspace")
                           .order_by(AuditLog.id)).scalars().all()
    assert actions == ["workspace.demo_load", "workspace.demo_reset"]


@pytest.mark.parametrize("role", ["ops", "viewer"])
def test_only_those_who_may_write_the_pilot_load_a_demo(session, role, _workspaces):
    with pytest.raises(PermissionDenied, match="may not write pilot"):
        load_demo(session, Actor("x", role), "saas")
    assert not _workspaces.exists() or not any(_workspaces.iterdir())
    assert session.exec(select(func.count()).select_from(AuditLog)).scalar_one() == 0


def test_a_seed_that_fails_leaves_no_workspace_and_keeps_the_old_one(session, tmp_path, monkeypatch, _workspaces):
    broken = tmp_path / "broken"
    shutil.copytree(INDUSTRIES["infra"].dataset, broken)
    pilot = json.loads((broken / "pilot.json").read_text())
    pilot["contracts"][0]["lines"] = ["no_such_template"]
    (broken / "pilot.json").write_text(json.dumps(pilot))
    good = INDUSTRIES["infra"]
    monkeypatch.setitem(INDUSTRIES, "infra", Industry("infra", "Infra", "Stratus", "", broken))
    with pytest.raises(KeyError):
        load_demo(session, SALES, "infra")
    assert not is_ready("infra") and list(_workspaces.iterdir()) == []  # no half-seeded file, no leftovers
    assert session.exec(select(func.count()).select_from(AuditLog)).scalar_one() == 0
    monkeypatch.setitem(INDUSTRIES, "infra", good)
    load_demo(session, SALES, "infra")
    session.commit()
    monkeypatch.setitem(INDUSTRIES, "infra", Industry("infra", "Infra", "Stratus", "", broken))
    with pytest.raises(KeyError):
        load_demo(session, SALES, "infra", reset=True)
    assert [p.name for p in _workspaces.iterdir()] == ["demo_infra.db"]  # the demo that was there is kept
    engine, ws = demo("infra")
    assert ws.exec(select(func.count()).select_from(Invoice)).scalar_one() > 0
    ws.close()
    engine.dispose()
