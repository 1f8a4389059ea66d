"""Invoice modifiers: what happens to priced lines before the invoice total (spec section 2, steps 3–8).

Pure: values in, values out, no database. The pricing model has already turned usage into a precise
amount per line (steps 1–2); :func:`price_document` applies, in this fixed order,

  for every line:   charge → credit grants → discounts → minimum-commitment true-up
  then the contract: discounts → minimum-commitment true-up → service fees
  then:             tax (once per document) → wallet / prepaid credits

and returns every amount the invoice shows as an ordered list of :class:`Step`.

Rounding
--------
Every amount shown on the invoice is rounded once, half-up, to the currency's minor unit
(:func:`core.money.round_money`); subtotal, total and amount due are sums of shown amounts. Each step is
computed at full precision from the amounts shown above it (so "10% of $1,000.75" shows $100.08, and a
customer can redo every breakdown with a calculator) and then rounded once. Tax is computed once for the
whole document — rate × the taxable subtotal, at full precision, rounded once — never per line and summed.

Modifier JSON
-------------
Numbers are strings (``"10"``, ``"0.5"``), so they stay exact in JSON; ints are accepted, floats are refused.
Every list item may carry an optional ``"id"`` (letters, digits, ``-``, ``_``): it names the item in its
``modifier_key`` instead of its position, so history survives re-ordering the list.

On a contract line (``ContractLine.modifiers``)::

    {
      "credit_grants": [
        {"amount": "100", "description": "Launch credit", "recurring": false}
      ],
      "discounts": [
        {"type": "percent", "value": "10", "per_period_cap": "50", "lifetime_cap": "500",
         "description": "Partner discount"}
      ],
      "minimum_commitment": {"amount": "250", "charge_full": false}
    }

- **credit grant** — ``{"amount": "100", "description": "Launch credit", "recurring": false}``.
  Reduces the line amount, never below 0. Non-recurring (the default): a pool of $100 used up across
  periods — $350 → $250 (Z); the next period only what is left of the pool applies. Recurring: up to
  $100 off every period.
- **discount** — ``{"type": "percent", "value": "20"}`` ($50 → $40 (Z)) or
  ``{"type": "fixed", "value": "10"}`` ($50 → $40 (Z)). Discounts apply in the order listed, each to
  what is left after the previous ones; a fixed discount never takes the line below 0. Optional caps, in
  money: ``"per_period_cap": "50"`` limits one period's discount; ``"lifetime_cap": "500"`` limits the
  total over all periods (the caller passes what was already given as ``history``).
- **minimum commitment** — ``{"amount": "200", "charge_full": false}``: when the line, after grants and
  discounts, is under $200, a true-up line brings it up to $200 ($120 usage + $80 true-up (Z)). For a
  part period the floor is prorated (15 of 30 days → $100) unless ``"charge_full": true``.

On the contract (``Contract.modifiers``)::

    {
      "discounts": [{"type": "percent", "value": "10"}],
      "minimum_commitment": {"amount": "250", "charge_full": false},
      "service_fees": [{"type": "percent", "value": "5", "description": "Service fee"}]
    }

- **contract discount** — same shape as a line discount; applies to the sum of the lines after their own
  modifiers.
- **contract minimum commitment** — same shape; compares the contract amount after contract discounts
  with the floor.
- **service fee** — ``{"type": "percent", "value": "5", "description": "Service fee"}`` adds 5% of the
  contract total ($1,000 → $1,050 (Z)); ``{"type": "fixed", "value": "25"}`` adds $25. Several percent
  fees are each computed on the total before fees (fees are not charged on fees). Fees are taxed.

Worked chain (spec section 2): 1,400 calls, 1,000 free, $0.50/call → $200; 10% discount → −$20.00;
$250 minimum → true-up $70.00; 5% service fee → $12.50; 18% tax × $262.50 → $47.25; total $309.75.

Decisions where the spec is silent
----------------------------------
- Steps that come to zero (a used-up grant, a discount on a $0 line, a met minimum) are not shown.
- A tax-exempt customer gets a $0.00 "Tax exempt" line with the reason (``TaxRule.exempt_rule``), so the
  invoice says why no tax was charged; ``tax=None`` (no rate applies) shows no tax line at all.
- The wallet pays at most the total; its step is negative and follows tax; ``amount_due`` = total − credits.
- ``history`` values are amounts already given in earlier periods under that ``modifier_key``; the sign is
  ignored, so the caller may sum the (negative) amounts of earlier invoice lines directly.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, getcontext, localcontext

from core.errors import UserError
from core.money import HUNDRED, ONE, PRECISION, ZERO, MoneyError, format_money, format_number, round_money, to_decimal
from core.money import currency as _currency
from core.pricing.base import maker

STEP_KINDS = ("charge", "credit_grant", "discount", "true_up", "service_fee", "tax", "wallet")
PRE_TAX_KINDS = frozenset(("charge", "credit_grant", "discount", "true_up", "service_fee", "adjustment"))
LINE_MODIFIERS = ("credit_grants", "discounts", "minimum_commitment")
CONTRACT_MODIFIERS = ("discounts", "minimum_commitment", "service_fees")
DISCOUNT_TYPES = ("percent", "fixed")
FEE_TYPES = ("percent", "fixed")

_GRANT_FIELDS = ("amount", "description", "recurring", "id")
_DISCOUNT_FIELDS = ("type", "value", "per_period_cap", "lifetime_cap", "description", "id")
_MINIMUM_FIELDS = ("amount", "charge_full", "description")
_FEE_FIELDS = ("type", "value", "description", "id")
_ID = re.compile(r"[A-Za-z0-9_\-]{1,30}")
MAX_DESCRIPTION = 200


class ModifierError(UserError):
    """Modifiers or inputs that cannot be applied. The message is for a finance user."""


# --------------------------------------------------------------------------------------------------
# validation (kept apart from calculation so a form can show every problem at once)


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value, name: str) -> tuple[Decimal | None, str]:
    """(Decimal, '') or (None, why not) — why not is '' when the value is missing."""
    if _is_blank(value):
        return None, ""
    if isinstance(value, float):
        return None, f"write it as text such as \"{value!r}\", not as the number {value!r}"
    try:
        return to_decimal(value, field=name), ""
    except MoneyError:
        return None, f"'{value}' is not a number"


def _positive(problems: list[str], label: str, name: str, value) -> None:
    d, why = _number(value, name)
    if d is None or d <= 0:
        problems.append(f"{label}: {name} must be a positive amount" + (f" ({why})" if why else ""))


def _percent(problems: list[str], label: str, value) -> None:
    d, why = _number(value, "percent")
    if d is None or not (ZERO <= d <= HUNDRED):
        problems.append(f"{label}: percent must be between 0 and 100" + (f" ({why})" if why else ""))


def _flag_ok(value) -> bool:
    return value is None or isinstance(value, bool) or (
        isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", ""))


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes")
    return bool(value)


def _common(problems: list[str], label: str, item: Mapping, fields: Sequence[str], ids: set[str]) -> None:
    for key in item:
        if key not in fields:
            problems.append(f"{label}: '{key}' is not a setting here (use {', '.join(fields)})")
    desc = item.get("description")
    if desc is not None and not isinstance(desc, str):
        problems.append(f"{label}: the description must be text")
    elif isinstance(desc, str) and len(desc) > MAX_DESCRIPTION:
        problems.append(f"{label}: the description is longer than {MAX_DESCRIPTION} characters")
    if "id" in item:
        ident = item.get("id")
        if not isinstance(ident, str) or not _ID.fullmatch(ident):
            problems.append(f"{label}: the id must be 1–30 letters, digits, '-' or '_'")
        elif ident in ids:
            problems.append(f"{label}: the id '{ident}' is used twice")
        else:
            ids.add(ident)


def _items(problems: list[str], mods: Mapping, key: str, noun: str) -> list:
    value = mods.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        problems.append(f"{noun}s: expected a list of {noun}s")
        return []
    return value


def _percent_or_fixed(problems: list[str], mods: Mapping, key: str, noun: str, fields, types):
    """Each well-formed item of a list of percent-or-fixed modifiers (discounts, service fees), as (label, item),
    after the checks they share: settings present, known fields, a type, and a valid value for that type."""
    ids: set[str] = set()
    for i, item in enumerate(_items(problems, mods, key, noun), start=1):
        label = f"{noun} {i}"
        if not isinstance(item, Mapping):
            problems.append(f"{label}: expected the {noun}'s settings (type, value)")
            continue
        _common(problems, label, item, fields, ids)
        kind = item.get("type")
        if kind not in types:
            problems.append(f"{label}: type must be 'percent' or 'fixed'")
        elif kind == "percent":
            _percent(problems, label, item.get("value"))
        else:
            _positive(problems, label, "amount", item.get("value"))
        yield label, item


def _validate_discounts(problems: list[str], mods: Mapping) -> None:
    for label, d in _percent_or_fixed(problems, mods, "discounts", "discount", _DISCOUNT_FIELDS, DISCOUNT_TYPES):
        if not _is_blank(d.get("per_period_cap")):
            _positive(problems, label, "per-period cap", d.get("per_period_cap"))
        if not _is_blank(d.get("lifetime_cap")):
            _positive(problems, label, "lifetime cap", d.get("lifetime_cap"))


def _validate_minimum(problems: list[str], mods: Mapping) -> None:
    m = mods.get("minimum_commitment")
    if m is None:
        return
    label = "minimum commitment"
    if not isinstance(m, Mapping):
        problems.append(f"{label}: expected its settings (amount, charge_full)")
        return
    _common(problems, label, m, _MINIMUM_FIELDS, set())
    _positive(problems, label, "amount", m.get("amount"))
    if not _flag_ok(m.get("charge_full")):
        problems.append(f"{label}: charge_full must be true or false")


def _check_top(problems: list[str], mods, allowed: Sequence[str], where: str) -> bool:
    if not isinstance(mods, Mapping):
        problems.append("modifiers must be a set of named settings (a JSON object)")
        return False
    for key in mods:
        if key in allowed:
            continue
        if key == "service_fees":
            problems.append("service fees belong to the contract, not to a line")
        elif key == "credit_grants":
            problems.append("credit grants are given on a line, not on the whole contract")
        else:
            problems.append(f"'{key}' is not a {where} modifier (use {', '.join(allowed)})")
    return True


def validate_line_modifiers(mods: Mapping) -> list[str]:
    """Every problem in a line's modifiers, in words a finance user can act on ([] when valid)."""
    problems: list[str] = []
    if mods is None or not _check_top(problems, mods, LINE_MODIFIERS, "line"):
        return problems
    ids: set[str] = set()
    for i, g in enumerate(_items(problems, mods, "credit_grants", "credit grant"), start=1):
        label = f"credit grant {i}"
        if not isinstance(g, Mapping):
            problems.append(f"{label}: expected the grant's settings (amount, recurring)")
            continue
        _common(problems, label, g, _GRANT_FIELDS, ids)
        _positive(problems, label, "amount", g.get("amount"))
        if not _flag_ok(g.get("recurring")):
            problems.append(f"{label}: recurring must be true or false")
    _validate_discounts(problems, mods)
    _validate_minimum(problems, mods)
    return problems


