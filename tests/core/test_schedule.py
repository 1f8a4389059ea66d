"""Time rules (spec section 3): cycles, runs, first advance period, proration, phases, pauses, credits,
renewal, time-zone boundaries. Every (Z)/derived example of section 3 is a golden case here."""
from datetime import date
from datetime import datetime as dt
from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from core import pricing
from core.billing.periods import add_months
from core.billing.schedule import (
    ContractSchedule,
    LineSchedule,
    active_windows,
    billing_timezone,
    charges_for_run,
    cycle_period,
    due_for_renewal,
    first_advance_run,
    first_cycle_start,
    invoice_date,
    is_due_for_renewal,
    line_charge,
    local_midnight_utc,
    parse_pauses,
    period_bounds_utc,
    plan_run,
    prepaid_credit,
    renewal_terms,
    run_period,
    term_length_months,
    upgrade_adjustment,
)
from core.money import round_money
from core.pricing import Usage

# --------------------------------------------------------------------------------------------- helpers


def fixed(id_, cadence="monthly", timing="advance", start=None, end=None):
    return LineSchedule(id_, cadence=cadence, timing=timing, start_date=start, end_date=end)


def usage(id_, start=None, end=None):
    return LineSchedule(id_, is_usage=True, start_date=start, end_date=end)


def run(contract, lines, year, month):
    return plan_run(contract, lines, year, month)


def amount(charge, full, currency="USD"):
    return round_money(charge.prorate(D(full)), currency)


def months_from(year, month, count):
    d = date(year, month, 1)
    for _ in range(count):
        yield d.year, d.month
        d = add_months(d, 1)


# --------------------------------------------------------------------------------------------- cycles


def test_cycle_period_anchor_1_and_15():
    assert cycle_period(1, date(2026, 1, 15)) == (date(2026, 1, 1), date(2026, 2, 1))
    assert cycle_period(15, date(2026, 1, 15)) == (date(2026, 1, 15), date(2026, 2, 15))
    assert cycle_period(15, date(2026, 1, 14)) == (date(2025, 12, 15), date(2026, 1, 15))
    assert cycle_period(28, date(2026, 3, 1)) == (date(2026, 2, 28), date(2026, 3, 28))


def test_run_period_is_the_cycle_period_starting_in_the_month():
    assert run_period(1, 2026, 3) == (date(2026, 3, 1), date(2026, 4, 1))
    assert run_period(15, 2026, 12) == (date(2026, 12, 15), date(2027, 1, 15))
    assert run_period(28, 2028, 2) == (date(2028, 2, 28), date(2028, 3, 28))


@pytest.mark.parametrize("bad", [0, 29, 31, -1, True, "1"])
def test_anchor_day_must_be_1_to_28(bad):
    with pytest.raises(ValueError):
        cycle_period(bad, date(2026, 1, 1))
    with pytest.raises(ValueError):
        ContractSchedule(date(2026, 1, 1), anchor_day=bad)


def test_run_must_be_a_cycle_period_of_the_contract():
    c = ContractSchedule(date(2026, 1, 1), anchor_day=15)
    with pytest.raises(ValueError, match="run_period"):
        charges_for_run(c, [fixed(1)], date(2026, 1, 1), date(2026, 2, 1))
    with pytest.raises(ValueError):
        invoice_date(c, date(2026, 1, 15), date(2026, 3, 15))


def test_anchor_15_periods_over_a_year():
    c = ContractSchedule(date(2026, 1, 15), anchor_day=15)
    lines = [fixed(1, timing="arrears"), usage(2)]
    for y, m in months_from(2026, 1, 12):
        plan = run(c, lines, y, m)
        assert plan.run_start == date(y, m, 15)
        assert plan.invoice_date == plan.run_end == add_months(date(y, m, 15), 1)
        for ch in plan.charges:
            assert (ch.service_start, ch.service_end) == (plan.run_start, plan.run_end)
            assert ch.proration == 1 and ch.proration_text == ""
    # February 15 - March 15 is 28 days, March 15 - April 15 is 31
    feb = run(c, lines, 2026, 2).charges[0]
    assert feb.period_days == 28 and feb.active_days == 28


