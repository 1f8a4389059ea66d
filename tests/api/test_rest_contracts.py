"""/v1/contracts over HTTP (SQLite and PostgreSQL): create from the contracts JSON document, list, read, activate,
amend a line from a day and end early."""
from __future__ import annotations

from sqlalchemy import text

from core.auth import SYSTEM
from core.catalog import create_product
from core.db import session_scope

SCOPES = ("contracts:read", "contracts:write")


def count(api, table: str, where: str = "") -> int:
    with api.engine.connect() as c:
        return c.execute(text(f"SELECT COUNT(*) FROM {table} {where}")).scalar_one()


def doc(*contracts) -> dict:
    return {"format": "countinghouse.contracts", "version": 1, "contracts": list(contracts)}


def contract(customer="acme", name="Acme 2026", status="draft", amount="500", **extra) -> dict:
    return {"customer_external_id": customer, "name": name, "currency": "USD", "start_date": "2026-01-01",
            "status": status, **extra,
            "lines": [{"description": "Platform fee", "product_sku": "PLATFORM", "pricing_model": "flat_fee",
                       "params": {"amount": amount}, "cadence": "monthly", "timing": "advance",
                       "fixed_quantity": "1"},
                      {"description": "API calls", "pricing_model": "per_unit", "metric_code": "api_calls",
                       "params": {"unit_price": "0.002"}}]}


def _products(api) -> None:
    with session_scope(api.engine) as s:
        create_product(s, SYSTEM, sku="PLATFORM", name="Platform", kind="time")


def test_create_read_activate_amend_and_end(api):
    _products(api)
    h = api.auth(api.key(SCOPES))
    r = api.post("/v1/contracts", json=doc(contract()), headers=h)
    assert r.status_code == 201, r.text
    (cid,) = r.json()["contract_ids"]
    got = api.get(f"/v1/contracts/{cid}", headers=h).json()
    assert got["status"] == "draft" and got["customer_external_id"] == "acme"
    assert [ln["params"] for ln in got["lines"]] == [{"amount": "500"}, {"unit_price": "0.002"}]
    assert got["lines"][1]["metric_code"] == "api_calls"
    r = api.post(f"/v1/contracts/{cid}/activate", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["activated_at"]
    again = api.post(f"/v1/contracts/{cid}/activate", headers=h)
    assert again.status_code == 422 and "only a draft" in again.json()["error"]["message"]

    fee = got["lines"][0]["id"]
    r = api.post(f"/v1/contracts/{cid}/lines/{fee}/change", json={"effective": "2026-04-01",
                                                                   "params": {"amount": "650.50"}}, headers=h)
    assert r.status_code == 201, r.text
    lines = {ln["id"]: ln for ln in r.json()["contract"]["lines"]}
    assert lines[fee]["end_date"] == "2026-04-01"
    new = lines[r.json()["new_line_id"]]
    assert new["start_date"] == "2026-04-01" and new["params"] == {"amount": "650.50"}
    usage = got["lines"][1]["id"]
    r = api.post(f"/v1/contracts/{cid}/lines/{usage}/change", json={"effective": "2026-04-01",
                                                                     "params": {"unit_price": "1"}}, headers=h)
    assert r.status_code == 422 and "usage line" in r.json()["error"]["message"]
    r = api.post(f"/v1/contracts/{cid}/end", json={"effective": "2026-09-01"}, headers=h)
    assert r.status_code == 200 and r.json()["end_date"] == "2026-09-01"
    r = api.post(f"/v1/contracts/{cid}/end", json={"effective": "2025-01-01"}, headers=h)
    assert r.status_code == 422 and api.get(f"/v1/contracts/{cid}", headers=h).json()["end_date"] == "2026-09-01"
    assert api.post(f"/v1/contracts/{cid}/lines/999999/change", json={"effective": "2026-05-01"},
                    headers=h).status_code == 404
    with api.engine.connect() as c:
        actions = [a for (a,) in c.execute(text("SELECT action FROM audit_log WHERE actor LIKE 'api-key:%' "
                                                "ORDER BY id"))]
    assert actions == ["contract.create", "contracts.import", "contract.activate", "contract.change_line",
                       "contract.end_early"]


def test_invalid_documents_name_the_contract_and_line_and_create_nothing(api):
    _products(api)
    h = api.auth(api.key(SCOPES))
    bad = contract(name="Broken", amount="-5")
    bad["lines"][0]["product_sku"] = "NOPE"
    r = api.post("/v1/contracts", json=doc(contract(name="Fine"), bad), headers=h)
    assert r.status_code == 422
    fields = r.json()["error"]["fields"]
    assert {f["field"] for f in fields} == {"contracts[1].lines[0]"}
    assert any("NOPE" in f["message"] for f in fields)
    assert count(api, "contract") == 0  # the fine one too: all or nothing
    r = api.post("/v1/contracts", json={"format": "other", "version": 1, "contracts": []}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "format"
    r = api.post("/v1/contracts", json=doc(contract(name="x" * 201)), headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "contracts[0].name"
    dry = api.post("/v1/contracts", params={"dry_run": True}, json=doc(contract()), headers=h)
    assert dry.status_code == 200 and dry.json()["committed"] is False and count(api, "contract") == 0


def test_list_filters_pages_scopes_and_replay(api):
    _products(api)
    h = api.auth(api.key(SCOPES))
    body = doc(contract(name="A", status="active"), contract(name="B"), contract(customer="globex", name="C"))
    first = api.post("/v1/contracts", json=body, headers={**h, "Idempotency-Key": "load-1"})
    replay = api.post("/v1/contracts", json=body, headers={**h, "Idempotency-Key": "load-1"})
    assert first.status_code == replay.status_code == 201 and replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true" and count(api, "contract") == 3
    # the same document without a key: every contract is already stored, so each is skipped (never twice)
    plain = api.post("/v1/contracts", json=body, headers=h)
    assert plain.status_code == 201 and plain.json()["contract_ids"] == [] and len(plain.json()["skipped"]) == 3
    assert count(api, "contract") == 3
    listed = api.get("/v1/contracts", params={"customer": "acme", "limit": 1}, headers=h).json()
    assert listed["total"] == 2 and listed["data"][0]["name"] == "A" and listed["data"][0]["lines"] is None
    assert api.get(listed["next"], headers=h).json()["data"][0]["name"] == "B"
    assert [c["name"] for c in api.get("/v1/contracts", params={"status": "draft"}, headers=h).json()["data"]] == [
        "B", "C"]
    reader = api.auth(api.key(("contracts:read",), name="reader"))
    cid = first.json()["contract_ids"][1]
    assert api.post(f"/v1/contracts/{cid}/activate", headers=reader).status_code == 403
    assert api.post("/v1/contracts", json=doc(contract(name="D")), headers=reader).status_code == 403
    assert api.get(f"/v1/contracts/{cid}", headers=reader).json()["status"] == "draft"
    assert count(api, "contract") == 3
    assert api.get("/v1/contracts", headers=api.auth(api.key(("usage:write",), name="u"))).status_code == 403
