"""/v1/customers over HTTP (SQLite and PostgreSQL): create, read, update, list with filters and pages, import a
file all or nothing, export; scopes, field errors and Idempotency-Key replays."""
from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import text

WRITE = ("customers:read", "customers:write")


def count(api, table: str, where: str = "") -> int:
    with api.engine.connect() as c:
        return c.execute(text(f"SELECT COUNT(*) FROM {table} {where}")).scalar_one()


def test_create_read_update_and_the_audit_trail(api):
    h = api.auth(api.key(WRITE))
    r = api.post("/v1/customers", json={"external_id": "initech", "name": "Initech", "country": "de",
                                        "currency": "eur", "email": "ap@initech.example"}, headers=h)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["country"] == "DE" and body["currency"] == "EUR" and body["payment_terms_days"] == 30
    assert body["created_at"].endswith("Z")
    got = api.get(f"/v1/customers/{body['id']}", headers=h).json()
    assert got == body
    r = api.patch(f"/v1/customers/{body['id']}", json={"name": "Initech GmbH", "payment_terms_days": 45}, headers=h)
    assert r.status_code == 200 and r.json()["name"] == "Initech GmbH" and r.json()["country"] == "DE"
    with api.engine.connect() as c:
        actions = [row[0] for row in c.execute(text("SELECT action FROM audit_log WHERE actor LIKE 'api-key:%' "
                                                    "ORDER BY id"))]
    assert actions == ["customer.create", "customer.update"]
    assert api.get("/v1/customers/999999", headers=h).status_code == 404


