"""Ledger invariants over long random sequences of business events (a seeded random walk, so a failure
reproduces): after every step the trial balance is zero in each currency, Accounts Receivable per invoice equals
the invoice's amount due, Deferred Revenue equals billed-deferred minus recognised (the schedules' rows not yet
recognised), and the Customer Wallet account per customer equals the wallet's balance. Runs on SQLite and
PostgreSQL. Operations: bill the next month (renewal of the monthly cycle), approve drafts, pay (allocated or
not, partly or in full), credit notes by amount or by line (kept as credit or refunded), void by a full credit
note, wallet grants and prepaid credit, recognition runs, manual entries and their reversals."""
import random
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlmodel import select

from core import tax, wallet
from core.auth import SYSTEM
from core.billing.contracts import LineSpec
from core.billing.periods import add_months
from core.catalog import create_product
from core.errors import UserError
from core.invoicing import credit_notes, payments, settlement
from core.invoicing.write_offs import write_off
from core.invoicing.service import approve_invoices, delete_draft, generate_drafts, invoice_lines, regenerate_draft
from core.ledger import posting, recognition, reports
from core.ledger.accounts import chart
from core.models import Customer, Invoice, JournalLine, RevenueScheduleRow
from core.money import round_money
from tests.db import factories as f

D = Decimal


def _setup(session) -> list[Customer]:
    f.seller(session)
    tax.set_rate(session, SYSTEM, country="IN", name="GST", percent="18")
    create_product(session, SYSTEM, sku="PLAT", name="Platform", kind="time", revenue_policy="deferred")
    create_product(session, SYSTEM, sku="SUP", name="Support", kind="time", revenue_policy="immediate")
    create_product(session, SYSTEM, sku="API", name="API calls", kind="usage", revenue_policy="unbilled")
    f.metric(session, "calls", "api_call")
    customers = []
    for n, (country, cur) in enumerate([("IN", "USD"), ("US", "USD"), ("GB", "GBP"), ("DE", "EUR")]):
        c = f.customer(session, f"C{n}", country=country, currency=cur)
        lines = [LineSpec("Platform", "flat_fee", {"amount": str(100 + 37 * n)}, product_sku="PLAT",
                          cadence="quarterly" if n % 2 else "monthly", timing="advance"),
                 LineSpec("Support", "flat_fee", {"amount": "49.99"}, product_sku="SUP"),
                 LineSpec("API", "per_unit", {"unit_price": "0.013"}, metric_code="calls", product_sku="API",
                          modifiers={"discounts": [{"type": "percent", "value": "10"}]} if n == 1 else {})]
        f.contract(session, f"C{n}", lines, start=date(2025, 1, 1), currency=cur)
        customers.append(c)
    return customers


