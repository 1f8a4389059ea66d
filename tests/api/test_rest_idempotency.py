"""Idempotency-Key on the REST API's POSTs (SQLite and PostgreSQL): the answers table, its expiry, a key reused for
another request, a bad header, and two identical requests racing each other."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from core import api_idempotency as idem
from core.apikeys import create_key
from core.auth import SYSTEM
from core.errors import UserError
from core.models import utcnow

BODY = {"external_id": "umbrella", "name": "Umbrella"}


def count(api, table: str, where: str = "") -> int:
    with api.engine.connect() as c:
        return c.execute(text(f"SELECT COUNT(*) FROM {table} {where}")).scalar_one()


def test_the_answers_table(session, monkeypatch):
    key, _secret = create_key(session, SYSTEM, "k", ["customers:write"])
    h = idem.request_hash("POST /v1/customers", b'{"a":1}')
    assert idem.lookup(session, api_key_id=key.id, key="abc", method_path="POST /v1/customers", req_hash=h) is None
    idem.remember(session, api_key_id=key.id, key="abc", method_path="POST /v1/customers", req_hash=h,
                  status_code=201, body='{"id": 7}')
    session.commit()
    got = idem.lookup(session, api_key_id=key.id, key="abc", method_path="POST /v1/customers", req_hash=h)
    assert (got.status_code, got.body) == (201, '{"id": 7}')
    with pytest.raises(idem.IdempotencyMismatch, match="different body"):
        idem.lookup(session, api_key_id=key.id, key="abc", method_path="POST /v1/customers",
                    req_hash=idem.request_hash("POST /v1/customers", b'{"a":2}'))
    with pytest.raises(idem.IdempotencyMismatch, match="another request"):
        idem.lookup(session, api_key_id=key.id, key="abc", method_path="POST /v1/products", req_hash=h)
    with pytest.raises(IntegrityError):  # the unique constraint: the loser of a race fails here
        idem.remember(session, api_key_id=key.id, key="abc", method_path="POST /v1/customers", req_hash=h,
                      status_code=201, body="{}")
    session.rollback()
    # after the TTL the answer is dropped: the key may be used again
    later = utcnow() + idem.TTL + timedelta(minutes=1)
    assert idem.lookup(session, api_key_id=key.id, key="abc", method_path="POST /v1/customers", req_hash=h,
                       now=later) is None
    idem.remember(session, api_key_id=key.id, key="other", method_path="POST /v1/customers", req_hash=h,
                  status_code=201, body="{}")
    assert idem.purge(session, now=later) == 1
    # expired answers are also dropped now and then as new ones are stored
    idem.remember(session, api_key_id=key.id, key="stale", method_path="POST /v1/customers", req_hash=h,
                  status_code=201, body="{}")
    session.connection().execute(text("UPDATE api_idempotency SET created_at = :old WHERE idempotency_key = 'stale'"),
                                 {"old": utcnow() - idem.TTL - timedelta(hours=1)})
    monkeypatch.setattr(idem, "PURGE_CHANCE", 1.0)
    idem.remember(session, api_key_id=key.id, key="fresh", method_path="POST /v1/customers", req_hash=h,
                  status_code=201, body="{}")
    assert [r[0] for r in session.connection().execute(text("SELECT idempotency_key FROM api_idempotency"))] == [
        "fresh"]
    for bad in ("", " ", "x" * 256, "tab\there"):
        with pytest.raises(UserError, match="Idempotency-Key"):
            idem.clean_key(bad)
    assert idem.clean_key(None) is None and idem.clean_key(" 5f0c ") == "5f0c"


def test_a_bad_header_is_refused_before_anything_is_done(api):
    h = api.auth(api.key(("customers:write",)))
    r = api.post("/v1/customers", json=BODY, headers={**h, "Idempotency-Key": "x" * 256})
    assert r.status_code == 422 and count(api, "customer", "WHERE external_id = 'umbrella'") == 0
    r = api.post("/v1/customers", json=BODY, headers={**h, "Idempotency-Key": " "})
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "Idempotency-Key"
    assert count(api, "customer", "WHERE external_id = 'umbrella'") == 0


def test_the_same_key_on_another_endpoint_is_refused(api):
    h = api.auth(api.key(("customers:write", "metrics:write")))
    assert api.post("/v1/customers", json=BODY, headers={**h, "Idempotency-Key": "shared"}).status_code == 201
    r = api.post("/v1/metrics", json={"code": "m", "name": "M", "event_name": "m", "aggregation": "sum"},
                 headers={**h, "Idempotency-Key": "shared"})
    assert r.status_code == 422 and "another request (POST /v1/customers)" in r.json()["error"]["message"]
    assert count(api, "billable_metric", "WHERE code = 'm'") == 0


def test_the_loser_of_a_race_gets_the_winners_answer(api, monkeypatch):
    """Two identical requests at once: both find no stored answer and both act; the second one's insert of the
    answer hits the unique constraint, its whole transaction is rolled back, and it answers with the first one's.
    (The race is staged: the second request's first lookup is made blind.)"""
    h = api.auth(api.key(("customers:write",)))
    upload = {"file": ("c.csv", b"external_id,name\numbrella,Umbrella\n", "text/csv")}
    first = api.post("/v1/customers/import", files=upload, headers={**h, "Idempotency-Key": "race"})
    assert first.status_code == 200 and first.json()["created"] == 1
    real_lookup = idem.lookup
    calls = []

    def blind_once(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        return None if len(calls) == 1 else real_lookup(*args, **kwargs)

    monkeypatch.setattr(idem, "lookup", blind_once)
    second = api.post("/v1/customers/import", files=upload, headers={**h, "Idempotency-Key": "race"})
    assert len(calls) == 2  # blind, then the lookup after the rollback
    assert second.status_code == 200 and second.headers["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()  # not the second run's own answer ("1 unchanged")
    assert count(api, "customer", "WHERE external_id = 'umbrella'") == 1
    assert count(api, "audit_log", "WHERE action = 'customers.import'") == 1  # the loser's audit entry rolled back


def test_usage_events_with_the_header_replay_the_first_answer(api):
    """Events carry their own idempotency_key (a duplicate is never counted twice); with the header too, a retried
    request gets the very first answer back ("accepted"), not "duplicate"."""
    from tests.api.conftest import recent

    h = api.auth(api.key(("usage:write",)))
    event = {"idempotency_key": "e-1", "customer_external_id": "acme", "event_name": "api_call",
             "timestamp": recent(), "quantity": "2.5"}
    first = api.post("/v1/events", json=event, headers={**h, "Idempotency-Key": "send-e-1"})
    again = api.post("/v1/events", json=event, headers={**h, "Idempotency-Key": "send-e-1"})
    assert first.status_code == again.status_code == 201 and first.json()["status"] == "accepted"
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    plain = api.post("/v1/events", json=event, headers=h)
    assert plain.status_code == 200 and plain.json()["status"] == "duplicate"
    batch = {"events": [{**event, "idempotency_key": "e-2"}]}
    one = api.post("/v1/events/batch", json=batch, headers={**h, "Idempotency-Key": "batch-1"})
    two = api.post("/v1/events/batch", json=batch, headers={**h, "Idempotency-Key": "batch-1"})
    assert one.json()["accepted"]["keys"] == ["e-2"] and two.json() == one.json()
    assert two.headers["Idempotent-Replayed"] == "true"
    assert count(api, "usage_event") == 2
