"""The general ledger: every business event posts a balanced entry; entries are checked before anything is
written, immutable in the schema, reversed rather than edited; closed periods refuse postings; deferred revenue
follows its schedule and the recognition run is idempotent. Runs on SQLite and PostgreSQL."""
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlmodel import select

from core import tax, wallet
from core.auth import SYSTEM, Actor
from core.billing.contracts import LineSpec
from core.catalog import create_product
from core.errors import PermissionDenied, UserError
from core.invoicing import credit_notes, payments, settlement
from core.invoicing.service import approve_invoice, generate_drafts
from core.ledger import posting, recognition, reports
from core.ledger.accounts import chart, create_account, set_product_account
from core.models import Invoice, JournalEntry, Refund, JournalLine, RevenueSchedule, RevenueScheduleRow
from tests.db import factories as f

D = Decimal
JAN = {"period_start": date(2025, 1, 1), "period_end": date(2025, 2, 1)}


def _balances(session, key: str, currency: str = "USD") -> Decimal:
    acc = chart(session).key(key)
    return sum((ln.amount for ln in session.exec(select(JournalLine).where(JournalLine.account_id == acc,
                                                                           JournalLine.currency == currency))),
               D(0))


def _invoice(session, *, deferred: bool = False, taxed: bool = False, annual: bool = False) -> Invoice:
    f.seller(session)
    if taxed:
        tax.set_rate(session, SYSTEM, country="IN", name="GST", percent="18")
    f.customer(session, "C1", **({"country": "IN"} if taxed else {}))
    create_product(session, SYSTEM, sku="PLAT", name="Platform", kind="time",
                   revenue_policy="deferred" if deferred else "immediate")
    line = LineSpec("Platform fee", "flat_fee", {"amount": "12000" if annual else "1000"}, product_sku="PLAT",
                    cadence="yearly" if annual else "monthly", timing="advance" if annual else "arrears")
    f.contract(session, "C1", [line], **({"start": date(2025, 1, 15), "billing_anchor_day": 15} if annual
                                        else {"start": date(2025, 1, 1)}))
    # the first advance period is billed by the run for the month before it (core/billing/schedule.py)
    run = {"period_start": date(2024, 12, 1), "period_end": date(2025, 1, 1)} if annual else JAN
    [inv_id] = generate_drafts(session, SYSTEM, **run).created
    return approve_invoice(session, SYSTEM, inv_id)


def test_default_chart_is_the_specs(session):
    c = chart(session)
    names = {a.system_key: a.name for a in c.by_id.values()}
    for key, name in [("cash", "Cash"), ("accounts_receivable", "Accounts Receivable"),
                      ("unbilled_revenue", "Unbilled Revenue"), ("deferred_revenue", "Deferred Revenue"),
                      ("customer_wallet", "Customer Wallet"), ("sales_tax", "Sales Tax Payable"),
                      ("revenue", "Sales and Services Revenue"), ("sales_returns", "Sales Returns and Allowances"),
                      ("gateway_fees", "Payment Gateway Fees")]:
        assert names[key] == name
    assert c.path(c.key("accounts_receivable")) == "Assets:Accounts Receivable"


def test_approval_posts_receivable_revenue_and_tax(session):
    inv = _invoice(session, taxed=True)
    assert inv.tax == D("180.00") and inv.total == D("1180.00")
    [entry] = session.exec(select(JournalEntry).where(JournalEntry.source_key == f"invoice:{inv.id}:approval")).all()
    lines = {chart(session).by_id[ln.account_id].system_key: ln.amount for ln in posting.entry_lines(session, entry.id)}
    assert lines == {"accounts_receivable": D("1180.00"), "revenue": D("-1000.00"), "sales_tax": D("-180.00")}
    assert entry.entry_date == inv.issue_date
    tb = reports.trial_balance(session)
    assert sum(r.closing for r in tb) == 0
    assert sum(r.debits for r in tb) == sum(r.credits for r in tb) == D("1180.00")