def validate_contract_modifiers(mods: Mapping) -> list[str]:
    """Every problem in a contract's modifiers ([] when valid)."""
    problems: list[str] = []
    if mods is None or not _check_top(problems, mods, CONTRACT_MODIFIERS, "contract"):
        return problems
    _validate_discounts(problems, mods)
    _validate_minimum(problems, mods)
    for _ in _percent_or_fixed(problems, mods, "service_fees", "service fee", _FEE_FIELDS, FEE_TYPES):
        pass
    return problems


# --------------------------------------------------------------------------------------------------
# inputs and outputs


@dataclass(frozen=True)
class LineInput:
    """One priced line of the document.

    key          identifies the line (e.g. the contract line id); used in modifier keys and ``Step.line_key``
    description  shown on the charge step
    amount       precise amount from the pricing model (>= 0); the charge step shows it rounded once
    modifiers    the line's modifier JSON (see the module docstring)
    history      modifier_key -> amount already given/used in earlier periods (grant pools, lifetime caps)
    proration    active fraction of the period, 0..1, for a prorated minimum commitment
    proration_label  how the breakdown names the fraction, e.g. "15/30 days" (default: a percentage)
    breakdown    the pricing model's breakdown, shown on the charge step ("400 × $0.50")
    """

    key: str
    description: str
    amount: Decimal
    modifiers: Mapping = field(default_factory=dict)
    history: Mapping[str, Decimal] = field(default_factory=dict)
    proration: Decimal = ONE
    proration_label: str = ""
    breakdown: str = ""


