"""Contract + usage + period -> invoice lines. Pure: values in, values out, no database.

Order for one line (spec section 2): free units -> pricing model -> (modifiers come with the contract work)
-> one rounding per shown amount. Time-based recurring lines are prorated by days; usage never is.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from core import pricing
from core.billing.periods import CADENCES, cadence_period, format_period, overlap_days
from core.money import ZERO, format_money, format_number, round_money
from core.pricing.base import Usage


@dataclass(frozen=True)
class LineTerms:
    """The parts of a contract line that pricing needs (a snapshot, not the ORM row)."""

    id: int | None
    description: str
    pricing_model: str
    params: dict
    cadence: str = "monthly"
    timing: str = "arrears"
    metric_code: str | None = None  # None: a fixed (time-based) line
    fixed_quantity: Decimal | None = None
    free_units: Decimal = ZERO
    unit_name: str = "unit"


@dataclass(frozen=True)
class ContractTerms:
    id: int | None
    currency: str
    start_date: date
    end_date: date | None  # exclusive
    lines: tuple[LineTerms, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class DraftLine:
    contract_line_id: int | None
    kind: str
    description: str
    quantity: Decimal
    amount: Decimal  # rounded once, to the currency's minor unit
    breakdown: str
    period_start: date
    period_end: date
    sort_order: int


@dataclass(frozen=True)
class DraftInvoice:
    lines: tuple[DraftLine, ...]
    subtotal: Decimal
    tax: Decimal
    total: Decimal


def _usage_line(line: LineTerms, usage: Usage, currency: str, start: date, end: date, order: int) -> DraftLine:
    used = usage.quantity
    billed = pricing.apply_free_units(usage, line.free_units) if line.free_units > 0 else usage
    result = pricing.price(line.pricing_model, line.params, billed, currency)
    amount = round_money(result.amount, currency)
    parts = []
    if line.free_units > 0:
        parts.append(f"{format_number(used)} used − {format_number(line.free_units)} free = "
                     f"{format_number(billed.quantity)} billed")
    parts.append(result.summary or format_money(amount, currency))
    return DraftLine(line.id, "usage", line.description, used, amount, "; ".join(parts), start, end, order)


def _fixed_line(line: LineTerms, terms: ContractTerms, currency: str, start: date, end: date,
                order: int) -> DraftLine:
    qty = line.fixed_quantity if line.fixed_quantity is not None else Decimal(1)
    result = pricing.price(line.pricing_model, line.params, Usage(quantity=qty), currency)
    parts = [result.summary or format_money(result.amount, currency, precise=True)]
    precise = result.amount
    total_days = (end - start).days
    active = overlap_days(start, end, terms.start_date, terms.end_date)
    if line.cadence != "one_time" and active < total_days:
        precise = result.amount * Decimal(active) / Decimal(total_days)
        parts.append(f"prorated {active}/{total_days} days")
    amount = round_money(precise, currency)
    return DraftLine(line.id, "fixed", line.description, qty, amount, "; ".join(parts), start, end, order)


def fixed_line_period(line: LineTerms, terms: ContractTerms, run_start: date, run_end: date) -> tuple[date, date] | None:
    """The service period a fixed line bills in the run [run_start, run_end), or None if not due."""
    if line.cadence == "one_time":
        return (terms.start_date, terms.start_date) if run_start <= terms.start_date < run_end else None
    if CADENCES.get(line.cadence) is None:
        raise ValueError(f"unknown cadence '{line.cadence}'")
    cs, ce = cadence_period(line.cadence, terms.start_date, run_start)
    if not (run_start <= cs < run_end):
        return None
    if overlap_days(cs, ce, terms.start_date, terms.end_date) == 0:
        return None
    return cs, ce


def compute_invoice(terms: ContractTerms, usage_by_line: dict[int | None, Usage], run_start: date,
                    run_end: date) -> DraftInvoice:
    """Lines for one contract in one run period. ``usage_by_line`` maps a usage line's id to its Usage."""
    out: list[DraftLine] = []
    for order, line in enumerate(terms.lines):
        if line.metric_code:
            if overlap_days(run_start, run_end, terms.start_date, terms.end_date) == 0:
                continue
            usage = usage_by_line.get(line.id, Usage())
            out.append(_usage_line(line, usage, terms.currency, run_start, run_end, order))
        else:
            span = fixed_line_period(line, terms, run_start, run_end)
            if span is None:
                continue
            start, end = span
            if line.cadence == "one_time":
                start, end = run_start, run_end
            out.append(_fixed_line(line, terms, terms.currency, start, end, order))
    subtotal = sum((ln.amount for ln in out), ZERO)
    tax = ZERO
    return DraftInvoice(tuple(out), subtotal, tax, subtotal + tax)


def describe_period(start: date, end: date) -> str:
    return format_period(start, end)