def test_anchor_15_contract_starting_on_the_1st_prorates_its_first_cycle():
    c = ContractSchedule(date(2026, 1, 1), anchor_day=15)
    assert first_cycle_start(c) == date(2025, 12, 15)
    assert first_advance_run(c) == (2025, 11)
    plan = run(c, [fixed(1)], 2025, 11)
    (ch,) = plan.charges
    assert (ch.service_start, ch.service_end) == (date(2025, 12, 15), date(2026, 1, 15))
    assert (ch.active_days, ch.period_days) == (14, 31)
    assert ch.proration_text == "prorated 14/31 days"
    assert plan.invoice_date == date(2026, 1, 1)  # never before the contract starts


# --------------------------------------------------------------------------------------------- golden


def test_golden_mid_month_start_is_548_39():
    """$1,000/month starting 15 January (calendar-aligned) → 1,000 × 17/31 = $548.39."""
    c = ContractSchedule(date(2026, 1, 15))
    for timing, (y, m) in (("arrears", (2026, 1)), ("advance", (2025, 12))):
        (ch,) = charges_for_run(c, [fixed(7, timing=timing)], *run_period(1, y, m))
        assert ch.kind == timing
        assert (ch.service_start, ch.service_end) == (date(2026, 1, 1), date(2026, 2, 1))
        assert (ch.active_start, ch.active_end) == (date(2026, 1, 15), date(2026, 2, 1))
        assert ch.proration == D(17) / D(31)
        assert ch.proration_text == "prorated 17/31 days"
        assert amount(ch, "1000") == D("548.39")


def test_golden_cancelled_prepaid_credit_is_354_84():
    """$1,000 prepaid for March, ended effective 21 March → 11/31 unused → credit note $354.84."""
    credit = prepaid_credit(D("1000"), date(2026, 3, 1), date(2026, 4, 1), date(2026, 3, 21), "USD")
    assert credit.amount == D("354.84")
    assert (credit.days, credit.period_days) == (11, 31)
    assert credit.text == "unused 11/31 days of $1,000.00"


def test_golden_prepaid_commitment_with_postpaid_overage_is_1054():
    """25 surveys prepaid at $34 = $850/month; 31 used in March → invoice of the March run (1 April) = $1,054."""
    c = ContractSchedule(date(2026, 1, 1))
    prepaid, overage = fixed(1, timing="advance"), usage(2)
    plan = run(c, [prepaid, overage], 2026, 3)
    assert plan.invoice_date == date(2026, 4, 1)
    by_line = {ch.line_id: ch for ch in plan.charges}
    assert by_line[1].kind == "advance"
    assert (by_line[1].service_start, by_line[1].service_end) == (date(2026, 4, 1), date(2026, 5, 1))
    assert by_line[2].kind == "usage"
    assert (by_line[2].service_start, by_line[2].service_end) == (date(2026, 3, 1), date(2026, 4, 1))

    plan_price = pricing.price("per_unit", {"unit_price": "34"}, Usage(quantity=D(25)), "USD").amount
    used = pricing.apply_free_units(Usage(quantity=D(31)), D(25))
    over_price = pricing.price("per_unit", {"unit_price": "34"}, used, "USD").amount
    lines = [round_money(by_line[1].prorate(plan_price), "USD"), round_money(by_line[2].prorate(over_price), "USD")]
    assert lines == [D("850.00"), D("204.00")]
    assert sum(lines) == D("1054.00")


# --------------------------------------------------------------------------------------------- first advance


def test_first_advance_period_is_billed_by_the_run_before_the_contract():
    c = ContractSchedule(date(2026, 1, 1))
    lines = [fixed(1, timing="advance"), usage(2)]
    assert first_advance_run(c) == (2025, 12)

    nov = run(c, lines, 2025, 11)
    assert nov.charges == ()

    dec = run(c, lines, 2025, 12)
    assert dec.invoice_date == date(2026, 1, 1)
    assert [(ch.line_id, ch.kind, ch.service_start) for ch in dec.charges] == [(1, "advance", date(2026, 1, 1))]
    assert amount(dec.charges[0], "500") == D("500.00")

    jan = run(c, lines, 2026, 1)
    assert jan.invoice_date == date(2026, 2, 1)
    assert [(ch.line_id, ch.kind, ch.service_start) for ch in jan.charges] == [
        (1, "advance", date(2026, 2, 1)),
        (2, "usage", date(2026, 1, 1)),
    ]


