"""Test data built through the real services (never by writing rows the services would refuse)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import insert

from core.auth import SYSTEM
from core.billing.contracts import ContractSpec, LineSpec, create_contract
from core.catalog import create_entity
from core.customers import create_customer
from core.metering.metrics import MetricSpec, create_metric
from core.models import UsageEvent

TIERS = {"tiers": [{"up_to": "500", "unit_price": "2"}, {"up_to": "2000", "unit_price": "1.50"},
                   {"up_to": None, "unit_price": "1"}]}


def seller(session, prefix: str = "INV-"):
    return create_entity(session, SYSTEM, name=f"Seller {prefix}", invoice_prefix=prefix)


def customer(session, external_id: str = "C1", **extra):
    return create_customer(session, SYSTEM, {"external_id": external_id, "name": f"Customer {external_id}",
                                             "currency": "USD", **extra})


def metric(session, code: str, event: str, aggregation: str = "sum", **extra):
    return create_metric(session, SYSTEM, MetricSpec(code=code, name=code.title(), event_name=event,
                                                     aggregation=aggregation, **extra))


def contract(session, customer_id: str, lines: list[LineSpec], start: date = date(2025, 1, 1), **extra):
    return create_contract(session, SYSTEM, ContractSpec(customer_external_id=customer_id, name="Contract",
                                                         currency=extra.pop("currency", "USD"),
                                                         start_date=start, lines=lines, **extra))


_counter = iter(range(1, 10**9))


def events(session, customer_id: str, event: str, quantities, when: datetime = datetime(2025, 1, 10),
           **props) -> None:
    """Bulk-insert events through the driver, as the importers do."""
    rows = [dict(idempotency_key=f"k-{next(_counter)}", customer_external_id=customer_id, event_name=event,
                 timestamp=when, quantity=Decimal(str(q)) if q is not None else None,
                 properties=dict(props), source="test", created_at=datetime(2025, 1, 1))
            for q in quantities]
    session.connection().execute(insert(UsageEvent.__table__), rows)
