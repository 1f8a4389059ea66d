"""Usage ingestion through the HTTP API, on SQLite and PostgreSQL: what a system sending events would notice."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import text
from sqlmodel import select

from core.db import session_scope
from core.metering.metrics import aggregate
from core.models import BillableMetric
from core.types import QUANTITY_SCALE, from_scaled
from tests.api.conftest import recent


def ev(key: str, qty="1", **over) -> dict:
    e = {"idempotency_key": key, "customer_external_id": "acme", "event_name": "api_call", "timestamp": recent(),
         "quantity": qty}
    e.update(over)
    return e


def total(api, customer: str = "acme") -> Decimal:
    with session_scope(api.engine) as s:
        metric = s.exec(select(BillableMetric).where(BillableMetric.code == "api_calls")).one()
        now = datetime.utcnow()
        res = aggregate(s, metric, now - timedelta(days=30), now + timedelta(days=2))
    return res[customer].quantity if customer in res else Decimal(0)


def count_events(api) -> int:
    with api.engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM usage_event")).scalar_one()


def test_health_needs_no_key(api):
    r = api.get("/v1/health")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok"}


def test_one_event_is_stored_and_a_resend_is_a_duplicate(api):
    h = api.auth(api.key())
    r = api.post("/v1/events", json=ev("e-1", "2.5"), headers=h)
    assert r.status_code == 201, r.text
    assert r.json() == {"status": "accepted", "idempotency_key": "e-1"}
    r = api.post("/v1/events", json=ev("e-1", "2.5"), headers=h)
    assert r.status_code == 200 and r.json()["status"] == "duplicate"
    assert total(api) == Decimal("2.5")
    with api.engine.connect() as c:
        assert c.execute(text("SELECT source FROM usage_event")).scalar_one() == "api"


def test_a_batch_counts_once_when_resent(api):
    h = api.auth(api.key())
    batch = {"events": [ev(f"b-{i}", str(i)) for i in range(1, 101)] + [ev("b-1", "1")]}  # b-1 twice in the batch
    r = api.post("/v1/events/batch", json=batch, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"]["count"] == 100 and body["duplicates"]["keys"] == ["b-1"]
    assert body["rejected"] == {"count": 0, "events": []}
    assert total(api) == Decimal(5050)
    r = api.post("/v1/events/batch", json=batch, headers=h)
    assert r.json()["accepted"]["count"] == 0 and r.json()["duplicates"]["count"] == 101
    assert total(api) == Decimal(5050) and count_events(api) == 100


def test_bad_events_are_rejected_one_by_one_and_the_good_ones_stored(api):
    h = api.auth(api.key())
    future = (datetime.utcnow() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    events = [
        ev("ok-1", "3"),
        ev("bad-customer", customer_external_id="nobody"),
        ev("bad-negative", "-1"),
        ev("bad-future", timestamp=future),
        ev("bad-old", timestamp="2019-05-01T00:00:00Z"),
        ev("bad-decimals", "0.1234567"),
        ev("bad-name", event_name="unmetered"),
        ev("bad-date", timestamp="31/01/2025"),
        ev("", "1"),
        ev("ok-2", "4", properties={"region": "eu", "n": 3}),
    ]
    r = api.post("/v1/events/batch", json={"events": events}, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"]["keys"] == ["ok-1", "ok-2"]
    rejected = {(x["index"], x["field"]): x["message"] for x in body["rejected"]["events"]}
    assert body["rejected"]["count"] == 8
    assert "no customer with the external id 'nobody'" in rejected[(1, "customer_external_id")]
    assert "negative" in rejected[(2, "quantity")]
    assert "too far in the future" in rejected[(3, "timestamp")]
    assert "too far in the past" in rejected[(4, "timestamp")]
    assert "more than 6 decimals" in rejected[(5, "quantity")]
    assert "no billable metric uses the event 'unmetered'" in rejected[(6, "event_name")]
    assert "ISO 8601" in rejected[(7, "timestamp")]
    assert "idempotency key is required" in rejected[(8, "idempotency_key")]
    assert total(api) == Decimal(7) and count_events(api) == 2


def test_the_time_window_is_configurable(api, monkeypatch):
    h = api.auth(api.key())
    monkeypatch.setenv("INGEST_MAX_AGE_DAYS", "5000")
    r = api.post("/v1/events", json=ev("old", timestamp="2019-05-01T00:00:00Z"), headers=h)
    assert r.status_code == 201, r.text
    monkeypatch.setenv("INGEST_MAX_FUTURE", "1h")
    later = (datetime.utcnow() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = api.post("/v1/events", json=ev("later", timestamp=later), headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "timestamp"


def test_a_refused_single_event_says_which_field(api):
    r = api.post("/v1/events", json=ev("x", "-2"), headers=api.auth(api.key()))
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_event" and err["fields"] == [{"field": "quantity", "message": "quantity is negative"}]
    assert count_events(api) == 0


def test_wrong_types_and_missing_fields_name_the_event_and_field(api):
    h = api.auth(api.key())
    events = [ev("a"), ev("b", timestamp=1738000000), {"idempotency_key": "c", "customer_external_id": "acme",
                                                        "event_name": "api_call"},
              ev("d", qty=True), ev("e", customer_external_id=42), ev("f", extra="x")]
    r = api.post("/v1/events/batch", json={"events": events}, headers=h)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_request" and "nothing was stored" in err["message"]
    fields = {f["field"]: f["message"] for f in err["fields"]}
    assert fields["events[1].timestamp"] == "must be a string"
    assert fields["events[2].timestamp"] == "is required"
    assert "number or a string" in fields["events[3].quantity"]
    assert fields["events[4].customer_external_id"] == "must be a string"
    assert "not a field" in fields["events[5].extra"]
    assert count_events(api) == 0


def test_malformed_json_is_a_clear_400(api):
    h = {**api.auth(api.key()), "Content-Type": "application/json"}
    r = api.post("/v1/events/batch", content=b'{"events": [', headers=h)
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["code"] == "malformed_json" and "not valid JSON" in err["message"]
    r = api.post("/v1/events", content=b'{"idempotency_key": "n", "quantity": NaN}', headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed_json"


def test_an_oversized_batch_is_refused_with_a_clear_message(api):
    events = [ev(f"o-{i}") for i in range(1001)]
    r = api.post("/v1/events/batch", json={"events": events}, headers=api.auth(api.key()))
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "batch_too_large" and "at most 1,000 events" in err["message"] and "1,001" in err["message"]
    assert count_events(api) == 0


def test_numbers_are_read_exactly(api):
    h = {**api.auth(api.key()), "Content-Type": "application/json"}
    body = json.dumps({"events": [ev(f"d-{i}", None) for i in range(10)]}).replace('"quantity": null', '"quantity": 0.1')
    assert body.count("0.1") == 10
    r = api.post("/v1/events/batch", content=body.encode(), headers=h)
    assert r.status_code == 200 and r.json()["accepted"]["count"] == 10, r.text
    assert total(api) == Decimal(1)  # exactly: 0.1 as a float would not sum to 1
    with api.engine.connect() as c:
        raw = c.execute(text("SELECT sum(quantity) FROM usage_event")).scalar_one()
    assert from_scaled(raw, QUANTITY_SCALE) == Decimal(1)
    r = api.post("/v1/events", content=json.dumps(ev("big", None)).replace("null", "1E+2").encode(), headers=h)
    assert r.status_code == 201, r.text
    assert total(api) == Decimal(101)


def test_missing_invalid_and_revoked_keys_get_401(api):
    from core.apikeys import list_keys, revoke_key
    from core.auth import SYSTEM

    for headers in ({}, {"Authorization": "Bearer ch_live_" + "x" * 32}, {"Authorization": "Bearer nonsense"},
                    {"Authorization": "Basic abc"}):
        r = api.post("/v1/events", json=ev("k"), headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.json()["error"]["code"] == "unauthorized" and r.json()["error"]["message"]
    secret = api.key(name="to revoke")
    assert api.post("/v1/events", json=ev("k1"), headers=api.auth(secret)).status_code == 201
    with session_scope(api.engine) as s:
        key = next(k for k in list_keys(s, SYSTEM) if k.name == "to revoke")
        revoke_key(s, SYSTEM, key.id)
    r = api.post("/v1/events", json=ev("k2"), headers=api.auth(secret))
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    assert count_events(api) == 1


def test_a_key_without_the_scope_gets_403(api):
    r = api.post("/v1/events/batch", json={"events": [ev("s")]}, headers=api.auth(api.key(("usage:read",))))
    assert r.status_code == 403
    assert "usage:write" in r.json()["error"]["message"]
    assert count_events(api) == 0


def test_last_used_is_recorded_at_most_once_a_minute(api):
    secret = api.key(name="busy")
    with api.engine.connect() as c:
        assert c.execute(text("SELECT last_used_at FROM api_key WHERE name = 'busy'")).scalar_one() is None
    api.post("/v1/events", json=ev("u1"), headers=api.auth(secret))
    with api.engine.connect() as c:
        first = c.execute(text("SELECT last_used_at FROM api_key WHERE name = 'busy'")).scalar_one()
    api.post("/v1/events", json=ev("u2"), headers=api.auth(secret))
    with api.engine.connect() as c:
        assert c.execute(text("SELECT last_used_at FROM api_key WHERE name = 'busy'")).scalar_one() == first
    assert first is not None


def test_unknown_paths_and_the_openapi_document(api):
    r = api.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    spec = api.get("/openapi.json").json()
    assert spec["info"]["title"] == "Counting House API" and spec["info"]["version"] == "1"
    assert {"/v1/events", "/v1/events/batch", "/v1/health"} <= set(spec["paths"])
    assert "per event" in spec["info"]["description"]
    assert api.get("/docs").status_code == 200


def test_a_nul_character_is_rejected_not_a_crash(api):
    # found by schemathesis: PostgreSQL cannot store \0 in text, so it must be refused before any query
    events = [ev("nul\x00key"), ev("nul-customer", customer_external_id="ac\x00me"), ev("fine")]
    r = api.post("/v1/events/batch", json={"events": events}, headers=api.auth(api.key()))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"]["keys"] == ["fine"]
    assert {(x["index"], x["field"]) for x in body["rejected"]["events"]} == {(0, "idempotency_key"),
                                                                            (1, "customer_external_id")}
    assert all("NUL" in x["message"] for x in body["rejected"]["events"])