def test_first_invoice_is_dated_at_the_contract_start_not_before():
    c = ContractSchedule(date(2026, 1, 20))
    assert invoice_date(c, *run_period(1, 2025, 12)) == date(2026, 1, 20)
    assert invoice_date(c, *run_period(1, 2026, 1)) == date(2026, 2, 1)


def test_arrears_only_contract_has_no_invoice_before_it_starts():
    c = ContractSchedule(date(2026, 1, 1))
    assert run(c, [fixed(1, timing="arrears"), usage(2)], 2025, 12).charges == ()
    jan = run(c, [fixed(1, timing="arrears"), usage(2)], 2026, 1)
    assert [ch.kind for ch in jan.charges] == ["arrears", "usage"]


def test_one_time_bills_once_in_full_on_the_first_invoice_whatever_its_timing():
    c = ContractSchedule(date(2026, 1, 15), date(2027, 1, 15))
    for timing in ("advance", "arrears"):
        line = fixed(9, cadence="one_time", timing=timing)
        runs = [(y, m) for y, m in months_from(2025, 10, 20) if run(c, [line], y, m).charges]
        assert runs == [(2025, 12)]
        (ch,) = run(c, [line], 2025, 12).charges
        assert ch.kind == "one_time" and ch.proration == 1 and ch.proration_text == ""
        assert ch.prorate(D("400")) == D("400")
        assert ch.active_start == date(2026, 1, 15)
    assert run(c, [fixed(9, cadence="one_time")], 2025, 12).invoice_date == date(2026, 1, 15)


def test_one_time_line_in_a_later_phase_bills_with_that_phase_first_period():
    c = ContractSchedule(date(2026, 1, 1))
    line = fixed(9, cadence="one_time", start=date(2026, 6, 10))
    runs = [(y, m) for y, m in months_from(2025, 12, 12) if run(c, [line], y, m).charges]
    assert runs == [(2026, 5)]  # the run that bills June in advance


def test_one_time_is_not_affected_by_pauses():
    c = ContractSchedule(date(2026, 1, 1), pauses=({"start": "2026-01-01", "end": "2026-03-01"},))
    (ch,) = run(c, [fixed(9, cadence="one_time")], 2025, 12).charges
    assert ch.kind == "one_time"


# --------------------------------------------------------------------------------------------- cadences


def _sweep(contract, line, start=(2025, 11), count=30):
    out = {}
    for y, m in months_from(*start, count):
        ch = line_charge(contract, line, *run_period(contract.anchor_day, y, m))
        if ch is not None:
            out[(y, m)] = ch
    return out


def test_quarterly_and_yearly_lines_over_a_24_month_sweep():
    c = ContractSchedule(date(2026, 1, 1), date(2028, 1, 1))
    qa = _sweep(c, fixed(1, "quarterly", "advance"))
    assert list(qa) == [(2025, 12), (2026, 3), (2026, 6), (2026, 9), (2026, 12), (2027, 3), (2027, 6), (2027, 9)]
    assert [(ch.service_start, ch.service_end) for ch in qa.values()][:2] == [
        (date(2026, 1, 1), date(2026, 4, 1)), (date(2026, 4, 1), date(2026, 7, 1))]

    qr = _sweep(c, fixed(2, "quarterly", "arrears"))
    assert list(qr) == [(2026, 3), (2026, 6), (2026, 9), (2026, 12), (2027, 3), (2027, 6), (2027, 9), (2027, 12)]
    assert qr[(2026, 3)].service_start == date(2026, 1, 1) and qr[(2026, 3)].service_end == date(2026, 4, 1)

    ya = _sweep(c, fixed(3, "yearly", "advance"))
    assert list(ya) == [(2025, 12), (2026, 12)]
    assert ya[(2026, 12)].service_start == date(2027, 1, 1)
    yr = _sweep(c, fixed(4, "yearly", "arrears"))
    assert list(yr) == [(2026, 12), (2027, 12)]
    assert yr[(2027, 12)].service_end == date(2028, 1, 1)

    for sweep in (qa, qr, ya, yr):
        assert all(ch.proration == 1 for ch in sweep.values())
        assert sum(ch.active_days for ch in sweep.values()) == (c.end_date - c.start_date).days

    ma = _sweep(c, fixed(5, "monthly", "advance"))
    mr = _sweep(c, fixed(6, "monthly", "arrears"))
    assert len(ma) == len(mr) == 24
    assert min(ma) == (2025, 12) and max(ma) == (2027, 11)
    assert min(mr) == (2026, 1) and max(mr) == (2027, 12)


