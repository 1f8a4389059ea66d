"""/v1/segments over HTTP (SQLite and PostgreSQL): list, read and members; create, change and delete with the
same checks as the Segments page — a bad condition named as rules.groups[g][c], a name in use, a segment a dunning
policy uses — nothing stored on a refusal; Idempotency-Key; scopes; the audit trail."""
from __future__ import annotations

from sqlalchemy import text

from core.auth import SYSTEM
from core.db import session_scope

RW = ("receivables:read", "receivables:write", "customers:read")
EURO = {"groups": [[{"field": "currency", "op": "in", "value": ["EUR"]}]]}


def count(api, table: str, where: str = "") -> int:
    with api.engine.connect() as c:
        return c.execute(text(f"SELECT COUNT(*) FROM {table} {where}")).scalar_one()


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


def test_create_change_and_delete_a_segment(api):
    from tests.db import factories

    with session_scope(api.engine) as s:
        factories.customer(s, "hooli", currency="EUR", country="DE")
        factories.customer(s, "initech", currency="EUR", country="FR")
    h = api.auth(api.key(RW, name="crm"))
    body = {"name": "Euro customers", "description": "billed in euros", "rules": EURO}
    r = api.post("/v1/segments", json=body, headers={**h, "Idempotency-Key": "seg-1"})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["rules_text"] == "currency is one of EUR" and made["description"] == "billed in euros"
    replay = api.post("/v1/segments", json=body, headers={**h, "Idempotency-Key": "seg-1"})
    assert replay.json() == made and replay.headers["Idempotent-Replayed"] == "true"
    assert count(api, "segment") == 1
    members = api.get(f"/v1/segments/{made['id']}/customers", headers=h).json()
    assert [c["external_id"] for c in members["data"]] == ["hooli", "initech"]

    # change only the rules: the name and description stay; the members follow at once
    germany = {"groups": [[{"field": "currency", "op": "in", "value": "EUR"},
                           {"field": "country", "op": "in", "value": ["de"]}]]}
    r = api.patch(f"/v1/segments/{made['id']}", json={"rules": germany}, headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["description"]) == ("Euro customers", "billed in euros")
    assert r.json()["rules"]["groups"][0][1] == {"field": "country", "op": "in", "value": ["DE"]}
    assert r.json()["rules_text"] == "currency is one of EUR and country is one of DE"
    members = api.get(f"/v1/segments/{made['id']}/customers", headers=h).json()
    assert [c["external_id"] for c in members["data"]] == ["hooli"]
    r = api.patch(f"/v1/segments/{made['id']}", json={"name": "Germany, in euros"}, headers=h)
    assert r.json()["name"] == "Germany, in euros" and r.json()["rules"]["groups"][0][1]["value"] == ["DE"]

    with api.engine.connect() as c:
        audit = [tuple(row) for row in c.execute(text(
            "SELECT action, actor FROM audit_log WHERE entity_type = 'segment' ORDER BY id"))]
    assert audit == [("segment.create", "api-key:crm"), ("segment.update", "api-key:crm"),
                     ("segment.update", "api-key:crm")]

    assert api.delete(f"/v1/segments/{made['id']}", headers=h).status_code == 403  # needs receivables:delete
    deleter = api.auth(api.key(("receivables:delete",), name="deleter"))
    r = api.delete(f"/v1/segments/{made['id']}", headers=deleter)
    assert r.status_code == 204 and r.content == b""
    assert count(api, "segment") == 0 and count(api, "customer") == 4  # customers are not touched
    assert api.delete(f"/v1/segments/{made['id']}", headers=deleter).status_code == 404


def test_a_bad_segment_names_the_field_and_stores_nothing(api):
    h = api.auth(api.key(RW))
    api.post("/v1/segments", json={"name": "Euro customers", "rules": EURO}, headers=h)
    before = (count(api, "segment"), count(api, "audit_log"))
    bad_condition = {"groups": [[{"field": "currency", "op": "in", "value": ["EUR"]}],
                                [{"field": "days_past_due", "op": "gt", "value": "thirty"}]]}
    r = api.post("/v1/segments", json={"name": "Late", "rules": bad_condition}, headers=h)
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["fields"] == [{"field": "rules.groups[1][0]", "message": "'thirty' is not a whole number of days"}]
    assert "nothing was stored" in err["message"]
    r = api.post("/v1/segments", json={"name": "late", "rules": {"groups": [[{"field": "colour", "op": "in",
                                                                              "value": "red"}]]}}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "rules.groups[0][0]"
    assert "'colour' is not a field a segment can use" in r.json()["error"]["message"]
    r = api.post("/v1/segments", json={"name": "EURO CUSTOMERS", "rules": EURO}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"] == [
        {"field": "name", "message": "a segment called 'Euro customers' already exists; choose another name"}]
    r = api.post("/v1/segments", json={"name": "Empty", "rules": {"groups": [[]]}}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "rules"
    r = api.post("/v1/segments", json={"name": "Shape", "rules": {"groups": "EUR"}}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"].startswith("rules.groups")
    r = api.patch("/v1/segments/1", json={"name": ""}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "name"
    assert (count(api, "segment"), count(api, "audit_log")) == before
    assert api.patch("/v1/segments/987654", json={"name": "x"}, headers=h).status_code == 404
    reader = api.auth(api.key(("receivables:read",), name="reader"))
    assert api.post("/v1/segments", json={"name": "Nope", "rules": EURO}, headers=reader).status_code == 403
    assert api.patch("/v1/segments/1", json={"name": "Nope"}, headers=reader).status_code == 403
    assert count(api, "segment", "WHERE name = 'Nope'") == 0


def test_a_segment_a_dunning_policy_uses_is_not_deleted(api):
    from core.models import Segment
    from core.receivables.dunning import StepSpec, save_policy
    from core.receivables.templates import save_template
    from sqlmodel import select

    h = api.auth(api.key((*RW, "receivables:delete")))
    seg_id = api.post("/v1/segments", json={"name": "Euro customers", "rules": EURO}, headers=h).json()["id"]
    with session_scope(api.engine) as s:
        assert s.exec(select(Segment)).one().id == seg_id
        entity_id = s.exec(text("SELECT id FROM business_entity")).scalar_one()
        tpl = save_template(s, SYSTEM, entity_id=entity_id, name="Reminder", kind="reminder", fmt="text",
                            subject="Invoice {{ invoice.number }}", body="Please pay {{ invoice.number }}.")
        save_policy(s, SYSTEM, name="Euro dunning", segment_id=seg_id, priority=1, active=True,
                    steps=[StepSpec(7, tpl.id)])
    r = api.delete(f"/v1/segments/{seg_id}", headers=h)
    assert r.status_code == 422 and "“Euro dunning”" in r.json()["error"]["message"]
    assert count(api, "segment") == 1
