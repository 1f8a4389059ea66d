"""Contracts of any complexity through a real invoice run (spec sections 2 and 3), on SQLite and PostgreSQL."""
from datetime import date, datetime
from decimal import Decimal

from core import tax, wallet
from core.auth import SYSTEM
from core.billing.contracts import LineSpec
from core.customers import update_customer
from core.invoicing.service import approve_invoice, generate_drafts, invoice_lines
from core.models import Invoice
from tests.db import factories as f


def month(y: int, m: int) -> dict:
    start = date(y, m, 1)
    end = date(y + (m == 12), m % 12 + 1, 1)
    return dict(period_start=start, period_end=end)


def _kinds(session, invoice_id):
    return [(ln.kind, ln.description, ln.amount) for ln in invoice_lines(session, invoice_id)]


def test_worked_chain_of_section_two_comes_to_309_75(session):
    f.seller(session)
    cust = f.customer(session, "C1", country="IN")
    tax.set_rate(session, SYSTEM, country="IN", name="GST", percent="18")
    f.metric(session, "calls", "call")
    f.events(session, "C1", "call", [1400], when=datetime(2025, 3, 10))
    f.contract(session, "C1", [LineSpec("API calls", "per_unit", {"unit_price": "0.50"}, metric_code="calls",
                                        free_units="1000",
                                        modifiers={"discounts": [{"type": "percent", "value": "10"}],
                                                   "minimum_commitment": {"amount": "250"}})],
               start=date(2025, 1, 1), modifiers={"service_fees": [{"type": "percent", "value": "5"}]})
    inv_id = generate_drafts(session, SYSTEM, **month(2025, 3)).created[0]
    steps = [(k, a) for k, _, a in _kinds(session, inv_id)]
    assert steps == [("usage", Decimal("200")), ("discount", Decimal("-20")), ("true_up", Decimal("70")),
                     ("service_fee", Decimal("12.50")), ("tax", Decimal("47.25"))]
    inv = session.get(Invoice, inv_id)
    assert inv.total == Decimal("309.75") and inv.tax == Decimal("47.25")
    assert inv.customer_id == cust.id


def test_prepaid_commitment_with_postpaid_overage_is_1054(session):
    f.seller(session)
    f.customer(session, "C1")
    f.metric(session, "surveys", "survey", "count")
    f.events(session, "C1", "survey", [None] * 31, when=datetime(2025, 3, 12))
    f.contract(session, "C1", [
        LineSpec("Surveys prepaid (25 × $34)", "per_unit", {"unit_price": "34"}, fixed_quantity="25",
                 timing="advance"),
        LineSpec("Surveys over 25", "per_unit", {"unit_price": "34"}, metric_code="surveys", free_units="25"),
    ], start=date(2025, 1, 1))
    inv_id = generate_drafts(session, SYSTEM, **month(2025, 3)).created[0]  # the invoice dated 1 April
    inv = session.get(Invoice, inv_id)
    assert inv.issue_date == date(2025, 4, 1) and inv.total == Decimal("1054")
    prepaid, overage = invoice_lines(session, inv_id)
    assert prepaid.period_start == date(2025, 4, 1) and overage.period_start == date(2025, 3, 1)
    assert overage.amount == Decimal("204") and "6 billed" in overage.breakdown


def test_lifetime_discount_cap_and_grant_pool_span_periods(session):
    f.seller(session)
    f.customer(session, "C1")
    f.contract(session, "C1", [LineSpec("Platform", "flat_fee", {"amount": "100"}, modifiers={
        "credit_grants": [{"amount": "150", "description": "Launch credit"}],
        "discounts": [{"type": "percent", "value": "50", "lifetime_cap": "30"}]})], start=date(2025, 1, 1))
    amounts = []
    for m in (1, 2, 3):
        inv_id = generate_drafts(session, SYSTEM, **month(2025, m)).created[0]
        approve_invoice(session, SYSTEM, inv_id)
        amounts.append(session.get(Invoice, inv_id).total)
    # Jan: 100 − 100 grant = 0; Feb: 100 − 50 (rest of grant) = 50, − 25 discount = 25;
    # Mar: 100 − 5 (rest of the $30 lifetime discount) = 95
    assert amounts == [Decimal("0"), Decimal("25"), Decimal("95")]


