"""Contract terms + usage + a billing run -> invoice lines. Pure: values in, values out, no database.

One run of a contract (core.billing.schedule): its cycle period P that starts in the run's month; the
invoice is dated at P's end and carries the in-arrears charges of P (usage, arrears fees) and the
in-advance charges of the next period. For each charge, in the spec's fixed order (section 2):

  free units -> pricing model -> day-based proration (time-based lines only) -> credit grants -> discounts
  -> minimum commitment -> (contract) discounts, minimum, service fees -> tax once per document -> wallet

Every step the customer should be able to follow is its own invoice line (core.billing.modifiers.Step).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal, getcontext

from core import pricing
from core.billing import schedule
from core.billing.modifiers import (Adjustment, ContractInput, DocumentResult, LineInput, Step, TaxRule,
                                    checked_once, price_document)
from core.billing.periods import add_months, format_period
from core.money import ONE, ZERO, format_money, format_number, round_money
from core.pricing.base import Usage, maker
from core.pricing.common import usage_quantity


@dataclass(frozen=True)
class LineTerms:
    """The parts of a contract line that billing needs (a snapshot, not the ORM row)."""

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
    modifiers: dict = field(default_factory=dict)
    start_date: date | None = None  # phase window
    end_date: date | None = None
    phase: str = ""
    product_id: int | None = None
    indent: int = 0  # 1 for an add-on / sub-product shown under its parent


@dataclass(frozen=True)
class ContractTerms:
    id: int | None
    currency: str
    start_date: date
    end_date: date | None  # exclusive
    lines: tuple[LineTerms, ...] = field(default_factory=tuple)
    anchor_day: int = 1
    pauses: tuple = ()
    modifiers: dict = field(default_factory=dict)
    name: str = ""

    @property
    def schedule(self) -> schedule.ContractSchedule:
        return schedule.ContractSchedule(start_date=self.start_date, end_date=self.end_date,
                                         anchor_day=self.anchor_day, pauses=self.pauses)

    def line_schedules(self) -> list[schedule.LineSchedule]:
        return [schedule.LineSchedule(id=ln.id, cadence=ln.cadence, timing=ln.timing,
                                      is_usage=bool(ln.metric_code), start_date=ln.start_date,
                                      end_date=ln.end_date) for ln in self.lines]


@dataclass(frozen=True)
class DraftLine:
    contract_line_id: int | None
    kind: str  # usage | fixed | one_time | credit_grant | discount | true_up | service_fee | tax | wallet
    description: str
    quantity: Decimal
    amount: Decimal  # rounded once, to the currency's minor unit
    breakdown: str
    period_start: date
    period_end: date
    sort_order: int
    indent: int = 0
    modifier_key: str | None = None
    product_id: int | None = None
    contract_id: int | None = None


@dataclass(frozen=True)
class DraftInvoice:
    lines: tuple[DraftLine, ...]
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    credits_applied: Decimal = ZERO
    amount_due: Decimal = ZERO
    invoice_date: date | None = None


@dataclass(frozen=True)
class ContractRun:
    """One contract's part of a run: its terms, its charges and the usage of its usage lines."""

    terms: ContractTerms
    plan: schedule.RunPlan
    usage: dict  # line id -> Usage
    history: dict = field(default_factory=dict)  # modifier_key -> amount given in earlier periods
    # advance charges already invoiced for this run's period: (line id, service start) -> amount billed
    billed_in_advance: dict = field(default_factory=dict)
    previous_plan: schedule.RunPlan | None = None  # the run that billed this period in advance


# positional constructors of the objects a bill run builds by the hundred thousand (core.pricing.base.maker)
_make_line_input = maker(LineInput)
_make_draft_line = maker(DraftLine)
_make_charge = maker(schedule.Charge)

_PLANS: dict[tuple, tuple] = {}  # schedule shape -> the run's plan with line positions for line ids
_PLANS_MAX = 4096