@dataclass(frozen=True)
class Adjustment:
    """A signed correction of a charge billed on an earlier invoice (a prepaid line changed or ended after its
    period was invoiced): a credit for the unused part is negative, a charge for a new part positive.
    Adjustments join the document after the contract's own modifiers and before tax."""

    key: str
    description: str
    amount: Decimal
    breakdown: str = ""
    line_key: str | None = None


@dataclass(frozen=True)
class ContractInput:
    """Contract-level modifiers, their history and the period's active fraction (for a prorated minimum)."""

    modifiers: Mapping = field(default_factory=dict)
    history: Mapping[str, Decimal] = field(default_factory=dict)
    proration: Decimal = ONE
    proration_label: str = ""


@dataclass(frozen=True)
class TaxRule:
    """How tax is found for one document: a rate (``percent``), an amount quoted by a tax provider
    (``amount``), or an exemption. ``note`` says where it comes from or why the customer is exempt."""

    name: str = "Tax"
    percent: Decimal | None = None
    amount: Decimal | None = None
    exempt: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        if self.exempt:
            return
        if (self.percent is None) == (self.amount is None):
            raise ModifierError("a tax rule needs either a percent or an amount from a tax provider")
        if self.percent is not None:
            p = to_decimal(self.percent, field="tax percent")
            if not ZERO <= p <= HUNDRED:
                raise ModifierError("tax percent must be between 0 and 100")
            object.__setattr__(self, "percent", p)
        if self.amount is not None:
            a = to_decimal(self.amount, field="tax amount")
            if a < 0:
                raise ModifierError("a tax amount cannot be negative")
            object.__setattr__(self, "amount", a)

    @classmethod
    def rate(cls, name: str, percent: Decimal | str | int, note: str = "") -> TaxRule:
        return cls(name=name, percent=to_decimal(percent, field="tax percent"), note=note)

    @classmethod
    def provided(cls, name: str, amount: Decimal | str | int, note: str = "") -> TaxRule:
        return cls(name=name, amount=to_decimal(amount, field="tax amount"), note=note)

    @classmethod
    def exempt_rule(cls, reason: str = "the customer is exempt from tax") -> TaxRule:
        return cls(name="Tax exempt", exempt=True, note=reason)