def test_quarters_count_from_the_first_cycle_period_not_the_calendar():
    c = ContractSchedule(date(2026, 2, 20), anchor_day=15)  # first cycle period starts 15 Feb
    qa = _sweep(c, fixed(1, "quarterly", "advance"), start=(2026, 1), count=12)
    assert [(ch.service_start, ch.service_end) for ch in qa.values()] == [
        (date(2026, 2, 15), date(2026, 5, 15)), (date(2026, 5, 15), date(2026, 8, 15)),
        (date(2026, 8, 15), date(2026, 11, 15)), (date(2026, 11, 15), date(2027, 2, 15))]
    first = qa[(2026, 1)]
    assert (first.active_days, first.period_days) == (84, 89)  # 20 Feb – 15 May of 15 Feb – 15 May
    assert next(iter(qa)) == (2026, 1)


def test_quarterly_arrears_of_a_contract_ending_mid_quarter_bills_when_the_quarter_ends():
    c = ContractSchedule(date(2026, 1, 1), date(2026, 5, 16))
    qr = _sweep(c, fixed(1, "quarterly", "arrears"), start=(2025, 12), count=12)
    assert list(qr) == [(2026, 3), (2026, 6)]
    last = qr[(2026, 6)]
    assert (last.service_start, last.service_end) == (date(2026, 4, 1), date(2026, 7, 1))
    assert (last.active_days, last.period_days) == (45, 91)


def test_contract_end_prorates_the_last_period_and_stops_billing():
    c = ContractSchedule(date(2026, 1, 1), date(2026, 3, 21))
    lines = [fixed(1, timing="advance"), fixed(2, timing="arrears"), usage(3)]
    feb = run(c, lines, 2026, 2)  # D = 1 March
    adv = next(ch for ch in feb.charges if ch.line_id == 1)
    assert (adv.service_start, adv.active_end, adv.active_days) == (date(2026, 3, 1), date(2026, 3, 21), 20)
    assert amount(adv, "1000") == D("645.16")
    mar = run(c, lines, 2026, 3)
    assert [(ch.line_id, ch.kind, ch.active_days) for ch in mar.charges] == [(2, "arrears", 20), (3, "usage", 20)]
    assert mar.charges[1].windows == ((date(2026, 3, 1), date(2026, 3, 21)),)
    assert run(c, lines, 2026, 4).charges == ()


def test_contract_ending_on_a_boundary_has_no_advance_charge_after_it():
    c = ContractSchedule(date(2026, 1, 1), date(2026, 4, 1))
    assert line_charge(c, fixed(1), *run_period(1, 2026, 3)) is None
    assert line_charge(c, fixed(1), *run_period(1, 2026, 2)).proration == 1


def test_usage_lines_are_monthly_arrears_whatever_their_fields_say():
    c = ContractSchedule(date(2026, 1, 1))
    odd = LineSchedule(1, cadence="yearly", timing="advance", is_usage=True)
    got = _sweep(c, odd, start=(2025, 12), count=4)
    assert list(got) == [(2026, 1), (2026, 2), (2026, 3)]
    assert all(ch.kind == "usage" for ch in got.values())


