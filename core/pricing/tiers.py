"""Tier lists: normalising "from–to" notations, validating, and finding where a quantity falls.

A tier list is a list of dicts with a cumulative, inclusive ``up_to`` (a number as a string, or
None/empty for the open-ended last tier) plus the model's price fields::

    [{"up_to": "500", "unit_price": "2"}, {"up_to": "2000", "unit_price": "1.50"},
     {"up_to": None, "unit_price": "1"}]

Tier *i* covers ``(up_to[i-1], up_to[i]]``; the first tier starts at 0 (and includes 0); the last
tier MUST be open-ended. Fractional quantities follow the same rule: 500.5 is in the tier after 500.

Importers may instead give each tier a ``"range"`` ("0–500", "501–2,000", "2001+", "50k–100k",
"over 2000") or ``"from"``/``"to"`` keys; :func:`normalise_tiers` turns those into ``up_to``.
Every model calls it, so the models accept either form directly.
"""
from __future__ import annotations

import json

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from core.money import ONE, ZERO, MoneyError, format_number, to_decimal
from core.pricing.base import PricingError
from core.pricing.common import check_number, is_blank

# Words importers use for "no upper bound" in an up_to column.
_OPEN_WORDS = {"∞", "inf", "infinity", "unlimited", "no limit", "and above", "+", "none", "null"}

_DASH = r"[-‐‑‒–—−]"
_NUM = r"(\d[\d,_ ]*(?:\.\d+)?|\.\d+)\s*([km])?"
_SCALE = {None: ONE, "": ONE, "k": Decimal(1000), "m": Decimal(1_000_000)}

_RANGE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # 0–500, 501-2,000, 50k–100k, 0 to 500
    (re.compile(rf"^{_NUM}\s*(?:{_DASH}|to)\s*{_NUM}$"), "closed"),
    # 2001+, 2,001 +, 2001–, 2001-∞, 2001 and above / and up / and over / or more / onwards
    (
        re.compile(
            rf"^{_NUM}\s*(?:\+|{_DASH}\s*(?:∞|inf|infinity)?|(?:and|or)\s+(?:above|up|over|more)|onwards?)$"
        ),
        "open",
    ),
    # over 2000, above 2000, more than 2000, > 2000, from 2001
    (re.compile(rf"^(?:over|above|more than|>|from)\s*{_NUM}$"), "open"),
    # up to 500, <= 500, ≤ 500
    (re.compile(rf"^(?:up to|<=|≤)\s*{_NUM}$"), "upto"),
]


def _num(digits: str, suffix: str | None) -> Decimal:
    try:
        d = Decimal(re.sub(r"[,_ ]", "", digits))
    except InvalidOperation:  # pragma: no cover - the regex only lets digits through
        raise PricingError(f"'{digits}' is not a number") from None
    return d * _SCALE[suffix]


def parse_range(text: str) -> tuple[Decimal, Decimal | None]:
    """Read a "from–to" notation. Returns ``(start, up_to)``; ``up_to`` is None when open-ended.

    >>> parse_range("501–2,000")
    (Decimal('501'), Decimal('2000'))
    >>> parse_range("2001+")
    (Decimal('2001'), None)
    >>> parse_range("50k-100k")
    (Decimal('50000'), Decimal('100000'))
    """
    if not isinstance(text, str) or not text.strip():
        raise PricingError("a quantity range is required (for example 0–500 or 2001+)")
    s = " ".join(text.strip().casefold().split())
    for pattern, kind in _RANGE_PATTERNS:
        m = pattern.match(s)
        if not m:
            continue
        if kind == "closed":
            start, end = _num(m.group(1), m.group(2)), _num(m.group(3), m.group(4))
            if end < start:
                raise PricingError(f"the range '{text}' ends before it starts")
            return start, end
        if kind == "open":
            return _num(m.group(1), m.group(2)), None
        return ZERO, _num(m.group(1), m.group(2))
    raise PricingError(f"'{text}' is not a quantity range (write it like 0–500, 501–2000 or 2001+)")


def _canonical(d: Decimal) -> str:
    return f"{d:f}"


