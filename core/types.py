"""Exact column types: Decimals stored as scaled integers.

SQLAlchemy stores a Numeric column on SQLite as a binary float (ten 0.1s sum to 0.9999999999999999).
We store every amount and quantity as a BIGINT scaled by a fixed power of ten instead, so values and
SQL SUMs are exact on SQLite and PostgreSQL alike. A value with more decimals than the scale holds is
refused, never silently rounded.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger
from sqlalchemy.types import TypeDecorator

from core.money import MAX_MINOR_UNITS, MoneyError, to_decimal

MONEY_SCALE = MAX_MINOR_UNITS  # 3 decimals: covers every currency's minor unit (BHD, KWD, OMR)
QUANTITY_SCALE = 6  # usage quantities: up to 6 decimals (0.000001)
PRICE_SCALE = 12  # unit prices on edited invoice lines: up to 12 decimals


class ScaledDecimal(TypeDecorator):
    """Decimal in Python, BIGINT (value × 10^scale) in the database."""

    impl = BigInteger
    cache_ok = True

    def __init__(self, scale: int, *args, **kwargs):
        self.scale = scale
        super().__init__(*args, **kwargs)

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        d = to_decimal(value, field="stored value")
        scaled = d.scaleb(self.scale)
        if scaled != scaled.to_integral_value():
            raise MoneyError(f"{d} has more than {self.scale} decimal places and cannot be stored exactly")
        return int(scaled)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-self.scale)

    def copy(self, **kw):
        return ScaledDecimal(self.scale)


def Money():  # noqa: N802 - reads like a type in column definitions
    return ScaledDecimal(MONEY_SCALE)


def Quantity():  # noqa: N802
    return ScaledDecimal(QUANTITY_SCALE)


def from_scaled(value: int | None, scale: int) -> Decimal:
    """For raw SQL results (bulk paths that bypass the ORM)."""
    return Decimal(int(value or 0)).scaleb(-scale)


def to_scaled(value: Decimal, scale: int) -> int:
    return ScaledDecimal(scale).process_bind_param(value, None)