def test_usage_of_a_mid_period_start_is_never_prorated_but_its_window_is_narrowed():
    c = ContractSchedule(date(2026, 1, 15))
    (ch,) = charges_for_run(c, [usage(1)], *run_period(1, 2026, 1))
    assert ch.proration == 1 and ch.proration_text == ""
    assert ch.prorate(D("123.45")) == D("123.45")
    assert ch.windows == ((date(2026, 1, 15), date(2026, 2, 1)),)
    assert ch.time_fraction == D(17) / D(31)


def test_invalid_lines_are_refused():
    with pytest.raises(ValueError):
        LineSchedule(1, cadence="weekly")
    with pytest.raises(ValueError):
        LineSchedule(1, timing="later")
    with pytest.raises(ValueError):
        LineSchedule(1, start_date=date(2026, 2, 1), end_date=date(2026, 2, 1))
    with pytest.raises(ValueError):
        ContractSchedule(date(2026, 2, 1), date(2026, 1, 1))


# --------------------------------------------------------------------------------------------- phases


def test_trial_three_months_at_zero_then_500():
    c = ContractSchedule(date(2026, 1, 1), date(2027, 1, 1))
    trial = fixed(1, start=date(2026, 1, 1), end=date(2026, 4, 1))
    main = fixed(2, start=date(2026, 4, 1))
    prices = {1: D("0"), 2: D("500")}
    billed = {}
    for y, m in months_from(2025, 12, 14):
        plan = run(c, [trial, main], y, m)
        billed[(y, m)] = [(ch.line_id, ch.service_start, amount(ch, prices[ch.line_id])) for ch in plan.charges]
    assert billed[(2025, 12)] == [(1, date(2026, 1, 1), D("0.00"))]
    assert billed[(2026, 1)] == [(1, date(2026, 2, 1), D("0.00"))]
    assert billed[(2026, 2)] == [(1, date(2026, 3, 1), D("0.00"))]
    assert billed[(2026, 3)] == [(2, date(2026, 4, 1), D("500.00"))]
    assert billed[(2026, 11)] == [(2, date(2026, 12, 1), D("500.00"))]
    assert billed[(2026, 12)] == [] and billed[(2027, 1)] == []
    assert sum(1 for v in billed.values() for ln, *_ in v if ln == 2) == 9


def test_mid_month_step_up_prorates_both_steps():
    c = ContractSchedule(date(2026, 1, 1))
    step1 = fixed(1, timing="arrears", end=date(2026, 4, 15))
    step2 = fixed(2, timing="arrears", start=date(2026, 4, 15))
    apr = {ch.line_id: ch for ch in run(c, [step1, step2], 2026, 4).charges}
    assert (apr[1].active_days, apr[2].active_days, apr[1].period_days) == (14, 16, 30)
    assert amount(apr[1], "1000") == D("466.67")
    assert amount(apr[2], "2000") == D("1066.67")
    assert apr[1].proration_text == "prorated 14/30 days"


def test_phase_outside_the_contract_bills_nothing():
    c = ContractSchedule(date(2026, 1, 1), date(2026, 6, 1))
    line = fixed(1, start=date(2026, 7, 1))
    assert _sweep(c, line, start=(2025, 12), count=12) == {}


# --------------------------------------------------------------------------------------------- pauses


def test_pause_inside_a_period_prorates_time_and_cuts_usage_windows():
    c = ContractSchedule(date(2026, 1, 1), pauses=[{"start": "2026-03-10", "end": "2026-03-20"}])
    mar = {ch.line_id: ch for ch in run(c, [fixed(1, timing="arrears"), usage(2)], 2026, 3).charges}
    assert (mar[1].active_days, mar[1].period_days) == (21, 31)
    assert mar[1].proration_text == "prorated 21/31 days"
    assert amount(mar[1], "1000") == D("677.42")
    windows = ((date(2026, 3, 1), date(2026, 3, 10)), (date(2026, 3, 20), date(2026, 4, 1)))
    assert mar[1].windows == mar[2].windows == windows
    assert (mar[2].active_start, mar[2].active_end) == (date(2026, 3, 1), date(2026, 4, 1))
    assert mar[2].proration == 1


