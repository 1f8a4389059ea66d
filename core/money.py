"""Money: Decimal only, ISO currencies with their minor units, one rounding function.

Every amount and quantity in Counting House is a ``decimal.Decimal`` built from a
string or an int. Floats are refused with a clear error (``MoneyError``), because a
float like 0.1 is not 0.1 and a billing system must be exact to the cent.

The one rounding function is :func:`round_money` (half-up to the currency's minor
unit). Everything else computes at full precision.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

ZERO = Decimal("0")
ONE = Decimal("1")
HUNDRED = Decimal("100")

# Precision used while computing: enough for 12-decimal unit prices times very large quantities.
PRECISION = 38


class MoneyError(ValueError):
    """A value could not be used as money or as a quantity. The message says why, in plain words."""


# ISO 4217 codes with their minor units (digits after the decimal point).
CURRENCIES: dict[str, tuple[int, str, str]] = {
    # code: (minor units, symbol, name)
    "USD": (2, "$", "US dollar"),
    "EUR": (2, "€", "Euro"),
    "GBP": (2, "£", "Pound sterling"),
    "INR": (2, "₹", "Indian rupee"),
    "CAD": (2, "CA$", "Canadian dollar"),
    "AUD": (2, "A$", "Australian dollar"),
    "NZD": (2, "NZ$", "New Zealand dollar"),
    "CHF": (2, "CHF ", "Swiss franc"),
    "SEK": (2, "SEK ", "Swedish krona"),
    "NOK": (2, "NOK ", "Norwegian krone"),
    "DKK": (2, "DKK ", "Danish krone"),
    "PLN": (2, "PLN ", "Polish złoty"),
    "CZK": (2, "CZK ", "Czech koruna"),
    "SGD": (2, "S$", "Singapore dollar"),
    "HKD": (2, "HK$", "Hong Kong dollar"),
    "CNY": (2, "CN¥", "Chinese yuan"),
    "BRL": (2, "R$", "Brazilian real"),
    "MXN": (2, "MX$", "Mexican peso"),
    "ZAR": (2, "R ", "South African rand"),
    "AED": (2, "AED ", "UAE dirham"),
    "SAR": (2, "SAR ", "Saudi riyal"),
    "ILS": (2, "₪", "Israeli new shekel"),
    "TRY": (2, "TRY ", "Turkish lira"),
    "JPY": (0, "¥", "Japanese yen"),
    "KRW": (0, "₩", "South Korean won"),
    "VND": (0, "₫", "Vietnamese dong"),
    "CLP": (0, "CLP ", "Chilean peso"),
    "ISK": (0, "ISK ", "Icelandic króna"),
    "BHD": (3, "BHD ", "Bahraini dinar"),
    "KWD": (3, "KWD ", "Kuwaiti dinar"),
    "OMR": (3, "OMR ", "Omani rial"),
    "JOD": (3, "JOD ", "Jordanian dinar"),
    "TND": (3, "TND ", "Tunisian dinar"),
}

# The largest minor-unit count of any currency we know: money columns keep this many decimals.
MAX_MINOR_UNITS = max(m for m, _, _ in CURRENCIES.values())


@dataclass(frozen=True)
class Currency:
    code: str
    minor_units: int
    symbol: str
    name: str

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.minor_units)


def currency(code: str) -> Currency:
    """Look up an ISO 4217 currency by code (case-insensitive)."""
    if not isinstance(code, str) or not code.strip():
        raise MoneyError("a currency code is required (for example USD)")
    c = code.strip().upper()
    if c not in CURRENCIES:
        raise MoneyError(f"'{code}' is not a supported currency code (use an ISO code such as USD, EUR, GBP, JPY)")
    minor, symbol, name = CURRENCIES[c]
    return Currency(c, minor, symbol, name)


def to_decimal(value: object, *, field: str = "value") -> Decimal:
    """Turn a str, int or Decimal into a finite Decimal. Floats are refused.

    Accepts thousands separators (``"1,500.25"``) and surrounding spaces, and a leading
    currency symbol ``$``. ``field`` names the value in the error message.
    """
    if isinstance(value, bool):
        raise MoneyError(f"{field}: expected a number, got {value!r}")
    if isinstance(value, float):
        raise MoneyError(
            f"{field}: got the float {value!r}; amounts and quantities must be exact — "
            "pass a string such as '0.10' or a Decimal"
        )
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, str):
        s = value.strip().replace(",", "").replace("_", "")
        if s.startswith("$"):
            s = s[1:].strip()
        if not s:
            raise MoneyError(f"{field}: a number is required")
        try:
            d = Decimal(s)
        except InvalidOperation:
            raise MoneyError(f"{field}: '{value}' is not a number") from None
    else:
        raise MoneyError(f"{field}: expected a number, got {type(value).__name__}")
    if not d.is_finite():
        raise MoneyError(f"{field}: '{value}' is not a finite number")
    return d


def round_money(amount: Decimal, currency_code: str) -> Decimal:
    """THE rounding function: half-up to the currency's minor unit."""
    if not isinstance(amount, Decimal):
        amount = to_decimal(amount, field="amount")
    q = currency(currency_code).quantum
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return amount.quantize(q, rounding=ROUND_HALF_UP)