def test_payment_credit_note_and_refund_keep_receivable_equal_to_what_is_due(session):
    """Spec: invoice $1,000, paid $400, credit note $700 → $600 clears the due amount, $100 to wallet/refund."""
    inv = _invoice(session)
    payments.record_payment(session, SYSTEM, customer_id=inv.customer_id, currency_code="USD", amount="400",
                            method="bank_transfer", received_on=date(2025, 2, 3), allocations={inv.id: "400"})
    note = credit_notes.issue_credit_note(session, SYSTEM, inv.id, reason="Outage", amount="700", excess="refund")
    session.refresh(inv)
    assert (note.applied, note.refunded, inv.status) == (D("600.00"), D("100.00"), "paid")
    assert _balances(session, "accounts_receivable") == settlement.due(inv) == 0
    assert _balances(session, "sales_returns") == D("700.00")
    # a bank-transfer refund is owed until someone pays it out by hand
    assert (_balances(session, "cash"), _balances(session, "refunds_payable")) == (D("400.00"), D("-100.00"))
    [refund] = session.exec(select(Refund)).all()
    credit_notes.mark_refund_paid_out(session, SYSTEM, refund.id, reference="TRF 991", paid_on=date(2025, 2, 20))
    assert (_balances(session, "cash"), _balances(session, "refunds_payable")) == (D("300.00"), 0)
    [paid_out] = session.exec(select(JournalEntry).where(JournalEntry.source_type == "refund")).all()
    assert paid_out.entry_date == date(2025, 2, 20)  # the day the money left, not the day it was recorded
    assert sum(r.closing for r in reports.trial_balance(session)) == 0


def test_overpayment_and_credit_kept_as_credit_match_the_wallet(session):
    inv = _invoice(session)
    payments.record_payment(session, SYSTEM, customer_id=inv.customer_id, currency_code="USD", amount="1500",
                            method="cheque", received_on=date(2025, 2, 3))
    wallet.add_credit(session, SYSTEM, customer_id=inv.customer_id, currency="USD", amount="25", kind="grant",
                      note="Goodwill")
    credit_notes.issue_credit_note(session, SYSTEM, inv.id, reason="Price error", amount="100", excess="wallet")
    assert -_balances(session, "customer_wallet") == wallet.balance(session, inv.customer_id, "USD") == D("625.00")
    assert _balances(session, "promotional_credits") == D("25.00")


def test_deferred_line_is_recognised_by_its_schedule_exactly_once(session):
    """Spec: $12,000 annual from 15 Jan 2025, by days: January (17 days) $558.90, February $920.55, … the last
    14 days $460.27; the schedule sums to exactly $12,000."""
    inv = _invoice(session, deferred=True, annual=True)
    assert inv.total == D("12000.00")
    [sched] = recognition.schedules_of_invoice(session, inv.id)
    rows = recognition.schedule_rows(session, sched.id)
    assert (sched.service_start, sched.service_end) == (date(2025, 1, 15), date(2026, 1, 15))
    assert [r.amount for r in rows][:2] == [D("558.90"), D("920.55")] and rows[-1].amount == D("460.27")
    assert sum(r.amount for r in rows) == D("12000.00")
    assert _balances(session, "deferred_revenue") == D("-12000.00")
    first = recognition.recognise(session, SYSTEM, through=date(2025, 2, 28))
    assert first.amounts == {"USD": D("1479.45")}
    again = recognition.recognise(session, SYSTEM, through=date(2025, 2, 28))
    assert (again.entries, again.amounts) == (0, {})
    assert _balances(session, "deferred_revenue") == D("-12000.00") + D("1479.45")
    # deferred revenue equals billed minus recognised
    unrecognised = sum((r.amount for r in session.exec(select(RevenueScheduleRow)
                                                       .where(RevenueScheduleRow.entry_id.is_(None)))), D(0))
    assert -_balances(session, "deferred_revenue") == unrecognised
    # a credit note on the deferred line comes off what is not recognised yet
    credit_notes.issue_credit_note(session, SYSTEM, inv.id, reason="Downgrade", amount="1200")
    unrecognised = sum((r.amount for r in session.exec(select(RevenueScheduleRow)
                                                       .where(RevenueScheduleRow.entry_id.is_(None)))), D(0))
    assert unrecognised == D("12000.00") - D("1479.45") - D("1200.00") == -_balances(session, "deferred_revenue")
    assert session.get(RevenueSchedule, sched.id).total == D("10800.00")


