"""The queries the pages page and sum with at scale (issue 7, pages stay fast): a page of a list plus its
summary must show what the whole list would — every invoice once across pages, the totals and amounts due of
every match (not of the page shown), the same billing windows as before."""
from __future__ import annotations

from datetime import date

from core.analytics.overview import contract_rows, usage_fingerprint
from core.auth import SYSTEM
from core.billing.contracts import LineSpec
from core.customers import count_matching, customer_rows
from core.invoicing.payments import record_payment
from core.invoicing.service import (amount_due, approve_invoices, generate_drafts, get_invoice, invoice_ids,
                                    list_invoices, summarise_invoices)
from core.metering.periods import billing_of
from core.models import Customer
from tests.db import factories as f

FEE = [LineSpec("Fee", "flat_fee", {"amount": "100"})]


def _billed(session) -> list[int]:
    """5 customers, two months of invoices: January approved (one paid in part, one in full), February drafts."""
    f.seller(session)
    for i in range(5):
        f.customer(session, f"C{i}", name=f"Customer {'EDCBA'[i]}")
        f.contract(session, f"C{i}", [LineSpec("Fee", "flat_fee", {"amount": str(100 + 10 * i)})])
    for month in (1, 2):
        generate_drafts(session, SYSTEM, period_start=date(2025, month, 1), period_end=date(2025, month + 1, 1))
    january = [r.id for r in list_invoices(session, status="draft", period_start=date(2025, 1, 1))]
    approve_invoices(session, SYSTEM, january)
    first, second = (get_invoice(session, i) for i in january[:2])
    record_payment(session, SYSTEM, customer_id=first.customer_id, currency_code="USD", amount="40",
                   method="bank_transfer", received_on=date(2025, 3, 1), allocations={first.id: "40"})
    record_payment(session, SYSTEM, customer_id=second.customer_id, currency_code="USD", amount=second.total,
                   method="bank_transfer", received_on=date(2025, 3, 1), allocations={second.id: second.total})
    session.flush()
    return january


def test_pages_of_invoices_list_each_invoice_once_and_the_summary_covers_every_match(session):
    january = _billed(session)
    everything = list_invoices(session, today=date(2025, 6, 1))
    assert len(everything) == 10
    paged = [r.id for k in range(0, 10, 3) for r in list_invoices(session, limit=3, offset=k, today=date(2025, 6, 1))]
    assert paged == [r.id for r in everything]  # same order, nothing twice, nothing missed

    summary = summarise_invoices(session, today=date(2025, 6, 1))
    assert summary.count == 10
    assert summary.total == {"USD": sum(r.total for r in everything)}
    assert summary.due == {"USD": sum(amount_due(get_invoice(session, r.id)) for r in everything)}
    assert summary.drafts == 5
    assert summary.open == 4  # 3 unpaid + 1 partly paid; the one paid in full is not open
    assert summary.overdue == sum(r.overdue for r in everything) == 4
    assert summarise_invoices(session, today=date(2025, 1, 15)).overdue == 0  # not due yet then

    # filters apply to the summary and the ids alike
    jan = summarise_invoices(session, period_start=date(2025, 1, 1))
    assert (jan.count, jan.drafts) == (5, 0)
    assert invoice_ids(session, statuses=("draft",)) == [r.id for r in everything if r.status == "draft"]
    assert sorted(invoice_ids(session, statuses=("approved", "partially_paid"), period_start=date(2025, 1, 1))) \
        == sorted(january[:1] + january[2:])
    one = summarise_invoices(session, search="Customer A")
    assert one.count == 2 and [r.customer for r in list_invoices(session, search="Customer A")] == ["Customer A"] * 2


def test_customer_rows_page_through_everyone_in_name_order(session):
    f.seller(session)
    for i, name in enumerate(["Delta", "alpha", "Charlie", "Bravo", "Echo"]):
        f.customer(session, f"K{i}", name=name)
    whole = customer_rows(session, limit=100)
    assert [c.name for c in whole] == sorted([c.name for c in whole])
    paged = [c.id for k in range(0, 5, 2) for c in customer_rows(session, limit=2, offset=k)]
    assert paged == [c.id for c in whole]
    assert count_matching(session) == 5 and count_matching(session, search="ha") == 2  # alpha, Charlie
    assert {c.external_id for c in customer_rows(session, ids=[whole[0].id, whole[3].id])} == \
        {whole[0].external_id, whole[3].external_id}


def test_contract_rows_count_lines_and_filter(session):
    f.seller(session)
    for cid in ("A", "B"):
        f.customer(session, cid)
    a = f.contract(session, "A", FEE + [LineSpec("Setup", "flat_fee", {"amount": "5"})])
    b = f.contract(session, "B", FEE)
    rows, total = contract_rows(session)
    assert total == 2 and [(r.id, n) for r, n in rows] == [(a.id, 2), (b.id, 1)]
    rows, total = contract_rows(session, customer_id=b.customer_id)
    assert total == 1 and rows[0][0].customer == "Customer B"
    assert contract_rows(session, limit=1, offset=1)[0][0][0].id == b.id
    assert contract_rows(session, contract_id=a.id)[0][0][0].name == "Contract"


def test_billing_windows_follow_the_contract_that_meters_each_metric(session):
    f.seller(session)
    calls, gb = f.metric(session, "calls", "api_call"), f.metric(session, "gb", "storage")
    for cid in ("TWO", "ONE", "NONE"):
        f.customer(session, cid)
    f.contract(session, "TWO", [LineSpec("Calls", "per_unit", {"unit_price": "1"}, metric_code="calls")],
               billing_anchor_day=5)
    f.contract(session, "TWO", [LineSpec("Storage", "per_unit", {"unit_price": "1"}, metric_code="gb")],
               billing_anchor_day=20, start=date(2025, 2, 1))
    f.contract(session, "ONE", [LineSpec("Calls", "per_unit", {"unit_price": "1"}, metric_code="calls")],
               billing_anchor_day=12)
    ids = {c.external_id: c.id for c in customer_rows(session)}
    got = billing_of(session, customer_rows(session), [calls.id, gb.id], date(2025, 3, 1))
    assert (got[(ids["TWO"], calls.id)].anchor_day, got[(ids["TWO"], gb.id)].anchor_day) == (5, 20)
    assert (got[(ids["ONE"], calls.id)].anchor_day, got[(ids["ONE"], gb.id)].anchor_day) == (12, 12)
    assert (got[(ids["NONE"], calls.id)].anchor_day, got[(ids["NONE"], gb.id)].tz) == (1, "UTC")
    # the ORM objects give the same answer as the light rows
    orm = billing_of(session, session.exec(Customer.__table__.select()).all(), [calls.id, gb.id], date(2025, 3, 1))
    assert orm == got


def test_the_usage_fingerprint_moves_with_every_event_stored(session):
    before = usage_fingerprint(session)
    f.events(session, "C1", "api_call", [1])
    after = usage_fingerprint(session)
    assert after > before
    f.events(session, "C1", "api_call", [2, 3])
    assert usage_fingerprint(session) > after