QUANTITY_QUANTUM = Decimal("0.000001")  # quantities are stored with 6 decimals (core.types.QUANTITY_SCALE)


def average_quantity(total: Decimal, count: int) -> Decimal:
    """An average of event quantities (the ``avg`` metric), half-up to the 6 decimals a quantity is stored with:
    1 + 1 + 2 over 3 events is 1.333333. Money is rounded only by :func:`round_money`; this rounds a quantity."""
    if not count:
        return Decimal(0)
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return (total / count).quantize(QUANTITY_QUANTUM, rounding=ROUND_HALF_UP)


def ceil_div(a: Decimal, b: Decimal) -> Decimal:
    """ceil(a / b) for non-negative Decimals, exact (used by the package model)."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return (a / b).to_integral_value(rounding=ROUND_CEILING)


def format_number(value: Decimal, places: int | None = None) -> str:
    """1500 -> '1,500'; 1500.5 -> '1,500.5'. ``places`` fixes the decimals."""
    d = to_decimal(value)
    if places is not None:
        d = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
        return f"{d:,.{places}f}"
    d = d.normalize() if d != d.to_integral_value() else d.to_integral_value()
    s = f"{d:,f}"
    return s


def format_money(amount: Decimal, currency_code: str, *, precise: bool = False) -> str:
    """'$2,500.00', '¥1,500', 'BHD 1.250'. ``precise`` shows unit prices with all their decimals
    (at least the currency's minor units): '$0.0006'."""
    c = currency(currency_code)
    d = to_decimal(amount)
    sign = "-" if d < 0 else ""
    d = abs(d)
    if precise:
        exp = -d.normalize().as_tuple().exponent if d != 0 else 0
        places = max(c.minor_units, exp if isinstance(exp, int) else 0)
        body = f"{d:,.{places}f}"
    else:
        body = f"{round_money(d, c.code):,.{c.minor_units}f}"
    return f"{sign}{c.symbol}{body}"


def to_minor_units(amount: Decimal, currency_code: str) -> int:
    """A rounded amount as an integer count of minor units ($12.34 -> 1234). Refuses unrounded amounts."""
    c = currency(currency_code)
    d = to_decimal(amount)
    if d != round_money(d, c.code):
        raise MoneyError(f"{format_money(d, c.code, precise=True)} has more decimals than {c.code} allows")
    return int(d.scaleb(c.minor_units))


def from_minor_units(value: int, currency_code: str) -> Decimal:
    c = currency(currency_code)
    return Decimal(int(value)).scaleb(-c.minor_units).quantize(c.quantum)