def test_redistribution_front_and_back_load_the_remaining_amount(session):
    inv = _invoice(session, deferred=True, annual=True)
    [sched] = recognition.schedules_of_invoice(session, inv.id)
    recognition.recognise(session, SYSTEM, through=date(2025, 1, 31))
    recognition.redistribute(session, SYSTEM, sched.id, how="front_load", new_total=D("6000"), reason="Amended")
    rows = recognition.schedule_rows(session, sched.id)
    assert rows[0].amount == D("558.90") and rows[1].amount == D("6000") - D("558.90")
    assert all(r.amount == 0 for r in rows[2:])
    recognition.redistribute(session, SYSTEM, sched.id, how="back_load")
    rows = recognition.schedule_rows(session, sched.id)
    assert rows[-1].amount == D("6000") - D("558.90") and sum(r.amount for r in rows) == D("6000")


def test_product_revenue_account(session):
    acc = create_account(session, SYSTEM, code="4200", name="Platform revenue", kind="income",
                         parent_id=chart(session).by_code["4000"].id)
    f.seller(session)
    f.customer(session, "C1")
    product = create_product(session, SYSTEM, sku="PLAT", name="Platform", kind="time")
    set_product_account(session, SYSTEM, product.id, "4200")
    with pytest.raises(UserError, match="not an income account"):
        set_product_account(session, SYSTEM, product.id, "1100")
    f.contract(session, "C1", [LineSpec("Fee", "flat_fee", {"amount": "50"}, product_sku="PLAT")])
    [inv_id] = generate_drafts(session, SYSTEM, **JAN).created
    approve_invoice(session, SYSTEM, inv_id)
    assert sum(ln.amount for ln in session.exec(select(JournalLine).where(JournalLine.account_id == acc.id))) == -50


def _accounts(session):
    c = chart(session)
    return c.key("cash"), c.key("revenue")


def test_unbalanced_manual_entry_is_refused_and_nothing_written(session):
    f.seller(session)
    cash, revenue = _accounts(session)
    with pytest.raises(UserError, match=r"debits \$100.00 and credits \$90.00 differ by \$10.00"):
        posting.manual_entry(session, SYSTEM, entity_id=1, entry_date=date(2025, 3, 1), memo="Cash sale",
                             lines=[{"account_id": cash, "debit": "100", "currency": "USD"},
                                    {"account_id": revenue, "credit": "90", "currency": "USD"}])
    with pytest.raises(UserError, match="line 1: give a debit or a credit, not both"):
        posting.manual_entry(session, SYSTEM, entity_id=1, entry_date=date(2025, 3, 1), memo="x",
                             lines=[{"account_id": cash, "debit": "1", "credit": "1", "currency": "USD"},
                                    {"account_id": revenue, "credit": "0", "currency": "USD"}])
    with pytest.raises(UserError, match="has sub-accounts"):
        posting.manual_entry(session, SYSTEM, entity_id=1, entry_date=date(2025, 3, 1), memo="x",
                             lines=[{"account_id": chart(session).key("assets"), "debit": "5", "currency": "USD"},
                                    {"account_id": revenue, "credit": "5", "currency": "USD"}])
    assert session.exec(select(JournalLine)).all() == []
    entry = posting.manual_entry(session, SYSTEM, entity_id=1, entry_date=date(2025, 3, 1), memo="Cash sale",
                                 lines=[{"account_id": cash, "debit": "100", "currency": "USD"},
                                        {"account_id": revenue, "credit": "100", "currency": "USD"}])
    assert [ln.amount for ln in posting.entry_lines(session, entry.id)] == [D("100.000"), D("-100.000")]


def test_viewer_cannot_post(session):
    f.seller(session)
    cash, revenue = _accounts(session)
    with pytest.raises(PermissionDenied):
        posting.manual_entry(session, Actor("vera", "viewer"), entity_id=1, entry_date=date(2025, 3, 1), memo="x",
                             lines=[{"account_id": cash, "debit": "1", "currency": "USD"},
                                    {"account_id": revenue, "credit": "1", "currency": "USD"}])
    with pytest.raises(PermissionDenied):
        posting.close_books(session, Actor("olga", "ops"), 1, date(2025, 1, 31))