def test_list_filters_and_pages_with_a_next_link(api):
    h = api.auth(api.key(WRITE))
    for i in range(5):
        assert api.post("/v1/customers", json={"external_id": f"de-{i}", "name": f"Kunde {i}", "country": "DE",
                                               "currency": "EUR"}, headers=h).status_code == 201
    page = api.get("/v1/customers", params={"country": "de", "limit": 2}, headers=h).json()
    assert page["total"] == 5 and [c["external_id"] for c in page["data"]] == ["de-0", "de-1"]
    seen = [c["external_id"] for c in page["data"]]
    while page["next"]:
        page = api.get(page["next"], headers=h).json()
        seen += [c["external_id"] for c in page["data"]]
    assert seen == [f"de-{i}" for i in range(5)]
    assert api.get("/v1/customers", params={"offset": 4, "country": "DE"}, headers=h).json()["data"][0][
        "external_id"] == "de-4"
    found = api.get("/v1/customers", params={"q": "kunde 3"}, headers=h).json()
    assert [c["external_id"] for c in found["data"]] == ["de-3"]
    assert api.get("/v1/customers", params={"currency": "EUR", "archived": True}, headers=h).json()["total"] == 0
    everyone = api.get("/v1/customers", headers=h).json()
    assert everyone["total"] == 7 and everyone["next"] is None  # + acme and globex from the fixture
    r = api.get("/v1/customers", params={"limit": 501}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "query.limit"
    r = api.get("/v1/customers", params={"contry": "DE"}, headers=h)
    assert r.status_code == 422 and "contry" in r.json()["error"]["message"]


def test_a_key_without_the_scope_gets_403_and_nothing_changes(api):
    reader = api.auth(api.key(("customers:read",), name="reader"))
    usage = api.auth(api.key(("usage:write",), name="usage only"))
    before = count(api, "customer")
    r = api.post("/v1/customers", json={"external_id": "x", "name": "X"}, headers=reader)
    assert r.status_code == 403 and "customers:write" in r.json()["error"]["message"]
    assert api.patch("/v1/customers/1", json={"name": "Hacked"}, headers=reader).status_code == 403
    assert api.get("/v1/customers", headers=usage).status_code == 403
    assert api.get("/v1/customers/export", headers=usage).status_code == 403
    files = {"file": ("c.csv", b"external_id,name\nnew,New\n", "text/csv")}
    assert api.post("/v1/customers/import", files=files, headers=reader).status_code == 403
    assert count(api, "customer") == before
    assert count(api, "customer", "WHERE name = 'Hacked'") == 0
    assert api.get("/v1/customers").status_code == 401


def test_bad_input_names_the_field_and_writes_nothing(api):
    h = api.auth(api.key(WRITE))
    before = count(api, "customer")
    r = api.post("/v1/customers", json={"external_id": "bad", "name": "Bad", "email": "not-an-email",
                                        "country": "Germany"}, headers=h)
    assert r.status_code == 422
    fields = {f["field"]: f["message"] for f in r.json()["error"]["fields"]}
    assert set(fields) == {"email", "country"} and "two-letter" in fields["country"]
    r = api.post("/v1/customers", json={"external_id": "acme", "name": "Duplicate"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "external_id"
    r = api.post("/v1/customers", json={"name": "No id", "colour": "red"}, headers=h)
    assert r.status_code == 422
    assert {f["field"] for f in r.json()["error"]["fields"]} == {"external_id", "colour"}
    r = api.post("/v1/customers", json={"external_id": "nul\x00", "name": "N"}, headers=h)
    assert r.status_code == 422
    assert count(api, "customer") == before
    r = api.patch("/v1/customers/1", json={"currency": "EURO"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["fields"][0]["field"] == "currency"


def test_idempotency_key_replays_the_answer_and_creates_once(api):
    h = api.auth(api.key(WRITE))
    body = {"external_id": "hooli", "name": "Hooli"}
    first = api.post("/v1/customers", json=body, headers={**h, "Idempotency-Key": "7f9c-create-hooli"})
    again = api.post("/v1/customers", json=body, headers={**h, "Idempotency-Key": "7f9c-create-hooli"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert count(api, "customer", "WHERE external_id = 'hooli'") == 1
    other = api.post("/v1/customers", json={**body, "name": "Hooli XYZ"},
                     headers={**h, "Idempotency-Key": "7f9c-create-hooli"})
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert count(api, "customer", "WHERE name = 'Hooli XYZ'") == 0
    # without a key, the same request is a new request: refused as a duplicate customer
    assert api.post("/v1/customers", json=body, headers=h).status_code == 422
    # a refused request stores nothing under its key: fixed, it may be sent again with the same key
    bad = api.post("/v1/customers", json={"external_id": "pied", "name": ""}, headers={**h, "Idempotency-Key": "k2"})
    assert bad.status_code == 422
    ok = api.post("/v1/customers", json={"external_id": "pied", "name": "Pied Piper"},
                  headers={**h, "Idempotency-Key": "k2"})
    assert ok.status_code == 201
    # keys are per API key: another key's "k2" is its own
    h2 = api.auth(api.key(WRITE, name="second"))
    assert api.post("/v1/customers", json={"external_id": "raviga", "name": "Raviga"},
                    headers={**h2, "Idempotency-Key": "k2"}).status_code == 201


def test_import_is_all_or_nothing_with_row_errors_and_export_round_trips(api):
    h = api.auth(api.key(WRITE))
    before = count(api, "customer")
    bad = b"external_id,name,email,country\nnew-1,New One,one@example.com,US\nnew-2,,two@,USA\n"
    r = api.post("/v1/customers/import", files={"file": ("customers.csv", bad, "text/csv")}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_file"
    fields = [f["field"] for f in r.json()["error"]["fields"]]
    assert fields == ["rows[3].name", "rows[3].email"]
    assert count(api, "customer") == before
    good = b"external_id,name,email,country\nnew-1,New One,one@example.com,US\nacme,Acme Renamed,,US\n"
    dry = api.post("/v1/customers/import", params={"dry_run": True},
                   files={"file": ("customers.csv", good, "text/csv")}, headers=h)
    assert dry.status_code == 200 and dry.json()["committed"] is False and count(api, "customer") == before
    r = api.post("/v1/customers/import", files={"file": ("customers.csv", good, "text/csv")},
                 headers={**h, "Idempotency-Key": "import-1"})
    assert r.status_code == 200 and (r.json()["created"], r.json()["updated"]) == (1, 1)
    replay = api.post("/v1/customers/import", files={"file": ("customers.csv", good, "text/csv")},
                      headers={**h, "Idempotency-Key": "import-1"})
    assert replay.json() == r.json() and replay.headers["Idempotent-Replayed"] == "true"
    assert count(api, "customer") == before + 1
    refused = api.post("/v1/customers/import", params={"on_existing": "error"},
                       files={"file": ("customers.csv", b"external_id,name\nacme,Acme\n", "text/csv")}, headers=h)
    assert refused.status_code == 422

    csv_file = api.get("/v1/customers/export", headers=h)
    assert csv_file.status_code == 200 and csv_file.headers["content-type"].startswith("text/csv")
    assert "new-1,New One,one@example.com" in csv_file.text and "Acme Renamed" in csv_file.text
    xlsx = api.get("/v1/customers/export", params={"format": "xlsx"}, headers=h)
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert [c.value for c in sheet[1]][:2] == ["external_id", "name"]
    assert {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)} == {"acme", "globex", "new-1"}
    again = api.post("/v1/customers/import", files={"file": ("back.csv", csv_file.content, "text/csv")}, headers=h)
    assert again.status_code == 200 and again.json()["created"] == 0 and again.json()["updated"] == 0


def test_a_portal_session_opens_that_customers_portal(api):
    """POST /v1/customers/{id}/portal-sessions: a signed link for embedding or sending; audited; needs
    customers:write; a replay of the same Idempotency-Key gives the same link."""
    from core import portal
    from core.db import session_scope

    h = api.auth(api.key(WRITE))
    cid = api.post("/v1/customers", json={"external_id": "umbra", "name": "Umbra"}, headers=h).json()["id"]
    r = api.post(f"/v1/customers/{cid}/portal-sessions", json={"days": 7},
                 headers={**h, "Idempotency-Key": "portal-1"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["customer_id"] == cid and body["url"].endswith(f"/portal?token={body['token']}")
    with session_scope(api.engine) as s:
        assert portal.verify(s, body["token"]).external_id == "umbra"
    again = api.post(f"/v1/customers/{cid}/portal-sessions", json={"days": 7},
                     headers={**h, "Idempotency-Key": "portal-1"})
    assert again.json()["token"] == body["token"] and again.headers.get("Idempotent-Replayed") == "true"
    assert count(api, "audit_log", "WHERE action = 'portal.link'") == 1
    too_long = api.post(f"/v1/customers/{cid}/portal-sessions", json={"days": 365}, headers=h)
    assert too_long.status_code == 422 and "days" in too_long.text
    reader = api.auth(api.key(("customers:read",)))
    assert api.post(f"/v1/customers/{cid}/portal-sessions", headers=reader).status_code == 403
    assert api.post("/v1/customers/987654/portal-sessions", headers=h).status_code == 404


def test_a_filter_given_twice_is_refused_not_guessed(api):
    h = api.auth(api.key(WRITE))
    r = api.get("/v1/customers?country=DE&country=FR", headers=h)
    assert r.status_code == 422 and "'country' given more than once" in r.json()["error"]["message"]
    assert api.get("/v1/customers?country=DE", headers=h).status_code == 200


def test_archive_and_restore(api):
    """POST /v1/customers/{id}/archive (customers:delete) refuses a customer still billed, naming the contract;
    archives one that is not (the list's archived filter sees it, its record stays readable); Idempotency-Key
    replays; POST …/restore (customers:write) brings it back. Audited, by the key."""
    from datetime import date
    from decimal import Decimal

    from core.billing.contracts import LineSpec
    from core.customers import find_customers
    from core.db import session_scope
    from tests.db import factories

    with session_scope(api.engine) as s:
        contract = factories.contract(s, "globex", [LineSpec("Platform", "flat_fee", {"amount": "100"},
                                                             cadence="monthly", fixed_quantity=Decimal(1))],
                                      start=date(2026, 1, 1))
        contract_id = contract.id
        ids = {c.external_id: c.id for c in find_customers(s)}
    archiver = api.auth(api.key(("customers:read", "customers:delete"), name="archiver"))
    writer = api.auth(api.key(WRITE, name="writer"))

    r = api.post(f"/v1/customers/{ids['globex']}/archive", json={"reason": "closed"}, headers=archiver)
    assert r.status_code == 422 and f"running contract “Contract” (#{contract_id}, no end date)" in \
        r.json()["error"]["message"] and "nothing was stored" in r.json()["error"]["message"]
    assert count(api, "customer", "WHERE archived = true") == 0

    assert api.post(f"/v1/customers/{ids['acme']}/archive", headers=writer).status_code == 403
    first = api.post(f"/v1/customers/{ids['acme']}/archive", json={"reason": "left us"},
                     headers={**archiver, "Idempotency-Key": "archive-acme"})
    assert first.status_code == 200 and first.json()["archived"] is True, first.text
    replay = api.post(f"/v1/customers/{ids['acme']}/archive", json={"reason": "left us"},
                      headers={**archiver, "Idempotency-Key": "archive-acme"})
    assert replay.json() == first.json() and replay.headers["Idempotent-Replayed"] == "true"
    again = api.post(f"/v1/customers/{ids['acme']}/archive", headers=archiver)
    assert again.status_code == 422 and "already archived" in again.json()["error"]["message"]
    listed = api.get("/v1/customers", params={"archived": True}, headers=archiver).json()
    assert [c["external_id"] for c in listed["data"]] == ["acme"]
    assert api.get(f"/v1/customers/{ids['acme']}", headers=archiver).json()["archived"] is True

    assert api.post(f"/v1/customers/{ids['acme']}/restore", headers=archiver).status_code == 403
    back = api.post(f"/v1/customers/{ids['acme']}/restore", headers=writer)
    assert back.status_code == 200 and back.json()["archived"] is False
    assert api.post("/v1/customers/987654/restore", headers=writer).status_code == 404
    with api.engine.connect() as c:
        rows = [tuple(row) for row in c.execute(text(
            "SELECT action, actor FROM audit_log WHERE action IN ('customer.archive', 'customer.restore') ORDER BY id"))]
    assert rows == [("customer.archive", "api-key:archiver"), ("customer.restore", "api-key:writer")]
