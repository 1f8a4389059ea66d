"""A bill run and a bulk approval issue a fixed number of SQL statements, however many customers they cover —
never a query (or an insert) per customer or per invoice. Counted with SQLAlchemy's ``before_cursor_execute``
(an ``executemany`` counts once), on SQLite and PostgreSQL. The timings live in bench/bill_run.py."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from core import tax, wallet
from core.auth import SYSTEM
from core.billing.contracts import ContractSpec, LineSpec, create_contract
from core.errors import UserError
from core.invoicing.service import approve_invoices, generate_drafts
from core.models import AuditLog, BusinessEntity, Contract, Invoice, WalletEntry
from tests.db import factories as f

JAN = dict(period_start=date(2025, 1, 1), period_end=date(2025, 2, 1))


@contextmanager
def counting(engine):
    seen: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def _seller(engine) -> None:
    with Session(engine, expire_on_commit=False) as s:
        f.seller(s, "Q-")
        f.metric(s, "calls", "call")
        f.metric(s, "gb", "gb", "max")
        tax.set_rate(s, SYSTEM, country="DE", name="VAT", percent="19")
        s.commit()


def _customers(engine, first: int, count: int) -> list[int]:
    """``count`` customers, each with a contract mixing a fee paid in advance, tiered and per-unit usage (some
    with free units or a discount), a minimum on some, tax for some countries, payment terms from approval,
    prepaid credit and a tax exemption for a few — every path of the run and the approval, in proportion to
    the number of customers. Returns the contract ids."""
    ids = []
    with Session(engine, expire_on_commit=False) as s:
        for i in range(first, first + count):
            ext = f"C{i:03d}"
            c = f.customer(s, ext, country="DE" if i % 2 else "US")
            if i % 5 == 4:
                tax.set_tax_exempt(s, SYSTEM, c.id, True, reason=f"cert {i}")
            if i % 5 == 0:
                wallet.add_credit(s, SYSTEM, customer_id=c.id, currency="USD", amount="25")
            f.events(s, ext, "call", [100 * (i + 1), 7], when=datetime(2025, 1, 10))
            f.events(s, ext, "gb", [i + 1], when=datetime(2025, 1, 12))
            ids.append(create_contract(s, SYSTEM, ContractSpec(
                customer_external_id=ext, name=f"Contract {i}", currency="USD", start_date=date(2024, 11, 1),
                modifiers={"minimum_commitment": {"amount": "500"}} if i % 3 == 0 else {},
                payment_terms_basis="approval" if i % 4 == 0 else "creation",
                lines=[LineSpec("Platform", "flat_fee", {"amount": "49"}, timing="advance"),
                       LineSpec("Calls", "tiered", f.TIERS, metric_code="calls", free_units="100" if i % 2 else "0"),
                       LineSpec("Storage", "per_unit", {"unit_price": "0.25"}, metric_code="gb",
                                modifiers={"discounts": [{"type": "percent", "value": "10"}]} if i % 3 == 1
                                else {})])).id)
        s.commit()
    return ids


def _run_and_approve(engine, contract_ids: list[int]) -> tuple[list, int, int]:
    with counting(engine) as run_sql, Session(engine, expire_on_commit=False) as s:
        run = generate_drafts(s, SYSTEM, **JAN, contract_ids=contract_ids)
        s.commit()
    with counting(engine) as approve_sql, Session(engine, expire_on_commit=False) as s:
        done = approve_invoices(s, SYSTEM, run.created)
        s.commit()
    assert len(done) == len(contract_ids)
    return [inv.number for inv in done], len(run_sql), len(approve_sql)


def test_statements_of_a_bill_run_and_its_approval_do_not_grow_with_customers(engine):
    _seller(engine)
    small, large = _customers(engine, 0, 5), _customers(engine, 5, 50)
    numbers_small, run_small, approve_small = _run_and_approve(engine, small)
    numbers_large, run_large, approve_large = _run_and_approve(engine, large)
    assert numbers_small + numbers_large == [f"Q-{k:06d}" for k in range(1, 56)]  # gapless, in id order
    assert run_large == run_small, f"bill run: {run_small} statements for 5 customers, {run_large} for 50"
    assert approve_large == approve_small, f"approval: {approve_small} statements for 5 customers, {approve_large} for 50"
    # a handful per kind of data, not one per anything (approval: numbering, wallet, audit and the journal entries
    # with their recognition schedules)
    assert run_small <= 30 and approve_small <= 25


def test_bulk_approval_writes_what_approving_one_by_one_wrote(engine):
    _seller(engine)
    _customers(engine, 0, 10)
    with Session(engine, expire_on_commit=False) as s:
        ids = generate_drafts(s, SYSTEM, **JAN).created
        s.commit()
    with Session(engine, expire_on_commit=False) as s:
        credit = {i: inv.credits_applied for i in ids if (inv := s.get(Invoice, i)).credits_applied > 0}
        done = approve_invoices(s, SYSTEM, list(reversed(ids)))  # approved in id order, whatever the order given
        s.commit()
    assert [inv.id for inv in done] == sorted(ids) and credit
    with Session(engine, expire_on_commit=False) as s:
        for k, i in enumerate(sorted(ids), start=1):
            inv = s.get(Invoice, i)
            assert (inv.number, inv.status, inv.approved_by) == (f"Q-{k:06d}", "approved", "system")
            contract = s.get(Contract, inv.contract_id)
            if contract.payment_terms_basis == "approval":  # net 30 counted from the approval
                assert inv.due_date == inv.approved_at.date() + timedelta(days=30)
            else:
                assert inv.due_date == inv.issue_date + timedelta(days=30)
        uses = list(s.exec(select(WalletEntry).where(WalletEntry.kind == "invoice")))
        assert {u.invoice_id: -u.amount for u in uses} == credit
        assert all(u.note == f"applied to invoice {u.invoice_id}" and u.created_by == "system" for u in uses)
        log = list(s.exec(select(AuditLog).where(AuditLog.action.in_(("invoice.approve", "wallet.use")))
                          .order_by(AuditLog.id)))
        assert [a.entity_id for a in log if a.action == "invoice.approve"] == [str(i) for i in sorted(ids)]
        for k, use in enumerate(log):  # each wallet use is logged just before its invoice's approval
            if use.action == "wallet.use":
                assert log[k + 1].entity_id == str(use.details["invoice_id"])
                assert s.get(WalletEntry, use.details["entry"]).invoice_id == use.details["invoice_id"]
                assert Decimal(use.details["balance_after"]) == Decimal("25") - Decimal(use.details["amount"])


def test_an_invoice_approved_meanwhile_stops_the_bulk_approval_without_a_gap(engine):
    _seller(engine)
    _customers(engine, 1, 3)
    with Session(engine, expire_on_commit=False) as s:
        ids = generate_drafts(s, SYSTEM, **JAN).created
        s.commit()
    with Session(engine, expire_on_commit=False) as slow, Session(engine, expire_on_commit=False) as quick:
        stale = slow.get(Invoice, ids[1])  # the slow approver has it loaded as a draft
        assert stale.status == "draft"
        approve_invoices(quick, SYSTEM, [ids[1]])
        quick.commit()
        with pytest.raises(UserError, match="someone else"):
            approve_invoices(slow, SYSTEM, ids)
        slow.rollback()
    with Session(engine, expire_on_commit=False) as s:
        approve_invoices(s, SYSTEM, [ids[0], ids[2]])
        s.commit()
        assert [s.get(Invoice, i).number for i in ids] == ["Q-000002", "Q-000001", "Q-000003"]
        assert s.exec(select(BusinessEntity.next_invoice_number)).one() == 4


def test_text_written_in_bulk_comes_back_as_it_was(engine):
    """Invoice lines go to PostgreSQL as array literals: quotes, backslashes, braces, commas and non-ASCII text
    must come back unchanged (and on SQLite through executemany)."""
    from core.invoicing.service import invoice_lines

    odd = 'Calls "EU", {north}\\south — naïve NULL'
    _seller(engine)
    with Session(engine, expire_on_commit=False) as s:
        f.customer(s, "C1")
        f.contract(s, "C1", [LineSpec(odd, "flat_fee", {"amount": "10"}), LineSpec("NULL", "flat_fee", {"amount": "1"})],
                   start=date(2024, 12, 1))
        [inv_id] = generate_drafts(s, SYSTEM, **JAN).created
        s.commit()
    with Session(engine, expire_on_commit=False) as s:
        assert [ln.description for ln in invoice_lines(s, inv_id)] == [odd, "NULL"]


def test_a_bill_run_reads_sqlite_through_mapped_io_once_and_sets_it_back(engine):
    """On SQLite the aggregations read the events through memory-mapped I/O (core.metering.metrics.mapped_reads):
    one PRAGMA to read the setting, one to set it, one to set it back — for the whole run, not per metric."""
    _seller(engine)
    ids = _customers(engine, 0, 3)
    with Session(engine, expire_on_commit=False) as s:
        sqlite = s.connection().dialect.name == "sqlite"
        before = s.connection().exec_driver_sql("PRAGMA mmap_size").scalar() if sqlite else None
        with counting(engine) as sql:
            generate_drafts(s, SYSTEM, **JAN, contract_ids=ids)
        pragmas = [q for q in sql if q.lstrip().upper().startswith("PRAGMA")]
        if sqlite:
            assert [q.split("=")[0] for q in pragmas] == ["PRAGMA mmap_size"] * 3
            assert s.connection().exec_driver_sql("PRAGMA mmap_size").scalar() == before
        else:
            assert pragmas == []
        s.rollback()
