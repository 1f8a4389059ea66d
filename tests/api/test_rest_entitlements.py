"""/v1/entitlements over HTTP (SQLite and PostgreSQL): balances, the run-time check, granting (by hand and with a
contract) and ending a grant early; field errors, Idempotency-Key, scopes. Segments: tests/api/test_rest_segments.py."""
from __future__ import annotations

from datetime import date

from core.auth import SYSTEM
from core.db import session_scope


def _grants(api) -> None:
    from core.entitlements.grants import GrantSpec, create_grant

    with session_scope(api.engine) as s:
        create_grant(s, SYSTEM, GrantSpec(customer_external_id="acme", key="sso", kind="feature",
                                          start_date=date(2026, 1, 1), name="Single sign-on"))
        create_grant(s, SYSTEM, GrantSpec(customer_external_id="globex", key="sso", kind="feature",
                                          start_date=date(2026, 1, 1), name="Single sign-on", enabled=False))
        create_grant(s, SYSTEM, GrantSpec(customer_external_id="acme", key="budget", kind="credit",
                                          start_date=date(2026, 1, 1), amount="1000.50", currency="USD",
                                          name="Prepaid budget"))


def test_entitlement_balances_and_check(api):
    _grants(api)
    h = api.auth(api.key(("entitlements:read",)))
    page = api.get("/v1/entitlements", params={"on": "2026-06-01", "limit": 2}, headers=h).json()
    assert page["total"] == 3 and len(page["data"]) == 2 and page["next"]
    rest = api.get(page["next"], headers=h).json()
    assert rest["next"] is None and len(rest["data"]) == 1
    rows = {(b["customer_external_id"], b["key"]): b for b in page["data"] + rest["data"]}
    assert rows[("acme", "sso")]["status"] == "on" and rows[("globex", "sso")]["status"] == "off"
    assert rows[("acme", "budget")]["limit"] == "1000.50" and rows[("acme", "budget")]["used"] == "0.00"
    only = api.get("/v1/entitlements", params={"kind": "credit"}, headers=h).json()
    assert [b["key"] for b in only["data"]] == ["budget"]

    yes = api.get("/v1/entitlements/check", params={"customer": "acme", "key": "sso", "on": "2026-06-01"},
                  headers=h).json()
    assert yes["allowed"] is True and yes["kind"] == "feature"
    off = api.get("/v1/entitlements/check", params={"customer": "globex", "key": "sso", "on": "2026-06-01"},
                  headers=h).json()
    assert off["allowed"] is False and "off" in off["reason"]
    early = api.get("/v1/entitlements/check", params={"customer": "acme", "key": "sso", "on": "2025-06-01"},
                    headers=h).json()
    assert early["allowed"] is False and "no 'sso' entitlement" in early["reason"]
    assert api.get("/v1/entitlements/check", params={"customer": "nobody", "key": "sso"},
                   headers=h).status_code == 404
    other = api.auth(api.key(("customers:read",), name="other"))
    assert api.get("/v1/entitlements", headers=other).status_code == 403
    assert api.get("/v1/entitlements/check", params={"customer": "acme", "key": "sso"},
                   headers=other).status_code == 403


WRITE = ("entitlements:read", "entitlements:write")


