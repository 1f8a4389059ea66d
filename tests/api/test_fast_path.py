"""The API's common path (api.routes_usage.IngestRoute answers well-formed requests itself) against FastAPI's own
handling, and what must stay true without caches: customers, metrics and keys changed while the API runs count
from the next request on. SQLite and PostgreSQL."""
from __future__ import annotations

import json
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from api.schemas import BatchIn, EventIn, plain_batch, plain_event
from core.auth import SYSTEM
from core.db import session_scope
from core.metering.ingest import ingest_events
from tests.api.conftest import recent
from tests.db import factories

GENERAL = "application/vnd.countinghouse+json"  # JSON all the same, but not the common path's exact type


def ev(key: str, qty="1", **over) -> dict:
    e = {"idempotency_key": key, "customer_external_id": "acme", "event_name": "api_call", "timestamp": recent(),
         "quantity": qty}
    e.update(over)
    return e


def post(api, path: str, body, secret: str | None, general: bool) -> tuple[int, str]:
    headers = {"Content-Type": GENERAL if general else "application/json"}
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    r = api.post(path, content=body if isinstance(body, bytes) else json.dumps(body).encode(), headers=headers)
    return r.status_code, r.text


def count(api) -> int:
    with api.engine.connect() as c:
        return c.execute(text("SELECT count(*) FROM usage_event")).scalar_one()


def test_both_paths_answer_alike(api):
    secret, reader = api.key(), api.key(("usage:read",), name="reader")
    cases = [
        ("/v1/events", lambda p: ev(f"{p}1", "2.5")),                                   # stored: 201
        ("/v1/events", lambda p: ev(f"{p}1", "2.5")),                                   # duplicate: 200
        ("/v1/events", lambda p: ev(f"{p}2", "-1")),                                    # refused: 422
        ("/v1/events", lambda p: ev(f"{p}3", None, properties={"n": 3, "ok": True})),   # no quantity, properties
        ("/v1/events", lambda p: ev(f"{p}4", customer_external_id="nobody")),
        ("/v1/events/batch", lambda p: {"events": [ev(f"{p}b1", "3"), ev(f"{p}b1"), ev(f"{p}b2", "0.1234567"),
                                                   ev(f"{p}b3", event_name="unmetered"), ev(f"{p}1")]}),
        ("/v1/events/batch", lambda p: {"events": [ev(f"{p}c{i}", str(i)) for i in range(50)]}),
    ]
    for path, make in cases:
        fast = post(api, path, make("f-"), secret, general=False)
        general = post(api, path, make("g-"), secret, general=True)
        assert fast[0] == general[0], (path, fast, general)
        assert fast[1].replace('"f-', '"g-').replace("'f-", "'g-") == general[1], (path, fast, general)
    # numbers: an integer and an exact decimal quantity, sent as JSON numbers
    for body in (b'{"idempotency_key": "%s-int", "customer_external_id": "acme", "event_name": "api_call", '
                 b'"timestamp": "' + recent().encode() + b'", "quantity": 7}',
                 b'{"idempotency_key": "%s-dec", "customer_external_id": "acme", "event_name": "api_call", '
                 b'"timestamp": "' + recent().encode() + b'", "quantity": 0.25}'):
        fast = post(api, "/v1/events", body.replace(b"%s", b"f"), secret, general=False)
        general = post(api, "/v1/events", body.replace(b"%s", b"g"), secret, general=True)
        assert fast[0] == general[0] == 201 and fast[1].replace('"f-', '"g-') == general[1]
    # refusals the common path hands to FastAPI's handling: same answers whichever content type was declared
    for body, secret_ in ((ev("x1"), None), (ev("x2"), "ch_live_" + "x" * 32), (ev("x3"), reader),
                          ({"events": []}, secret), (b'{"events": [', secret), (ev("x4", extra=1), secret)):
        fast = post(api, "/v1/events/batch" if "events" in str(body) else "/v1/events", body, secret_, False)
        general = post(api, "/v1/events/batch" if "events" in str(body) else "/v1/events", body, secret_, True)
        assert fast == general and fast[0] in (400, 401, 403, 422), (body, fast, general)
    with api.engine.connect() as c:
        keys = {k for (k,) in c.execute(text("SELECT idempotency_key FROM usage_event"))}
    assert {k[2:] for k in keys if k.startswith("f-")} == {k[2:] for k in keys if k.startswith("g-")}


def test_a_customer_and_a_metric_made_after_the_api_started_count_at_once(api):
    h = api.auth(api.key())
    assert api.post("/v1/events", json=ev("e1"), headers=h).status_code == 201
    r = api.post("/v1/events/batch", json={"events": [ev("e2", customer_external_id="initech"),
                                                      ev("e3", event_name="storage_gb")]}, headers=h)
    assert r.json()["rejected"]["count"] == 2
    with session_scope(api.engine) as s:
        factories.customer(s, "initech")
        factories.metric(s, "storage", "storage_gb", "max")
    r = api.post("/v1/events/batch", json={"events": [ev("e2", customer_external_id="initech"),
                                                      ev("e3", event_name="storage_gb")]}, headers=h)
    assert r.status_code == 200 and r.json()["accepted"]["keys"] == ["e2", "e3"], r.text
    r = api.post("/v1/events", json=ev("e4", customer_external_id="initech"), headers=h)
    assert r.status_code == 201


