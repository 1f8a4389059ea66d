"""The per-customer usage chart's numbers: daily values over the customer's billing period, period-to-date,
included units — the same windows the invoice counts."""
from datetime import date, datetime
from decimal import Decimal

from sqlmodel import select

from core.billing.contracts import LineSpec
from core.metering.periods import Billing, aggregate_by_window, billing_of, current_window, run_window
from core.metering.series import daily_usage
from core.models import Customer
from tests.db import factories as f


def test_daily_series_and_period_to_date_against_included_units(session):
    f.seller(session)
    f.customer(session, "C1")
    m = f.metric(session, "calls", "call")
    f.events(session, "C1", "call", ["0.1"] * 10, when=datetime(2025, 1, 2, 10))
    f.events(session, "C1", "call", [5], when=datetime(2025, 1, 4, 23, 59))
    f.contract(session, "C1", [LineSpec("Calls", "per_unit", {"unit_price": "1"}, metric_code="calls",
                                        free_units="4")], start=date(2025, 1, 1))
    series = daily_usage(session, m, "C1", run_window(Billing(1, "UTC"), 2025, 1))
    assert len(series.days) == 31 and series.days[0] == date(2025, 1, 1)
    assert series.values[1] == Decimal("1") and series.values[3] == Decimal("5")  # exact: ten 0.1s are 1
    assert series.to_date[2] == Decimal("1") and series.to_date[-1] == Decimal("6")
    assert series.included == Decimal("4")


def test_days_are_the_customers_local_days_in_its_billing_period(session):
    """Billing day 15, customer in India (UTC+5:30): the period is 15 Jan – 14 Feb local; an event at 20:00 UTC
    on 14 Jan is 15 Jan 01:30 local — the period's first day; one at 18:29 UTC on 14 Feb is its last day."""
    f.seller(session)
    f.customer(session, "IN", timezone="Asia/Kolkata")
    m = f.metric(session, "calls", "call")
    f.contract(session, "IN", [LineSpec("Calls", "per_unit", {"unit_price": "1"}, metric_code="calls")],
               start=date(2024, 12, 15), billing_anchor_day=15)
    f.events(session, "IN", "call", [7], when=datetime(2025, 1, 14, 18, 29))  # 14 Jan 23:59 local: before
    f.events(session, "IN", "call", [2], when=datetime(2025, 1, 14, 20))
    f.events(session, "IN", "call", [3], when=datetime(2025, 2, 14, 18, 29))
    f.events(session, "IN", "call", [11], when=datetime(2025, 2, 14, 18, 30))  # 15 Feb local: next period
    cust = session.exec(select(Customer).where(Customer.external_id == "IN")).one()
    billing = billing_of(session, [cust], [m.id], date(2025, 1, 20))[(cust.id, m.id)]
    assert billing == Billing(15, "Asia/Kolkata")
    window = current_window(billing, date(2025, 1, 20))
    assert (window.start, window.end) == (date(2025, 1, 15), date(2025, 2, 15))
    series = daily_usage(session, m, "IN", window)
    assert series.days[0] == date(2025, 1, 15) and series.days[-1] == date(2025, 2, 14)
    assert series.values[0] == 2 and series.values[-1] == 3 and series.to_date[-1] == 5
    # the same window's total, as screens and alerts get it, is the invoice's quantity
    total = aggregate_by_window(session, m, {"IN": (window.utc_start, window.utc_end)})
    assert total["IN"].quantity == 5