def plan_contract_run(terms: ContractTerms, year: int, month: int) -> schedule.RunPlan:
    """The contract's run for ``year-month`` (``schedule.plan_run``). A bill run plans thousands of contracts
    whose schedules share a few shapes (same dates, cadences and timings): the plan of a shape is computed once
    and reused with each contract's own line ids — the same plan, the same errors (a miss plans it for real)."""
    ids = [ln.id for ln in terms.lines]
    key = (terms.start_date, terms.end_date, terms.anchor_day, terms.pauses,
           tuple((ln.cadence, ln.timing, bool(ln.metric_code), ln.start_date, ln.end_date) for ln in terms.lines),
           year, month)
    try:
        hit = _PLANS.get(key) if len(set(ids)) == len(ids) else None
    except TypeError:  # something unhashable (pauses given as lists): plan it without the cache
        key, hit = None, None
    if hit is not None:
        run_start, run_end, invoice_date, charges = hit
        return schedule.RunPlan(run_start, run_end, invoice_date,
                                tuple([_make_charge(ids[k], *rest) for k, rest in charges]))
    plan = schedule.plan_run(terms.schedule, terms.line_schedules(), year, month)
    if key is not None and len(set(ids)) == len(ids):
        position = {line_id: k for k, line_id in enumerate(ids)}
        if len(_PLANS) >= _PLANS_MAX:
            _PLANS.clear()
        _PLANS[key] = (plan.run_start, plan.run_end, plan.invoice_date,
                       tuple((position[c.line_id], _charge_fields(c)) for c in plan.charges))
    return plan


def _charge_fields(charge: schedule.Charge) -> tuple:
    """A charge's fields after ``line_id``, in order: ``Charge(line_id, *fields)`` makes it again."""
    return tuple(getattr(charge, f.name) for f in fields(charge))[1:]


def usage_windows(terms: ContractTerms, run: schedule.RunPlan) -> dict[int, tuple]:
    """line id -> the active windows whose events a usage line bills (pauses cut holes)."""
    return {c.line_id: c.windows for c in run.charges if c.kind == "usage"}


_RUN_MEMO: ContextVar[dict | None] = ContextVar("billing_run_memo", default=None)


@contextmanager
def run_memo() -> Iterator[None]:
    """Inside a bill run: a line's pricing model priced once per distinct input. Pricing is pure, and in a run
    of thousands of contracts many lines share their params (the caller passes one params object for equal
    params) and their usage (a flat fee, a package at the same count): ``pricing.price`` is called once for
    each (model, params object, quantity, currency) and its result reused, and a params object is validated
    once (later quantities go to the model's ``calculate``, as ``price`` does once params are valid — or, for a
    plain quantity, to the model's ``prepare``d pricing: the params read and their prices worded once, which is
    what ``calculate`` does on each call). Each distinct set of line or contract modifiers is validated once
    too (``core.billing.modifiers.checked_once``). Only for the caller's run: the memo holds the params objects
    it keys on (so an id is never reused under it); the caller must not change them meanwhile."""
    token = _RUN_MEMO.set({})
    try:
        with checked_once():  # and each distinct set of modifiers validated once
            yield
    finally:
        _RUN_MEMO.reset(token)


def _price(name: str, params: dict, usage: Usage, currency: str) -> pricing.PriceResult:
    """``pricing.price``, with the bill run's memo when there is one (see :func:`run_memo`)."""
    memo = _RUN_MEMO.get()
    if memo is None:
        return pricing.price(name, params, usage, currency)
    plain = usage.groups is None and usage.transactions is None
    if plain:
        q = usage.quantity
        # the quantity with its exponent (its text): 1 and 1.0 are equal Decimals but read differently
        qkey = str(q) if type(q) is Decimal else (type(q), q)
    entry = memo.get((name, id(params), currency))
    if entry is None or entry[0] is not params:
        result = pricing.price(name, params, usage, currency)  # validates the params, once per run
        model = pricing.get_model(name)
        code = pricing.check_currency(currency)
        prepare = getattr(model, "prepare", None)
        # (params, model, ISO code, the model's prepared pricing of a plain quantity, results by quantity)
        entry = memo[(name, id(params), currency)] = (params, model, code, prepare(params, code) if prepare else None,
                                                     {})
    else:
        _, model, code, prepared, by_quantity = entry
        if plain:
            result = by_quantity.get(qkey)
            if result is not None:
                return result
        # params already validated in this run: what pricing.price does after its validation — the model's
        # calculate, or for a plain quantity the model's prepared pricing (calculate is prepare(...)(quantity))
        if plain and prepared is not None:
            result = prepared(usage_quantity(usage))
        else:
            result = model.calculate(params, usage, code)
        if not isinstance(result.amount, Decimal) or result.amount < 0:  # pragma: no cover - as pricing.price
            raise pricing.PricingError(f"{model.LABEL} produced an invalid amount {result.amount!r}")
    if plain:
        entry[4][qkey] = result
    return result


_NO_USAGE = Usage()


