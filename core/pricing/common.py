"""Small helpers shared by the pricing models: reading numbers, checking usage, wording.

Validation helpers *collect* problems into a list (forms show every problem at once);
calculation helpers *raise* :class:`PricingError` (``calculate`` assumes valid params but
still refuses floats, negative usage and unknown currencies with a clear message).
"""
from __future__ import annotations

from decimal import Decimal, localcontext

from core.money import PRECISION, ZERO, MoneyError, currency, format_money, format_number, to_decimal
from core.pricing.base import PricingError, Usage

# Unit prices may carry up to 12 decimals (spec section 0).
MAX_PRICE_DECIMALS = 12


def _decimals(d: Decimal) -> int:
    exp = d.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def check_number(
    value: object,
    label: str,
    problems: list[str],
    *,
    required: bool = True,
    positive: bool = False,
    price: bool = False,
    missing: str | None = None,
) -> Decimal | None:
    """Read one number for ``validate``; append finance-user wording to ``problems``.

    ``label`` names the value in messages ("rate in tier 3" -> "rate in tier 3 is negative").
    ``positive`` requires > 0 ("package size must be greater than 0"); otherwise >= 0.
    ``price`` limits the number of decimals to :data:`MAX_PRICE_DECIMALS`.
    Returns the Decimal, or None when missing/invalid.
    """
    if is_blank(value):
        if required:
            problems.append(missing or f"{label} is required")
        return None
    try:
        d = to_decimal(value, field=label)
    except MoneyError as exc:
        problems.append(str(exc))
        return None
    if d < 0:
        problems.append(f"{label} is negative")
        return None
    if positive and d == 0:
        problems.append(f"{label} must be greater than 0")
        return None
    if price and _decimals(d) > MAX_PRICE_DECIMALS:
        problems.append(f"{label} has more than {MAX_PRICE_DECIMALS} decimals")
        return None
    return d


def number(value: object, label: str, *, default: Decimal | None = None) -> Decimal:
    """Read one number inside ``calculate``: floats and junk raise PricingError."""
    if is_blank(value):
        if default is not None:
            return default
        raise PricingError(f"{label} is required")
    try:
        return to_decimal(value, field=label)
    except MoneyError as exc:
        raise PricingError(str(exc)) from None


def optional_number(value: object, label: str) -> Decimal | None:
    return None if is_blank(value) else number(value, label)


_CODES: dict[str, str] = {}  # a currency code as given -> its ISO code, for codes already checked


def check_currency(code: str) -> str:
    """The ISO code of ``code`` (``" usd"`` -> ``"USD"``); an unknown code raises PricingError. Every price
    checks its currency: a code checked once is remembered (the list of currencies does not change)."""
    if type(code) is str:
        known = _CODES.get(code)
        if known is not None:
            return known
    try:
        checked = currency(code).code
    except MoneyError as exc:
        raise PricingError(str(exc)) from None
    if type(code) is str and len(_CODES) < 256:
        _CODES[code] = checked
    return checked


def _usage_number(value: object, label: str) -> Decimal:
    try:
        d = to_decimal(value, field=label)
    except MoneyError as exc:
        raise PricingError(str(exc)) from None
    if d < 0:
        raise PricingError(f"{label} cannot be negative (got {format_number(d)})")
    return d


def usage_quantity(usage: Usage) -> Decimal:
    """The line's quantity as a non-negative Decimal; negative or float usage raises PricingError."""
    if type(usage) is Usage:  # the common case, checked as below
        q = usage.quantity
        if type(q) is Decimal and q.is_finite() and q >= 0:
            return q
    if not isinstance(usage, Usage):
        raise PricingError(f"expected a Usage, got {type(usage).__name__}")
    return _usage_number(usage.quantity, "usage quantity")


def usage_groups(usage: Usage) -> dict[str, Decimal] | None:
    """The grouped quantities (category/band -> quantity), checked; None when the usage is not grouped."""
    if not isinstance(usage, Usage):
        raise PricingError(f"expected a Usage, got {type(usage).__name__}")
    if usage.groups is None:
        return None
    return {str(k): _usage_number(v, f"usage for '{k}'") for k, v in usage.groups.items()}


def usage_transactions(usage: Usage) -> tuple[Decimal, ...] | None:
    if not isinstance(usage, Usage):
        raise PricingError(f"expected a Usage, got {type(usage).__name__}")
    if usage.transactions is None:
        return None
    return tuple(_usage_number(v, f"transaction {i}") for i, v in enumerate(usage.transactions, start=1))


def mul(*factors: Decimal) -> Decimal:
    """Exact product at the engine's working precision."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        result = Decimal(1)
        for f in factors:
            result *= f
        return result


def div(a: Decimal, b: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return a / b


def add(*terms: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = PRECISION
        total = ZERO
        for t in terms:
            total += t
        return total


def qty(q: Decimal) -> str:
    """1500 -> '1,500'; 500.5 -> '500.5'."""
    return format_number(q)


def price_text(p: Decimal, code: str) -> str:
    """A unit price or fee with all its decimals: '$2.00', '$0.0006'."""
    return format_money(p, code, precise=True)


def units_text(q: Decimal, p: Decimal, code: str) -> str:
    """'1,000 × $1.50'."""
    return f"{qty(q)} × {price_text(p, code)}"


def flat_fee_text(fee: Decimal, code: str) -> str:
    """'flat fee $50.00'."""
    return f"flat fee {price_text(fee, code)}"


def params_dict(params: object, problems: list[str] | None = None) -> dict | None:
    if isinstance(params, dict):
        return params
    msg = "the pricing settings are missing" if params is None else "the pricing settings must be a set of named values"
    if problems is None:
        raise PricingError(msg)
    problems.append(msg)
    return None
