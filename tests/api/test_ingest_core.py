"""core.metering.ingest called directly (as the CLI or a connector would), on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest

from core.auth import SYSTEM, Actor
from core.errors import PermissionDenied
from core.metering.ingest import ingest_events, window
from tests.db import factories


@pytest.fixture
def seeded(session):
    factories.seller(session)
    factories.customer(session, "acme")
    factories.metric(session, "calls", "api_call")
    session.commit()
    return session


def test_wrong_types_from_a_python_caller_are_rejected_per_event(seeded):
    now = datetime(2026, 6, 1, 12)
    ok = {"idempotency_key": "a", "customer_external_id": "acme", "event_name": "api_call",
          "timestamp": "2026-06-01T10:00:00Z", "quantity": 2}
    events = [ok, {**ok, "idempotency_key": "b", "customer_external_id": 7},
              {**ok, "idempotency_key": "c", "quantity": 0.5}, {**ok, "idempotency_key": "d", "properties": [1]},
              {**ok, "idempotency_key": "e", "quantity": Decimal("1.5")}]
    result = ingest_events(seeded, SYSTEM, events, now=now)
    assert result.accepted == ["a", "e"]
    problems = {(r.index, r.field): r.message for r in result.rejected}
    assert problems[(1, "customer_external_id")] == "must be a string"
    assert "never as a float" in problems[(2, "quantity")]
    assert "JSON object" in problems[(3, "properties")]
    assert result.rejected_events == 3


def test_the_window_and_the_permission(seeded, monkeypatch):
    monkeypatch.setenv("INGEST_MAX_FUTURE", "2h")
    monkeypatch.setenv("INGEST_MAX_AGE_DAYS", "10")
    now = datetime(2026, 6, 1, 12)
    assert window(now) == (now - timedelta(days=10), now + timedelta(hours=2))
    with pytest.raises(PermissionDenied):
        ingest_events(seeded, Actor("val", "viewer"), [], now=now)