def _price_charge(line: LineTerms, charge: schedule.Charge, usage: Usage | None, currency: str,
                  history: dict) -> tuple[LineInput, Decimal, str]:
    if line.metric_code:
        if usage is None:
            usage = _NO_USAGE
        used = usage.quantity
        free = line.free_units
        if free > 0:
            billed = pricing.apply_free_units(usage, free)
            result = _price(line.pricing_model, line.params, billed, currency)
            breakdown = (f"{format_number(used)} used − {format_number(free)} free = "
                         f"{format_number(billed.quantity)} billed; "
                         f"{result.summary or format_money(result.amount, currency)}")
        else:
            result = _price(line.pricing_model, line.params, usage, currency)
            breakdown = result.summary or format_money(result.amount, currency)
        amount, quantity = result.amount, used
    else:
        quantity = line.fixed_quantity if line.fixed_quantity is not None else ONE
        result = _price(line.pricing_model, line.params, Usage(quantity=quantity), currency)
        breakdown = result.summary or format_money(result.amount, currency, precise=True)
        amount = result.amount
        if charge.kind in ("advance", "arrears") and charge.proration != ONE:
            amount = charge.prorate(result.amount)
            breakdown = f"{breakdown}; {charge.proration_text}"
    description = f"{line.description} ({line.phase})" if line.phase else line.description
    item = _make_line_input(str(line.id), description, amount, line.modifiers or {}, history, charge.time_fraction,
                            charge.proration_text.replace("prorated ", ""), breakdown)
    return item, quantity, breakdown


def advance_adjustments(run: ContractRun, currency: str) -> tuple[list[Adjustment], dict[str, tuple]]:
    """Prepaid charges invoiced earlier for a period whose terms changed since (an upgrade or downgrade from a
    day inside the period, a line or contract ended early, a pause): the difference between what the current
    terms charge for that period and what was billed, as signed adjustments (a credit for unused days)."""
    if run.previous_plan is None:
        return [], {}
    by_id = {ln.id: ln for ln in run.terms.lines}
    out: list[Adjustment] = []
    meta: dict[str, tuple] = {}
    due: dict[tuple, Decimal] = {}
    charges: dict[tuple, schedule.Charge] = {}
    for charge in run.previous_plan.charges:
        if charge.kind != "advance":
            continue
        item, _, _ = _price_charge(by_id[charge.line_id], charge, None, currency, {})
        key = (charge.line_id, charge.service_start)
        due[key] = round_money(item.amount, currency)
        charges[key] = charge
    for key in set(due) | set(run.billed_in_advance):
        line_id, start = key
        if line_id not in by_id:
            continue
        billed = run.billed_in_advance.get(key, ZERO)
        should = due.get(key, ZERO)
        if should == billed:
            continue
        line = by_id[line_id]
        charge = charges.get(key)
        end = charge.service_end if charge else add_months(start, 1)
        days = f"{charge.active_days}/{charge.period_days} days" if charge else "no days"
        what = "credit for unused days" if should < billed else "charge for the change"
        text = (f"{format_period(start, end)}: billed {format_money(billed, currency)} in advance; the current "
                f"terms charge {format_money(should, currency)} ({days})")
        akey = f"adj:{line_id}"
        out.append(Adjustment(key=akey, description=f"{line.description} — {what}", amount=should - billed,
                              breakdown=text, line_key=akey))
        meta[akey] = (line, start, end)
    return out, meta


_PRORATIONS: dict[tuple, tuple[Decimal, str]] = {}  # contract window and run period -> (fraction, label)


def _contract_proration(terms: ContractTerms, run_start: date, run_end: date) -> tuple[Decimal, str]:
    """The active part of the run's period for the contract as a whole (contract window, pauses cut out) and how
    a breakdown names it ("17/31 days", or "" for the whole period). A bill run asks for the same few contract
    windows thousands of times: each answer is remembered (with the decimal context it was divided in)."""
    ctx = getcontext()
    key = (terms.start_date, terms.end_date, terms.anchor_day, terms.pauses, run_start, run_end, ctx.prec,
           ctx.rounding)
    try:
        hit = _PRORATIONS.get(key)
    except TypeError:  # something unhashable (pauses given as lists): no memo
        key, hit = None, None
    if hit is not None:
        return hit
    active = schedule.active_windows(terms.schedule, None, run_start, run_end)
    days = sum((e - s).days for s, e in active)
    period_days = (run_end - run_start).days
    proration = Decimal(days) / Decimal(period_days) if period_days else ONE
    out = (proration, f"{days}/{period_days} days" if days != period_days else "")
    if key is not None:
        if len(_PRORATIONS) >= _PLANS_MAX:
            _PRORATIONS.clear()
        _PRORATIONS[key] = out
    return out