def check_invariants(session) -> None:
    c = chart(session)
    sums: dict[str, Decimal] = defaultdict(lambda: D(0))
    for row in reports.trial_balance(session):
        sums[row.currency] += row.closing
    assert all(v == 0 for v in sums.values()), f"trial balance is not zero: {dict(sums)}"
    ar = {r.invoice_id: r.amount for r in reports.account_balances_by(session, "accounts_receivable", "invoice")}
    for inv in session.exec(select(Invoice)).all():
        expected = settlement.due(inv) if inv.status != "draft" else D(0)
        assert ar.get(inv.id, D(0)) == expected, f"AR of {inv.number}: {ar.get(inv.id)} vs due {expected}"
    unrecognised: dict[str, Decimal] = defaultdict(lambda: D(0))
    from core.models import RevenueSchedule

    for row, sched in session.exec(select(RevenueScheduleRow, RevenueSchedule).join(
            RevenueSchedule, RevenueSchedule.id == RevenueScheduleRow.schedule_id)
            .where(RevenueScheduleRow.entry_id.is_(None))):
        unrecognised[sched.currency] += row.amount
    deferred: dict[str, Decimal] = defaultdict(lambda: D(0))
    for ln in session.exec(select(JournalLine).where(JournalLine.account_id == c.key("deferred_revenue"))):
        deferred[ln.currency] -= ln.amount
    assert {k: v for k, v in deferred.items() if v} == {k: v for k, v in unrecognised.items() if v}
    # usage revenue accrued for an invoice (while a draft) is cleared by its approval; nothing else is left
    from core.ledger.events import accrued_by_invoice

    invoices = {i.id: i for i in session.exec(select(Invoice))}
    accrued = accrued_by_invoice(session, list(invoices), c)
    released: dict[int, Decimal] = defaultdict(lambda: D(0))
    for ln in session.exec(select(JournalLine).where(JournalLine.account_id == c.key("unbilled_revenue"),
                                                     JournalLine.invoice_id.is_not(None))):
        released[ln.invoice_id] += ln.amount
    for inv_id, inv in invoices.items():
        left = sum(accrued.get(inv_id, {}).values(), D(0)) + released[inv_id]
        if inv.status == "draft":
            assert released[inv_id] == 0
        else:
            assert left == 0, f"unbilled revenue of {inv.number} not cleared: {left}"
    in_ledger = {(r.customer_id, r.currency): r.amount
                 for r in reports.account_balances_by(session, "customer_wallet", "customer")}
    for cust in session.exec(select(Customer)).all():
        for code, bal in wallet.balances(session, cust.id).items():
            assert in_ledger.get((cust.id, code), D(0)) == bal, f"wallet of {cust.external_id} in {code}"


