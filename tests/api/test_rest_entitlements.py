"""/v1/entitlements and /v1/segments over HTTP (SQLite and PostgreSQL): read only — balances, the run-time check,
segments and their members; scopes."""
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


def test_segments_and_their_customers(api):
    from core.receivables.segments import create_segment, set_customer_attributes
    from sqlmodel import select

    from core.models import Customer
    from tests.db import factories

    with session_scope(api.engine) as s:
        factories.customer(s, "hooli", currency="EUR")
        seg = create_segment(s, SYSTEM, name="Euro customers", rules={"groups": [[
            {"field": "currency", "op": "in", "value": ["EUR"]}]]})
        seg_id = seg.id
        acme = s.exec(select(Customer).where(Customer.external_id == "acme")).one()
        set_customer_attributes(s, SYSTEM, acme.id, {"tier": "gold"})
    h = api.auth(api.key(("receivables:read", "customers:read")))
    listed = api.get("/v1/segments", headers=h).json()
    assert [s["name"] for s in listed["data"]] == ["Euro customers"] and listed["data"][0]["rules_text"]
    assert api.get(f"/v1/segments/{seg_id}", headers=h).json()["name"] == "Euro customers"
    members = api.get(f"/v1/segments/{seg_id}/customers", headers=h).json()
    assert [c["external_id"] for c in members["data"]] == ["hooli"]
    acme = api.get("/v1/customers", params={"q": "acme"}, headers=h).json()["data"][0]
    assert acme["attributes"] == {"tier": "gold"}
    assert api.get("/v1/segments/999999", headers=h).status_code == 404
    no_customers = api.auth(api.key(("receivables:read",), name="segments only"))
    assert api.get("/v1/segments", headers=no_customers).status_code == 200
    assert api.get(f"/v1/segments/{seg_id}/customers", headers=no_customers).status_code == 403
    assert api.get("/v1/segments", headers=api.auth(api.key(("customers:read",), name="c"))).status_code == 403
