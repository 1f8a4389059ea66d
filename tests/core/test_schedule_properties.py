"""Properties of the time rules (hypothesis).

- a full period prorates to exactly the full price;
- splitting a period in two at any day (two prorated charges, each rounded with round_money) never differs from
  the full price by more than one minor unit — and neither does "charge used days + credit unused days";
- active days never exceed the period's days; windows are sorted, disjoint and inside the service period;
- over a contract's whole life every billable day is billed exactly once, whatever the cadence and timing;
- cycle periods contain their date; UTC period bounds tile; due dates never precede their trigger.
"""
from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.billing.periods import add_months
from core.billing.schedule import (
    ContractSchedule,
    LineSchedule,
    charges_for_run,
    cycle_period,
    first_advance_run,
    first_cycle_start,
    line_charge,
    period_bounds_utc,
    prepaid_credit,
    run_period,
)
from core.billing.terms import due_date
from core.money import currency, round_money

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

anchors = st.integers(min_value=1, max_value=28)
days_ = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))
cadences = st.sampled_from(["monthly", "quarterly", "yearly"])
timings = st.sampled_from(["advance", "arrears"])
currencies = st.sampled_from(["USD", "JPY", "BHD", "EUR"])
amounts = st.decimals(min_value=0, max_value=10**7, places=3, allow_nan=False, allow_infinity=False)
MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}


def _billing_run(contract, timing, period_start, period_end):
    """The run that bills this service period: advance at its start, arrears at its end."""
    boundary = period_start if timing == "advance" else period_end
    before = add_months(boundary, -1)
    return run_period(contract.anchor_day, before.year, before.month)


@st.composite
def service_periods(draw):
    anchor = draw(anchors)
    first = cycle_period(anchor, draw(days_))[0]
    cadence, timing = draw(cadences), draw(timings)
    k = draw(st.integers(min_value=0, max_value=6))
    start = add_months(first, k * MONTHS[cadence])
    return ContractSchedule(first, anchor_day=anchor), cadence, timing, start, add_months(start, MONTHS[cadence])


@FAST
@given(service_periods(), amounts, currencies)
def test_full_period_prorates_to_the_full_price(sp, amount, cur):
    contract, cadence, timing, start, end = sp
    (ch,) = charges_for_run(contract, [LineSchedule(1, cadence, timing)], *_billing_run(contract, timing, start, end))
    assert (ch.service_start, ch.service_end) == (start, end)
    assert ch.proration == 1 and ch.proration_text == "" and ch.active_days == ch.period_days == (end - start).days
    assert ch.prorate(amount) == amount


@FAST
@given(service_periods(), amounts, currencies, st.data())
def test_splitting_a_period_costs_at_most_one_minor_unit(sp, amount, cur, data):
    contract, cadence, timing, start, end = sp
    total = (end - start).days
    split = start + timedelta(days=data.draw(st.integers(min_value=1, max_value=total - 1)))
    full = round_money(amount, cur)
    quantum = currency(cur).quantum
    a = full  # a price shown on the contract: already in minor units

    before, after = LineSchedule(1, cadence, timing, end_date=split), LineSchedule(2, cadence, timing, start_date=split)
    c1, c2 = charges_for_run(contract, [before, after], *_billing_run(contract, timing, start, end))
    assert c1.active_days + c2.active_days == total
    assert (c1.active_end, c2.active_start) == (split, split)
    parts = round_money(c1.prorate(a), cur) + round_money(c2.prorate(a), cur)
    assert abs(parts - full) <= quantum

    # cancelling a prepaid line at the split: charge for the used days + credit for the unused days
    credit = prepaid_credit(a, start, end, split, cur)
    assert abs(round_money(c1.prorate(a), cur) + credit.amount - full) <= quantum
    assert credit.days == c2.active_days


pause_lists = st.lists(st.tuples(days_, st.one_of(st.none(), st.integers(min_value=1, max_value=120))), max_size=3)


@st.composite
def contracts(draw):
    anchor = draw(anchors)
    start = draw(days_)
    length = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=900)))
    end = None if length is None else start + timedelta(days=length)
    pauses = [(s, None if n is None else s + timedelta(days=n)) for s, n in draw(pause_lists)]
    return ContractSchedule(start, end, anchor, tuple(pauses))


@st.composite
def line_windows(draw):
    start = draw(st.one_of(st.none(), days_))
    length = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=400)))
    if start is None or length is None:
        return start, None if length is None or start is None else start + timedelta(days=length)
    return start, start + timedelta(days=length)