@dataclass(frozen=True)
class Step:
    """One amount the invoice shows, in order.

    kind          charge | credit_grant | discount | true_up | service_fee | tax | wallet
    amount        rounded to the currency's minor unit; negative for reductions (grants, discounts, wallet)
    line_key      the line it belongs to; None for contract-level steps, tax and wallet
    modifier_key  stable id of the modifier that made it ("line:7:discount:0", "contract:minimum"); None for
                  charges. Sum earlier steps by this key to build the next period's ``history``.
    indent        1 for a step under its line, else 0
    breakdown     the arithmetic, in words a customer can follow ("10% of $200.00")
    """

    kind: str
    description: str
    amount: Decimal
    line_key: str | None
    modifier_key: str | None
    indent: int
    breakdown: str


@dataclass(frozen=True)
class TaxableLine:
    """One line as a tax provider sees it: a line's net amount, or one contract-level step."""

    number: str
    description: str
    amount: Decimal


@dataclass(frozen=True)
class DocumentResult:
    currency: str
    steps: tuple[Step, ...]
    subtotal: Decimal  # sum of the shown steps before tax
    tax: Decimal
    total: Decimal  # subtotal + tax
    credits_applied: Decimal  # from the wallet, 0 <= credits_applied <= total
    amount_due: Decimal  # total - credits_applied

    def line_total(self, key: str) -> Decimal:
        """A line's charge plus its own modifier steps (what the line comes to on the invoice)."""
        key = str(key)
        return sum((s.amount for s in self.steps if s.line_key == key), round_money(ZERO, self.currency))

    def used(self) -> dict[str, Decimal]:
        """modifier_key -> amount given this period (positive), to add to next period's history."""
        out: dict[str, Decimal] = {}
        for s in self.steps:
            if s.modifier_key and s.kind in ("credit_grant", "discount", "true_up", "service_fee"):
                out[s.modifier_key] = out.get(s.modifier_key, ZERO) + abs(s.amount)
        return out

    def taxable_lines(self) -> list[TaxableLine]:
        """The pre-tax document for a tax provider: each line's net amount (charge and its own modifiers),
        then each contract-level step (a contract discount is a negative line). They sum to ``subtotal``."""
        position: dict[str, int] = {}
        out: list[TaxableLine] = []
        for s in self.steps:
            if s.kind not in PRE_TAX_KINDS:
                continue
            if s.line_key is None:
                out.append(TaxableLine(s.modifier_key or s.kind, s.description, s.amount))
            elif s.line_key not in position:
                position[s.line_key] = len(out)
                out.append(TaxableLine(s.line_key, s.description, s.amount))
            else:
                prev = out[position[s.line_key]]
                out[position[s.line_key]] = TaxableLine(prev.number, prev.description, prev.amount + s.amount)
        return out