def walk(session, seed: int, steps: int) -> dict[str, int]:
    rnd = random.Random(seed)
    customers = _setup(session)
    month = date(2025, 1, 1)
    done: dict[str, int] = defaultdict(int)
    today = date(2026, 6, 30)
    for step in range(steps):
        op = rnd.choices(["bill", "approve", "pay", "credit", "void", "wallet", "recognise", "manual", "regenerate",
                          "delete", "write_off"], weights=[3, 4, 3, 1.5, 0.3, 1, 3, 1, 1, 0.3, 0.3])[0]
        try:
            if op == "bill" and month < date(2026, 6, 1):
                for cust in customers:
                    f.events(session, cust.external_id, "api_call", [rnd.randint(0, 5000) for _ in range(3)],
                             when=__import__("datetime").datetime(month.year, month.month, rnd.randint(1, 28), 12))
                generate_drafts(session, SYSTEM, period_start=month, period_end=add_months(month, 1))
                month = add_months(month, 1)
            elif op == "approve":
                drafts = [i.id for i in session.exec(select(Invoice).where(Invoice.status == "draft"))]
                if drafts:
                    approve_invoices(session, SYSTEM, rnd.sample(drafts, k=rnd.randint(1, len(drafts))))
            elif op == "pay":
                cust = rnd.choice(customers)
                open_ = payments.open_invoices(session, cust.id, cust.currency)
                alloc = None
                if open_ and rnd.random() < 0.8:  # part or all of an open invoice, now and then a little more
                    oi = rnd.choice(open_)
                    amount = round_money(oi.due * D(rnd.choice([25, 50, 100, 100, 100, 110])) / 100, cust.currency)
                    if rnd.random() < 0.5:
                        alloc = {oi.id: min(oi.due, amount)}
                else:
                    amount = round_money(D(rnd.randint(1, 20000)) / 100, cust.currency)
                if amount <= 0:
                    continue
                payments.record_payment(session, SYSTEM, customer_id=cust.id, currency_code=cust.currency,
                                        amount=amount, method=rnd.choice(["bank_transfer", "cheque", "cash"]),
                                        received_on=today, allocations=alloc)
            elif op in ("credit", "void"):
                invs = [i for i in session.exec(select(Invoice).where(
                    Invoice.status.in_(["approved", "partially_paid", "paid"])))
                    if i.total - i.amount_credited > 0]
                if invs:
                    inv = rnd.choice(invs)
                    left = inv.total - inv.amount_credited
                    excess = rnd.choice(["wallet", "refund"])
                    if op == "void":
                        credit_notes.issue_credit_note(session, SYSTEM, inv.id, reason="void", amount=left,
                                                       excess=excess)
                    elif rnd.random() < 0.5:
                        amount = round_money(left * D(rnd.randint(1, 100)) / 100, inv.currency)
                        if amount > 0:
                            credit_notes.issue_credit_note(session, SYSTEM, inv.id, reason="by amount",
                                                           amount=amount, excess=excess)
                    else:
                        lines = [ln for ln in invoice_lines(session, inv.id)
                                 if ln.kind in credit_notes.CREDITABLE_KINDS and ln.amount > 0]
                        if lines:
                            ln = rnd.choice(lines)
                            left_on = credit_notes.net_by_line(invoice_lines(session, inv.id), inv.currency)[ln.id] \
                                - credit_notes.credited_by_line(session, inv.id).get(ln.id, D(0))
                            part = round_money(left_on * D(rnd.randint(1, 100)) / 100, inv.currency)
                            if part > 0:
                                credit_notes.issue_credit_note(session, SYSTEM, inv.id, reason="by line",
                                                               lines={ln.id: part}, excess=excess)
            elif op in ("regenerate", "delete"):
                drafts = [i.id for i in session.exec(select(Invoice).where(Invoice.status == "draft"))]
                if drafts:
                    (regenerate_draft if op == "regenerate" else delete_draft)(session, SYSTEM, rnd.choice(drafts))
            elif op == "write_off":
                invs = [i.id for i in session.exec(select(Invoice).where(
                    Invoice.status.in_(["approved", "partially_paid"])))]
                if invs:
                    write_off(session, SYSTEM, rnd.choice(invs), reason="uncollectible", on=today)
            elif op == "wallet":
                cust = rnd.choice(customers)
                wallet.add_credit(session, SYSTEM, customer_id=cust.id, currency=cust.currency,
                                  amount=D(rnd.randint(1, 5000)) / 100, kind=rnd.choice(["prepaid", "grant"]),
                                  effective_date=today)
            elif op == "recognise":
                recognition.recognise(session, SYSTEM, through=min(month, today))
            elif op == "manual":
                c = chart(session)
                code = rnd.choice(["USD", "GBP", "EUR"])
                entry = posting.manual_entry(session, SYSTEM, entity_id=1, entry_date=today, memo="Bank fee",
                                             lines=[{"account_id": c.key("gateway_fees"), "debit": "1.50",
                                                     "currency": code},
                                                    {"account_id": c.key("cash"), "credit": "1.50",
                                                     "currency": code}])
                if rnd.random() < 0.5:
                    posting.reverse(session, SYSTEM, entry.id, reason="wrong account")
            done[op] += 1
        except UserError as exc:  # a refusal is fine (e.g. a payment larger than what is due) — nothing changed
            done[f"refused:{op}"] += 1
            assert "balance" not in str(exc), exc
        session.flush()
        if step % 25 == 0 or step == steps - 1:
            check_invariants(session)
    return done


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_ledger_invariants_over_random_operations(session, backend, seed):
    steps = 1500 if backend == "sqlite" else 400
    done = walk(session, seed, steps)
    session.commit()
    check_invariants(session)
    for op in ("bill", "approve", "pay", "credit", "recognise", "regenerate"):
        assert done[op] > 0, f"the walk never did {op}: {dict(done)}"


@settings(max_examples=300, deadline=None)
@given(cents=st.integers(-10**9, 10**11), start=st.dates(date(2020, 1, 1), date(2030, 12, 31)),
       days=st.integers(1, 1500), method=st.sampled_from(["days", "months"]),
       code=st.sampled_from(["USD", "JPY", "KWD"]))
def test_schedules_sum_exactly_and_each_period_is_rounded(cents, start, days, method, code):
    from datetime import timedelta

    total = round_money(D(cents) / 100, code)
    periods = recognition.split(total, start, start + timedelta(days=days), code, method)
    assert sum(p.amount for p in periods) == total
    assert all(p.amount == round_money(p.amount, code) for p in periods)
    assert periods[0].start == start and periods[-1].end == start + timedelta(days=days)
    assert all(a.end == b.start for a, b in zip(periods, periods[1:]))
