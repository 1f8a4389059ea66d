"""Stripe payments against localstripe (started by the tests, see tests/stripe_server.py), with the real ``stripe``
library, on SQLite and PostgreSQL: customers synced, cards saved, approved invoices charged (and declined, and
auto-charged on approval), refunds through credit notes, every Stripe error a readable message or a recorded
failure. Refunds go to Stripe only after the credit note committed; localstripe does not keep Stripe's
idempotency promise, so the tests that prove a refund is made once put :class:`IdempotentStripe` (a proxy that
does) in front of it.

localstripe's test cards: 4242424242424242 charges; 4000000000000341 saves but every charge is declined;
4000000000000002 is declined already when it is saved (as on Stripe); 4000002500003155 needs 3-D Secure.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import stripe
from sqlmodel import select

from connectors import stripe_gateway as gw
from core.auth import SYSTEM, Actor
from core.billing.contracts import LineSpec
from core.errors import PermissionDenied, UserError
from core.invoicing.credit_notes import issue_credit_note, mark_refund_paid_out, refunds
from core.invoicing.service import amount_due, approve_invoices, generate_drafts
from core.models import AuditLog, Customer, Invoice, Payment, Refund
from core.payments_stripe import (
    from_minor,
    plan_charge,
    record_succeeded,
    set_auto_charge,
    to_minor,
)
from tests.db import factories as f

D = Decimal
OCT = {"period_start": date(2026, 10, 1), "period_end": date(2026, 11, 1)}


def _stripe(server) -> stripe.StripeClient:
    """A client of our own, to look at what the app did at (local)Stripe."""
    return stripe.StripeClient(server.api_key, base_addresses={"api": server.url}, max_network_retries=0)


def _approved(session, *customers: tuple[str, str], auto: dict[str, bool] | None = None):
    """One approved invoice per (customer, monthly fee); returns {customer external id: (customer, invoice)}."""
    f.seller(session)
    custs = {}
    for cid, fee in customers:
        custs[cid] = f.customer(session, cid, email=f"billing@{cid.lower()}.example")
        f.contract(session, cid, [LineSpec(f"Fee {fee}", "flat_fee", {"amount": fee})], start=date(2026, 1, 1))
    created = generate_drafts(session, SYSTEM, **OCT).created
    approve_invoices(session, SYSTEM, created)
    session.commit()
    out = {}
    for inv in session.exec(select(Invoice).where(Invoice.id.in_(created))):
        cust = next(c for c in custs.values() if c.id == inv.customer_id)
        out[cust.external_id] = (cust, inv)
    return out


def _with_card(session, cust: Customer, number: str = "4242424242424242") -> Customer:
    gw.sync_customer(session, SYSTEM, cust.id)
    gw.save_test_card(session, SYSTEM, cust.id, number)
    session.commit()
    return session.get(Customer, cust.id)


def _payments(session, invoice_id: int | None = None, status: str | None = None) -> list[Payment]:
    q = select(Payment).order_by(Payment.id)
    if status:
        q = q.where(Payment.status == status)
    return list(session.exec(q))


# ---------------------------------------------------------------------------------------------------------------
# amounts (no server)


def test_amounts_go_to_stripe_in_minor_units_and_come_back_exact():
    assert to_minor(D("12.34"), "USD") == 1234
    assert to_minor(D("1000"), "EUR") == 100000
    assert to_minor(D("500"), "JPY") == 500
    assert to_minor(D("500"), "ISK") == 50000  # Stripe's special case: two (zero) decimals
    assert to_minor(D("1.230"), "KWD") == 1230
    assert from_minor(1234, "usd") == D("12.34") and from_minor(500, "jpy") == D("500")
    assert from_minor(50000, "isk") == D("500") and from_minor(1230, "kwd") == D("1.230")
    with pytest.raises(UserError, match="more decimals"):
        to_minor(D("12.345"), "USD")
    with pytest.raises(UserError, match="only to two decimals"):
        to_minor(D("1.234"), "KWD")
    with pytest.raises(UserError, match="not a float"):
        to_minor(12.34, "USD")
    with pytest.raises(UserError, match="whole number"):
        from_minor(12.5, "usd")


# ---------------------------------------------------------------------------------------------------------------
# customers and cards


def test_sync_customer_creates_it_at_stripe_then_updates_it(session, stripe_env):
    f.seller(session)
    cust = f.customer(session, "ACME", email="ap@acme.example", city="Lyon", country="FR")
    session.commit()

    gw.sync_customer(session, SYSTEM, cust.id)
    session.commit()
    cust = session.get(Customer, cust.id)
    assert cust.stripe_customer_id.startswith("cus_")
    remote = _stripe(stripe_env).v1.customers.retrieve(cust.stripe_customer_id).to_dict()
    assert (remote["name"], remote["email"]) == ("Customer ACME", "ap@acme.example")
    assert remote["metadata"] == {"counting_house_id": str(cust.id), "external_id": "ACME"}
    assert remote["address"] == {"city": "Lyon", "country": "FR"}

    first = cust.stripe_customer_id
    cust.name = "Acme SAS"
    session.add(cust)
    gw.sync_customer(session, SYSTEM, cust.id)
    session.commit()
    assert session.get(Customer, cust.id).stripe_customer_id == first  # updated, not created again
    assert _stripe(stripe_env).v1.customers.retrieve(first).name == "Acme SAS"
    audits = session.exec(select(AuditLog).where(AuditLog.action == "customer.stripe_sync")).all()
    assert [a.details["created"] for a in audits] == [True, False]


def test_save_a_test_card_and_a_payment_method_id(session, stripe_env):
    f.seller(session)
    cust = f.customer(session, "ACME")
    session.commit()

    gw.save_test_card(session, SYSTEM, cust.id, "4242 4242 4242 4242")  # syncs the customer first
    session.commit()
    cust = session.get(Customer, cust.id)
    sc = _stripe(stripe_env)
    pm = sc.v1.payment_methods.retrieve(cust.stripe_payment_method)
    assert pm.id.startswith("pm_") and pm.customer == cust.stripe_customer_id and pm.card.last4 == "4242"
    remote = sc.v1.customers.retrieve(cust.stripe_customer_id).to_dict()
    assert remote["invoice_settings"]["default_payment_method"] == pm.id

    # a PaymentMethod made elsewhere (a SetupIntent, the dashboard), pasted as its id
    other = sc.v1.payment_methods.create(params={"type": "card", "card": {
        "number": "5555555555554444", "exp_month": 1, "exp_year": 2031, "cvc": "321"}})
    gw.save_payment_method(session, SYSTEM, cust.id, f"  {other.id} ")
    session.commit()
    assert session.get(Customer, cust.id).stripe_payment_method == other.id
    assert sc.v1.customers.retrieve(cust.stripe_customer_id).to_dict()["invoice_settings"][
        "default_payment_method"] == other.id
    changes = session.exec(select(AuditLog).where(AuditLog.action == "customer.payment_method")
                           .order_by(AuditLog.id)).all()
    assert [(a.details["before"], a.details["after"], a.details["last4"]) for a in changes] == \
        [("", pm.id, "4242"), (pm.id, other.id, "4444")]


def test_a_declined_card_or_an_unknown_id_is_a_readable_error_and_nothing_is_saved(session, stripe_env):
    f.seller(session)
    cust = f.customer(session, "ACME")
    session.commit()
    with pytest.raises(UserError, match="the card was declined while saving the card of Customer ACME: Your card "
                                        "was declined"):
        gw.save_test_card(session, SYSTEM, cust.id, "4000000000000002")
    assert session.get(Customer, cust.id).stripe_payment_method == ""
    with pytest.raises(UserError, match="Stripe does not know .* check the id"):
        gw.save_payment_method(session, SYSTEM, cust.id, "pm_doesnotexist")
    with pytest.raises(UserError, match="starts with pm_"):
        gw.save_payment_method(session, SYSTEM, cust.id, "4242424242424242")
    with pytest.raises(UserError, match="16 digits"):
        gw.save_test_card(session, SYSTEM, cust.id, "4242")
    assert session.get(Customer, cust.id).stripe_payment_method == ""


# ---------------------------------------------------------------------------------------------------------------
# charges


def test_charging_an_approved_invoice_pays_it_and_records_the_stripe_payment(session, stripe_env):
    (cust, inv), = _approved(session, ("ACME", "1234.56")).values()
    cust = _with_card(session, cust)

    result = gw.charge_invoice(session, SYSTEM, inv.id)
    session.commit()

    assert result.ok and result.status == "succeeded"
    inv = session.get(Invoice, inv.id)
    assert (inv.status, amount_due(inv), inv.amount_paid) == ("paid", D("0"), D("1234.56"))
    [payment] = _payments(session)
    assert (payment.provider, payment.status, payment.method, payment.amount, payment.currency) == \
        ("stripe", "succeeded", "card", D("1234.56"), "USD")
    assert payment.provider_id.startswith("pi_") and payment.unallocated == 0
    pi = _stripe(stripe_env).v1.payment_intents.retrieve(payment.provider_id).to_dict()
    assert (pi["status"], pi["amount"], pi["currency"], pi["customer"], pi["payment_method"]) == \
        ("succeeded", 123456, "usd", cust.stripe_customer_id, cust.stripe_payment_method)
    assert pi["metadata"]["invoice_id"] == str(inv.id) and pi["metadata"]["invoice_number"] == inv.number
    [charged] = session.exec(select(AuditLog).where(AuditLog.action == "invoice.charge")).all()
    assert charged.details["payment_intent"] == payment.provider_id
    assert "$1,234.56 charged" in result.message

    with pytest.raises(UserError, match="is paid; only an approved invoice"):  # nothing left to charge
        gw.charge_invoice(session, SYSTEM, inv.id)


def test_a_declined_charge_is_recorded_as_failed_and_the_invoice_stays_open(session, stripe_env):
    (cust, inv), = _approved(session, ("ACME", "500")).values()
    _with_card(session, cust, "4000000000000341")  # saves fine; every charge is declined
    first_key = plan_charge(session, SYSTEM, inv.id).idempotency_key

    result = gw.charge_invoice(session, SYSTEM, inv.id)
    session.commit()

    assert result.status == "failed" and not result.ok
    assert "declined" in result.message and "stays open" in result.message
    inv = session.get(Invoice, inv.id)
    assert (inv.status, amount_due(inv), inv.amount_paid) == ("approved", D("500"), D("0"))
    [failed] = _payments(session)
    assert (failed.status, failed.provider, failed.amount, failed.reference) == \
        ("failed", "stripe", D("500"), f"invoice #{inv.id}")
    assert failed.failure == "Your card was declined. (card_declined)"
    assert failed.provider_id.startswith("pi_")
    assert _stripe(stripe_env).v1.payment_intents.retrieve(failed.provider_id).status == "requires_payment_method"
    assert session.exec(select(AuditLog).where(AuditLog.action == "payment.failed")).one()

    # the next try is a new attempt (a new idempotency key): the decline is not replayed
    second = plan_charge(session, SYSTEM, inv.id)
    assert second.attempt == 2 and second.idempotency_key != first_key
    gw.charge_invoice(session, SYSTEM, inv.id)
    session.commit()
    assert [p.status for p in _payments(session)] == ["failed", "failed"]


def test_the_idempotency_key_is_stable_until_something_is_recorded(session, stripe_env):
    (cust, inv), = _approved(session, ("ACME", "80")).values()
    _with_card(session, cust)
    a, b = plan_charge(session, SYSTEM, inv.id), plan_charge(session, SYSTEM, inv.id)
    assert a.idempotency_key == b.idempotency_key == f"countinghouse-invoice-{inv.id}-attempt-1-8000"


def test_a_payment_stripe_took_is_recorded_once_whichever_way_it_arrives(session, stripe_env):
    (cust, inv), = _approved(session, ("ACME", "80")).values()
    _with_card(session, cust)
    result = gw.charge_invoice(session, SYSTEM, inv.id)
    session.commit()
    again, new = record_succeeded(session, SYSTEM, customer_id=cust.id, invoice_id=inv.id,
                                  provider_id=result.payment.provider_id, currency_code="USD", amount=D("80"))
    assert (again.id, new) == (result.payment.id, False)
    assert len(_payments(session)) == 1


def test_a_card_that_needs_authentication_cannot_be_charged_automatically(session, stripe_env):
    (cust, inv), = _approved(session, ("ACME", "80")).values()
    _with_card(session, cust, "4000002500003155")
    result = gw.charge_invoice(session, SYSTEM, inv.id)
    session.commit()
    assert result.status == "failed" and "authentication" in result.message
    [failed] = _payments(session)
    assert failed.status == "failed" and "3-D Secure" in failed.failure
    assert _stripe(stripe_env).v1.payment_intents.retrieve(failed.provider_id).status == "canceled"
    assert session.get(Invoice, inv.id).status == "approved"


def test_charging_needs_a_saved_card_and_an_open_invoice(session, stripe_env):
    (cust, inv), = _approved(session, ("ACME", "80")).values()
    with pytest.raises(UserError, match="not synced to Stripe yet"):
        gw.charge_invoice(session, SYSTEM, inv.id)
    gw.sync_customer(session, SYSTEM, cust.id)
    with pytest.raises(UserError, match="has no saved card"):
        gw.charge_invoice(session, SYSTEM, inv.id)
    with pytest.raises(UserError, match="there is no invoice #999999"):
        gw.charge_invoice(session, SYSTEM, 999999)
    assert _payments(session) == []


def test_stripe_unreachable_or_not_set_up_is_a_readable_error_and_nothing_is_recorded(session, stripe_env,
                                                                                     monkeypatch):
    (cust, inv), = _approved(session, ("ACME", "80")).values()
    _with_card(session, cust)
    from tests.stripe_server import free_port

    monkeypatch.setenv("STRIPE_API_BASE", f"http://127.0.0.1:{free_port()}")  # nobody listens there
    with pytest.raises(UserError, match="Stripe could not be reached while charging \\$80.00 for invoice "
                                        ".*a retry never charges twice"):
        gw.charge_invoice(session, SYSTEM, inv.id)
    monkeypatch.setenv("STRIPE_API_BASE", stripe_env.url)
    monkeypatch.setenv("STRIPE_API_KEY", "sk_")  # localstripe refuses it, as Stripe refuses a wrong key
    with pytest.raises(UserError, match="Stripe refused the API key .* check STRIPE_API_KEY"):
        gw.charge_invoice(session, SYSTEM, inv.id)
    monkeypatch.delenv("STRIPE_API_KEY")
    with pytest.raises(UserError, match="Stripe is not set up: set STRIPE_API_KEY"):
        gw.sync_customer(session, SYSTEM, cust.id)
    assert gw.charge_after_approval(session, SYSTEM, [inv.id]) == []
    assert _payments(session) == [] and session.get(Invoice, inv.id).status == "approved"


# ---------------------------------------------------------------------------------------------------------------
# auto-charge on approval


def test_invoices_of_customers_who_opted_in_are_charged_after_approval(session, stripe_env):
    f.seller(session)
    opted = f.customer(session, "AUTO")
    manual = f.customer(session, "MANUAL")
    declined = f.customer(session, "DECLINED")
    for cid in ("AUTO", "MANUAL", "DECLINED"):
        f.contract(session, cid, [LineSpec("Fee", "flat_fee", {"amount": "250"})], start=date(2026, 1, 1))
    session.commit()
    with pytest.raises(UserError, match="has no saved card: save a payment method first"):
        set_auto_charge(session, SYSTEM, opted.id, True)
    _with_card(session, opted)
    _with_card(session, manual)
    _with_card(session, declined, "4000000000000341")
    set_auto_charge(session, SYSTEM, opted.id, True)
    set_auto_charge(session, SYSTEM, declined.id, True)
    session.commit()

    created = generate_drafts(session, SYSTEM, **OCT).created
    approved = approve_invoices(session, SYSTEM, created)
    session.commit()  # the approval's transaction; then, as the page does:
    results = gw.charge_after_approval(session, SYSTEM, [i.id for i in approved])

    by_customer = {session.get(Invoice, r.invoice_id).customer_id: r for r in results}
    assert set(by_customer) == {opted.id, declined.id}  # MANUAL did not opt in
    assert by_customer[opted.id].ok and by_customer[declined.id].status == "failed"
    session.expire_all()
    status = {session.get(Customer, i.customer_id).external_id: session.get(Invoice, i.id).status for i in approved}
    assert status == {"AUTO": "paid", "MANUAL": "approved", "DECLINED": "approved"}
    assert [(p.customer_id, p.status) for p in _payments(session)] == [(opted.id, "succeeded"),
                                                                        (declined.id, "failed")]
    audit = session.exec(select(AuditLog).where(AuditLog.action == "customer.auto_charge")).all()
    assert len(audit) == 2


# ---------------------------------------------------------------------------------------------------------------
# refunds


class IdempotentStripe:
    """A proxy in front of localstripe that keeps Stripe's idempotency promise, which localstripe does not: a POST
    with an ``Idempotency-Key`` seen before gets the first answer back (the same key with other parameters: 400
    ``idempotency_error``) and is not sent again. ``drop_answers = n`` makes it forward the next n requests (or
    answer them from the cache) but hang up instead of answering — a request that reached Stripe whose answer was
    lost. ``posts`` counts the POSTs that reached localstripe, by path."""

    def __init__(self, upstream: str):
        import threading
        import urllib.error
        import urllib.request
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.upstream, self.cache, self.posts, self.drop_answers = upstream, {}, [], 0
        lock = threading.Lock()
        state = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self, body: bytes | None) -> tuple[int, bytes]:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                req = urllib.request.Request(state.upstream + self.path, data=body, method=self.command,
                                             headers=headers)
                try:
                    with urllib.request.urlopen(req, timeout=30) as resp:
                        return resp.status, resp.read()
                except urllib.error.HTTPError as exc:
                    return exc.code, exc.read()

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
                key = self.headers.get("Idempotency-Key") if self.command == "POST" else None
                with lock:
                    if key and (self.headers.get("Authorization"), key) in state.cache:
                        sent_body, status, answer = state.cache[(self.headers.get("Authorization"), key)]
                        if sent_body != body:
                            status, answer = 400, (b'{"error": {"type": "idempotency_error", "message": '
                                                   b'"Keys for idempotent requests can only be used with the same '
                                                   b'parameters they were first used with."}}')
                    else:
                        status, answer = self._forward(body)
                        if self.command == "POST":
                            state.posts.append(self.path.split("?")[0])
                        if key and status < 500:
                            state.cache[(self.headers.get("Authorization"), key)] = (body, status, answer)
                    if state.drop_answers > 0:
                        state.drop_answers -= 1
                        self.close_connection = True
                        return  # hang up without an answer
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_DELETE = _handle  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                       daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def idempotent_stripe(stripe_env, monkeypatch):
    proxy = IdempotentStripe(stripe_env.url)
    monkeypatch.setenv("STRIPE_API_BASE", proxy.url)
    try:
        yield proxy
    finally:
        proxy.stop()


def _refunds_at_stripe(server, payment_intent: str) -> list[dict]:
    """What localstripe holds for a PaymentIntent (asked directly, not through the app)."""
    found = _stripe(server).v1.refunds.list(params={"payment_intent": payment_intent, "limit": 100}).to_dict()
    return [r for r in found["data"] if r.get("payment_intent") == payment_intent]


def _paid_by_card(session, fee: str):
    (cust, inv), = _approved(session, ("ACME", fee)).values()
    _with_card(session, cust)
    charged = gw.charge_invoice(session, SYSTEM, inv.id)
    session.commit()
    assert charged.ok
    return cust, inv, charged.payment


def test_a_credit_note_refunding_a_stripe_payment_refunds_the_card_after_it_committed(session, stripe_env):
    _, inv, payment = _paid_by_card(session, "1000")

    note = issue_credit_note(session, SYSTEM, inv.id, reason="Outage on 3 Oct", amount="250.50", excess="refund")
    [refund] = session.exec(select(Refund)).all()
    assert (refund.status, refund.provider_id) == ("pending", "")  # recorded, not sent: nothing at Stripe yet
    assert _refunds_at_stripe(stripe_env, payment.provider_id) == []
    session.commit()

    [sent] = gw.send_refunds(session, SYSTEM, note.id)  # after the commit: call, then record (committed)
    session.expire_all()
    refund = session.get(Refund, refund.id)
    assert sent.id == refund.id
    assert (refund.status, refund.amount, refund.method, refund.payment_id, refund.credit_note_id) == \
        ("succeeded", D("250.50"), "card", payment.id, note.id)
    assert refund.provider_id.startswith("re_") and refund.failure == ""
    [remote] = _refunds_at_stripe(stripe_env, payment.provider_id)
    assert (remote["id"], remote["amount"], remote["status"]) == (refund.provider_id, 25050, "succeeded")
    assert remote["metadata"] == {"refund_id": str(refund.id), "credit_note_id": str(note.id)}
    assert (session.get(Invoice, inv.id).status, note.refunded) == ("paid", D("250.50"))
    [done] = session.exec(select(AuditLog).where(AuditLog.action == "refund.succeeded")).all()
    assert (done.details["attempt"], done.details["key"]) == (1, f"countinghouse-refund-{refund.id}-attempt-1")
    assert gw.send_refunds(session, SYSTEM, note.id) == []  # nothing left to send


def test_a_rolled_back_credit_note_sends_nothing_to_stripe(session, stripe_env):
    _, inv, payment = _paid_by_card(session, "300")
    note = issue_credit_note(session, SYSTEM, inv.id, reason="Goodwill", amount="100", excess="refund")
    note_id = note.id
    session.rollback()  # e.g. something later in the same action failed

    assert session.exec(select(Refund)).all() == []
    assert gw.send_refunds(session, SYSTEM, note_id) == []
    assert _refunds_at_stripe(stripe_env, payment.provider_id) == []
    assert session.get(Invoice, inv.id).status == "paid" and session.get(Payment, payment.id).refunded == 0


def test_a_refund_whose_answer_was_lost_is_sent_once_however_often_it_is_retried(session, idempotent_stripe,
                                                                               stripe_env):
    _, inv, payment = _paid_by_card(session, "500")
    note = issue_credit_note(session, SYSTEM, inv.id, reason="Overcharge", amount="120", excess="refund")
    session.commit()

    idempotent_stripe.drop_answers = 3  # the request and the library's two retries reach Stripe; no answer comes
    [refund] = gw.send_refunds(session, SYSTEM, note.id)
    assert (refund.status, refund.provider_id) == ("pending", "")
    assert "could not be reached" in refund.failure and "a retry never refunds twice" in refund.failure
    assert len(_refunds_at_stripe(stripe_env, payment.provider_id)) == 1  # made at Stripe all the same
    [row] = refunds(session, SYSTEM)
    assert (row.state, row.can_retry, row.can_mark_paid_out) == ("No answer from Stripe: send it again", True, False)

    for _ in range(2):  # Retry, twice: the same key each time, so Stripe answers with the refund it made
        gw.retry_refund(session, SYSTEM, refund.id)
        session.commit()
        with pytest.raises(UserError, match="already succeeded"):
            gw.retry_refund(session, SYSTEM, refund.id)
        session.get(Refund, refund.id).status = "pending"  # as if the answer had been lost again
        session.get(Refund, refund.id).provider_id = ""
        session.commit()
    [remote] = _refunds_at_stripe(stripe_env, payment.provider_id)
    assert remote["amount"] == 12000
    keys = {a.details["key"] for a in session.exec(select(AuditLog).where(
        AuditLog.action.in_(["refund.succeeded", "refund.unanswered"]), AuditLog.entity_id == str(refund.id)))}
    assert keys == {f"countinghouse-refund-{refund.id}-attempt-1"}
    assert idempotent_stripe.posts.count("/v1/refunds") == 1  # only the first request reached localstripe


def test_the_webhook_settles_a_refund_whose_answer_was_lost(session, idempotent_stripe, stripe_env):
    from core.payments_stripe import handle_event

    _, inv, payment = _paid_by_card(session, "200")
    note = issue_credit_note(session, SYSTEM, inv.id, reason="Goodwill", amount="20", excess="refund")
    session.commit()
    idempotent_stripe.drop_answers = 3
    [refund] = gw.send_refunds(session, SYSTEM, note.id)
    assert (refund.status, refund.provider_id) == ("pending", "")
    [remote] = _refunds_at_stripe(stripe_env, payment.provider_id)  # Stripe made it; its event names our id
    outcome = handle_event(session, {"id": "evt_lost_answer", "type": "refund.updated", "data": {"object": remote}})
    session.commit()
    assert outcome.outcome == f"refund #{refund.id} is succeeded"
    refund = session.get(Refund, refund.id)
    assert (refund.status, refund.provider_id, refund.failure) == ("succeeded", remote["id"], "")
    with pytest.raises(UserError, match="already succeeded"):  # so a late Retry sends nothing
        gw.retry_refund(session, SYSTEM, refund.id)


def test_a_refund_stripe_refuses_is_recorded_with_its_message_and_retried_with_a_new_key(session, stripe_env):
    _, inv, payment = _paid_by_card(session, "100")
    real_pi = payment.provider_id
    payment.provider_id = "pi_unknownAtStripe"  # Stripe will not find it
    session.add(payment)
    session.commit()

    note = issue_credit_note(session, SYSTEM, inv.id, reason="Goodwill", amount="10", excess="refund")
    session.commit()
    [refund] = gw.send_refunds(session, SYSTEM, note.id)
    assert refund.status == "failed" and refund.provider_id == ""
    assert refund.failure.startswith("Stripe does not know what was asked for while refunding $10.00 to the card")
    [failed] = session.exec(select(AuditLog).where(AuditLog.action == "refund.failed")).all()
    assert failed.details["failure"] == refund.failure and failed.details["attempt"] == 1
    [row] = refunds(session, SYSTEM)
    assert (row.state, row.failure, row.can_retry, row.can_mark_paid_out) == \
        ("Failed at Stripe", refund.failure, True, True)

    payment = session.get(Payment, payment.id)
    payment.provider_id = real_pi
    session.add(payment)
    session.commit()
    gw.retry_refund(session, SYSTEM, refund.id)
    session.commit()
    refund = session.get(Refund, refund.id)
    assert (refund.status, refund.failure) == ("succeeded", "") and refund.provider_id.startswith("re_")
    [done] = session.exec(select(AuditLog).where(AuditLog.action == "refund.succeeded")).all()
    assert done.details["key"] == f"countinghouse-refund-{refund.id}-attempt-2"  # a refusal moves the key on
    assert [r["id"] for r in _refunds_at_stripe(stripe_env, real_pi)] == [refund.provider_id]
    with pytest.raises(UserError, match="already succeeded"):
        gw.retry_refund(session, SYSTEM, refund.id)
    with pytest.raises(UserError, match="already paid out"):
        mark_refund_paid_out(session, SYSTEM, refund.id)


def test_a_failed_refund_whose_retry_gets_no_answer_is_pending_again_not_payable_by_hand(session, idempotent_stripe,
                                                                                        stripe_env):
    _, inv, payment = _paid_by_card(session, "100")
    real_pi = payment.provider_id
    payment.provider_id = "pi_unknownAtStripe"
    session.add(payment)
    note = issue_credit_note(session, SYSTEM, inv.id, reason="Goodwill", amount="15", excess="refund")
    session.commit()
    [refund] = gw.send_refunds(session, SYSTEM, note.id)
    assert refund.status == "failed"
    payment = session.get(Payment, payment.id)
    payment.provider_id = real_pi
    session.add(payment)
    session.commit()

    idempotent_stripe.drop_answers = 3  # the retry reaches Stripe, its answer does not come back
    refund = gw.retry_refund(session, SYSTEM, refund.id)
    session.commit()
    assert (refund.status, refund.provider_id) == ("pending", "") and "could not be reached" in refund.failure
    [row] = refunds(session, SYSTEM)
    assert (row.can_retry, row.can_mark_paid_out) == (True, False)  # it may be refunded already: not by hand
    with pytest.raises(UserError, match="has not failed"):
        mark_refund_paid_out(session, SYSTEM, refund.id)
    refund = gw.retry_refund(session, SYSTEM, refund.id)
    session.commit()
    assert refund.status == "succeeded"
    [remote] = _refunds_at_stripe(stripe_env, real_pi)
    assert remote["id"] == refund.provider_id and remote["amount"] == 1500


def test_stripe_not_set_up_leaves_a_failed_refund_that_says_so(session, stripe_env, monkeypatch):
    _, inv, _payment = _paid_by_card(session, "100")
    note = issue_credit_note(session, SYSTEM, inv.id, reason="Goodwill", amount="5", excess="refund")
    session.commit()
    monkeypatch.delenv("STRIPE_API_KEY")
    [refund] = gw.send_refunds(session, SYSTEM, note.id)
    assert refund.status == "failed" and refund.failure.startswith("Stripe is not set up: set STRIPE_API_KEY")


def test_refunds_paid_back_by_hand_are_marked_paid_out(session, stripe_env):
    from core.invoicing.payments import record_payment

    (cust, inv), = _approved(session, ("ACME", "400")).values()
    payment = record_payment(session, SYSTEM, customer_id=cust.id, currency_code="USD", amount="400",
                             method="bank_transfer", received_on=date(2026, 11, 5), allocations={inv.id: "400"})
    note = issue_credit_note(session, SYSTEM, inv.id, reason="Overcharge", amount="40", excess="refund")
    session.commit()
    assert gw.send_refunds(session, SYSTEM, note.id) == []  # not a card payment: nothing goes to Stripe
    [row] = refunds(session, SYSTEM)
    assert (row.status, row.state, row.method, row.credit_note, row.customer) == \
        ("pending", "To pay out by hand", "bank_transfer", note.number, cust.name)
    assert (row.can_retry, row.can_mark_paid_out) == (False, True)
    with pytest.raises(UserError, match="not a card payment taken through Stripe: pay it back by hand"):
        gw.retry_refund(session, SYSTEM, row.id)
    with pytest.raises(PermissionDenied):
        mark_refund_paid_out(session, Actor("vera", "viewer"), row.id)
    with pytest.raises(UserError, match="is in the future"):
        mark_refund_paid_out(session, SYSTEM, row.id, paid_on=date(2999, 1, 1))

    mark_refund_paid_out(session, Actor("fiona", "finance"), row.id, reference="WIRE 9912")
    session.commit()
    refund = session.get(Refund, row.id)
    assert refund.status == "succeeded" and payment.id == refund.payment_id
    [paid] = session.exec(select(AuditLog).where(AuditLog.action == "refund.paid_out")).all()
    assert (paid.actor, paid.details["reference"], paid.details["before"]) == ("fiona", "WIRE 9912", "pending")
    [row] = refunds(session, SYSTEM)
    assert (row.state, row.can_retry, row.can_mark_paid_out) == ("Paid out", False, False)


# ---------------------------------------------------------------------------------------------------------------
# permissions


def test_each_action_checks_the_actors_permission(session, stripe_env):
    (cust, inv), = _approved(session, ("ACME", "100")).values()
    viewer, sales, ops = Actor("vera", "viewer"), Actor("sam", "sales"), Actor("olga", "ops")
    for fn, args in ((gw.sync_customer, (cust.id,)), (gw.save_test_card, (cust.id, "4242424242424242")),
                     (gw.save_payment_method, (cust.id, "pm_card_visa")), (set_auto_charge, (cust.id, False))):
        with pytest.raises(PermissionDenied, match="may not write customers"):
            fn(session, viewer, *args)
    gw.save_test_card(session, ops, cust.id, "4242424242424242")  # ops may write customers
    session.commit()
    for actor in (sales, ops):  # … but not charge invoices
        with pytest.raises(PermissionDenied, match="may not write invoices"):
            gw.charge_invoice(session, actor, inv.id)
    with pytest.raises(PermissionDenied):
        gw.retry_refund(session, sales, 1)
    assert _payments(session) == []
    assert gw.charge_invoice(session, Actor("fiona", "finance"), inv.id).ok


# ---------------------------------------------------------------------------------------------------------------
# the UI helpers (ui/stripe_ui.py) in Streamlit's AppTest


def _customer_script():
    import streamlit as st

    from core.auth import Actor
    from ui import stripe_ui

    if msg := stripe_ui.customer_panel(st.session_state["cid"], Actor("fiona", st.session_state["role"])):
        st.success(msg)


def _invoice_script():
    import streamlit as st

    from core.auth import Actor
    from core.models import Customer, Invoice
    from ui import stripe_ui
    from ui.state import session

    with session() as s:
        inv = s.get(Invoice, st.session_state["iid"])
        cust = s.get(Customer, inv.customer_id)
    if msg := stripe_ui.charge_action(inv, cust, Actor("fiona", "finance")):
        st.success(msg)


def test_the_pages_helpers_save_a_card_and_charge_an_invoice(db_url, stripe_env, monkeypatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from core.db import make_engine, session_scope

    monkeypatch.setenv("DATABASE_URL", db_url)
    st.cache_resource.clear()
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            (cust, inv), = _approved(s, ("ACME", "99")).values()

        viewer = AppTest.from_function(_customer_script, default_timeout=60)
        viewer.session_state["cid"], viewer.session_state["role"] = cust.id, "viewer"
        viewer.run()
        assert not viewer.exception and not viewer.button  # a viewer sees the panel but has nothing to press
        assert "not change its card payments" in viewer.caption[0].value

        at = AppTest.from_function(_customer_script, default_timeout=60)
        at.session_state["cid"], at.session_state["role"] = cust.id, "finance"
        at.run()
        at.selectbox(key=f"stripe_{cust.id}_test").set_value("4242424242424242")
        at.button(key=f"stripe_{cust.id}_test_save").click().run()
        assert not at.exception and at.success[0].value == "Test card …4242 saved for Customer ACME."
        at.run()  # the page reruns after a change (its flash)
        at.toggle(key=f"stripe_{cust.id}_auto").set_value(True).run()
        assert at.success[0].value == "Invoices of Customer ACME are now charged to the saved card on approval."
        with session_scope(engine) as s:
            saved = s.get(Customer, cust.id)
            assert saved.stripe_payment_method.startswith("pm_") and saved.auto_charge

        at.run()
        at.text_input(key=f"stripe_{cust.id}_pm").set_value("pm_nope").run()
        at.button(key=f"stripe_{cust.id}_pm_save").click().run()
        assert "Stripe does not know" in at.error[0].value  # readable, no traceback
        assert not at.exception

        page = AppTest.from_function(_invoice_script, default_timeout=60)
        page.session_state["iid"] = inv.id
        page.run()
        page.button(key=f"stripe_charge_{inv.id}").click().run()
        assert not page.exception and page.success[0].value == \
            f"$99.00 charged to the saved card for invoice {inv.number}."
        with session_scope(engine) as s:
            assert s.get(Invoice, inv.id).status == "paid"
        page.run()
        assert not page.button  # nothing due any more: no charge button
    finally:
        from ui import state

        state.engine().dispose()  # the engine the scripts cached (st.cache_resource.clear() does not close it)
        engine.dispose()
        st.cache_resource.clear()