def test_grant_by_hand_and_end_early(api):
    import json

    from sqlalchemy import text

    h = api.auth(api.key(WRITE, name="provisioning"))
    with api.engine.connect() as c:
        metric_id = c.execute(text("SELECT id FROM billable_metric WHERE code = 'api_calls'")).scalar_one()
    body = {"customer": "acme", "key": "api_calls", "kind": "quantity", "metric_id": metric_id,
            "units": "100000", "reset": "month", "limit_type": "soft", "start_date": "2026-01-01",
            "name": "API calls"}
    r = api.post("/v1/entitlements", json=body, headers={**h, "Idempotency-Key": "grant-acme-calls"})
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["customer_external_id"], made["kind"], made["limit"], made["limit_type"]) == \
        ("acme", "quantity", "100000", "soft")
    assert made["active"] is True and made["used"] == "0" and made["end_date"] is None
    replay = api.post("/v1/entitlements", json=body, headers={**h, "Idempotency-Key": "grant-acme-calls"})
    assert replay.json() == made and replay.headers["Idempotent-Replayed"] == "true"
    feature = api.post("/v1/entitlements", json={"customer": "globex", "key": "sso", "kind": "feature",
                                                 "start_date": "2026-01-01", "enabled": True}, headers=h)
    assert feature.status_code == 201 and feature.json()["status"] == "on"
    check = api.get("/v1/entitlements/check", params={"customer": "globex", "key": "sso", "on": "2026-06-01"},
                    headers=h).json()
    assert check["allowed"] is True and check["grant_id"] == feature.json()["grant_id"]

    # a second grant of the same key on overlapping days: refused, naming the first one
    r = api.post("/v1/entitlements", json={**body, "start_date": "2026-06-01"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "start_date"
    assert f"grant #{made['grant_id']}" in r.json()["error"]["message"]

    gid = made["grant_id"]
    r = api.post(f"/v1/entitlements/{gid}/end", json={"end_date": "2026-07-01", "reason": "downgraded"},
                 headers={**h, "Idempotency-Key": "end-1"})
    assert r.status_code == 200 and r.json()["end_date"] == "2026-07-01"
    assert api.get(f"/v1/entitlements/{gid}", params={"on": "2026-07-15"}, headers=h).json()["active"] is False
    assert api.get(f"/v1/entitlements/{gid}", params={"on": "2026-06-15"}, headers=h).json()["active"] is True
    r = api.post(f"/v1/entitlements/{gid}/end", json={"end_date": "2026-08-01"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "end_date"
    assert "already ends on 1 Jul 2026" in r.json()["error"]["message"]
    # the next grant may start when the first one ends
    later = api.post("/v1/entitlements", json={**body, "start_date": "2026-07-01", "units": "250000"}, headers=h)
    assert later.status_code == 201 and later.json()["limit"] == "250000"
    assert api.post("/v1/entitlements/987654/end", json={"end_date": "2026-07-01"}, headers=h).status_code == 404
    assert api.get("/v1/entitlements/987654", headers=h).status_code == 404
    with api.engine.connect() as c:
        rows = [tuple(row) for row in c.execute(text(
            "SELECT action, actor FROM audit_log WHERE entity_type = 'entitlement_grant' ORDER BY id"))]
        ended = c.execute(text("SELECT details FROM audit_log WHERE action = 'entitlement.end'")).scalar_one()
    assert rows == [("entitlement.grant", "api-key:provisioning")] * 2 + [
        ("entitlement.end", "api-key:provisioning"), ("entitlement.grant", "api-key:provisioning")]
    ended = ended if isinstance(ended, dict) else json.loads(ended)
    assert (ended["before"], ended["after"], ended["reason"]) == (None, "2026-07-01", "downgraded")


def test_a_grant_with_a_contract_takes_its_dates(api):
    from decimal import Decimal

    from core.billing.contracts import LineSpec
    from tests.db import factories

    with session_scope(api.engine) as s:
        ct = factories.contract(s, "acme", [LineSpec("Platform", "flat_fee", {"amount": "100"},
                                                     fixed_quantity=Decimal(1))],
                                start=date(2026, 3, 1), end_date=date(2027, 3, 1))
        contract_id = ct.id
    h = api.auth(api.key(WRITE))
    r = api.post("/v1/entitlements", json={"contract_id": contract_id, "key": "budget", "kind": "credit",
                                           "amount": "5000.00"}, headers=h)
    assert r.status_code == 201, r.text
    got = r.json()
    assert (got["customer_external_id"], got["start_date"], got["end_date"], got["limit"]) == \
        ("acme", "2026-03-01", "2027-03-01", "5000.00")
    r = api.post("/v1/entitlements", json={"contract_id": contract_id, "customer": "globex", "key": "sso",
                                           "kind": "feature", "start_date": "2026-03-01"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "contract_id"
    assert "belongs to another customer" in r.json()["error"]["message"]
    r = api.post("/v1/entitlements", json={"contract_id": 987654, "key": "sso", "kind": "feature"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"] == [
        {"field": "contract_id", "message": "there is no such contract"}]


def test_a_bad_grant_names_each_field_and_stores_nothing(api):
    from sqlalchemy import text

    def grants() -> int:
        with api.engine.connect() as c:
            return c.execute(text("SELECT COUNT(*) FROM entitlement_grant")).scalar_one()

    h = api.auth(api.key(WRITE))
    r = api.post("/v1/entitlements", json={"customer": "nobody", "key": "API Calls!", "kind": "quantity",
                                           "start_date": "2026-01-01"}, headers=h)
    assert r.status_code == 422
    fields = {f["field"]: f["message"] for f in r.json()["error"]["fields"]}
    assert set(fields) == {"customer", "key", "metric_id", "units"}
    assert "there is no customer 'nobody'" in fields["customer"]
    r = api.post("/v1/entitlements", json={"key": "sso", "kind": "feature", "start_date": "2026-01-01"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"] == [{"field": "customer", "message": "is required"}]
    r = api.post("/v1/entitlements", json={"customer": "acme", "key": "sso", "kind": "feature",
                                           "start_date": "2026-02-01", "end_date": "2026-01-01"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "end_date"
    r = api.post("/v1/entitlements", json={"customer": "acme", "key": "budget", "kind": "credit",
                                           "start_date": "2026-01-01", "amount": 12.5}, headers=h)
    assert r.status_code == 201  # an exact JSON number is read exactly
    r = api.post("/v1/entitlements", json={"customer": "acme", "key": "credits", "kind": "credit",
                                           "start_date": "2026-01-01", "amount": "10.505"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "amount"
    r = api.post("/v1/entitlements", json={"customer": "acme", "key": "x", "kind": "gold"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "kind"
    assert grants() == 1
    reader = api.auth(api.key(("entitlements:read",), name="reader"))
    r = api.post("/v1/entitlements", json={"customer": "acme", "key": "sso", "kind": "feature",
                                           "start_date": "2026-01-01"}, headers=reader)
    assert r.status_code == 403 and "entitlements:write" in r.json()["error"]["message"]
    assert api.post("/v1/entitlements/1/end", json={"end_date": "2026-03-01"}, headers=reader).status_code == 403
    assert grants() == 1