# --------------------------------------------------------------------------------------------------
# calculation


def _pct_text(value: Decimal) -> str:
    return f"{format_number(value)}%"


def _used(history: Mapping[str, Decimal], key: str) -> Decimal:
    value = history.get(key) if history else None
    return abs(to_decimal(value, field=f"history of {key}")) if value is not None else ZERO


def _key(prefix: str, kind: str, index: int, item: Mapping) -> str:
    return f"{prefix}:{kind}:{item.get('id') or index}"


def _fraction_text(proration: Decimal, label: str) -> str:
    if label:
        return label
    return f"{format_number((proration * HUNDRED).quantize(Decimal('0.01')))}% of the period"


def _proration(value, what: str) -> Decimal:
    p = to_decimal(value, field=f"{what} proration")
    if not ZERO <= p <= ONE:
        raise ModifierError(f"{what}: the active part of the period must be between 0 and 1, not {p}")
    return p


_make_step = maker(Step)

_CURRENCIES: dict[str, tuple] = {}  # a currency code as given -> (ISO code, minor unit, symbol, decimals), once checked


def _currency_of(code: str) -> tuple[str, Decimal, str, int]:
    """(ISO code, quantum, symbol, minor units) of a currency code (``core.money.currency``), remembered per code:
    a bill run prices a document per customer."""
    known = _CURRENCIES.get(code) if type(code) is str else None
    if known is None:
        c = _currency(code)
        known = (c.code, c.quantum, c.symbol, c.minor_units)
        if type(code) is str and len(_CURRENCIES) < 256:
            _CURRENCIES[code] = known
    return known