def test_pause_covering_a_whole_period_bills_nothing_for_it():
    c = ContractSchedule(date(2026, 1, 1), pauses=[(date(2026, 4, 1), date(2026, 5, 1))])
    lines = [fixed(1, timing="advance"), fixed(2, timing="arrears"), usage(3)]
    mar = run(c, lines, 2026, 3)  # D = 1 April: April advance (paused), March arrears + usage
    assert [(ch.line_id, ch.kind) for ch in mar.charges] == [(2, "arrears"), (3, "usage")]
    apr = run(c, lines, 2026, 4)  # D = 1 May: May advance; April arrears + usage (paused)
    assert [(ch.line_id, ch.kind) for ch in apr.charges] == [(1, "advance")]


def test_open_ended_pause_stops_everything_after_it():
    c = ContractSchedule(date(2026, 1, 1), pauses=[{"start": date(2026, 2, 15), "end": None}])
    lines = [fixed(1, timing="arrears"), usage(2)]
    feb = run(c, lines, 2026, 2)
    assert [ch.active_days for ch in feb.charges] == [14, 14]
    assert run(c, lines, 2026, 3).charges == ()


def test_overlapping_pauses_do_not_double_count():
    c = ContractSchedule(date(2026, 1, 1), pauses=[("2026-03-05", "2026-03-15"), ("2026-03-10", "2026-03-20")])
    (ch,) = run(c, [fixed(1, timing="arrears")], 2026, 3).charges
    assert ch.active_days == 31 - 15


def test_parse_pauses_validates_and_sorts():
    assert parse_pauses([{"start": "2026-05-01", "end": "2026-06-01"}, ("2026-01-01", None)]) == (
        (date(2026, 1, 1), None), (date(2026, 5, 1), date(2026, 6, 1)))
    with pytest.raises(ValueError, match="pause 1"):
        parse_pauses([{"start": "2026-05-01", "end": "2026-04-01"}])
    with pytest.raises(ValueError, match="not a date"):
        parse_pauses([{"start": "soon", "end": None}])
    with pytest.raises(ValueError, match="start date is required"):
        parse_pauses([{"end": "2026-04-01"}])


def test_active_windows_without_a_line_is_the_contract_window():
    c = ContractSchedule(date(2026, 1, 10), date(2026, 1, 20))
    assert active_windows(c, None, date(2026, 1, 1), date(2026, 2, 1)) == ((date(2026, 1, 10), date(2026, 1, 20)),)


# --------------------------------------------------------------------------------------------- from rows


def test_schedules_from_orm_like_rows():
    row = SimpleNamespace(start_date=date(2026, 1, 1), end_date=None, billing_anchor_day=15,
                          pauses=[{"start": "2026-02-01", "end": "2026-02-10"}])
    c = ContractSchedule.from_contract(row)
    assert c.anchor_day == 15 and c.pauses == ((date(2026, 2, 1), date(2026, 2, 10)),)
    ln = LineSchedule.from_line(SimpleNamespace(id=3, cadence="quarterly", timing="advance", metric_id=None,
                                                start_date=None, end_date=None))
    assert ln == LineSchedule(3, "quarterly", "advance", False)
    u = LineSchedule.from_line(SimpleNamespace(id=4, cadence="monthly", timing="arrears", metric_id=12,
                                               start_date=None, end_date=None))
    assert u.is_usage
    terms_like = SimpleNamespace(id=5, cadence="monthly", timing="arrears", metric_code="api_calls")
    assert LineSchedule.from_line(terms_like).is_usage


# --------------------------------------------------------------------------------------------- credits


def test_upgrade_halfway_stripe_example():
    """$10 → $20 halfway through a 30-day period → −$5 + $10 = +$5 (Stripe's example)."""
    adj = upgrade_adjustment(D("10"), D("20"), date(2026, 4, 1), date(2026, 5, 1), date(2026, 4, 16), "USD")
    assert adj.credit.amount == D("5.00") and adj.charge.amount == D("10.00") and adj.net == D("5.00")
    assert adj.credit.text == "unused 15/30 days of $10.00"
    assert adj.charge.text == "prorated 15/30 days of $20.00"