def test_posted_rows_cannot_be_changed_only_reversed(session, engine):
    f.seller(session)
    cash, revenue = _accounts(session)
    entry = posting.manual_entry(session, SYSTEM, entity_id=1, entry_date=date(2025, 3, 1), memo="Cash sale",
                                 lines=[{"account_id": cash, "debit": "100", "currency": "USD"},
                                        {"account_id": revenue, "credit": "100", "currency": "USD"}])
    session.commit()
    for sql in ("UPDATE journal_line SET amount = 0", "DELETE FROM journal_line", "DELETE FROM journal_entry",
                "UPDATE journal_entry SET memo = 'changed'"):
        with engine.connect() as conn, pytest.raises(Exception, match="never changed"):
            conn.execute(text(sql))
    rev = posting.reverse(session, SYSTEM, entry.id, reason="Entered twice", entry_date=date(2025, 3, 2))
    assert rev.reverses_id == entry.id
    assert [ln.amount for ln in posting.entry_lines(session, rev.id)] == [D("-100.000"), D("100.000")]
    with pytest.raises(UserError, match="already reversed"):
        posting.reverse(session, SYSTEM, entry.id, reason="again")
    assert all(r.closing == 0 for r in reports.trial_balance(session))


def test_unbalanced_rows_cannot_be_committed_on_postgres(session, engine, backend):
    if backend != "postgres":
        pytest.skip("SQLite has no deferred constraints: the check in code is the guard there")
    f.seller(session)
    cash, _ = _accounts(session)
    session.commit()
    with engine.connect() as conn:
        eid = conn.execute(text("INSERT INTO journal_entry (entity_id, entry_date, memo, source_type, posted_by, "
                                "posted_at) VALUES (1, '2025-03-01', 'raw', 'manual', 'x', now()) RETURNING id")
                           ).scalar()
        conn.execute(text("INSERT INTO journal_line (entry_id, entity_id, entry_date, account_id, currency, amount, "
                          "description) VALUES (:e, 1, '2025-03-01', :a, 'USD', 100000, '')"), {"e": eid, "a": cash})
        with pytest.raises(Exception, match="does not balance in USD"):
            conn.commit()


def test_closed_books(session):
    inv = _invoice(session)  # issue date in February 2025
    cash, revenue = _accounts(session)
    with pytest.raises(UserError, match="not in the past"):
        posting.close_books(session, SYSTEM, inv.entity_id, date(2099, 1, 1))
    posting.close_books(session, SYSTEM, inv.entity_id, date(2025, 3, 31))
    with pytest.raises(UserError, match="books are closed through 31 Mar 2025"):
        posting.manual_entry(session, SYSTEM, entity_id=inv.entity_id, entry_date=date(2025, 3, 31), memo="late",
                             lines=[{"account_id": cash, "debit": "1", "currency": "USD"},
                                    {"account_id": revenue, "credit": "1", "currency": "USD"}])
    # an event of a closed period that happens now posts on the first open day, and says so
    p = payments.record_payment(session, SYSTEM, customer_id=inv.customer_id, currency_code="USD", amount="10",
                                method="cash", received_on=date(2025, 3, 10))
    entry = session.exec(select(JournalEntry).where(JournalEntry.source_key == f"payment:{p.id}")).one()
    assert entry.entry_date == date(2025, 4, 1) and "closed period" in entry.memo
    posting.close_books(session, SYSTEM, inv.entity_id, None)



def test_write_off_posts_bad_debt_and_leaves_nothing_due(session):
    from core.invoicing.write_offs import write_off

    inv = _invoice(session, taxed=True)
    payments.record_payment(session, SYSTEM, customer_id=inv.customer_id, currency_code="USD", amount="180",
                            method="bank_transfer", received_on=date(2025, 2, 3), allocations={inv.id: "180"})
    with pytest.raises(UserError, match="reason"):
        write_off(session, SYSTEM, inv.id, reason=" ")
    with pytest.raises(PermissionDenied):
        write_off(session, Actor("sam", "sales"), inv.id, reason="Customer went bankrupt")
    write_off(session, SYSTEM, inv.id, reason="Customer went bankrupt", on=date(2025, 6, 30))
    session.refresh(inv)
    assert (inv.status, settlement.due(inv), inv.amount_written_off) == ("written_off", 0, D("1000.00"))
    assert _balances(session, "bad_debt") == D("1000.00") and _balances(session, "accounts_receivable") == 0
    with pytest.raises(UserError, match="Written off; only an approved"):
        write_off(session, SYSTEM, inv.id, reason="again")
    with pytest.raises(UserError):
        payments.record_payment(session, SYSTEM, customer_id=inv.customer_id, currency_code="USD", amount="5",
                                method="cash", received_on=date(2025, 7, 1), allocations={inv.id: "5"})