class _Pricer:
    def __init__(self, cur: str):
        self.cur = cur
        self.steps: list[Step] = []
        # round_money's rounding and format_money's wording, with the currency looked up and the context made
        # once per document
        _, self._quantum, self._symbol, self._minor = _currency_of(cur)
        self._context = getcontext().copy()
        self._context.prec = PRECISION

    def money(self, amount: Decimal) -> str:
        """``format_money(amount, currency)``: '$1,234.50', '-$5.00' (rounded with :meth:`round`)."""
        d = amount if type(amount) is Decimal and amount.is_finite() else to_decimal(amount)
        sign = "-" if d < 0 else ""
        return f"{sign}{self._symbol}{self.round(abs(d)):,.{self._minor}f}"

    def round(self, amount: Decimal) -> Decimal:
        """``round_money(amount, currency)``: half-up to the currency's minor unit."""
        if not isinstance(amount, Decimal):
            amount = to_decimal(amount, field="amount")
        return amount.quantize(self._quantum, ROUND_HALF_UP, self._context)

    def add(self, kind: str, description: str, amount: Decimal, line_key: str | None, modifier_key: str | None,
            indent: int, breakdown: str) -> None:
        self.steps.append(_make_step(kind, description, self.round(amount), line_key, modifier_key, indent, breakdown))

    # step 3 --------------------------------------------------------------------------------------
    def credit_grants(self, grants: list, running: Decimal, prefix: str, line_key: str,
                      history: Mapping) -> Decimal:
        for i, g in enumerate(grants):
            mk = _key(prefix, "credit_grant", i, g)
            grant = self.round(to_decimal(g["amount"], field="credit grant"))
            recurring = _flag(g.get("recurring", False))
            if recurring:
                available, text = grant, f"{self.money(grant)} credit every period"
            else:
                before = self.round(_used(history, mk))  # as shown: what earlier invoices gave, to the minor unit
                available = max(ZERO, grant - before)
                text = f"{self.money(grant)} credit grant"
                if before > 0:
                    text += f", {self.money(min(before, grant))} used in earlier periods, {self.money(available)} left"
            applied = min(available, running)
            if applied <= 0:
                continue
            if applied < available:
                text += f"; {self.money(applied)} used on {self.money(running)}"
                if not recurring:
                    text += f", {self.money(available - applied)} kept for later periods"
            self.add("credit_grant", g.get("description") or "Credit grant", -applied, line_key, mk, 1, text)
            running -= applied
        return running

    # step 4 --------------------------------------------------------------------------------------
    def discounts(self, discounts: list, running: Decimal, prefix: str, line_key: str | None,
                  history: Mapping, indent: int) -> Decimal:
        for i, d in enumerate(discounts):
            mk = _key(prefix, "discount", i, d)
            value = to_decimal(d["value"], field="discount")
            if d["type"] == "percent":
                raw = self.round(running * value / HUNDRED)
                text = f"{_pct_text(value)} of {self.money(running)}"
                name = f"{_pct_text(value)} discount"
            else:
                raw = self.round(value)
                text = f"{self.money(raw)} off {self.money(running)}"
                name = f"{self.money(raw)} discount"
            amount = raw
            if amount > running:
                amount = running
                text += f", limited to the {self.money(running)} charged"
            if not _is_blank(d.get("per_period_cap")):
                cap = self.round(to_decimal(d["per_period_cap"], field="per-period cap"))
                if amount > cap:
                    text += f" = {self.money(amount)}, capped at {self.money(cap)} per period"
                    amount = cap
            if not _is_blank(d.get("lifetime_cap")):
                cap = self.round(to_decimal(d["lifetime_cap"], field="lifetime cap"))
                before = self.round(_used(history, mk))  # as shown: what earlier invoices gave, to the minor unit
                left = max(ZERO, cap - before)
                if amount > left:
                    text += (f" = {self.money(amount)}; lifetime cap {self.money(cap)}, "
                             f"{self.money(min(before, cap))} given before, {self.money(left)} left")
                    amount = left
            if amount <= 0:
                continue
            self.add("discount", d.get("description") or name, -amount, line_key, mk, indent, text)
            running -= amount
        return running

    # step 5 --------------------------------------------------------------------------------------
    def minimum(self, spec: Mapping | None, running: Decimal, mk: str, line_key: str | None, indent: int,
                proration: Decimal, proration_label: str) -> Decimal:
        if not spec:
            return running
        precise = to_decimal(spec["amount"], field="minimum commitment")
        full = self.round(precise)
        if _flag(spec.get("charge_full", False)) or proration >= ONE:
            floor = full
            text = f"minimum {self.money(full)}"
            if proration < ONE:
                text += " (charged in full for a part period)"
        else:
            floor = self.round(precise * proration)
            text = (f"minimum {self.money(full)} prorated to {_fraction_text(proration, proration_label)} "
                    f"= {self.money(floor)}")
        if running >= floor:
            return running
        true_up = floor - running
        self.add("true_up", spec.get("description") or "Minimum commitment true-up", true_up, line_key, mk,
                 indent, f"{text} − {self.money(running)}")
        return floor

    # step 6 --------------------------------------------------------------------------------------
    def service_fees(self, fees: list, base: Decimal, prefix: str) -> Decimal:
        added = ZERO
        for i, f in enumerate(fees):
            mk = _key(prefix, "service_fee", i, f)
            value = to_decimal(f["value"], field="service fee")
            if f["type"] == "percent":
                amount = self.round(base * value / HUNDRED)
                text = f"{_pct_text(value)} of {self.money(base)}"
            else:
                amount = self.round(value)
                text = f"fixed fee {self.money(amount)}"
            if amount <= 0:
                continue
            self.add("service_fee", f.get("description") or "Service fee", amount, None, mk, 0, text)
            added += amount
        return base + added