def test_upgrade_mid_march():
    adj = upgrade_adjustment(D("1000"), D("1500"), date(2026, 3, 1), date(2026, 4, 1), date(2026, 3, 21), "USD")
    assert adj.credit.amount == D("354.84")
    assert adj.charge.amount == D("532.26")  # 1,500 × 11/31 = 532.258…
    assert adj.net == D("177.42")


def test_upgrade_date_must_be_inside_the_period():
    with pytest.raises(ValueError):
        upgrade_adjustment(D("1"), D("2"), date(2026, 3, 1), date(2026, 4, 1), date(2026, 4, 2), "USD")


def test_prepaid_credit_edge_cases():
    full = prepaid_credit(D("1000"), date(2026, 3, 1), date(2026, 4, 1), date(2026, 3, 1), "USD")
    assert full.amount == D("1000.00") and full.text == "unused 31/31 days of $1,000.00"
    none = prepaid_credit(D("1000"), date(2026, 3, 1), date(2026, 4, 1), date(2026, 4, 1), "USD")
    assert none.amount == D("0.00")
    paused = prepaid_credit(D("1000"), date(2026, 3, 1), date(2026, 4, 1), date(2026, 3, 10), "USD",
                            until=date(2026, 3, 20))
    assert (paused.days, paused.amount) == (10, D("322.58"))
    yen = prepaid_credit(D("10000"), date(2026, 3, 1), date(2026, 4, 1), date(2026, 3, 21), "JPY")
    assert yen.amount == D("3548") and yen.text == "unused 11/31 days of ¥10,000"


# --------------------------------------------------------------------------------------------- renewal


def test_renewal_same_length_starting_on_the_old_end():
    r = renewal_terms(date(2026, 1, 1), 12, "same_terms")
    assert (r.start_date, r.end_date, r.term_months, r.policy) == (date(2026, 1, 1), date(2027, 1, 1), 12, "same_terms")
    assert r.keeps_customer_prices
    lp = renewal_terms(date(2026, 1, 1), 12, "list_prices")
    assert lp.policy == "list_prices" and not lp.keeps_customer_prices
    assert renewal_terms(date(2026, 1, 1), 12, "none") is None


def test_renewal_term_from_dates_when_months_are_missing():
    r = renewal_terms(date(2026, 4, 15), None, "same_terms", contract_start=date(2026, 1, 15))
    assert (r.term_months, r.end_date) == (3, date(2026, 7, 15))
    d = renewal_terms(date(2026, 2, 15), None, "same_terms", contract_start=date(2026, 1, 1))
    assert (d.term_months, d.term_days, d.end_date) == (None, 45, date(2026, 4, 1))
    assert term_length_months(date(2026, 1, 31), date(2026, 2, 28)) == 1
    with pytest.raises(ValueError):
        renewal_terms(date(2026, 4, 15), None, "same_terms")
    with pytest.raises(ValueError):
        renewal_terms(date(2026, 4, 15), 12, "sometimes")
    with pytest.raises(ValueError):
        renewal_terms(date(2026, 4, 15), 0, "same_terms")


def test_contracts_due_for_renewal():
    rows = [
        SimpleNamespace(id=1, end_date=date(2026, 1, 1), renewal_policy="same_terms", status="active"),
        SimpleNamespace(id=2, end_date=date(2026, 1, 1), renewal_policy="none", status="active"),
        SimpleNamespace(id=3, end_date=date(2026, 1, 2), renewal_policy="list_prices", status="active"),
        SimpleNamespace(id=4, end_date=None, renewal_policy="same_terms", status="active"),
        SimpleNamespace(id=5, end_date=date(2025, 12, 1), renewal_policy="list_prices", status="ended"),
        SimpleNamespace(id=6, end_date=date(2025, 12, 1), renewal_policy="same_terms", status="draft"),
        SimpleNamespace(id=7, end_date=date(2025, 11, 1), renewal_policy="same_terms", status="ended"),
    ]
    assert [c.id for c in due_for_renewal(rows, date(2026, 1, 1))] == [1]
    assert [c.id for c in due_for_renewal(rows, date(2026, 1, 2), already_renewed=[1])] == [3]
    rows.append(SimpleNamespace(id=8, end_date=date(2025, 12, 1), renewal_policy="same_terms", status="active"))
    assert [c.id for c in due_for_renewal(rows, date(2026, 1, 1), already_renewed=[8])] == [1]
    assert [c.id for c in due_for_renewal(rows, date(2026, 1, 1))] == [1, 8]  # a missed day is caught up
    assert is_due_for_renewal(date(2026, 1, 1), "same_terms", date(2026, 1, 1))
    assert not is_due_for_renewal(date(2026, 1, 2), "same_terms", date(2026, 1, 1))


