"""The command line and the demo pilot, as a scheduler or a sales engineer would use them."""
from decimal import Decimal

from sqlmodel import Session, func, select

from cli import main
from core import pricing
from core.models import AuditLog, ContractLine, Customer, Invoice, UsageEvent


def _count(engine, model, *where):
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def test_demo_uses_every_pricing_model_and_runs_idempotently(engine, db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["seed-demo"]) == 0
    assert "20 draft invoices created (£588.62, $16,605.96)" in capsys.readouterr().out
    with Session(engine) as s:
        models = set(s.exec(select(ContractLine.pricing_model)).all())
    assert models == set(pricing.REGISTRY)
    assert _count(engine, Customer) == 20
    assert main(["seed-demo", "--if-empty"]) == 0  # second start of `make run`: nothing happens
    assert "already has data" in capsys.readouterr().out
    assert main(["seed-demo"]) == 1  # without --if-empty it refuses
    assert main(["run-invoices", "--month", "2026-10"]) == 0
    assert "0 draft invoices created" in capsys.readouterr().out
    assert _count(engine, Invoice) == 20


def test_cli_approves_a_month_with_consecutive_numbers(engine, db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["seed-demo"]) == 0
    assert main(["approve", "--month", "2026-10"]) == 0
    assert "20 invoices approved: NW-000001 … NW-000020" in capsys.readouterr().out
    with Session(engine) as s:
        numbers = sorted(s.exec(select(Invoice.number)).all())
        totals = {cur: sum(s.exec(select(Invoice.total).where(Invoice.currency == cur)).all(), Decimal(0))
                  for cur in ("USD", "GBP")}
        approvals = s.exec(select(func.count()).select_from(AuditLog)
                           .where(AuditLog.action == "invoice.approve", AuditLog.actor == "cli")).one()
    assert numbers == [f"NW-{n:06d}" for n in range(1, 21)]
    assert totals == {"USD": Decimal("16605.96"), "GBP": Decimal("588.62")}  # invoices never mix currencies
    assert approvals == 20


def test_cli_import_with_errors_writes_nothing_and_exits_1(engine, db_url, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["seed-demo"]) == 0
    before = _count(engine, UsageEvent)
    bad = tmp_path / "usage.csv"
    bad.write_text("idempotency_key,customer_external_id,event_name,timestamp,quantity\n"
                   "new-1,ACME-001,api_request,2026-10-05T10:00:00Z,10\n"
                   "new-2,NOBODY,api_request,2026-10-05T10:00:00Z,-3\n")
    assert main(["import-usage", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "nothing was imported" in err and "NOBODY" in err and "3" in err
    assert _count(engine, UsageEvent) == before
    good = tmp_path / "good.csv"
    good.write_text("idempotency_key,customer_external_id,event_name,timestamp,quantity\n"
                    "new-1,ACME-001,api_request,2026-10-05T10:00:00Z,10\n")
    assert main(["import-usage", str(good)]) == 0
    assert _count(engine, UsageEvent) == before + 1
    assert main(["import-usage", str(good)]) == 0  # re-sent: a duplicate, counted once
    assert "duplicate" in capsys.readouterr().out
    assert _count(engine, UsageEvent) == before + 1
