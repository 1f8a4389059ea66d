"""Time rules: billing cycles, runs, which charge lands on which invoice, proration, credits, renewal,
time-zone boundaries. PURE: values in, values out (no database, no I/O, no clock).

Dates are ``datetime.date``; every period is half-open ``[start, end)`` (the UI shows ``end - 1 day``).

The billing model (spec section 3; decided by the lead)
-------------------------------------------------------

**Cycle.** A contract has a monthly billing cycle anchored on ``anchor_day`` (1–28, so every month has it):
cycle periods run ``[anchor day of month M, anchor day of month M+1)``. :func:`cycle_period` gives the cycle
period containing a date. The contract's *first cycle period* is the one containing its start date; its
start ``F`` (:func:`first_cycle_start`) is the origin every cadence counts from.

**Run.** "The billing run for month M" means, for each contract, the cycle period that STARTS in month M,
called ``P`` (:func:`run_period`). Its invoice is dated at ``P``'s end, the boundary ``D = P.end``
(:func:`invoice_date`; never before the contract start: ``max(D, contract start)``).

**What the run for P bills** (:func:`charges_for_run`), at most one charge per line:

- ``usage``   — every usage line, always monthly and in arrears, whatever its cadence/timing fields say:
  service period ``P`` itself. Never prorated (``proration`` is 1); the caller counts only events inside
  ``Charge.windows`` (the active windows, pauses cut out) — see :func:`period_bounds_utc`.
- ``arrears`` — a fixed arrears line of cadence ``c`` (1, 3 or 12 months) when one of its ``c``-periods ENDS
  at ``D``: service period ``[D - c, D)``.
- ``advance`` — a fixed advance line of cadence ``c`` when one of its ``c``-periods STARTS at ``D``: service
  period ``[D, D + c)`` (the next period).
- ``one_time`` — billed once, in full, whatever its timing, on the first invoice that covers the line:
  the run whose ``D`` is the start of the cycle period containing the line's effective start
  (``max(contract start, line start)``) — for a line without a phase window that is the contract's first
  invoice, the same run as the first advance period. Pauses do not affect it.

``c``-periods are counted from ``F`` (anchor-aligned) every 1/3/12 months: a quarterly line of a contract
whose first cycle period starts on 15 Jan has quarters starting 15 Jan, 15 Apr, 15 Jul, 15 Oct.

**First advance period.** The run for the month BEFORE the contract's first cycle period (``D == F``) bills
the advance charges for that first period (:func:`first_advance_run`); its invoice is dated
``max(F, contract start)``. A contract starting 1 Jan 2026 with $500/month in advance: the run for December
2025 bills January's $500 (dated 1 Jan 2026); the run for January bills February's $500 plus January's usage.

Prepaid commitment with postpaid overages (spec, Z): the run for March (``P = [1 Mar, 1 Apr)``, dated 1 April)
carries the April advance charge ($850) and March's usage (6 × $34 overage) = $1,054.

**Active window and proration.** A charge's active days are its service period intersected with the contract
window ``[start, end)``, the line's phase window ``[start_date, end_date)`` (trial, ramp step; ``None`` = the
contract's own bounds) and with the pauses cut out. Time-based recurring lines are prorated by days:
``amount × active days / days in the service period`` (start day counts, the exclusive end day does not).
$1,000/month starting 15 January, anchor 1 → 1,000 × 17/31 = $548.39. A charge with no active day is not
produced. Usage and one-time charges are never prorated.

Charges are computed from what the contract says NOW. When an end, pause or upgrade is entered after an
advance period was already invoiced, the caller issues the difference with :func:`prepaid_credit` /
:func:`upgrade_adjustment` (credit note for unused days: $1,000 prepaid for March, ended effective 21 March →
11/31 unused → $354.84).

**Renewal** (:func:`renewal_terms`, :func:`due_for_renewal`): the new term starts the day the old one ends
(the exclusive end date), with the same length; policy ``none`` | ``same_terms`` | ``list_prices``.

**Time zones** (:func:`period_bounds_utc`): ``[start, end)`` local midnights → naive UTC datetimes for usage
aggregation, in the customer's zone if set, else the business entity's (:func:`billing_timezone`).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.billing.periods import CADENCES, add_months
from core.money import ONE, format_money, round_money, to_decimal

KINDS = ("advance", "arrears", "one_time", "usage")
TIMINGS = ("advance", "arrears")
RENEWAL_POLICIES = ("none", "same_terms", "list_prices")

Window = tuple[date, date]  # half-open [start, end)


# --------------------------------------------------------------------------------------------- values


def _as_date(value: object, what: str) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{what}: '{value}' is not a date (write it as YYYY-MM-DD)") from None


def parse_pauses(pauses: Iterable[object] | None) -> tuple[tuple[date, date | None], ...]:
    """``[{"start": ..., "end": ...}]`` (dates or ISO strings, as stored in ``Contract.pauses``) or
    ``[(start, end)]`` → a sorted tuple of ``(start, end)``; ``end`` is exclusive, ``None`` = open-ended."""
    out: list[tuple[date, date | None]] = []
    for i, p in enumerate(pauses or (), start=1):
        if isinstance(p, Mapping):
            start, end = p.get("start"), p.get("end")
        else:
            start, end = p  # type: ignore[misc]
        s = _as_date(start, f"pause {i} start")
        e = _as_date(end, f"pause {i} end")
        if s is None:
            raise ValueError(f"pause {i}: a start date is required")
        if e is not None and e <= s:
            raise ValueError(f"pause {i}: the end must be after the start")
        out.append((s, e))
    return tuple(sorted(out, key=lambda w: w[0]))


@dataclass(frozen=True)
class ContractSchedule:
    """The time facts of a contract. ``end_date`` is exclusive (None = open-ended); ``pauses`` as
    :func:`parse_pauses` returns them (dicts / ISO strings are accepted and normalised)."""

    start_date: date
    end_date: date | None = None
    anchor_day: int = 1
    pauses: tuple[tuple[date, date | None], ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.anchor_day, bool) or not isinstance(self.anchor_day, int) \
                or not 1 <= self.anchor_day <= 28:
            raise ValueError(f"billing day: {self.anchor_day!r} is not a day between 1 and 28")
        if self.end_date is not None and self.end_date <= self.start_date:
            raise ValueError("the contract must end after it starts")
        object.__setattr__(self, "pauses", parse_pauses(self.pauses))

    @classmethod
    def from_contract(cls, contract: object) -> ContractSchedule:
        """From anything with ``start_date``, ``end_date``, ``billing_anchor_day``, ``pauses`` (the ORM row)."""
        return cls(start_date=contract.start_date, end_date=getattr(contract, "end_date", None),
                   anchor_day=int(getattr(contract, "billing_anchor_day", 1) or 1),
                   pauses=parse_pauses(getattr(contract, "pauses", None)))


@dataclass(frozen=True)
class LineSchedule:
    """The time facts of a contract line. ``start_date``/``end_date`` is the phase window (exclusive end;
    None = the contract's own bounds). Usage lines ignore cadence and timing (always monthly, in arrears)."""

    id: int | None
    cadence: str = "monthly"  # monthly | quarterly | yearly | one_time
    timing: str = "arrears"  # advance | arrears
    is_usage: bool = False
    start_date: date | None = None
    end_date: date | None = None

    def __post_init__(self) -> None:
        if not self.is_usage:
            if self.cadence not in CADENCES:
                raise ValueError(f"line {self.id}: cadence must be one of {', '.join(CADENCES)}")
            if self.timing not in TIMINGS:
                raise ValueError(f"line {self.id}: timing must be 'advance' or 'arrears'")
        if self.start_date is not None and self.end_date is not None and self.end_date <= self.start_date:
            raise ValueError(f"line {self.id}: the phase must end after it starts")

    @classmethod
    def from_line(cls, line: object) -> LineSchedule:
        """From a ``ContractLine`` row (usage when ``metric_id`` is set) or a ``LineTerms`` (``metric_code``)."""
        usage = getattr(line, "metric_id", None) is not None or bool(getattr(line, "metric_code", None))
        return cls(id=getattr(line, "id", None), cadence=getattr(line, "cadence", "monthly") or "monthly",
                   timing=getattr(line, "timing", "arrears") or "arrears", is_usage=usage,
                   start_date=getattr(line, "start_date", None), end_date=getattr(line, "end_date", None))


@dataclass(frozen=True)
class Charge:
    """One line's charge on one run's invoice.

    ``service_start``/``service_end``: the line's service period (a cycle period for usage, a cadence period
    for fixed lines, the cycle period containing the line's effective start for one-time lines).
    ``active_start``/``active_end``: the active part (contract window ∩ phase window, minus pauses) — its
    first day and its exclusive end; when a pause cuts a hole in it, ``windows`` lists the pieces.
    ``proration``: active days / service days for advance and arrears charges; exactly 1 for usage and
    one-time charges. ``proration_text``: "prorated 17/31 days", or "" when nothing is prorated.
    """

    line_id: int | None
    kind: str  # advance | arrears | one_time | usage
    service_start: date
    service_end: date
    active_start: date
    active_end: date
    proration: Decimal
    proration_text: str
    active_days: int
    period_days: int
    windows: tuple[Window, ...] = field(default=())

    @property
    def time_fraction(self) -> Decimal:
        """active days / service days for every kind (e.g. to prorate a usage line's minimum commitment)."""
        return Decimal(self.active_days) / Decimal(self.period_days)

    def prorate(self, amount: Decimal) -> Decimal:
        """The precise (unrounded) amount to bill: ``amount × active days / period days`` for time-based
        charges, ``amount`` unchanged for usage and one-time. Round it once with ``round_money``."""
        if self.kind in ("usage", "one_time") or self.active_days == self.period_days:
            return amount
        return amount * Decimal(self.active_days) / Decimal(self.period_days)


@dataclass(frozen=True)
class RunPlan:
    """Everything the caller needs for one contract in one run."""

    run_start: date
    run_end: date
    invoice_date: date
    charges: tuple[Charge, ...]


# --------------------------------------------------------------------------------------------- cycles


def _check_anchor(anchor_day: int) -> None:
    if isinstance(anchor_day, bool) or not isinstance(anchor_day, int) or not 1 <= anchor_day <= 28:
        raise ValueError(f"billing day: {anchor_day!r} is not a day between 1 and 28")


def cycle_period(anchor_day: int, on: date) -> Window:
    """The monthly cycle period ``[start, end)`` containing ``on``: start is the last anchor day ≤ ``on``."""
    _check_anchor(anchor_day)
    start = on.replace(day=anchor_day) if on.day >= anchor_day else add_months(on.replace(day=anchor_day), -1)
    return start, add_months(start, 1)


def run_period(anchor_day: int, year: int, month: int) -> Window:
    """The cycle period P that starts in month ``year-month`` (the run for that month): ``(P.start, P.end)``."""
    _check_anchor(anchor_day)
    start = date(year, month, anchor_day)
    return start, add_months(start, 1)


def first_cycle_start(contract: ContractSchedule) -> date:
    """F: the start of the contract's first cycle period (the one containing its start date)."""
    return cycle_period(contract.anchor_day, contract.start_date)[0]


def first_advance_run(contract: ContractSchedule) -> tuple[int, int]:
    """(year, month) of the run that bills the first advance period: the month before the first cycle
    period, whose run ends at F. Its invoice is dated ``max(F, contract start)``."""
    before = add_months(first_cycle_start(contract), -1)
    return before.year, before.month


def invoice_date(contract: ContractSchedule, run_start: date, run_end: date) -> date:
    """The date of the run's invoice: the boundary D = run_end, never before the contract starts."""
    _check_run(contract, run_start, run_end)
    return max(run_end, contract.start_date)


def _check_run(contract: ContractSchedule, run_start: date, run_end: date) -> None:
    if run_start.day != contract.anchor_day or run_end != add_months(run_start, 1):
        raise ValueError(f"[{run_start}, {run_end}) is not a billing period of a contract billed on day "
                         f"{contract.anchor_day}; use run_period()")


def _months_between(a: date, b: date) -> int:
    """Whole months from a to b for two dates on the same day of the month."""
    return (b.year - a.year) * 12 + (b.month - a.month)


# --------------------------------------------------------------------------------------------- windows


def _intersect(a: Window, start: date | None, end: date | None) -> Window | None:
    s = a[0] if start is None else max(a[0], start)
    e = a[1] if end is None else min(a[1], end)
    return (s, e) if s < e else None


def _subtract(windows: list[Window], hole_start: date, hole_end: date | None) -> list[Window]:
    out: list[Window] = []
    for s, e in windows:
        he = e if hole_end is None else hole_end
        if he <= s or hole_start >= e:
            out.append((s, e))
            continue
        if s < hole_start:
            out.append((s, hole_start))
        if he < e:
            out.append((he, e))
    return out


def active_windows(contract: ContractSchedule, line: LineSchedule | None, start: date, end: date, *,
                   pauses: bool = True) -> tuple[Window, ...]:
    """The parts of ``[start, end)`` in which the line is billable: inside the contract window and the line's
    phase window, outside every pause (unless ``pauses=False``). Sorted, disjoint, half-open."""
    w = _intersect((start, end), contract.start_date, contract.end_date)
    if w is not None and line is not None:
        w = _intersect(w, line.start_date, line.end_date)
    if w is None:
        return ()
    parts = [w]
    if pauses:
        for ps, pe in contract.pauses:
            parts = _subtract(parts, ps, pe)
    return tuple(parts)


def _days(windows: Iterable[Window]) -> int:
    return sum((e - s).days for s, e in windows)


def proration_text(active_days: int, period_days: int) -> str:
    return "" if active_days >= period_days else f"prorated {active_days}/{period_days} days"


def _charge(contract: ContractSchedule, line: LineSchedule, kind: str, service: Window, *,
            pauses: bool = True) -> Charge | None:
    windows = active_windows(contract, line, service[0], service[1], pauses=pauses)
    active = _days(windows)
    if active == 0:
        return None
    total = (service[1] - service[0]).days
    if kind in ("usage", "one_time"):
        prorated, text = ONE, ""
    else:
        prorated = ONE if active == total else Decimal(active) / Decimal(total)
        text = proration_text(active, total)
    return Charge(line.id, kind, service[0], service[1], windows[0][0], windows[-1][1], prorated, text,
                  active, total, windows)


# --------------------------------------------------------------------------------------------- runs


def line_charge(contract: ContractSchedule, line: LineSchedule, run_start: date, run_end: date) -> Charge | None:
    """The charge ``line`` puts on the invoice of the run ``[run_start, run_end)``, or None."""
    _check_run(contract, run_start, run_end)
    boundary = run_end
    if line.is_usage:
        return _charge(contract, line, "usage", (run_start, run_end))
    origin = first_cycle_start(contract)
    if line.cadence == "one_time":
        effective = max(contract.start_date, line.start_date or contract.start_date)
        first = cycle_period(contract.anchor_day, effective)
        if first[0] != boundary:
            return None
        return _charge(contract, line, "one_time", first, pauses=False)
    months = CADENCES[line.cadence]
    k = _months_between(origin, boundary)
    if k % months != 0:
        return None
    if line.timing == "arrears":
        if k < months:
            return None
        return _charge(contract, line, "arrears", (add_months(boundary, -months), boundary))
    if k < 0:
        return None
    return _charge(contract, line, "advance", (boundary, add_months(boundary, months)))


def charges_for_run(contract: ContractSchedule, lines: Iterable[LineSchedule], run_start: date,
                    run_end: date) -> list[Charge]:
    """Every charge on the run's invoice, in line order (at most one per line). Empty: no invoice."""
    _check_run(contract, run_start, run_end)
    out: list[Charge] = []
    for line in lines:
        c = line_charge(contract, line, run_start, run_end)
        if c is not None:
            out.append(c)
    return out


def plan_run(contract: ContractSchedule, lines: Iterable[LineSchedule], year: int, month: int) -> RunPlan:
    """Convenience: the run for ``year-month`` — its period, invoice date and charges."""
    start, end = run_period(contract.anchor_day, year, month)
    return RunPlan(start, end, invoice_date(contract, start, end), tuple(charges_for_run(contract, lines, start, end)))


# --------------------------------------------------------------------------------------------- credits


@dataclass(frozen=True)
class Adjustment:
    """A prorated part of a period's amount: ``amount`` rounded once (half-up), ``precise`` unrounded."""

    amount: Decimal
    precise: Decimal
    days: int
    period_days: int
    text: str


def _period_part(amount: Decimal, period_start: date, period_end: date, part_start: date, part_end: date,
                 currency: str, word: str) -> Adjustment:
    amount = to_decimal(amount, field="amount")
    if period_end <= period_start:
        raise ValueError("the period must end after it starts")
    total = (period_end - period_start).days
    days = max(0, (min(part_end, period_end) - max(part_start, period_start)).days)
    precise = amount * Decimal(days) / Decimal(total)
    text = f"{word} {days}/{total} days of {format_money(amount, currency)}"
    return Adjustment(round_money(precise, currency), precise, days, total, text)


def prepaid_credit(amount: Decimal, period_start: date, period_end: date, effective_end: date, currency: str, *,
                   until: date | None = None) -> Adjustment:
    """Credit for the unused days of a prepaid (advance) charge of ``amount`` for ``[period_start, period_end)``
    ended (cancelled, paused, replaced) from ``effective_end`` (the first unused day; exclusive end of use)
    until ``until`` (default: the period end). Positive amount = credit note amount.
    $1,000 for March, effective 21 March → "unused 11/31 days of $1,000.00" → $354.84."""
    return _period_part(amount, period_start, period_end, effective_end, until or period_end, currency, "unused")


@dataclass(frozen=True)
class UpgradeAdjustment:
    credit: Adjustment  # unused part of the old prepaid line (credit note)
    charge: Adjustment  # the new line for the rest of the period (invoice line)

    @property
    def net(self) -> Decimal:
        """charge − credit (positive: the customer owes more)."""
        return self.charge.amount - self.credit.amount


def upgrade_adjustment(old_amount: Decimal, new_amount: Decimal, period_start: date, period_end: date,
                       change_date: date, currency: str) -> UpgradeAdjustment:
    """A prepaid line replaced by another from ``change_date`` inside an already-invoiced period: credit for
    the unused part of the old line + prorated charge of the new one for the rest of the period.
    $10 → $20 halfway through a 30-day period → credit $5, charge $10, net +$5."""
    if not period_start <= change_date <= period_end:
        raise ValueError(f"the change date {change_date} is outside the period [{period_start}, {period_end})")
    credit = _period_part(old_amount, period_start, period_end, change_date, period_end, currency, "unused")
    charge = _period_part(new_amount, period_start, period_end, change_date, period_end, currency, "prorated")
    return UpgradeAdjustment(credit, charge)


# --------------------------------------------------------------------------------------------- renewal


@dataclass(frozen=True)
class RenewalTerms:
    """The renewed contract: ``[start_date, end_date)``; ``policy`` says what the caller copies:
    ``same_terms`` — the old lines, prices, discounts; ``list_prices`` — the plan's current list prices."""

    start_date: date
    end_date: date
    term_months: int | None
    term_days: int | None
    policy: str

    @property
    def keeps_customer_prices(self) -> bool:
        return self.policy == "same_terms"


def term_length_months(start: date, end: date) -> int | None:
    """Whole months from start to (exclusive) end, or None when it is not a whole number of months."""
    k = _months_between(start, end)
    return k if k > 0 and add_months(start, k) == end else None


def renewal_terms(contract_end: date, term_months: int | None, policy: str, *,
                  contract_start: date | None = None) -> RenewalTerms | None:
    """The next term: starts on ``contract_end`` (the old exclusive end), same length. None for policy
    ``none``. Without ``term_months`` the length is taken from ``contract_start`` (whole months if it is,
    else the same number of days)."""
    if policy not in RENEWAL_POLICIES:
        raise ValueError(f"renewal: policy must be one of {', '.join(RENEWAL_POLICIES)}")
    if policy == "none":
        return None
    if term_months is not None:
        if isinstance(term_months, bool) or int(term_months) < 1:
            raise ValueError("renewal: the term must be at least one month")
        return RenewalTerms(contract_end, add_months(contract_end, int(term_months)), int(term_months), None,
                            policy)
    if contract_start is None or contract_start >= contract_end:
        raise ValueError("renewal: a contract that renews needs a term length (months) or its start date")
    months = term_length_months(contract_start, contract_end)
    if months is not None:
        return RenewalTerms(contract_end, add_months(contract_end, months), months, None, policy)
    days = (contract_end - contract_start).days
    return RenewalTerms(contract_end, contract_end + timedelta(days=days), None, days, policy)


def is_due_for_renewal(end_date: date | None, policy: str, on: date, *, status: str = "active") -> bool:
    """A contract is due for renewal on ``on`` when it renews (policy ≠ none), is active (not a draft, not
    already ended) and its term has ended by then (``end_date <= on``: a missed day is caught up — skip the
    ones already renewed)."""
    return policy in ("same_terms", "list_prices") and end_date is not None and end_date <= on \
        and status == "active"


def due_for_renewal(contracts: Iterable[object], on: date, *, already_renewed: Iterable[int] = ()) -> list:
    """The contracts (anything with ``id``, ``end_date``, ``renewal_policy``, optional ``status``) due for
    renewal on ``on``, minus ``already_renewed`` ids (those some contract's ``renewed_from_id`` points to)."""
    done = set(already_renewed)
    return [c for c in contracts
            if getattr(c, "id", None) not in done
            and is_due_for_renewal(getattr(c, "end_date", None), getattr(c, "renewal_policy", "none"), on,
                                   status=getattr(c, "status", "active") or "active")]


# --------------------------------------------------------------------------------------------- time zones


def billing_timezone(customer_tz: str | None, entity_tz: str | None, default: str = "UTC") -> str:
    """The zone that draws period boundaries: the customer's if set, else the business entity's."""
    for tz in (customer_tz, entity_tz):
        if tz and str(tz).strip():
            return str(tz).strip()
    return default


def _zone(tz_name: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(tz_name).strip())
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"'{tz_name}' is not a time zone (use a name such as Europe/Berlin or UTC)") from None


