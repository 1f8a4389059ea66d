"""`python -m cli recognise-revenue`, as cron runs it every night: it posts the revenue due up to a day and says
what it posted; run again, it posts nothing; by default it recognises through yesterday; a bad date is refused."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import Session, func, select

from cli import main
from core.auth import SYSTEM
from core.billing.contracts import LineSpec
from core.catalog import create_product
from core.invoicing.service import approve_invoice, generate_drafts
from core.models import AuditLog, JournalEntry, RevenueScheduleRow
from tests.db import factories as f


def _yearly_deferred_fee(engine) -> None:
    """$12,000 a year from 15 Jan 2025, billed in advance, recognised by days."""
    with Session(engine, expire_on_commit=False) as s:
        f.seller(s)
        f.customer(s, "C1")
        create_product(s, SYSTEM, sku="PLAT", name="Platform", kind="time", revenue_policy="deferred")
        f.contract(s, "C1", [LineSpec("Platform fee", "flat_fee", {"amount": "12000"}, product_sku="PLAT",
                                      cadence="yearly", timing="advance")], start=date(2025, 1, 15),
                   billing_anchor_day=15)
        [inv_id] = generate_drafts(s, SYSTEM, period_start=date(2024, 12, 1), period_end=date(2025, 1, 1)).created
        approve_invoice(s, SYSTEM, inv_id)
        s.commit()


def _posted(engine) -> tuple[int, int]:
    with Session(engine) as s:
        entries = s.exec(select(func.count()).select_from(JournalEntry)
                         .where(JournalEntry.source_type == "recognition")).one()
        rows = s.exec(select(func.count()).select_from(RevenueScheduleRow)
                      .where(RevenueScheduleRow.entry_id.is_not(None))).one()
    return entries, rows


def test_recognise_revenue_posts_once_and_says_what_it_posted(engine, db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    _yearly_deferred_fee(engine)
    assert main(["recognise-revenue", "--through", "2025-02-28"]) == 0
    out = capsys.readouterr().out
    # January (17 days) $558.90 + February $920.55
    assert "revenue recognised through 28 Feb 2025: 2 schedule periods in 2 journal entries ($1,479.45)" in out
    assert _posted(engine) == (2, 2)
    assert main(["recognise-revenue", "--through", "2025-02-28"]) == 0  # the same night twice: nothing more
    assert "nothing was due" in capsys.readouterr().out
    assert _posted(engine) == (2, 2)
    with Session(engine) as s:
        runs = s.exec(select(AuditLog).where(AuditLog.action == "revenue.recognise")).all()
    assert [r.actor for r in runs] == ["cli", "cli"]


def test_by_default_it_recognises_through_yesterday(engine, db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    _yearly_deferred_fee(engine)
    assert main(["recognise-revenue"]) == 0
    out = capsys.readouterr().out
    assert "13 schedule periods" in out and "($12,000.00)" in out  # the whole year has passed
    assert _posted(engine) == (13, 13)
    assert main(["recognise-revenue"]) == 0
    assert "nothing was due" in capsys.readouterr().out
    with Session(engine) as s:
        left = s.exec(select(RevenueScheduleRow.amount).where(RevenueScheduleRow.entry_id.is_(None))).all()
    assert sum(left, Decimal(0)) == 0


def test_a_bad_or_future_date_is_refused(engine, db_url, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["recognise-revenue", "--through", "31/01/2025"]) == 1
    assert "--through: '31/01/2025' is not a date; give YYYY-MM-DD" in capsys.readouterr().err
    assert main(["recognise-revenue", "--through", "2999-01-01"]) == 1
    assert "is in the future" in capsys.readouterr().err