@FAST
@given(contracts(), st.lists(line_windows(), min_size=1, max_size=4), st.one_of(cadences, st.just("one_time")),
       timings, st.booleans(),
       st.integers(min_value=-2, max_value=40))
def test_active_days_never_exceed_the_period(contract, windows, cadence, timing, is_usage, offset):
    lines = [LineSchedule(i, cadence, timing, is_usage, s, e) for i, (s, e) in enumerate(windows)]
    when = add_months(first_cycle_start(contract), offset)
    for ch in charges_for_run(contract, lines, *run_period(contract.anchor_day, when.year, when.month)):
        assert 0 < ch.active_days <= ch.period_days == (ch.service_end - ch.service_start).days
        assert sum((e - s).days for s, e in ch.windows) == ch.active_days
        assert ch.service_start <= ch.active_start < ch.active_end <= ch.service_end
        assert ch.windows[0][0] == ch.active_start and ch.windows[-1][1] == ch.active_end
        assert all(s < e for s, e in ch.windows)
        assert all(a[1] < b[0] for a, b in zip(ch.windows, ch.windows[1:], strict=False))  # disjoint, not even touching
        assert 0 < ch.proration <= 1
        if ch.kind != "one_time":  # pauses never overlap what is billed
            assert all(min(e, pe or e) <= max(s, ps) for s, e in ch.windows for ps, pe in contract.pauses)


@FAST
@given(st.integers(min_value=2, max_value=5), contracts(), cadences, timings, st.data())
def test_consecutive_phases_never_bill_more_than_the_period(n, contract, cadence, timing, data):
    cuts = sorted(set(data.draw(st.lists(days_, min_size=n - 1, max_size=n - 1))))
    bounds = [None, *cuts, None]
    lines = [LineSchedule(i, cadence, timing, False, bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
    when = add_months(first_cycle_start(contract), data.draw(st.integers(min_value=-1, max_value=30)))
    charges = charges_for_run(contract, lines, *run_period(contract.anchor_day, when.year, when.month))
    if charges:
        assert sum(ch.active_days for ch in charges) <= charges[0].period_days


def _paused_days(contract, start, end):
    days, cur = 0, start
    while cur < end:
        if any(ps <= cur and (pe is None or cur < pe) for ps, pe in contract.pauses):
            days += 1
        cur += timedelta(days=1)
    return days


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contracts(), cadences, timings)
def test_every_billable_day_is_billed_exactly_once(contract, cadence, timing):
    if contract.end_date is None:
        contract = ContractSchedule(contract.start_date, contract.start_date + timedelta(days=400),
                                    contract.anchor_day, contract.pauses)
    line = LineSchedule(1, cadence, timing)
    y, m = first_advance_run(contract)
    cur = date(y, m, 1)
    billed, seen = 0, set()
    while cur <= add_months(contract.end_date, 13):
        ch = line_charge(contract, line, *run_period(contract.anchor_day, cur.year, cur.month))
        if ch is not None:
            assert (ch.service_start, ch.service_end) not in seen
            seen.add((ch.service_start, ch.service_end))
            billed += ch.active_days
        cur = add_months(cur, 1)
    expected = (contract.end_date - contract.start_date).days
    expected -= _paused_days(contract, contract.start_date, contract.end_date)
    assert billed == expected


@FAST
@given(anchors, days_)
def test_cycle_period_contains_its_date(anchor, on):
    start, end = cycle_period(anchor, on)
    assert start <= on < end and start.day == anchor and end == add_months(start, 1)
    assert run_period(anchor, start.year, start.month) == (start, end)


ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Havana", "Asia/Kolkata",
         "Pacific/Auckland", "America/Santiago"]


@FAST
@given(days_, st.sampled_from(ZONES))
def test_utc_bounds_tile_and_days_last_about_24_hours(day, tz):
    nxt = day + timedelta(days=1)
    a_start, a_end = period_bounds_utc(day, nxt, tz)
    b_start, _ = period_bounds_utc(nxt, nxt + timedelta(days=1), tz)
    assert a_end == b_start
    assert 22 * 3600 <= (a_end - a_start).total_seconds() <= 26 * 3600


@FAST
@given(days_, st.integers(min_value=0, max_value=365), st.booleans())
def test_due_date_never_precedes_the_trigger(trigger, days, eom):
    due = due_date(trigger, days, eom)
    plain = trigger + timedelta(days=days)
    assert due >= plain >= trigger
    if eom:
        assert (due.year, due.month) == (plain.year, plain.month) and (due + timedelta(days=1)).day == 1
    else:
        assert due == plain