def local_midnight_utc(day: date, tz_name: str) -> datetime:
    """The first instant of ``day`` in ``tz_name``, as a naive UTC datetime. If midnight does not exist
    (a DST gap at 00:00) this is the instant the day begins; if it happens twice, the first one."""
    zone = _zone(tz_name)
    local = datetime(day.year, day.month, day.day, tzinfo=zone)  # fold=0: the earlier offset
    return local.astimezone(UTC).replace(tzinfo=None)


def period_bounds_utc(start: date, end: date, tz_name: str) -> tuple[datetime, datetime]:
    """``[start, end)`` local midnights in ``tz_name`` → (naive UTC start, naive UTC end), DST-correct.
    Events with ``utc_start <= timestamp < utc_end`` belong to the period; adjacent periods tile exactly."""
    if end < start:
        raise ValueError("the period must not end before it starts")
    return local_midnight_utc(start, tz_name), local_midnight_utc(end, tz_name)


__all__ = [
    "KINDS", "RENEWAL_POLICIES", "Adjustment", "Charge", "ContractSchedule", "LineSchedule", "RenewalTerms",
    "RunPlan", "UpgradeAdjustment", "active_windows", "billing_timezone", "charges_for_run",
    "cycle_period", "due_for_renewal", "first_advance_run", "first_cycle_start", "invoice_date",
    "is_due_for_renewal", "line_charge", "local_midnight_utc", "parse_pauses", "period_bounds_utc",
    "plan_run", "prepaid_credit", "proration_text", "renewal_terms", "run_period", "term_length_months",
    "upgrade_adjustment",
]