def _normalise(tiers: object, noun: str) -> tuple[list[dict], list[str]]:
    if tiers is None or (isinstance(tiers, (list, tuple)) and not tiers):
        return [], [f"add at least one {noun}"]
    if not isinstance(tiers, (list, tuple)):
        return [], [f"the {noun}s must be a list"]
    out: list[dict] = []
    problems: list[str] = []
    prev_end: Decimal | None = None  # the previous tier's up_to, when known and finite
    prev_known = True
    for i, t in enumerate(tiers, start=1):
        if not isinstance(t, dict):
            problems.append(f"{noun} {i} is not a valid {noun}")
            prev_known = False
            continue
        new = {k: v for k, v in t.items() if k not in ("range", "from", "to")}
        start: Decimal | None = None
        end: Decimal | None = None
        ok = True
        if not is_blank(t.get("range")):
            try:
                start, end = parse_range(t["range"])
            except PricingError as exc:
                problems.append(f"{noun} {i}: {exc}")
                ok = False
        elif "up_to" not in t and ("from" in t or "to" in t):
            try:
                start = None if is_blank(t.get("from")) else to_decimal(t["from"], field=f"'from' in {noun} {i}")
                end = None if is_blank(t.get("to")) else to_decimal(t["to"], field=f"'to' in {noun} {i}")
            except MoneyError as exc:
                problems.append(str(exc))
                ok = False
        else:
            raw = t.get("up_to")
            if is_blank(raw) or (isinstance(raw, str) and raw.strip().casefold() in _OPEN_WORDS):
                end = None
            else:
                try:
                    end = to_decimal(raw, field=f"'up to' in {noun} {i}")
                except MoneyError as exc:
                    problems.append(str(exc))
                    ok = False
        if ok and start is not None:
            if i == 1:
                if start not in (ZERO, ONE):
                    problems.append(f"the first {noun} must start at 0 (it starts at {format_number(start)})")
            elif prev_known and prev_end is not None:
                if start < prev_end:
                    problems.append(
                        f"{noun} {i} starts at {format_number(start)}, inside {noun} {i - 1} "
                        f"(which ends at {format_number(prev_end)})"
                    )
                elif start > prev_end + ONE:
                    problems.append(
                        f"there is a gap between {noun} {i - 1} (ends at {format_number(prev_end)}) "
                        f"and {noun} {i} (starts at {format_number(start)})"
                    )
        new["up_to"] = None if end is None else _canonical(end)
        out.append(new)
        prev_known = ok
        prev_end = end
    return out, problems


def normalise_with_problems(tiers: object, *, noun: str = "tier") -> tuple[list[dict], list[str]]:
    """Like :func:`normalise_tiers` but returns ``(tiers, problems)`` instead of raising."""
    return _normalise(tiers, noun)


def normalise_tiers(tiers: Sequence[dict], *, noun: str = "tier") -> list[dict]:
    """Return a new tier list where every tier has ``up_to`` (canonical string, or None if open-ended).

    Accepts ``up_to`` as given (str/int/Decimal, "" or "∞" for open-ended), or a ``"range"`` in the
    common notations ("0–500", "501-2000", "2001+", "50k–100k", "over 2000", "up to 500"), or
    ``"from"``/``"to"`` keys. Ranges must follow on: the next tier starts where the previous ended
    (continuous style, "0–50k, 50k–100k") or one after it (whole-unit style, "0–500, 501–2000").
    Other keys (prices) are kept unchanged. Raises :class:`PricingError` listing every problem.
    Ordering and open-ended rules are checked by :func:`tier_problems`, not here.
    """
    out, problems = _normalise(tiers, noun)
    if problems:
        raise PricingError("; ".join(problems))
    return out


def _bounds(norm: list[dict], noun: str, problems: list[str]) -> list[Decimal | None]:
    """Check the up_to column of a normalised list; returns the bounds (None = open-ended)."""
    bounds: list[Decimal | None] = []
    last_finite: tuple[int, Decimal] | None = None
    n = len(norm)
    for i, t in enumerate(norm, start=1):
        raw = t.get("up_to")
        if is_blank(raw):
            bounds.append(None)
            if i < n:
                problems.append(f"only the last {noun} can be open-ended: {noun} {i} has no 'up to'")
            continue
        d = check_number(raw, f"'up to' in {noun} {i}", problems)
        bounds.append(d)
        if d is None:
            continue
        if last_finite is not None:
            j, prev = last_finite
            if d < prev:
                problems.append(f"{noun} {i} ends below {noun} {j}")
            elif d == prev:
                problems.append(
                    f"{noun} {i} ends at {format_number(d)}, the same as {noun} {j}; "
                    f"each {noun} must end above the one before"
                )
        last_finite = (i, d)
    if n and not is_blank(norm[-1].get("up_to")):
        problems.append(f"the last {noun} must be open-ended (leave 'up to' empty)")
    return bounds