def test_a_renamed_customer_answers_to_its_new_id_only(api):
    from core.customers import update_customer
    from core.models import Customer
    from sqlmodel import select

    h = api.auth(api.key())
    assert api.post("/v1/events", json=ev("r1", customer_external_id="globex"), headers=h).status_code == 201
    with session_scope(api.engine) as s:
        c = s.exec(select(Customer).where(Customer.external_id == "globex")).one()
        update_customer(s, SYSTEM, c.id, {"external_id": "globex-corp", "name": c.name, "currency": c.currency})
    r = api.post("/v1/events", json=ev("r2", customer_external_id="globex"), headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "customer_external_id"
    assert api.post("/v1/events", json=ev("r3", customer_external_id="globex-corp"), headers=h).status_code == 201


def test_a_revoked_key_is_refused_on_the_next_request_single_and_batch(api):
    from core.apikeys import list_keys, revoke_key

    secret = api.key(name="soon revoked")
    h = api.auth(secret)
    assert api.post("/v1/events/batch", json={"events": [ev("v1")]}, headers=h).status_code == 200
    with session_scope(api.engine) as s:
        revoke_key(s, SYSTEM, next(k for k in list_keys(s, SYSTEM) if k.name == "soon revoked").id)
    for path, body in (("/v1/events/batch", {"events": [ev("v2")]}), ("/v1/events", ev("v3"))):
        r = api.post(path, json=body, headers=h)
        assert r.status_code == 401 and "revoked" in r.json()["error"]["message"], r.text
        assert r.headers["WWW-Authenticate"] == "Bearer"
    assert count(api) == 1


def test_a_wrong_key_of_the_right_form_and_a_missing_scope(api):
    secret = api.key()
    wrong = secret[:-1] + ("A" if secret[-1] != "A" else "B")  # same prefix, another secret
    r = api.post("/v1/events", json=ev("w1"), headers=api.auth(wrong))
    assert r.status_code == 401 and r.json()["error"]["message"] == "the API key is not valid"
    r = api.post("/v1/events", json=ev("w2"), headers=api.auth(api.key(("usage:read",), name="ro")))
    assert r.status_code == 403 and "usage:write" in r.json()["error"]["message"]
    assert count(api) == 0


def test_ingest_on_a_core_connection_is_committed_by_the_caller(engine):
    with session_scope(engine) as s:
        factories.seller(s)
        factories.customer(s, "acme")
        factories.metric(s, "calls", "api_call")
    with engine.connect() as conn:
        result = ingest_events(conn, SYSTEM, [ev("c1"), ev("c2")])
        assert result.accepted == ["c1", "c2"]
        conn.commit()
        result = ingest_events(conn, SYSTEM, [ev("c3")])  # a second transaction on the same connection
        conn.commit()
        ingest_events(conn, SYSTEM, [ev("c4")])  # never committed: rolled back on close
    with engine.connect() as c:
        assert sorted(c.execute(text("SELECT idempotency_key FROM usage_event")).scalars()) == ["c1", "c2", "c3"]


# ---- the common path's shape check accepts nothing the models refuse --------------------------------------

_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.decimals(allow_nan=False,
                                                                                           allow_infinity=False)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=3), inner, max_size=3), max_leaves=6)
_field = st.sampled_from(["idempotency_key", "customer_external_id", "event_name", "timestamp", "quantity",
                          "properties", "extra"])
_events = st.dictionaries(_field, _json, max_size=7) | st.fixed_dictionaries(
    {"idempotency_key": st.text(max_size=3), "customer_external_id": st.text(max_size=3),
     "event_name": st.text(max_size=3), "timestamp": st.text(max_size=3)},
    optional={"quantity": _scalars, "properties": _json})


@given(_events)
@settings(max_examples=400, suppress_health_check=list(HealthCheck), deadline=None)
def test_plain_event_agrees_with_the_model(data):
    plain = plain_event(data)
    try:
        model = EventIn.model_validate(data)
    except ValueError:
        assert plain is None
        return
    if plain is not None:  # what the endpoint hands on: the model's fields
        assert {k: plain.get(k) for k in model.__dict__} == model.__dict__
        q = plain.get("quantity")
        assert q is None or type(q) in (str, Decimal)


@given(st.lists(_events, max_size=3) | _json)
@settings(max_examples=200, suppress_health_check=list(HealthCheck), deadline=None)
def test_plain_batch_agrees_with_the_model(events):
    body = {"events": events}
    plain = plain_batch(body)
    try:
        model = BatchIn.model_validate(body)
    except ValueError:
        assert plain is None
        return
    if plain is not None:
        assert [{k: p.get(k) for k in m.__dict__} for p, m in zip(plain, model.events)] == [
            m.__dict__ for m in model.events]
