"""The per-customer usage chart's numbers: daily values, period-to-date, included units."""
from datetime import date, datetime
from decimal import Decimal

from core.billing.contracts import LineSpec
from core.metering.series import daily_usage
from tests.db import factories as f


def test_daily_series_and_period_to_date_against_included_units(session):
    f.seller(session)
    f.customer(session, "C1")
    m = f.metric(session, "calls", "call")
    f.events(session, "C1", "call", ["0.1"] * 10, when=datetime(2025, 1, 2, 10))
    f.events(session, "C1", "call", [5], when=datetime(2025, 1, 4, 23, 59))
    f.contract(session, "C1", [LineSpec("Calls", "per_unit", {"unit_price": "1"}, metric_code="calls",
                                        free_units="4")], start=date(2025, 1, 1))
    series = daily_usage(session, m, "C1", datetime(2025, 1, 1), datetime(2025, 2, 1))
    assert len(series.days) == 31 and series.days[0] == date(2025, 1, 1)
    assert series.values[1] == Decimal("1") and series.values[3] == Decimal("5")  # exact: ten 0.1s are 1
    assert series.to_date[2] == Decimal("1") and series.to_date[-1] == Decimal("6")
    assert series.included == Decimal("4")