def price_contract(run: ContractRun, currency: str, *, tax: TaxRule | None = None,
                   wallet_balance: Decimal = ZERO) -> tuple[DocumentResult, dict[str, tuple]]:
    """The modifier pipeline over one contract's charges. Returns the document and, per line key, what the
    charge step needs to become an invoice line (line, charge, quantity)."""
    terms = run.terms
    by_id = {ln.id: ln for ln in terms.lines}
    inputs: list[LineInput] = []
    meta: dict[str, tuple] = {}
    for charge in run.plan.charges:
        line = by_id[charge.line_id]
        item, quantity, _ = _price_charge(line, charge, run.usage.get(line.id), currency, run.history)
        inputs.append(item)
        meta[item.key] = (line, charge, quantity)
    proration, label = _contract_proration(terms, run.plan.run_start, run.plan.run_end)
    contract = ContractInput(modifiers=terms.modifiers or {}, history=run.history, proration=proration,
                             proration_label=label)
    adjustments, adj_meta = advance_adjustments(run, currency)
    meta.update(adj_meta)
    return price_document(inputs, contract, currency, tax=tax, wallet_balance=wallet_balance,
                          adjustments=adjustments), meta


def _lines_from_steps(steps: tuple[Step, ...], meta: dict[str, tuple], run: ContractRun, start_order: int,
                      ) -> list[DraftLine]:
    out: list[DraftLine] = []
    contract_id = run.terms.id
    no_line = (None, None, ZERO)
    for i, step in enumerate(steps, start=start_order):
        kind = step.kind
        if kind == "adjustment":
            line, ps, pe = meta[step.line_key]
            out.append(_make_draft_line(line.id, "adjustment", step.description, ZERO, step.amount, step.breakdown,
                                        ps, pe, i, 0, None, line.product_id, contract_id))
            continue
        line, charge, quantity = meta.get(step.line_key or "", no_line)
        if charge is not None:
            ps, pe = charge.service_start, charge.service_end
        else:
            ps, pe = run.plan.run_start, run.plan.run_end
        if kind == "charge":
            kind = "usage" if line.metric_code else ("one_time" if charge.kind == "one_time" else "fixed")
        else:
            quantity = ZERO
        if line is not None:
            out.append(_make_draft_line(line.id, kind, step.description, quantity, step.amount, step.breakdown, ps,
                                        pe, i, step.indent + line.indent, step.modifier_key, line.product_id,
                                        contract_id))
        else:
            out.append(_make_draft_line(None, kind, step.description, quantity, step.amount, step.breakdown, ps, pe,
                                        i, step.indent, step.modifier_key, None, contract_id))
    return out


def compute_invoice(runs: list[ContractRun], currency: str, *, tax: TaxRule | None = None,
                    wallet_balance: Decimal = ZERO) -> DraftInvoice:
    """One invoice for one or more contracts of the same customer and currency (several when the customer
    consolidates). Each contract's own modifiers apply to its block; tax and the wallet apply once to the
    whole document."""
    if len(runs) == 1:
        doc, meta = price_contract(runs[0], currency, tax=tax, wallet_balance=wallet_balance)
        lines = _lines_from_steps(doc.steps, meta, runs[0], 0)
        return DraftInvoice(tuple(lines), doc.subtotal, doc.tax, doc.total, doc.credits_applied, doc.amount_due,
                            runs[0].plan.invoice_date)
    lines: list[DraftLine] = []
    subtotal = ZERO
    for run in runs:
        doc, meta = price_contract(run, currency)
        lines.extend(_lines_from_steps(doc.steps, meta, run, len(lines)))
        subtotal += doc.subtotal
    # tax and wallet once for the document: the same pipeline over the combined (already rounded) subtotal
    final = price_document([LineInput(key="document", description="", amount=subtotal)], None, currency,
                           tax=tax, wallet_balance=wallet_balance)
    for step in final.steps:
        if step.kind in ("tax", "wallet"):
            lines.append(DraftLine(None, step.kind, step.description, ZERO, step.amount, step.breakdown,
                                   runs[0].plan.run_start, runs[0].plan.run_end, len(lines),
                                   modifier_key=step.modifier_key))
    return DraftInvoice(tuple(lines), final.subtotal, final.tax, final.total, final.credits_applied,
                        final.amount_due, min(r.plan.invoice_date for r in runs))
