"""/v1/invoices, /v1/credit-notes and /v1/payments over HTTP (SQLite and PostgreSQL): generate drafts, list and
read, approve, pay, credit, void with a full credit note, PDFs; scopes, errors and Idempotency-Key replays."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import text

from core.billing.contracts import LineSpec
from core.db import session_scope
from tests.db import factories

ALL = ("invoices:read", "invoices:write", "invoices:approve")
JAN = {"period_start": "2026-01-01", "period_end": "2026-02-01"}


def count(api, table: str, where: str = "") -> int:
    with api.engine.connect() as c:
        return c.execute(text(f"SELECT COUNT(*) FROM {table} {where}")).scalar_one()


def _contracts(api, amounts=("100", "250.50"), customers=("acme", "globex")) -> None:
    with session_scope(api.engine) as s:
        for ext, amount in zip(customers, amounts):
            factories.contract(s, ext, [LineSpec(description="Platform", pricing_model="flat_fee",
                                                 params={"amount": amount}, cadence="monthly", timing="arrears",
                                                 fixed_quantity=Decimal(1))], start=date(2026, 1, 1))


def test_generate_list_read_approve_and_pdf(api):
    _contracts(api)
    h = api.auth(api.key(ALL))
    r = api.post("/v1/invoices/generate", json=JAN, headers={**h, "Idempotency-Key": "run-2026-01"})
    assert r.status_code == 201 and len(r.json()["created"]) == 2 and r.json()["totals"] == {"USD": "350.50"}
    replay = api.post("/v1/invoices/generate", json=JAN, headers={**h, "Idempotency-Key": "run-2026-01"})
    assert replay.json() == r.json() and replay.headers["Idempotent-Replayed"] == "true"
    rerun = api.post("/v1/invoices/generate", json=JAN, headers=h)
    assert rerun.json()["created"] == [] and rerun.json()["skipped_existing"] == 2
    assert count(api, "invoice") == 2

    page = api.get("/v1/invoices", params={"status": "draft", "period": "2026-01", "limit": 1}, headers=h).json()
    assert page["total"] == 2 and page["data"][0]["number"] is None and page["next"]
    assert api.get(page["next"], headers=h).json()["data"][0]["customer_external_id"] == "globex"
    only = api.get("/v1/invoices", params={"customer": "globex", "currency": "usd"}, headers=h).json()
    assert [i["total"] for i in only["data"]] == ["250.50"]
    assert api.get("/v1/invoices", params={"period": "2026-02"}, headers=h).json()["total"] == 0
    inv_id = only["data"][0]["id"]
    got = api.get(f"/v1/invoices/{inv_id}", headers=h).json()
    assert [(ln["description"], ln["amount"]) for ln in got["lines"]] == [("Platform", "250.50")]
    assert got["amount_due"] == "250.50"

    r = api.post(f"/v1/invoices/{inv_id}/approve", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["number"] == "INV-000001"
    assert api.post(f"/v1/invoices/{inv_id}/approve", headers=h).status_code == 422
    assert api.get("/v1/invoices", params={"status": "approved"}, headers=h).json()["total"] == 1
    pdf = api.get(f"/v1/invoices/{inv_id}/pdf", headers=h)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and "INV-000001" in pdf.headers["content-disposition"]
    assert api.get("/v1/invoices/999999/pdf", headers=h).status_code == 404
    r = api.post("/v1/invoices/generate", json={"period_start": "2026-02-01", "period_end": "2026-01-01"}, headers=h)
    assert r.status_code == 422


def test_payments_credit_notes_and_void(api):
    _contracts(api, amounts=("100",), customers=("acme",))
    h = api.auth(api.key(ALL))
    (inv_id,) = api.post("/v1/invoices/generate", json=JAN, headers=h).json()["created"]
    api.post(f"/v1/invoices/{inv_id}/approve", headers=h)
    pay = {"customer_id": 1, "currency": "USD", "amount": "40.00", "method": "bank_transfer",
           "received_on": "2026-02-10", "reference": "wire 991", "allocations": [{"invoice_id": inv_id,
                                                                                   "amount": "40"}]}
    r = api.post("/v1/payments", json=pay, headers={**h, "Idempotency-Key": "wire-991"})
    assert r.status_code == 201 and r.json()["allocations"] == [{"invoice_id": inv_id, "amount": "40.00"}]
    assert api.post("/v1/payments", json=pay, headers={**h, "Idempotency-Key": "wire-991"}).json() == r.json()
    assert count(api, "payment") == 1
    assert api.get(f"/v1/invoices/{inv_id}", headers=h).json()["status"] == "partially_paid"
    bad = api.post("/v1/payments", json={**pay, "amount": "1.001"}, headers=h)
    assert bad.status_code == 422 and [f["field"] for f in bad.json()["error"]["fields"]] == ["amount"]
    bad = api.post("/v1/payments", json={**pay, "received_on": "2999-01-01"}, headers=h)
    assert bad.status_code == 422 and [f["field"] for f in bad.json()["error"]["fields"]] == ["received_on"]
    bad = api.post("/v1/payments", json={**pay, "amount": 12.5, "method": "barter"}, headers=h)
    assert bad.status_code == 422 and [f["field"] for f in bad.json()["error"]["fields"]] == ["method"]
    assert count(api, "payment") == 1
    listed = api.get("/v1/payments", params={"invoice_id": inv_id}, headers=h).json()
    assert listed["total"] == 1 and listed["data"][0]["reference"] == "wire 991"

    cn = api.post(f"/v1/invoices/{inv_id}/credit-notes", json={"reason": "goodwill", "amount": "10"}, headers=h)
    assert cn.status_code == 201 and cn.json()["total"] == "10.00" and cn.json()["number"] == "CN-000001"
    both = api.post(f"/v1/invoices/{inv_id}/credit-notes", json={"reason": "x", "amount": "1",
                                                                  "lines": []}, headers=h)
    assert both.status_code == 422 and count(api, "credit_note") == 1
    no_reason = api.post(f"/v1/invoices/{inv_id}/credit-notes", json={"reason": "", "amount": "1"}, headers=h)
    assert no_reason.status_code == 422 and no_reason.json()["error"]["fields"][0]["field"] == "reason"

    void = api.post(f"/v1/invoices/{inv_id}/void", json={"reason": "billed the wrong entity"},
                    headers={**h, "Idempotency-Key": "void-1"})
    assert void.status_code == 201, void.text
    assert void.json()["total"] == "90.00" and void.json()["to_wallet"] == "40.00"
    again = api.post(f"/v1/invoices/{inv_id}/void", json={"reason": "billed the wrong entity"},
                     headers={**h, "Idempotency-Key": "void-1"})
    assert again.json() == void.json() and again.headers["Idempotent-Replayed"] == "true"
    assert count(api, "credit_note") == 2
    inv = api.get(f"/v1/invoices/{inv_id}", headers=h).json()
    assert inv["status"] == "void" and inv["amount_due"] == "0.00"
    assert api.post(f"/v1/invoices/{inv_id}/void", json={"reason": "again"}, headers=h).status_code == 422
    notes = api.get("/v1/credit-notes", params={"invoice_id": inv_id}, headers=h).json()
    assert [n["number"] for n in notes["data"]] == ["CN-000001", "CN-000002"]
    one = api.get(f"/v1/credit-notes/{notes['data'][1]['id']}", headers=h).json()
    assert one["lines"][0]["amount"] == "90.00"
    pdf = api.get(f"/v1/credit-notes/{one['id']}/pdf", headers=h)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_scopes_per_action(api):
    _contracts(api, amounts=("100",), customers=("acme",))
    admin = api.auth(api.key(ALL))
    reader = api.auth(api.key(("invoices:read",), name="reader"))
    writer = api.auth(api.key(("invoices:read", "invoices:write"), name="writer"))
    assert api.post("/v1/invoices/generate", json=JAN, headers=reader).status_code == 403
    assert count(api, "invoice") == 0
    (inv_id,) = api.post("/v1/invoices/generate", json=JAN, headers=writer).json()["created"]
    r = api.post(f"/v1/invoices/{inv_id}/approve", headers=writer)
    assert r.status_code == 403 and "invoices:approve" in r.json()["error"]["message"]
    assert api.get(f"/v1/invoices/{inv_id}", headers=reader).json()["status"] == "draft"
    api.post(f"/v1/invoices/{inv_id}/approve", headers=admin)
    assert api.post(f"/v1/invoices/{inv_id}/void", json={"reason": "x"}, headers=writer).status_code == 403
    assert api.post(f"/v1/invoices/{inv_id}/credit-notes", json={"reason": "x", "amount": "1"},
                    headers=writer).status_code == 403
    assert api.post("/v1/payments", json={"customer_id": 1, "currency": "USD", "amount": "1", "method": "cash",
                                          "received_on": "2026-02-01"}, headers=reader).status_code == 403
    assert count(api, "credit_note") == 0 and count(api, "payment") == 0
    assert api.get("/v1/invoices", headers=api.auth(api.key(("customers:read",), name="c"))).status_code == 403
    assert api.get(f"/v1/invoices/{inv_id}/pdf", headers=api.auth(api.key(("usage:write",), name="u"))
                   ).status_code == 403