def test_consolidated_customer_gets_one_invoice_with_tax_once(session):
    f.seller(session)
    cust = f.customer(session, "C1", country="DE")
    update_customer(session, SYSTEM, cust.id, {})
    cust.consolidate_invoices = True
    tax.set_rate(session, SYSTEM, country="DE", name="VAT", percent="19")
    f.contract(session, "C1", [LineSpec("A", "flat_fee", {"amount": "0.10"})], start=date(2025, 1, 1))
    f.contract(session, "C1", [LineSpec("B", "flat_fee", {"amount": "0.10"})], start=date(2025, 1, 1))
    f.contract(session, "C1", [LineSpec("C", "flat_fee", {"amount": "0.10"})], start=date(2025, 1, 1))
    run = generate_drafts(session, SYSTEM, **month(2025, 2))
    assert len(run.created) == 1
    inv = session.get(Invoice, run.created[0])
    assert inv.subtotal == Decimal("0.30") and inv.tax == Decimal("0.06")  # 19% × 0.30 once, not 3 × 0.02
    assert generate_drafts(session, SYSTEM, **month(2025, 2)).created == []


def test_wallet_pays_after_tax_and_is_debited_on_approval(session):
    f.seller(session)
    cust = f.customer(session, "C1")
    wallet.add_credit(session, SYSTEM, customer_id=cust.id, currency="USD", amount="60", kind="prepaid")
    f.contract(session, "C1", [LineSpec("Fee", "flat_fee", {"amount": "100"})], start=date(2025, 1, 1))
    inv_id = generate_drafts(session, SYSTEM, **month(2025, 2)).created[0]
    inv = session.get(Invoice, inv_id)
    assert inv.total == Decimal("100") and inv.credits_applied == Decimal("60")
    assert wallet.balance(session, cust.id, "USD") == Decimal("60")  # a draft does not spend it
    approve_invoice(session, SYSTEM, inv_id)
    assert wallet.balance(session, cust.id, "USD") == Decimal("0")


def test_customer_time_zone_sets_the_usage_window(session):
    f.seller(session)
    f.customer(session, "C1", timezone="America/New_York")
    f.metric(session, "calls", "call")
    f.events(session, "C1", "call", [7], when=datetime(2025, 4, 1, 2, 0))  # 31 March 22:00 in New York
    f.events(session, "C1", "call", [5], when=datetime(2025, 3, 1, 3, 0))  # 28 February 22:00 in New York
    f.contract(session, "C1", [LineSpec("Calls", "per_unit", {"unit_price": "1"}, metric_code="calls")],
               start=date(2025, 1, 1))
    inv_id = generate_drafts(session, SYSTEM, **month(2025, 3)).created[0]
    assert invoice_lines(session, inv_id)[0].quantity == Decimal("7")


def test_trial_phase_then_paid_and_payment_terms_end_of_month(session):
    f.seller(session)
    f.customer(session, "C1")
    f.contract(session, "C1", [
        LineSpec("Platform", "flat_fee", {"amount": "0"}, timing="advance", end_date=date(2025, 4, 1), phase="Trial"),
        LineSpec("Platform", "flat_fee", {"amount": "500"}, timing="advance", start_date=date(2025, 4, 1)),
    ], start=date(2025, 1, 1), payment_terms_eom=True)
    totals = {}
    for m in (1, 2, 3, 4):
        inv_id = generate_drafts(session, SYSTEM, **month(2025, m)).created[0]
        totals[m] = session.get(Invoice, inv_id)
    assert [totals[m].total for m in (1, 2, 3, 4)] == [Decimal(0), Decimal(0), Decimal(500), Decimal(500)]
    assert totals[3].due_date == date(2025, 5, 31)  # issued 1 April + 30 days = 1 May → end of May


def test_an_average_metric_is_billed_at_six_decimals(session):
    """1 + 1 + 2 GB over 3 readings averages 1.333333 GB (quantities are kept to 6 decimals, half-up): the draft
    stores it and prices it — before, the unrounded average could not be stored and the bill run failed."""
    f.seller(session)
    f.customer(session, "AVG")
    f.metric(session, "avg_gb", "storage_reading", aggregation="avg")
    f.events(session, "AVG", "storage_reading", [1, 1, 2], when=datetime(2025, 3, 10))
    f.contract(session, "AVG", [LineSpec("Storage", "per_unit", {"unit_price": "3"}, metric_code="avg_gb")],
               start=date(2025, 1, 1))
    inv_id = generate_drafts(session, SYSTEM, **month(2025, 3)).created[0]
    [line] = [ln for ln in invoice_lines(session, inv_id) if ln.kind == "usage"]
    assert (line.quantity, line.amount) == (Decimal("1.333333"), Decimal("4.00"))
