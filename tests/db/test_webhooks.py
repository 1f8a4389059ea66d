"""Webhooks against a real local HTTP receiver (http.server in a thread), on SQLite and PostgreSQL: signed JSON
envelopes, retries with backoff on a fake clock, endpoints disabled after repeated failures, replays, and the
events the business actions emit."""
from __future__ import annotations

import json
import threading
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import event as sa_event
from sqlmodel import func, select

from core.auth import SYSTEM, Actor
from core.billing.amendments import end_contract
from core.billing.contracts import LineSpec
from core.customers import update_customer
from core.errors import PermissionDenied, UserError
from core.invoicing.credit_notes import issue_credit_note
from core.invoicing.payments import record_failed_payment, record_payment
from core.invoicing.service import approve_invoices, generate_drafts
from core.invoicing.write_offs import write_off
from core.metering.alerts import check_alerts, create_alert
from core.models import AuditLog, Invoice, utcnow
from core.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from core.money import round_money
from core.webhooks import endpoints as wh
from core.webhooks import outbox, signing
from core.webhooks.delivery import MAX_ATTEMPTS, backoff, deliver_due
from tests.db import factories as f

FINANCE = Actor("fiona", "finance")
VIEWER = Actor("vic", "viewer")
OCT = {"period_start": date(2026, 10, 1), "period_end": date(2026, 11, 1)}


