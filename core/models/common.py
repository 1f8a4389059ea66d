from datetime import UTC, datetime

from sqlalchemy import Column

from core.types import Money, Quantity


def utcnow() -> datetime:
    """Naive UTC timestamp: every timestamp is stored in UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def money_column(nullable: bool = False, default=None) -> Column:
    return Column(Money(), nullable=nullable, default=default)


def quantity_column(nullable: bool = False, default=None) -> Column:
    return Column(Quantity(), nullable=nullable, default=default)
