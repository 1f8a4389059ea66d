"""POST /v1/stripe/webhook on SQLite and PostgreSQL: signatures checked with the real ``stripe`` library, each event
processed once, payments and refunds recorded from events — and, end to end, events that localstripe itself signs
and delivers to the API served on a real port.

The app under test is api.main's (same handlers) with the Stripe router included; api/main.py includes it with
one line (see api/routes_stripe.py).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
import warnings
from datetime import date
from decimal import Decimal

import pytest
import stripe
from fastapi import FastAPI
from sqlmodel import Session, select

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from api import deps
from api.errors import install_handlers
from api.routes_stripe import router
from connectors import stripe_gateway as gw
from core.auth import SYSTEM
from core.billing.contracts import LineSpec
from core.db import session_scope
from core.invoicing.service import approve_invoices, generate_drafts
from core.models import AuditLog, Customer, Invoice, Payment, ProviderEvent, Refund
from tests.db import factories as f
from tests.stripe_server import (  # noqa: F401
    WEBHOOK_SECRET,
    free_port,
    localstripe,
    start_localstripe,
    stripe_env,
)

URL = "/v1/stripe/webhook"
D = Decimal
OCT = {"period_start": date(2026, 10, 1), "period_end": date(2026, 11, 1)}


def make_app() -> FastAPI:
    app = FastAPI()
    install_handlers(app)
    app.include_router(router)
    return app


class Hook(TestClient):
    engine = None

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def count(self, model) -> int:
        with self.session() as s:
            return len(s.exec(select(model)).all())


@pytest.fixture
def hook(db_url: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
    deps.reset_engines()
    client = Hook(make_app())
    client.engine = deps.get_engine()
    with session_scope(client.engine) as s:
        f.seller(s)
    try:
        yield client
    finally:
        client.close()
        deps.reset_engines()


def _invoice(hook: Hook, cid: str = "ACME", fee: str = "120", stripe_customer: str | None = None):
    """An approved invoice of a new customer (given a Stripe id unless None)."""
    with session_scope(hook.engine) as s:
        cust = f.customer(s, cid)
        cust.stripe_customer_id = stripe_customer or ""
        s.add(cust)
        f.contract(s, cid, [LineSpec("Fee", "flat_fee", {"amount": fee})], start=date(2026, 1, 1))
        created = generate_drafts(s, SYSTEM, **OCT).created
        [inv] = approve_invoices(s, SYSTEM, created)
        return cust.id, inv.id


def event(kind: str, obj: dict, event_id: str | None = None) -> dict:
    return {"id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event", "type": kind,
            "created": int(time.time()), "livemode": False, "api_version": "2025-01-27.acacia",
            "data": {"object": obj}}


def pi(pi_id: str, cus: str, amount: int, *, invoice_id: int | None = None, status: str = "succeeded",
       error: dict | None = None) -> dict:
    return {"id": pi_id, "object": "payment_intent", "amount": amount,
            "amount_received": amount if status == "succeeded" else 0, "currency": "usd", "customer": cus,
            "status": status, "last_payment_error": error,
            "metadata": {"invoice_id": str(invoice_id)} if invoice_id else {}}


def post(hook: Hook, ev: dict | str, *, secret: str = WEBHOOK_SECRET, header: str | None = None,
         timestamp: int | None = None):
    payload = ev if isinstance(ev, str) else json.dumps(ev)
    if header is None:
        header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp)
    return hook.post(URL, content=payload.encode(), headers={"Stripe-Signature": header,
                                                            "Content-Type": "application/json"})


# ---------------------------------------------------------------------------------------------------------------
# signatures


def test_a_bad_signature_is_refused_with_400_and_nothing_is_stored(hook):
    _cust_id, inv_id = _invoice(hook, stripe_customer="cus_A")
    ev = event("payment_intent.succeeded", pi("pi_A", "cus_A", 12000, invoice_id=inv_id))
    payload = json.dumps(ev)
    good = stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET)
    cases = {
        "wrong secret": post(hook, ev, secret="whsec_someone_else"),
        "body changed after signing": hook.post(URL, content=payload.replace("12000", "1").encode(),
                                                headers={"Stripe-Signature": good}),
        "no header": hook.post(URL, content=payload.encode()),
        "garbage header": post(hook, ev, header="nonsense"),
        "too old": post(hook, ev, timestamp=int(time.time()) - 3600),
    }
    for name, response in cases.items():
        assert response.status_code == 400, name
        body = response.json()["error"]
        assert body["code"] == "bad_signature", name
        assert "Stripe-Signature" in body["message"], name
    assert "does not match this body" in cases["wrong secret"].json()["error"]["message"]
    assert "missing" in cases["no header"].json()["error"]["message"]
    assert "tolerance" in cases["too old"].json()["error"]["message"]
    assert hook.count(ProviderEvent) == hook.count(Payment) == 0


def test_without_a_webhook_secret_the_endpoint_says_it_is_not_set_up(hook, monkeypatch):
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET")
    response = post(hook, event("payment_intent.succeeded", pi("pi_A", "cus_A", 100)))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_configured"
    assert "set STRIPE_WEBHOOK_SECRET" in response.json()["error"]["message"]
    assert hook.count(ProviderEvent) == 0


def test_the_header_is_stripes_scheme_an_hmac_sha256_of_timestamp_and_body(hook):
    ev = event("customer.created", {"id": "cus_Z", "object": "customer"})
    payload, t = json.dumps(ev), int(time.time())
    v1 = hmac.new(WEBHOOK_SECRET.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    assert stripe.WebhookSignature.generate_signature_header(payload, WEBHOOK_SECRET, t) == f"t={t},v1={v1}"
    response = post(hook, payload, header=f"t={t},v1={'0' * 64},v1={v1}")  # one matching signature is enough
    assert response.status_code == 200
    assert response.json() == {"received": True, "event_id": ev["id"], "type": "customer.created",
                               "duplicate": False, "outcome": "ignored: not an event Counting House acts on"}


def test_a_signed_body_that_is_not_an_event_is_a_400(hook):
    assert post(hook, "[1, 2]").status_code == 400
    response = post(hook, {"id": "nope", "type": ""})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_event"
    assert hook.count(ProviderEvent) == 0


# ---------------------------------------------------------------------------------------------------------------
# events


def test_payment_intent_succeeded_records_the_payment_once(hook):
    _cust_id, inv_id = _invoice(hook, fee="120", stripe_customer="cus_A")
    ev = event("payment_intent.succeeded", pi("pi_A1", "cus_A", 12000, invoice_id=inv_id))

    first, second = post(hook, ev), post(hook, ev)  # Stripe delivers at least once

    assert first.status_code == second.status_code == 200
    assert (first.json()["duplicate"], second.json()["duplicate"]) == (False, True)
    assert first.json()["outcome"].startswith("recorded payment #") and "$120.00" in first.json()["outcome"]
    assert second.json()["outcome"] == first.json()["outcome"]
    with hook.session() as s:
        [payment] = s.exec(select(Payment)).all()
        assert (payment.provider, payment.provider_id, payment.amount, payment.status, payment.created_by) == \
            ("stripe", "pi_A1", D("120"), "succeeded", "stripe-webhook")
        assert s.get(Invoice, inv_id).status == "paid"
        [stored] = s.exec(select(ProviderEvent)).all()
        assert (stored.id, stored.type, stored.provider) == (ev["id"], "payment_intent.succeeded", "stripe")
        assert len(s.exec(select(AuditLog).where(AuditLog.action == "stripe.webhook")).all()) == 1

    # another event about the same PaymentIntent (Stripe may send several): recorded already
    again = post(hook, event("payment_intent.succeeded", pi("pi_A1", "cus_A", 12000, invoice_id=inv_id)))
    assert again.json()["outcome"] == f"already recorded as payment #{payment.id}"
    assert hook.count(Payment) == 1


def test_the_same_event_delivered_twice_at_once_is_processed_once(hook):
    _cust_id, inv_id = _invoice(hook, fee="90", stripe_customer="cus_T")
    ev = event("payment_intent.succeeded", pi("pi_T1", "cus_T", 9000, invoice_id=inv_id))
    gate, answers = threading.Barrier(4), []

    def deliver() -> None:
        with TestClient(hook.app) as client:  # a client (and event loop) per thread, as separate deliveries
            gate.wait(timeout=10)
            answers.append(post(client, ev))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [r.status_code for r in answers] == [200] * 4, [r.text for r in answers]
    assert sorted(r.json()["duplicate"] for r in answers) == [False, True, True, True]
    assert hook.count(Payment) == hook.count(ProviderEvent) == 1


def test_a_payment_for_an_invoice_settled_meanwhile_goes_to_the_wallet(hook):
    from core import wallet

    cust_id, inv_id = _invoice(hook, fee="50", stripe_customer="cus_B")
    assert post(hook, event("payment_intent.succeeded", pi("pi_B1", "cus_B", 5000, invoice_id=inv_id))).json()[
        "outcome"].startswith("recorded")
    assert post(hook, event("payment_intent.succeeded", pi("pi_B2", "cus_B", 5000, invoice_id=inv_id))).json()[
        "outcome"].startswith("recorded")
    with hook.session() as s:
        assert [p.unallocated for p in s.exec(select(Payment).order_by(Payment.id))] == [D("0"), D("50")]
        assert wallet.balance(s, cust_id, "USD") == D("50")


def test_payment_failed_records_the_failure_and_the_invoice_stays_open(hook):
    _cust_id, inv_id = _invoice(hook, fee="75", stripe_customer="cus_C")
    ev = event("payment_intent.payment_failed", pi("pi_C1", "cus_C", 7500, invoice_id=inv_id,
                                                   status="requires_payment_method",
                                                   error={"code": "card_declined", "message": "Insufficient funds."}))
    assert post(hook, ev).json()["outcome"].startswith("recorded failed payment")
    assert post(hook, ev).json()["duplicate"] is True
    with hook.session() as s:
        [failed] = s.exec(select(Payment)).all()
        assert (failed.status, failed.failure, failed.provider_id, failed.amount) == \
            ("failed", "Insufficient funds.", "pi_C1", D("75"))
        assert s.get(Invoice, inv_id).status == "approved"


def test_events_for_someone_else_are_kept_and_ignored(hook):
    response = post(hook, event("payment_intent.succeeded", pi("pi_X", "cus_unknown", 100)))
    assert response.status_code == 200 and response.json()["outcome"].startswith("ignored")
    assert hook.count(Payment) == 0 and hook.count(ProviderEvent) == 1


def _pending_refund(hook: Hook, provider_id: str = "re_1") -> tuple[int, int]:
    cust_id, inv_id = _invoice(hook, fee="40", stripe_customer="cus_R")
    post(hook, event("payment_intent.succeeded", pi("pi_R", "cus_R", 4000, invoice_id=inv_id)))
    with session_scope(hook.engine) as s:
        payment = s.exec(select(Payment)).one()
        refund = Refund(customer_id=cust_id, payment_id=payment.id, currency="USD", amount=D("15"), method="card",
                        status="pending", provider_id=provider_id)
        s.add(refund)
        s.flush()
        return refund.id, payment.id


def test_charge_refunded_settles_the_pending_refund(hook):
    refund_id, _ = _pending_refund(hook, "re_1")
    charge = {"id": "ch_R", "object": "charge", "payment_intent": "pi_R", "amount_refunded": 1500,
              "refunds": {"object": "list", "data": [{"id": "re_1", "status": "succeeded", "amount": 1500}]}}
    ev = event("charge.refunded", charge)
    assert post(hook, ev).json()["outcome"] == f"settled refund(s) #{refund_id}"
    assert post(hook, ev).json()["duplicate"] is True
    with hook.session() as s:
        assert s.get(Refund, refund_id).status == "succeeded"
        assert len(s.exec(select(AuditLog).where(AuditLog.action == "refund.succeeded")).all()) == 1


def test_charge_refunded_without_the_list_settles_refunds_sent_to_stripe(hook):
    refund_id, _ = _pending_refund(hook, "re_2")
    charge = {"id": "ch_R", "object": "charge", "payment_intent": "pi_R", "amount_refunded": 1500}
    assert post(hook, event("charge.refunded", charge)).json()["outcome"] == f"settled refund(s) #{refund_id}"
    with hook.session() as s:
        assert s.get(Refund, refund_id).status == "succeeded"


def test_a_refund_that_failed_later_is_marked_failed(hook):
    refund_id, _ = _pending_refund(hook, "re_3")
    obj = {"id": "re_3", "object": "refund", "status": "failed", "failure_reason": "expired_or_canceled_card"}
    assert post(hook, event("refund.updated", obj)).json()["outcome"] == f"refund #{refund_id} is failed"
    with hook.session() as s:
        refund = s.get(Refund, refund_id)
        assert (refund.status, refund.failure) == ("failed", "expired_or_canceled_card")


def test_the_webhook_finds_the_payment_the_charge_already_recorded(hook, stripe_env):  # noqa: F811
    """The synchronous path (charge_invoice) records first; Stripe's event about the same PaymentIntent, as
    localstripe returns it, is then 'already recorded'."""
    cust_id, inv_id = _invoice(hook, fee="60")
    with session_scope(hook.engine) as s:
        gw.save_test_card(s, SYSTEM, cust_id, "4242424242424242")
    with session_scope(hook.engine) as s:
        result = gw.charge_invoice(s, SYSTEM, inv_id)
    sc = stripe.StripeClient(stripe_env.api_key, base_addresses={"api": stripe_env.url})
    remote = sc.v1.payment_intents.retrieve(result.payment.provider_id).to_dict()
    response = post(hook, event("payment_intent.succeeded", remote))
    assert response.json()["outcome"] == f"already recorded as payment #{result.payment.id}"
    assert hook.count(Payment) == 1


# ---------------------------------------------------------------------------------------------------------------
# end to end: localstripe signs and delivers the events to the API on a real port


@pytest.fixture
def served(hook):
    """The webhook app served by uvicorn on a free port of 127.0.0.1, in a thread of this process (so it uses
    this test's database through DATABASE_URL)."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(hook.app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def own_localstripe(monkeypatch):
    """A localstripe of this test's own: webhooks registered on it stay registered for its lifetime."""
    server = start_localstripe()
    monkeypatch.setenv("STRIPE_API_KEY", server.api_key)
    monkeypatch.setenv("STRIPE_API_BASE", server.url)
    try:
        yield server
    finally:
        server.stop()


def _wait_for(hook: Hook, n: int, timeout: float = 20.0) -> list[ProviderEvent]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with hook.session() as s:
            rows = list(s.exec(select(ProviderEvent).order_by(ProviderEvent.received_at)))
        if len(rows) >= n:
            return rows
        time.sleep(0.2)
    return rows


def test_localstripe_delivers_signed_events_to_the_endpoint(hook, served, own_localstripe):
    own_localstripe.register_webhook(served + URL, secret=WEBHOOK_SECRET,
                                     events=["payment_intent.succeeded", "payment_intent.payment_failed"])
    paid_cust, paid_inv = _invoice(hook, "PAID", fee="30")
    declined_cust, declined_inv = _invoice(hook, "DECLINED", fee="45")
    other_cust, other_inv = _invoice(hook, "ELSEWHERE", fee="20")
    with session_scope(hook.engine) as s:
        gw.save_test_card(s, SYSTEM, paid_cust, "4242424242424242")
        gw.save_test_card(s, SYSTEM, declined_cust, "4000000000000341")
        gw.save_test_card(s, SYSTEM, other_cust, "4242424242424242")
    with session_scope(hook.engine) as s:
        assert gw.charge_invoice(s, SYSTEM, paid_inv).ok
    with session_scope(hook.engine) as s:
        assert gw.charge_invoice(s, SYSTEM, declined_inv).status == "failed"
    # a payment taken at Stripe without Counting House (the dashboard, another system): only the event tells
    with hook.session() as s:
        other = s.get(Customer, other_cust)
    sc = stripe.StripeClient(own_localstripe.api_key, base_addresses={"api": own_localstripe.url})
    outside = sc.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "customer": other.stripe_customer_id,
        "payment_method": other.stripe_payment_method, "confirm": True, "off_session": True,
        "payment_method_types": ["card"], "metadata": {"invoice_id": str(other_inv)}})

    events = _wait_for(hook, 3)
    outcomes = sorted((e.type, e.outcome.split(" #")[0]) for e in events)
    assert outcomes == [("payment_intent.payment_failed", "failure already recorded as payment"),
                        ("payment_intent.succeeded", "already recorded as payment"),
                        ("payment_intent.succeeded", "recorded payment")], [e.outcome for e in events]
    with hook.session() as s:
        status = {i: s.get(Invoice, i).status for i in (paid_inv, declined_inv, other_inv)}
        assert status == {paid_inv: "paid", declined_inv: "approved", other_inv: "paid"}
        by_pi = {p.provider_id: p for p in s.exec(select(Payment))}
        assert len(by_pi) == 3 and by_pi[outside.id].created_by == "stripe-webhook"