# --------------------------------------------------------------------------------------------- time zones


def test_utc_period_is_identity():
    assert period_bounds_utc(date(2026, 3, 1), date(2026, 4, 1), "UTC") == (dt(2026, 3, 1), dt(2026, 4, 1))


def test_new_york_month_across_spring_forward():
    start, end = period_bounds_utc(date(2026, 3, 1), date(2026, 4, 1), "America/New_York")
    assert (start, end) == (dt(2026, 3, 1, 5), dt(2026, 4, 1, 4))  # EST then EDT
    assert start.tzinfo is None and end.tzinfo is None
    assert (end - start).total_seconds() == 31 * 86400 - 3600


def test_new_york_dst_days_are_23_and_25_hours():
    s, e = period_bounds_utc(date(2026, 3, 8), date(2026, 3, 9), "America/New_York")
    assert (s, e) == (dt(2026, 3, 8, 5), dt(2026, 3, 9, 4))
    s, e = period_bounds_utc(date(2026, 11, 1), date(2026, 11, 2), "America/New_York")
    assert (s, e) == (dt(2026, 11, 1, 4), dt(2026, 11, 2, 5))
    assert (e - s).total_seconds() == 25 * 3600


def test_berlin_dst_boundaries():
    s, e = period_bounds_utc(date(2026, 3, 1), date(2026, 4, 1), "Europe/Berlin")
    assert (s, e) == (dt(2026, 2, 28, 23), dt(2026, 3, 31, 22))  # CET then CEST
    s, e = period_bounds_utc(date(2026, 3, 29), date(2026, 3, 30), "Europe/Berlin")
    assert (e - s).total_seconds() == 23 * 3600
    s, e = period_bounds_utc(date(2026, 10, 1), date(2026, 11, 1), "Europe/Berlin")
    assert (s, e) == (dt(2026, 9, 30, 22), dt(2026, 10, 31, 23))
    s, e = period_bounds_utc(date(2026, 10, 25), date(2026, 10, 26), "Europe/Berlin")
    assert (e - s).total_seconds() == 25 * 3600


def test_midnight_in_a_dst_gap_starts_the_day_when_it_really_begins():
    # Havana springs forward at 00:00 → 01:00 on 8 March 2026: the day begins at 01:00 CDT = 05:00 UTC.
    assert local_midnight_utc(date(2026, 3, 8), "America/Havana") == dt(2026, 3, 8, 5)
    # and the previous day's end is the same instant (periods tile)
    assert period_bounds_utc(date(2026, 3, 7), date(2026, 3, 8), "America/Havana")[1] == dt(2026, 3, 8, 5)


def test_unknown_time_zone_is_a_clear_error():
    with pytest.raises(ValueError, match="not a time zone"):
        period_bounds_utc(date(2026, 3, 1), date(2026, 4, 1), "Mars/Olympus")
    with pytest.raises(ValueError):
        period_bounds_utc(date(2026, 4, 1), date(2026, 3, 1), "UTC")


def test_customer_zone_wins_over_the_entity_zone():
    assert billing_timezone("America/New_York", "Europe/Berlin") == "America/New_York"
    assert billing_timezone("", "Europe/Berlin") == "Europe/Berlin"
    assert billing_timezone(None, "  ") == "UTC"
