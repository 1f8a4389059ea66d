"""Payment terms (spec section 3): due = trigger (creation or approval) + N days; optional end of month."""
from datetime import date, datetime

import pytest

from core.billing.terms import (
    describe_terms,
    due_date,
    end_of_month,
    invoice_due_date,
    trigger_date,
)


def test_golden_net_30_created_1_march_is_due_31_march():
    assert due_date(date(2026, 3, 1), 30) == date(2026, 3, 31)


def test_zenskar_older_examples():
    assert due_date(date(2026, 4, 1), 30) == date(2026, 5, 1)  # created 1 Apr, net 30
    assert invoice_due_date(15, "approval", False, date(2026, 4, 2), date(2026, 4, 10)) == date(2026, 4, 25)


def test_end_of_month_moves_to_the_last_day_of_the_resulting_month():
    assert due_date(date(2026, 3, 10), 30, eom=True) == date(2026, 4, 30)  # 9 April → 30 April
    assert due_date(date(2026, 3, 1), 30, eom=True) == date(2026, 3, 31)
    assert due_date(date(2026, 1, 31), 0, eom=True) == date(2026, 1, 31)


@pytest.mark.parametrize("created, days, due", [
    (date(2028, 2, 1), 10, date(2028, 2, 29)),   # leap year
    (date(2027, 2, 1), 10, date(2027, 2, 28)),
    (date(2028, 1, 31), 29, date(2028, 2, 29)),  # 29 Feb 2028 itself
    (date(2028, 1, 31), 30, date(2028, 3, 31)),  # 1 March → end of March
    (date(2100, 2, 1), 1, date(2100, 2, 28)),    # 2100 is not a leap year
    (date(2000, 2, 1), 1, date(2000, 2, 29)),    # 2000 is
])
def test_end_of_month_in_february(created, days, due):
    assert due_date(created, days, eom=True) == due


def test_net_days_cross_year_and_leap_day():
    assert due_date(date(2026, 12, 15), 30) == date(2027, 1, 14)
    assert due_date(date(2028, 2, 15), 14) == date(2028, 2, 29)
    assert due_date(date(2026, 3, 1), 0) == date(2026, 3, 1)
    assert due_date(datetime(2026, 3, 1, 23, 59), 30) == date(2026, 3, 31)


def test_trigger_is_creation_or_approval():
    assert trigger_date("creation", date(2026, 3, 1), date(2026, 3, 5)) == date(2026, 3, 1)
    assert trigger_date("approval", date(2026, 3, 1), date(2026, 3, 5)) == date(2026, 3, 5)
    assert invoice_due_date(30, "approval", False, date(2026, 3, 1)) is None  # not approved yet
    assert invoice_due_date(30, "creation", True, date(2026, 3, 10)) == date(2026, 4, 30)
    with pytest.raises(ValueError):
        trigger_date("payment", date(2026, 3, 1))


@pytest.mark.parametrize("bad", [-1, 366, True, 1.5, "30"])
def test_days_must_be_a_whole_number_0_to_365(bad):
    with pytest.raises(ValueError):
        due_date(date(2026, 3, 1), bad)


def test_end_of_month_helper():
    assert end_of_month(date(2026, 4, 3)) == date(2026, 4, 30)
    assert end_of_month(date(2028, 2, 1)) == date(2028, 2, 29)


def test_describe_terms():
    assert describe_terms(30) == "Net 30"
    assert describe_terms(15, "approval") == "Net 15 from approval"
    assert describe_terms(30, eom=True) == "Net 30, end of month"
    assert describe_terms(0) == "Due on receipt"
    assert describe_terms(0, eom=True) == "Due end of month"