# A price field of a tier: (key in the tier dict, label used in messages).
Field = tuple[str, str]


def tier_problems(tiers: object, fields: Sequence[Field] = (), *, noun: str = "tier") -> list[str]:
    """Every problem with a tier list, in finance-user words, e.g.
    "tier 2 ends below tier 1", "the last tier must be open-ended (leave 'up to' empty)",
    "rate in tier 3 is negative", "tier 1 needs a flat fee"."""
    norm, problems = _normalise(tiers, noun)
    if problems:
        return problems
    _bounds(norm, noun, problems)
    for i, t in enumerate(norm, start=1):
        for key, label in fields:
            check_number(t.get(key), f"{label} in {noun} {i}", problems, price=True, missing=f"{noun} {i} needs a {label}")
    return problems


@dataclass(frozen=True)
class Tier:
    number: int  # 1-based
    lower: Decimal  # the previous tier's up_to (0 for the first tier); exclusive except 0 for tier 1
    up_to: Decimal | None  # inclusive; None = open-ended
    values: dict[str, Decimal] = field(default_factory=dict)

    def contains(self, q: Decimal) -> bool:
        return (self.number == 1 or q > self.lower) and (self.up_to is None or q <= self.up_to)


def read_tiers(tiers: object, fields: Sequence[Field] = (), *, noun: str = "tier") -> list[Tier]:
    """Normalise and check a tier list for ``calculate``; raises PricingError on any problem.

    A bill run prices the same few tier lists thousands of times: the result is remembered per exact input (its
    JSON with every value's type kept, so the string "0.1" and the float 0.1 — which is refused — never share an
    entry). Callers get a fresh list of the (immutable) tiers."""
    try:
        key = (json.dumps(tiers, sort_keys=True, default=lambda o: f"{type(o).__name__}:{o}"),
               tuple((k, str(v)) for k, v in fields), noun)
    except (TypeError, ValueError):
        return _read_tiers(tiers, fields, noun)
    return list(_read_tiers_cached(key, tiers, fields, noun))


def _read_tiers_cached(key, tiers, fields, noun):  # noqa: ANN001, ANN202
    hit = _TIER_CACHE.get(key)
    if hit is None:
        hit = tuple(_read_tiers(tiers, fields, noun))
        if len(_TIER_CACHE) >= 4096:
            _TIER_CACHE.clear()
        _TIER_CACHE[key] = hit
    return hit


_TIER_CACHE: dict = {}


def _read_tiers(tiers: object, fields: Sequence[Field], noun: str) -> list[Tier]:
    problems = tier_problems(tiers, fields, noun=noun)
    if problems:
        raise PricingError("; ".join(problems))
    norm, _ = _normalise(tiers, noun)
    out: list[Tier] = []
    lower = ZERO
    for i, t in enumerate(norm, start=1):
        up_to = None if is_blank(t.get("up_to")) else to_decimal(t["up_to"])
        values = {key: to_decimal(t[key]) for key, _ in fields}
        out.append(Tier(i, lower, up_to, values))
        if up_to is not None:
            lower = up_to
    return out


def containing_tier(tiers: Sequence[Tier], q: Decimal) -> Tier:
    """The tier that contains ``q`` (0 is in the first tier; 500.5 is in the tier after 500)."""
    for t in tiers:
        if t.up_to is None or q <= t.up_to:
            return t
    raise PricingError("the last tier must be open-ended (leave 'up to' empty)")  # pragma: no cover


def graduated(tiers: Sequence[Tier], q: Decimal) -> list[tuple[Tier, Decimal]]:
    """The tiers ``q`` reaches, each with the units that fall in it (graduated / "tiered").

    The first tier is always reached (with 0 units at q=0); tier i > 1 is reached when q > its lower bound.
    """
    out: list[tuple[Tier, Decimal]] = []
    for t in tiers:
        if t.number > 1 and q <= t.lower:
            break
        top = q if t.up_to is None else min(q, t.up_to)
        out.append((t, max(top - t.lower, ZERO)))
    return out


def tier_validator(fields: Sequence[Field]):
    """The ``validate(params)`` of a model whose params are ``{"tiers": [...]}`` with these per-tier fields."""
    from core.pricing.common import params_dict

    def validate(params: dict) -> list[str]:
        problems: list[str] = []
        p = params_dict(params, problems)
        return problems if p is None else tier_problems(p.get("tiers"), fields)

    validate.__doc__ = "Every problem with the tiers, in finance-user words (empty list: valid)."
    return validate
