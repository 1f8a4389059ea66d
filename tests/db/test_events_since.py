"""The Usage page keeps each metric's month of quantities until an event that would change them is stored:
``events_since`` says whether one was — only for the metric (its event name and filters) and the period."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import func, select

from core.metering.metrics import events_since
from core.models import UsageEvent
from tests.db import factories as f

OCT, NOV = datetime(2025, 10, 1), datetime(2025, 11, 1)


def test_only_a_new_event_of_the_metric_in_the_period_counts(session):
    f.seller(session)
    f.customer(session, "C1")
    calls = f.metric(session, "calls", "api_call")
    eu = f.metric(session, "eu_calls", "api_call", filters={"region": "eu"})
    f.events(session, "C1", "api_call", [5], when=datetime(2025, 10, 3))
    seen = session.exec(select(func.max(UsageEvent.id))).one()
    assert not events_since(session, calls, OCT, NOV, seen)
    f.events(session, "C1", "api_call", [1], when=datetime(2025, 11, 2))  # next month
    f.events(session, "C1", "storage", [1], when=datetime(2025, 10, 9))  # another metric
    assert not events_since(session, calls, OCT, NOV, seen)
    f.events(session, "C1", "api_call", [2], when=datetime(2025, 10, 20), region="us")
    assert events_since(session, calls, OCT, NOV, seen)  # October's calls changed
    assert not events_since(session, eu, OCT, NOV, seen)  # but not the EU-only ones
    assert events_since(session, calls, OCT, NOV, seen - 1)  # an earlier aggregation misses the first event too
