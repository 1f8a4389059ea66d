"""/v1/products, /v1/plans and /v1/metrics over HTTP (SQLite and PostgreSQL)."""
from __future__ import annotations

from sqlalchemy import text

CATALOG = ("catalog:read", "catalog:write", "contracts:write")
PLAN = {"name": "Growth", "currency": "USD", "term_months": 12,
        "lines": [{"description": "Platform fee", "product_sku": "PLATFORM", "pricing_model": "flat_fee",
                   "params": {"amount": "499.99"}, "cadence": "monthly", "timing": "advance"}]}


def count(api, table: str, where: str = "") -> int:
    with api.engine.connect() as c:
        return c.execute(text(f"SELECT COUNT(*) FROM {table} {where}")).scalar_one()


def test_products_create_list_filter_and_page(api):
    h = api.auth(api.key(CATALOG))
    r = api.post("/v1/products", json={"sku": "platform", "name": "Platform", "kind": "time"}, headers=h)
    assert r.status_code == 201 and r.json()["sku"] == "PLATFORM"
    for sku in ("API", "STORAGE", "SEATS"):
        assert api.post("/v1/products", json={"sku": sku, "name": sku.title()}, headers=h).status_code == 201
    addon = api.post("/v1/products", json={"sku": "SSO", "name": "SSO", "kind": "time", "parent_sku": "PLATFORM",
                                           "is_addon": True}, headers=h).json()
    assert addon["parent_id"] == r.json()["id"]
    page = api.get("/v1/products", params={"limit": 2}, headers=h).json()
    assert page["total"] == 5 and len(page["data"]) == 2 and page["next"]
    second = api.get(page["next"], headers=h).json()
    third = api.get(second["next"], headers=h).json()
    assert [p["sku"] for p in second["data"] + third["data"]] == ["STORAGE", "SEATS", "SSO"]
    assert third["next"] is None
    assert [p["sku"] for p in api.get("/v1/products", params={"kind": "time"}, headers=h).json()["data"]] == [
        "PLATFORM", "SSO"]
    assert api.get(f"/v1/products/{addon['id']}", headers=h).json()["is_addon"] is True


def test_product_errors_name_the_field_and_scopes_are_enforced(api):
    h = api.auth(api.key(CATALOG))
    reader = api.auth(api.key(("catalog:read",), name="reader"))
    r = api.post("/v1/products", json={"sku": "bad sku!", "name": "X", "kind": "weekly",
                                       "parent_sku": "NOPE"}, headers=h)
    assert r.status_code == 422
    assert {f["field"] for f in r.json()["error"]["fields"]} == {"sku", "kind", "parent_sku"}
    r = api.post("/v1/products", json={"sku": "OK", "name": "OK"}, headers=reader)
    assert r.status_code == 403
    assert count(api, "product") == 0
    assert api.get("/v1/products", headers=api.auth(api.key(("customers:read",), name="c"))).status_code == 403


def test_plans_from_json_with_replay_duplicates_and_errors(api):
    h = api.auth(api.key(CATALOG))
    api.post("/v1/products", json={"sku": "PLATFORM", "name": "Platform", "kind": "time"}, headers=h)
    r = api.post("/v1/plans", json=PLAN, headers={**h, "Idempotency-Key": "plan-growth"})
    assert r.status_code == 201, r.text
    assert r.json()["lines"][0]["params"] == {"amount": "499.99"} and r.json()["term_months"] == 12
    replay = api.post("/v1/plans", json=PLAN, headers={**h, "Idempotency-Key": "plan-growth"})
    assert replay.json() == r.json() and replay.headers["Idempotent-Replayed"] == "true"
    dup = api.post("/v1/plans", json=PLAN, headers=h)
    assert dup.status_code == 422 and dup.json()["error"]["fields"][0]["field"] == "name"
    assert count(api, "plan") == 1
    bad = {**PLAN, "name": "Broken", "lines": [{**PLAN["lines"][0], "product_sku": "NOPE"}]}
    r = api.post("/v1/plans", json=bad, headers=h)
    assert r.status_code == 422 and "NOPE" in r.json()["error"]["message"]
    assert count(api, "plan") == 1
    assert api.get("/v1/plans", params={"currency": "usd"}, headers=h).json()["total"] == 1
    assert api.get("/v1/plans", params={"archived": True}, headers=h).json()["total"] == 0
    assert api.get(f"/v1/plans/{r.json().get('id', 999)}", headers=h).status_code == 404
    # a plan is written through the contracts import: a key with catalog:write only is refused by it
    narrow = api.auth(api.key(("catalog:write",), name="narrow"))
    r = api.post("/v1/plans", json={**PLAN, "name": "Other"}, headers=narrow)
    assert r.status_code == 403 and count(api, "plan") == 1


def test_metrics(api):
    h = api.auth(api.key(("metrics:read", "metrics:write")))
    r = api.post("/v1/metrics", json={"code": "storage_gb", "name": "Storage", "event_name": "storage",
                                      "aggregation": "max", "filters": {"region": "eu"}},
                 headers={**h, "Idempotency-Key": "m1"})
    assert r.status_code == 201 and r.json()["filters"] == {"region": "eu"}
    assert api.post("/v1/metrics", json={"code": "storage_gb", "name": "Storage", "event_name": "storage",
                                         "aggregation": "max", "filters": {"region": "eu"}},
                    headers={**h, "Idempotency-Key": "m1"}).headers["Idempotent-Replayed"] == "true"
    assert count(api, "billable_metric") == 2  # + api_calls from the fixture
    r = api.post("/v1/metrics", json={"code": "Bad Code", "name": "", "aggregation": "median"}, headers=h)
    assert r.status_code == 422 and {f["field"] for f in r.json()["error"]["fields"]} == {"name"}
    r = api.post("/v1/metrics", json={"code": "Bad Code", "name": "B", "aggregation": "median"}, headers=h)
    assert r.status_code == 422 and {"code", "aggregation"} <= {f["field"] for f in r.json()["error"]["fields"]}
    assert count(api, "billable_metric") == 2
    assert [m["code"] for m in api.get("/v1/metrics", params={"aggregation": "max"}, headers=h).json()["data"]] == [
        "storage_gb"]
    page = api.get("/v1/metrics", params={"limit": 1}, headers=h).json()
    assert page["total"] == 2 and api.get(page["next"], headers=h).json()["data"][0]["code"] == "storage_gb"
    assert api.get(f"/v1/metrics/{r.json().get('id', 99)}", headers=h).status_code == 404
    assert api.post("/v1/metrics", json={"code": "x", "name": "X", "event_name": "x", "aggregation": "sum"},
                    headers=api.auth(api.key(("metrics:read",), name="r"))).status_code == 403
    assert count(api, "billable_metric") == 2