_CHECKED: ContextVar[dict | None] = ContextVar("modifiers_checked", default=None)


@contextmanager
def checked_once() -> Iterator[None]:
    """Inside a bill run: modifiers validated once per distinct content. Thousands of lines and contracts carry
    the same modifiers (their values are the very same objects when they come from equal JSON): a modifiers
    mapping whose values are the objects of one already found valid is valid. The memo holds those objects
    (so their ids are never reused under it); the caller must not change them meanwhile."""
    token = _CHECKED.set({})
    try:
        yield
    finally:
        _CHECKED.reset(token)


def _checked(mods: Mapping | None, validate, what: str) -> Mapping:
    mods = mods or {}
    if not mods:  # nothing to check (most lines have no modifiers)
        return mods
    memo = _CHECKED.get()
    key = None
    if memo is not None and type(mods) is dict:
        key = (validate, tuple([(k, id(v)) for k, v in mods.items()]))
        try:
            if key in memo:
                return mods
        except TypeError:  # a key that cannot be hashed: checked every time
            key = None
    problems = validate(mods)
    if problems:
        raise ModifierError(f"{what}: " + "; ".join(problems))
    if key is not None:
        memo[key] = tuple(mods.values())
    return mods


def price_document(lines: Sequence[LineInput], contract: ContractInput | None = None, currency: str = "USD",
                   tax: TaxRule | None = None, wallet_balance: Decimal = ZERO,
                   adjustments: Sequence[Adjustment] = ()) -> DocumentResult:
    """Apply every modifier, tax and the wallet to priced lines; return the invoice's steps and totals.

    ``tax``: None when no tax applies (no tax line), ``TaxRule.rate``/``provided``/``exempt_rule`` otherwise.
    ``wallet_balance``: the customer's prepaid credit in this currency; it pays at most the total.
    Raises :class:`ModifierError` on invalid modifiers or inputs (validate them when they are saved).
    """
    cur = _currency_of(currency)[0]
    contract = contract or ContractInput()
    p = _Pricer(cur)
    steps = p.steps
    with localcontext() as ctx:
        ctx.prec = PRECISION
        seen: set[str] = set()
        lines_total = ZERO
        for line in lines:
            key = line.key if type(line.key) is str else str(line.key)
            if key in seen:
                raise ModifierError(f"two lines share the key '{key}'")
            seen.add(key)
            mods = line.modifiers or {}
            if mods:
                mods = _checked(mods, validate_line_modifiers, f"line '{line.description or key}'")
            amount = line.amount
            if type(amount) is not Decimal or not amount.is_finite():
                amount = to_decimal(amount, field=f"line '{line.description or key}' amount")
            amount = p.round(amount)
            if amount < 0:
                raise ModifierError(f"line '{line.description or key}': the priced amount cannot be negative "
                                    f"({p.money(amount)})")
            # the charge step (p.add, its amount already rounded)
            steps.append(_make_step("charge", line.description, amount, key, None, 0,
                                    line.breakdown or p.money(amount)))
            proration = line.proration
            if not mods:  # most lines: no grant, discount or minimum — the proration is still checked
                if not (type(proration) is Decimal and proration.is_finite() and ZERO <= proration <= ONE):
                    _proration(proration, f"line '{line.description or key}'")
                lines_total += amount
                continue
            what = f"line '{line.description or key}'"
            prefix = f"line:{key}"
            history = line.history or {}
            running = p.credit_grants(list(mods.get("credit_grants") or []), amount, prefix, key, history)
            running = p.discounts(list(mods.get("discounts") or []), running, prefix, key, history, 1)
            running = p.minimum(mods.get("minimum_commitment"), running, f"{prefix}:minimum", key, 1,
                                _proration(proration, what), line.proration_label)
            lines_total += running

        cmods = _checked(contract.modifiers, validate_contract_modifiers, "contract")
        chistory = contract.history or {}
        running = p.discounts(list(cmods.get("discounts") or []), lines_total, "contract", None, chistory, 0)
        running = p.minimum(cmods.get("minimum_commitment"), running, "contract:minimum", None, 0,
                            _proration(contract.proration, "contract"), contract.proration_label)
        subtotal = p.service_fees(list(cmods.get("service_fees") or []), running, "contract")
        for adj in adjustments:  # corrections of earlier invoices: no discounts or fees on them again
            amount = p.round(to_decimal(adj.amount, field="adjustment"))
            if amount != 0:
                p.add("adjustment", adj.description, amount, adj.line_key, None, 0, adj.breakdown)
                subtotal += amount

        # step 7: tax, once per document
        tax_amount = p.round(ZERO)
        if tax is not None:
            if tax.exempt:
                p.add("tax", tax.name or "Tax exempt", ZERO, None, "tax", 0,
                      tax.note or "the customer is exempt from tax")
            elif tax.amount is not None:
                tax_amount = p.round(tax.amount)
                p.add("tax", tax.name, tax_amount, None, "tax", 0,
                      f"calculated by {tax.note or 'the tax provider'} on {p.money(subtotal)}")
            else:
                tax_amount = p.round(subtotal * tax.percent / HUNDRED)
                rate = _pct_text(tax.percent)
                p.add("tax", f"{tax.name} {rate}", tax_amount, None, "tax", 0, f"{rate} × {p.money(subtotal)}")
        total = subtotal + tax_amount

        # step 8: wallet / prepaid credits settle the total, after tax
        balance = to_decimal(wallet_balance, field="wallet balance")
        if balance < 0:
            raise ModifierError(f"the wallet balance cannot be negative ({p.money(balance)})")
        credits = max(min(balance, total), ZERO)  # a negative total (a net credit) takes nothing from the wallet
        if credits != p.round(credits):
            raise ModifierError(f"the wallet balance {format_money(balance, cur, precise=True)} has more decimals "
                                f"than {cur} allows")
        if credits > 0:
            text = (f"{p.money(credits)} of the {p.money(balance)} balance" if credits < balance
                    else f"the whole balance of {p.money(balance)}")
            p.add("wallet", "Paid from prepaid credits", -credits, None, "wallet", 0, text)
        credits = p.round(credits)
    return DocumentResult(cur, tuple(p.steps), p.round(subtotal), tax_amount, p.round(total), credits,
                          p.round(total - credits))
