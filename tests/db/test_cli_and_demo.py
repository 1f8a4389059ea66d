"""The command line and the demo pilot, as a scheduler or a sales engineer would use them.

The demo has a past: July–September 2026 billed, approved (NW-000001 …), mostly paid; October's 20 invoices are
drafts. Counts and numbers that depend on that past are read from the tables, not assumed."""
from datetime import date
from decimal import Decimal

from sqlmodel import Session, func, select

from cli import main
from core import pricing
from core.models import AuditLog, ContractLine, Customer, Invoice, JournalEntry, JournalLine, Payment, \
    PaymentAllocation, UsageEvent

OCTOBER, HISTORY = date(2026, 10, 1), (date(2026, 7, 1), date(2026, 10, 1))  # [July, October): the demo's past
BILL_RUN = Invoice.run_key.is_not(None)  # invoices a bill run made from contracts (not one-offs made by hand)


def _count(engine, model, *where):
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def test_demo_uses_every_pricing_model_and_runs_idempotently(engine, db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["seed-demo"]) == 0
    assert "20 draft invoices created (£588.62, $16,705.96)" in capsys.readouterr().out
    with Session(engine) as s:
        models = set(s.exec(select(ContractLine.pricing_model)).all())
    assert models == set(pricing.REGISTRY)
    assert _count(engine, Customer) == 20
    assert main(["seed-demo", "--if-empty"]) == 0  # second start of `make run`: nothing happens
    assert "already has data" in capsys.readouterr().out
    assert main(["seed-demo"]) == 1  # without --if-empty it refuses
    before = _count(engine, Invoice)
    assert main(["run-invoices", "--month", "2026-10"]) == 0
    assert "0 draft invoices created" in capsys.readouterr().out
    assert _count(engine, Invoice) == before  # nothing new
    assert _count(engine, Invoice, Invoice.period_start == OCTOBER, Invoice.status == "draft") == 20
    # the 55 invoices of July–September (18 or 19 contracts a month: some contracts start later)
    assert _count(engine, Invoice, BILL_RUN, Invoice.period_start >= HISTORY[0],
                  Invoice.period_start < HISTORY[1]) == 55


def test_the_demo_has_a_past_approved_partly_paid_and_booked(engine, db_url, monkeypatch, capsys):
    """July–September: every invoice approved and numbered in month order, most paid (3 in part), some left unpaid
    and overdue by now; the payments and the approvals are in the books, and the revenue recognised through 30 Sep."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["seed-demo"]) == 0
    out = capsys.readouterr().out
    with Session(engine) as s:
        past = s.exec(select(Invoice).where(BILL_RUN, Invoice.period_start >= HISTORY[0],
                                            Invoice.period_start < HISTORY[1])
                      .order_by(Invoice.period_start, Invoice.id)).all()
        allocated: dict[int, Decimal] = {}
        for inv_id, amount in s.exec(select(PaymentAllocation.invoice_id, PaymentAllocation.amount)):
            allocated[inv_id] = allocated.get(inv_id, Decimal(0)) + amount
        demo_payments = s.exec(select(func.count()).select_from(Payment)
                               .where(Payment.reference.like("demo NW-%"))).one()
        invoice_entries = set(s.exec(select(JournalEntry.source_id).where(JournalEntry.source_type == "invoice")))
        payment_entries = s.exec(select(func.count()).select_from(JournalEntry)
                                 .where(JournalEntry.source_type == "payment")).one()
        unbalanced = s.exec(select(JournalLine.entry_id).group_by(JournalLine.entry_id, JournalLine.currency)
                            .having(func.sum(JournalLine.amount) != 0)).all()
        last_recognised = s.exec(select(func.max(JournalEntry.entry_date))
                                 .where(JournalEntry.source_type == "recognition")).one()
    assert f"{len(past)} earlier invoices approved and {demo_payments} paid" in out
    assert len(past) == 55 and [inv.number for inv in past] == [f"NW-{n:06d}" for n in range(1, 56)]
    statuses = [inv.status for inv in past]
    # the demo pays half of some of September's invoices (core/demo.py): some partly paid, never all
    assert set(statuses) == {"paid", "approved", "partially_paid"} and 1 <= statuses.count("partially_paid") < 20
    for inv in past:  # what each invoice shows as paid is what the payments allocated to it, and its status follows
        assert inv.amount_paid == allocated.get(inv.id, Decimal(0)), inv.number
        left = inv.total - inv.credits_applied - inv.amount_paid
        assert inv.status == ("paid" if left <= 0 else "partially_paid" if inv.amount_paid else "approved"), inv.number
    overdue = [inv for inv in past if inv.status != "paid" and inv.due_date < date.today()]
    assert overdue  # something to chase
    # every invoice with something to book is in the journal (the $0 ones of usage-only customers, who had no
    # usage before October, have nothing to post), every payment too, and each entry balances
    assert {inv.id for inv in past if inv.total} <= invoice_entries
    assert payment_entries == demo_payments and not unbalanced
    assert last_recognised is not None and last_recognised <= date(2026, 9, 30)


def test_cli_approves_a_month_with_consecutive_numbers(engine, db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["seed-demo"]) == 0
    numbered = _count(engine, Invoice, Invoice.number.is_not(None))  # the demo's earlier ones: NW-000001 …
    approved_before = _count(engine, AuditLog, AuditLog.action == "invoice.approve")
    capsys.readouterr()
    assert main(["approve", "--month", "2026-10"]) == 0
    assert f"20 invoices approved: NW-{numbered + 1:06d} … NW-{numbered + 20:06d}" in capsys.readouterr().out
    with Session(engine) as s:
        numbers = sorted(s.exec(select(Invoice.number).where(Invoice.period_start == OCTOBER)).all())
        every_number = sorted(s.exec(select(Invoice.number)).all())
        totals = {cur: sum(s.exec(select(Invoice.total).where(Invoice.currency == cur,
                                                               Invoice.period_start == OCTOBER)).all(), Decimal(0))
                  for cur in ("USD", "GBP")}
        approvals = s.exec(select(AuditLog.actor).where(AuditLog.action == "invoice.approve")
                           .order_by(AuditLog.id).offset(approved_before)).all()
        drafts = _count(engine, Invoice, Invoice.status == "draft")
    assert numbers == [f"NW-{n:06d}" for n in range(numbered + 1, numbered + 21)]  # October's, after the others
    assert every_number == [f"NW-{n:06d}" for n in range(1, numbered + 21)]  # no gap, no number twice
    assert totals == {"USD": Decimal("16705.96"), "GBP": Decimal("588.62")}  # invoices never mix currencies
    assert approvals == ["cli"] * 20 and drafts == 0  # one audit entry per invoice, by the CLI


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