class Receiver:
    """A local HTTP endpoint: records every request; answers with the next planned status (200 when none is
    planned); ``"sleep"`` makes it answer late (for the timeout)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.plan: list[int | str] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    step = receiver.plan.pop(0) if receiver.plan else 200
                if step == "sleep":
                    time.sleep(1.5)
                    step = 200
                try:
                    self.send_response(step)
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"ok" if step < 300 else b"receiver broke")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def events(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def manual(monkeypatch):
    """No delivery on commit: the test runs the passes itself, with its own clock."""
    monkeypatch.setenv("WEBHOOKS_AUTODELIVER", "0")


def _endpoint(session, url, types=("customer.created",), actor=SYSTEM):
    created = wh.create_endpoint(session, actor, url=url, event_types=list(types), description="ERP sync")
    session.commit()
    return created


def _documented(obj: str) -> set[str]:
    import re

    from core.webhooks.payloads import FIELDS

    text = re.sub(r"\s*[\(\[][^\)\]]*[\)\]]", "", FIELDS[obj])
    return {name.strip() for name in text.split(",")}


def _count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


# --- signatures and the envelope ---------------------------------------------------------------------------------


def test_a_committed_event_is_delivered_signed_with_the_endpoints_secret(session, receiver):
    created = _endpoint(session, receiver.url)
    assert created.secret.startswith("whsec_") and len(created.secret) > 30
    f.seller(session)
    cust = f.customer(session, "ACME", email="ap@acme.example")
    assert receiver.requests == []  # nothing is sent inside the business transaction
    session.commit()  # the commit enqueues the delivery (the jobs run at once in the tests)

    [req] = receiver.requests
    body = req["body"]
    header = req["headers"][signing.SIGNATURE_HEADER]
    assert signing.verify(created.secret, header, body)
    assert not signing.verify("whsec_someone-elses-secret", header, body)
    assert not signing.verify(created.secret, header, body + b" ")  # a changed body fails
    assert not signing.verify(created.secret, header, body, now=time.time() + 3600)  # an old request fails

    envelope = json.loads(body)
    assert list(envelope) == ["id", "type", "created_at", "data"]
    assert envelope["id"].startswith("evt_") and envelope["id"] == req["headers"][signing.EVENT_ID_HEADER]
    assert envelope["type"] == "customer.created" and envelope["created_at"].endswith("Z")
    assert envelope["data"]["object"] == "customer"
    assert (envelope["data"]["id"], envelope["data"]["external_id"], envelope["data"]["email"]) == \
        (cust.id, "ACME", "ap@acme.example")
    assert req["headers"]["Content-Type"] == "application/json"

    [delivery] = session.exec(select(WebhookDelivery)).all()
    session.refresh(delivery)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)


def test_the_snippet_on_the_page_verifies_a_real_request(session, receiver):
    created = _endpoint(session, receiver.url)
    f.seller(session)
    f.customer(session, "ACME")
    session.commit()
    [req] = receiver.requests
    scope: dict = {}
    exec(signing.VERIFY_SNIPPET.replace('"whsec_..."', repr(created.secret)), scope)  # noqa: S102
    event = scope["verify"](req["body"], req["headers"][signing.SIGNATURE_HEADER])
    assert event["type"] == "customer.created"
    scope["SECRET"] = "whsec_wrong"
    with pytest.raises(ValueError, match="bad signature"):
        scope["verify"](req["body"], req["headers"][signing.SIGNATURE_HEADER])


# --- retries, timeouts, giving up, disabling ----------------------------------------------------------------------


def test_retries_back_off_after_500s_and_succeed_later(session, receiver, manual):
    _endpoint(session, receiver.url)
    f.seller(session)
    f.customer(session, "ACME")
    session.commit()
    receiver.plan = [500, 503, 200]
    t0 = datetime(2026, 11, 3, 9, 0)

    first = deliver_due(session, now=t0)
    assert (first.dispatched, first.retrying, first.succeeded) == (1, 1, 0)
    [delivery] = session.exec(select(WebhookDelivery)).all()
    assert delivery.next_attempt_at == t0 + timedelta(minutes=1)
    assert deliver_due(session, now=t0 + timedelta(seconds=59)).attempted == 0  # not yet due
    assert deliver_due(session, now=t0 + timedelta(minutes=1)).retrying == 1
    session.refresh(delivery)
    assert delivery.next_attempt_at == t0 + timedelta(minutes=1) + timedelta(minutes=2)  # doubled
    assert deliver_due(session, now=t0 + timedelta(minutes=2)).attempted == 0
    assert deliver_due(session, now=t0 + timedelta(minutes=3)).succeeded == 1
    assert deliver_due(session, now=t0 + timedelta(hours=5)).attempted == 0  # done: never sent again

    assert len(receiver.requests) == 3
    assert len({e["id"] for e in receiver.events()}) == 1  # the same event on every retry
    stamps = [r["headers"][signing.SIGNATURE_HEADER].split(",")[0] for r in receiver.requests]
    assert stamps == [f"t={int((t - datetime(1970, 1, 1)).total_seconds())}"
                      for t in (t0, t0 + timedelta(minutes=1), t0 + timedelta(minutes=3))]  # each signed anew
    attempts = wh.attempts_of(session, FINANCE, delivery.id)
    assert [(a.attempt, a.status_code, a.succeeded) for a in attempts] == [(1, 500, False), (2, 503, False),
                                                                           (3, 200, True)]
    assert "HTTP 500" in attempts[0].error and attempts[0].response_excerpt == "receiver broke"
    session.refresh(delivery)
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)
    assert session.get(WebhookEndpoint, delivery.endpoint_id).consecutive_failures == 0


def test_backoff_doubles_and_is_capped():
    assert [backoff(n) for n in (1, 2, 3, 4)] == [timedelta(minutes=m) for m in (1, 2, 4, 8)]
    assert backoff(40) == timedelta(hours=12)


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(session, receiver, manual):
    _endpoint(session, receiver.url)
    f.seller(session)
    f.customer(session, "ACME")
    session.commit()
    receiver.plan = ["sleep"]
    t0 = datetime(2026, 11, 3, 9, 0)
    result = deliver_due(session, now=t0, timeout=0.3)
    assert result.retrying == 1
    [attempt] = session.exec(select(WebhookAttempt)).all()
    assert attempt.status_code is None and "timed out" in attempt.error and not attempt.succeeded
    assert attempt.duration_ms < 1400  # it did not wait for the slow answer
    assert deliver_due(session, now=t0 + timedelta(minutes=1), timeout=5).succeeded == 1


def test_a_delivery_fails_for_good_after_the_last_attempt(session, receiver, manual):
    _endpoint(session, receiver.url)
    f.seller(session)
    f.customer(session, "ACME")
    session.commit()
    receiver.plan = [500] * 10
    t = datetime(2026, 11, 3, 9, 0)
    for _ in range(3):
        deliver_due(session, now=t, max_attempts=3)
        t += timedelta(days=1)
    [delivery] = session.exec(select(WebhookDelivery)).all()
    session.refresh(delivery)
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)
    assert deliver_due(session, now=t + timedelta(days=5)).attempted == 0
    assert len(receiver.requests) == 3
    assert MAX_ATTEMPTS >= 5


def test_an_endpoint_is_disabled_after_consecutive_failures_and_resumes_when_enabled(session, receiver, manual):
    created = _endpoint(session, receiver.url)
    f.seller(session)
    for ext in ("A", "B", "C"):
        f.customer(session, ext)
    session.commit()
    receiver.plan = [500] * 4
    t0 = datetime(2026, 11, 3, 9, 0)
    result = deliver_due(session, now=t0, disable_after=3)
    assert result.retrying == 3 and result.disabled == [receiver.url]
    ep = session.get(WebhookEndpoint, created.endpoint_id, populate_existing=True)
    assert not ep.active and "3 failed attempts in a row" in ep.disabled_reason
    assert "HTTP 500" in ep.disabled_reason
    assert session.exec(select(AuditLog).where(AuditLog.action == "webhook.endpoint_disabled")).first()

    # disabled: nothing is sent, and new events are not even recorded for it
    assert deliver_due(session, now=t0 + timedelta(days=1)).attempted == 0
    f.customer(session, "D")
    session.commit()
    assert _count(session, WebhookEvent) == 3
    [row] = wh.list_endpoints(session, VIEWER)
    assert (row.active, row.pending) == (False, 3)

    wh.set_active(session, FINANCE, created.endpoint_id, True)
    session.commit()
    result = deliver_due(session, now=t0 + timedelta(days=1))
    assert (result.succeeded, result.retrying) == (2, 1)  # one more 500 was planned, then 200s
    ep = session.get(WebhookEndpoint, created.endpoint_id, populate_existing=True)
    assert ep.active and ep.consecutive_failures == 0 and ep.disabled_reason == ""


def test_a_disabled_endpoint_gets_no_deliveries_and_other_endpoints_still_do(session, receiver, manual):
    a = _endpoint(session, receiver.url, types=["customer.created"])
    other = Receiver()
    try:
        _endpoint(session, other.url, types=["customer.created", "customer.updated"])
        wh.set_active(session, FINANCE, a.endpoint_id, False)
        session.commit()
        f.seller(session)
        cust = f.customer(session, "ACME")
        update_customer(session, SYSTEM, cust.id, {"name": "Acme Ltd"})
        session.commit()
        deliver_due(session)
        assert receiver.requests == []
        assert [e["type"] for e in other.events()] == ["customer.created", "customer.updated"]
        assert other.events()[1]["data"]["name"] == "Acme Ltd" and other.events()[1]["data"]["changed"] == ["name"]
    finally:
        other.close()


# --- replay and test events -------------------------------------------------------------------------------------


def test_a_replay_sends_the_same_event_id_again(session, receiver):
    created = _endpoint(session, receiver.url)
    f.seller(session)
    f.customer(session, "ACME")
    session.commit()
    [original] = session.exec(select(WebhookDelivery)).all()
    new_id = wh.replay_delivery(session, FINANCE, original.id)
    session.commit()
    deliver_due(session, only=[new_id])
    first, again = receiver.requests
    assert json.loads(first["body"])["id"] == json.loads(again["body"])["id"]
    assert first["body"] == again["body"]
    assert signing.verify(created.secret, again["headers"][signing.SIGNATURE_HEADER], again["body"])
    replay = session.get(WebhookDelivery, new_id, populate_existing=True)
    assert (replay.replay_of, replay.status, replay.created_by) == (original.id, "succeeded", "fiona")
    assert session.exec(select(AuditLog).where(AuditLog.action == "webhook.replay")).one().actor == "fiona"
    with pytest.raises(PermissionDenied):
        wh.replay_delivery(session, VIEWER, original.id)


def test_send_test_event_and_rotate_secret(session, receiver):
    created = _endpoint(session, receiver.url)
    delivery_id = wh.send_test_event(session, FINANCE, created.endpoint_id)
    session.commit()
    deliver_due(session, only=[delivery_id])
    [req] = receiver.requests
    assert json.loads(req["body"])["type"] == "webhook.test"
    new_secret = wh.rotate_secret(session, FINANCE, created.endpoint_id)
    session.commit()
    assert new_secret != created.secret
    delivery_id = wh.send_test_event(session, FINANCE, created.endpoint_id)
    session.commit()
    deliver_due(session, only=[delivery_id])
    header, body = receiver.requests[1]["headers"][signing.SIGNATURE_HEADER], receiver.requests[1]["body"]
    assert signing.verify(new_secret, header, body) and not signing.verify(created.secret, header, body)
    rows, total = wh.list_deliveries(session, VIEWER, event_type="webhook.test")
    assert total == 2 and {r.status for r in rows} == {"succeeded"}


# --- events from real business actions ---------------------------------------------------------------------------


def test_business_actions_emit_their_events_with_public_data(session, receiver):
    _endpoint(session, receiver.url, types=wh.SUBSCRIBABLE)
    f.seller(session)
    cust = f.customer(session, "ACME")
    for fee in ("1000", "250.50", "80"):
        f.contract(session, "ACME", [LineSpec(f"Fee {fee}", "flat_fee", {"amount": fee})], start=date(2026, 1, 1))
    session.commit()
    created = generate_drafts(session, SYSTEM, **OCT).created
    approved = approve_invoices(session, FINANCE, created)  # the bulk path
    session.commit()
    by_type = lambda t: [e for e in receiver.events() if e["type"] == t]  # noqa: E731
    assert len(by_type("customer.created")) == 1 and len(by_type("contract.created")) == 3
    assert by_type("contract.created")[0]["data"]["customer_external_id"] == "ACME"
    got = {e["data"]["id"]: e["data"] for e in by_type("invoice.approved")}
    assert sorted(got) == sorted(inv.id for inv in approved)
    for inv in approved:
        data = got[inv.id]
        assert data["number"] == inv.number and data["status"] == "approved"
        assert data["total"] == str(round_money(inv.total, "USD")) and isinstance(data["total"], str)
        assert data["customer_external_id"] == "ACME" and data["period_start"] == "2026-10-01"
    assert "250.50" in {d["subtotal"] for d in got.values()}  # money as exact strings, never floats

    big = max(approved, key=lambda i: i.total)
    record_payment(session, FINANCE, customer_id=cust.id, currency_code="USD", amount=big.total,
                   method="bank_transfer", received_on=date(2026, 11, 10), reference="WIRE 1",
                   allocations={big.id: big.total})
    session.commit()
    [paid] = by_type("payment.received")
    assert paid["data"]["amount"] == str(round_money(big.total, "USD"))
    assert paid["data"]["allocations"] == [{"invoice_id": big.id, "invoice_number": big.number,
                                            "amount": str(round_money(big.total, "USD"))}]
    [inv_paid] = by_type("invoice.paid")
    assert (inv_paid["data"]["id"], inv_paid["data"]["status"], inv_paid["data"]["amount_due"]) == \
        (big.id, "paid", "0.00")

    small = min(approved, key=lambda i: i.total)
    note = issue_credit_note(session, FINANCE, small.id, reason="Goodwill", amount=small.total)
    session.commit()
    [cn] = by_type("credit_note.created")
    assert (cn["data"]["number"], cn["data"]["total"], cn["data"]["invoice_id"]) == \
        (note.number, str(round_money(small.total, "USD")), small.id)
    [voided] = by_type("invoice.voided")
    assert voided["data"]["id"] == small.id and voided["data"]["status"] == "void"

    mid = sorted(approved, key=lambda i: i.total)[1]
    record_failed_payment(session, FINANCE, customer_id=cust.id, invoice_id=mid.id, currency_code="USD",
                          amount=mid.total, method="card", failure="Your card was declined.", provider="stripe")
    write_off(session, FINANCE, mid.id, reason="Customer insolvent")
    session.commit()
    [failed] = by_type("payment.failed")
    assert (failed["data"]["object"], failed["data"]["invoice_number"], failed["data"]["failure"]) == \
        ("failed_payment", mid.number, "Your card was declined.")
    [woff] = by_type("invoice.written_off")
    assert (woff["data"]["id"], woff["data"]["status"], woff["data"]["written_off"], woff["data"]["reason"]) == \
        (mid.id, "written_off", str(round_money(mid.total, "USD")), "Customer insolvent")

    contract_id = session.exec(select(Invoice.contract_id).where(Invoice.id == small.id)).one()
    end_contract(session, SYSTEM, contract_id=contract_id, effective=date(2026, 12, 1))
    session.commit()
    [upd] = by_type("contract.updated")
    assert upd["data"]["change"] == "ended_early" and upd["data"]["end_date"] == "2026-12-01"
    for e in receiver.events():  # the data is the documented shape, and nothing anywhere is a float
        extra = {"customer.updated": {"changed"}, "contract.updated": {"change"},
                 "invoice.written_off": {"written_off", "reason"}}.get(e["type"], set())
        assert set(e["data"]) == _documented(e["data"]["object"]) | extra, e["type"]
    for r in receiver.requests:
        json.loads(r["body"], parse_float=lambda text: pytest.fail(f"a float in a payload: {text}"))


def test_a_usage_alert_firing_emits_threshold_reached(session, receiver):
    _endpoint(session, receiver.url, types=["usage.threshold_reached"])
    f.seller(session)
    f.customer(session, "C1")
    m = f.metric(session, "calls", "call")
    f.events(session, "C1", "call", [600, 300], when=datetime(2026, 10, 5))
    create_alert(session, SYSTEM, name="80% of calls", metric_id=m.id, threshold="80", threshold_kind="percent",
                 allowance="1000")
    session.commit()
    check_alerts(session, SYSTEM, on=date(2026, 10, 20), send_email=lambda *a: None)
    session.commit()
    [e] = receiver.events()
    assert e["type"] == "usage.threshold_reached"
    assert set(e["data"]) == _documented("usage_alert_firing")
    assert (e["data"]["customer_external_id"], e["data"]["metric_code"], e["data"]["quantity"],
            e["data"]["limit"], e["data"]["period_start"]) == ("C1", "calls", "900", "800", "2026-10-01")


def test_without_endpoints_nothing_is_written_and_the_check_is_one_query_per_transaction(session, engine):
    f.seller(session)
    for fee in ("100", "200"):
        f.customer(session, f"C{fee}")
        f.contract(session, f"C{fee}", [LineSpec("Fee", "flat_fee", {"amount": fee})], start=date(2026, 1, 1))
    session.commit()
    created = generate_drafts(session, SYSTEM, **OCT).created
    statements: list[str] = []

    def count(conn, cursor, statement, *args):  # noqa: ANN001
        if "webhook_endpoint" in statement:
            statements.append(statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        approve_invoices(session, FINANCE, created)
        for i in range(50):
            outbox.emit(session, "customer.created", {"i": i})
        session.commit()
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1  # once for the whole transaction
    assert _count(session, WebhookEvent) == 0

    # an endpoint listening to another type: still nothing for these
    _endpoint(session, "https://example.com/hooks", types=["payment.received"])
    outbox.emit(session, "customer.created", {"i": 1})
    session.commit()
    assert _count(session, WebhookEvent) == 0


def test_bulk_approval_writes_its_events_with_one_insert(session, engine, manual):
    _endpoint(session, "https://example.invalid/hooks", types=["invoice.approved"])
    f.seller(session)
    for n in range(12):
        f.customer(session, f"C{n}")
        f.contract(session, f"C{n}", [LineSpec("Fee", "flat_fee", {"amount": "10"})], start=date(2026, 1, 1))
    session.commit()
    created = generate_drafts(session, SYSTEM, **OCT).created
    inserts: list[str] = []

    def count(conn, cursor, statement, *args):  # noqa: ANN001
        if statement.lstrip().upper().startswith("INSERT INTO WEBHOOK_EVENT"):
            inserts.append(statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        approve_invoices(session, FINANCE, created)
        session.commit()
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert len(inserts) == 1
    assert _count(session, WebhookEvent) == 12
    # dispatch: one delivery per event for the endpoint
    assert deliver_due(session, now=utcnow(), sender=lambda *a: None, limit=0).deliveries_created == 12


def test_rolled_back_business_action_leaves_no_event(session, receiver):
    _endpoint(session, receiver.url)
    f.seller(session)
    session.commit()
    f.customer(session, "ACME")
    session.rollback()
    assert _count(session, WebhookEvent) == 0 and receiver.requests == []


# --- endpoints: validation and permissions -----------------------------------------------------------------------


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/hooks", "must start with https:// or http://"),
    ("example.com/hooks", "must start with https:// or http://"),
    ("", "give the address"),
    ("https://", "has no host name"),
    ("https://exa mple.com", "contains spaces"),
    ("https://user:pw@example.com/h", "user name or password"),
])
def test_a_bad_url_is_refused_with_what_to_fix(session, url, message):
    with pytest.raises(UserError, match="URL: .*" + message.replace("+", r"\+").replace(".", r"\.")):
        wh.create_endpoint(session, FINANCE, url=url, event_types=["customer.created"])
    assert _count(session, WebhookEndpoint) == 0


def test_a_bad_event_type_is_refused(session):
    with pytest.raises(UserError, match="'invoice.exploded' is not an event type; choose from customer.created"):
        wh.create_endpoint(session, FINANCE, url="https://example.com/h",
                           event_types=["customer.created", "invoice.exploded"])
    with pytest.raises(UserError, match="choose at least one event"):
        wh.create_endpoint(session, FINANCE, url="https://example.com/h", event_types=[])
    with pytest.raises(UserError, match="not a webhook event type"):
        outbox.emit(session, "invoice.exploded", {})


def test_a_viewer_may_read_but_not_change_webhooks(session):
    created = wh.create_endpoint(session, FINANCE, url="https://example.com/h", event_types=["invoice.paid"])
    session.commit()
    for call in (lambda: wh.create_endpoint(session, VIEWER, url="https://x.example/h", event_types=["invoice.paid"]),
                 lambda: wh.update_endpoint(session, VIEWER, created.endpoint_id, url="https://x.example/h",
                                            event_types=["invoice.paid"]),
                 lambda: wh.set_active(session, VIEWER, created.endpoint_id, False),
                 lambda: wh.rotate_secret(session, VIEWER, created.endpoint_id),
                 lambda: wh.delete_endpoint(session, VIEWER, created.endpoint_id),
                 lambda: wh.send_test_event(session, VIEWER, created.endpoint_id)):
        with pytest.raises(PermissionDenied, match="may not write webhooks"):
            call()
    assert [r.url for r in wh.list_endpoints(session, VIEWER)] == ["https://example.com/h"]
    actions = session.exec(select(AuditLog.action).where(AuditLog.entity_type == "webhook_endpoint")).all()
    assert actions == ["webhook.endpoint_create"]
    assert "whsec" not in json.dumps(session.exec(select(AuditLog.details)).all())  # the secret is never logged


def test_edit_and_delete_an_endpoint(session, receiver):
    created = _endpoint(session, receiver.url)
    f.seller(session)
    f.customer(session, "ACME")
    session.commit()
    wh.update_endpoint(session, FINANCE, created.endpoint_id, url=receiver.url + "/v2",
                       event_types=["invoice.paid", "customer.updated"], description="new")
    session.commit()
    ep = session.get(WebhookEndpoint, created.endpoint_id)
    assert ep.event_types == ["customer.updated", "invoice.paid"] and ep.url.endswith("/v2")
    wh.delete_endpoint(session, FINANCE, created.endpoint_id)
    session.commit()
    assert _count(session, WebhookEndpoint) == 0 and _count(session, WebhookDelivery) == 0
    assert _count(session, WebhookEvent) == 1  # the event stays
    assert session.exec(select(AuditLog).where(AuditLog.action == "webhook.endpoint_delete")).one()


def test_the_delivery_log_is_paginated_and_filtered_in_sql(session, manual):
    a = _endpoint(session, "https://a.example/h", types=["customer.created"])
    _endpoint(session, "https://b.example/h", types=["customer.created", "customer.updated"])
    f.seller(session)
    for n in range(7):
        f.customer(session, f"C{n}")
    session.commit()
    deliver_due(session, now=utcnow(), limit=0)  # dispatch only
    rows, total = wh.list_deliveries(session, VIEWER, page=1, page_size=5)
    assert (len(rows), total) == (5, 14)
    rows2, _ = wh.list_deliveries(session, VIEWER, page=3, page_size=5)
    assert len(rows2) == 4
    rows, total = wh.list_deliveries(session, VIEWER, endpoint_id=a.endpoint_id, status="pending",
                                     event_type="customer.created")
    assert total == 7 and {r.url for r in rows} == {"https://a.example/h"}
    assert wh.list_deliveries(session, VIEWER, status="succeeded")[1] == 0
    with pytest.raises(UserError, match="status: choose one of pending"):
        wh.list_deliveries(session, VIEWER, status="exploded")


def test_cli_deliver_webhooks(engine, db_url, monkeypatch, capsys, receiver):
    from sqlmodel import Session

    from cli import main

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("WEBHOOKS_AUTODELIVER", "0")
    with Session(engine) as s:
        _endpoint(s, receiver.url)
        f.seller(s)
        f.customer(s, "ACME")
        s.commit()
    assert receiver.requests == []
    assert main(["deliver-webhooks"]) == 0
    out = capsys.readouterr().out
    assert "1 new event dispatched" in out and "1 succeeded" in out
    assert [e["type"] for e in receiver.events()] == ["customer.created"]
    assert main(["deliver-webhooks"]) == 0
    assert "0 webhook deliveries attempted" in capsys.readouterr().out and len(receiver.requests) == 1


def test_money_in_payloads_is_a_string_with_the_currency_minor_units():
    from core.webhooks.payloads import money, quantity

    assert money(Decimal("1250"), "USD") == "1250.00" and money(Decimal("9.5"), "BHD") == "9.500"
    assert money(Decimal("1200"), "JPY") == "1200"
    assert quantity(Decimal("900.000000")) == "900" and quantity(Decimal("0.250")) == "0.25"
    with pytest.raises(TypeError, match="no float"):
        outbox.jsonable({"a": 1.5})


def test_two_workers_never_send_one_delivery_twice(session, engine, receiver, manual):
    from sqlmodel import Session

    from core.webhooks.delivery import _claim, dispatch

    _endpoint(session, receiver.url)
    f.seller(session)
    f.customer(session, "ACME")
    session.commit()
    dispatch(session)
    [(delivery_id, seen)] = session.exec(select(WebhookDelivery.id, WebhookDelivery.next_attempt_at)).all()
    with Session(engine) as other:
        assert _claim(session, delivery_id, seen, seen + timedelta(minutes=2))
        assert not _claim(other, delivery_id, seen, seen + timedelta(minutes=2))  # read before, claimed since


def test_the_background_job_schedules_itself_for_the_next_retry(session, db_url, receiver, manual, monkeypatch):
    from core import jobs

    _endpoint(session, receiver.url)
    f.seller(session)
    f.customer(session, "ACME")
    session.commit()
    receiver.plan = [500]
    monkeypatch.setattr(jobs.huey, "immediate", False)  # a real queue (in memory): scheduled tasks wait
    try:
        jobs.deliver_webhooks.call_local(db_url)
        [task] = jobs.huey.pending()  # the worker keeps it until its eta
        [delivery] = session.exec(select(WebhookDelivery)).all()
        session.refresh(delivery)
        assert delivery.attempts == 1 and task.eta >= delivery.next_attempt_at
        assert task.eta - delivery.next_attempt_at < timedelta(seconds=5)
        jobs.deliver_webhooks.call_local(db_url)  # nothing due yet: no second follow-up
        assert len(jobs.huey.pending()) == 1
    finally:
        jobs.huey.flush()


def test_old_finished_history_is_cleaned_up_and_pending_deliveries_stay(session, receiver, manual):
    from core.webhooks.retention import purge

    _endpoint(session, receiver.url)
    f.seller(session)
    now = datetime(2026, 11, 3, 9, 0)
    f.customer(session, "OLD-DONE")
    session.commit()
    deliver_due(session, now=now)  # succeeded
    receiver.plan = [500]
    f.customer(session, "OLD-PENDING")
    session.commit()
    deliver_due(session, now=now)  # failed once: waiting for its retry
    f.customer(session, "RECENT")
    session.commit()
    deliver_due(session, now=now)
    events = {e.data["external_id"]: e for e in session.exec(select(WebhookEvent))}
    for ext in ("OLD-DONE", "OLD-PENDING"):
        events[ext].created_at = now - timedelta(days=120)
        session.add(events[ext])
    session.commit()
    with pytest.raises(UserError, match="keep at least 7 days"):
        purge(session, SYSTEM, older_than_days=3, now=now)
    with pytest.raises(PermissionDenied):
        purge(session, Actor("vic", "viewer"), now=now)
    done = purge(session, SYSTEM, older_than_days=90, now=now)
    session.commit()
    assert (done.events, done.deliveries, done.attempts) == (1, 1, 1)
    left = {e.data["external_id"] for e in session.exec(select(WebhookEvent))}
    assert left == {"OLD-PENDING", "RECENT"}  # a delivery still waiting for a retry is kept, however old
    assert _count(session, WebhookDelivery) == 2
    [entry] = session.exec(select(AuditLog).where(AuditLog.action == "webhook.purge")).all()
    assert entry.details["events"] == 1


def test_private_and_local_addresses_are_refused_unless_allowed(session, receiver, manual, monkeypatch):
    """An endpoint cannot be pointed at the machines around the app (localhost, the cloud metadata address, the
    private network) unless an admin allows it; a saved one is checked again when sending."""
    saved = _endpoint(session, receiver.url)  # allowed while WEBHOOKS_ALLOW_PRIVATE=1 (the tests' default)
    monkeypatch.delenv("WEBHOOKS_ALLOW_PRIVATE")
    for url, ip in (("http://127.0.0.1:9/hooks", "127.0.0.1"), ("http://169.254.169.254/latest", "169.254.169.254"),
                    ("https://10.1.2.3/hooks", "10.1.2.3"), ("http://localhost:8080/x", None)):
        with pytest.raises(UserError, match="is a private or local address") as err:
            wh.create_endpoint(session, SYSTEM, url=url, event_types=["customer.created"])
        assert ip is None or f"({ip})" in str(err.value)
        assert "WEBHOOKS_ALLOW_PRIVATE=1" in str(err.value)
    f.seller(session)
    f.customer(session, "ACME")
    session.commit()
    deliver_due(session, now=datetime(2026, 11, 3, 9, 0))
    [d] = session.exec(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == saved.endpoint_id)).all()
    assert d.status == "pending" and d.last_error.startswith("not sent: 127.0.0.1 is a private or local address")
    assert receiver.requests == []  # nothing reached the local receiver
