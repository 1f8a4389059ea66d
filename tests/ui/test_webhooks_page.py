"""The Webhooks page: add an endpoint (its secret shown once), a bad URL refused with what to fix, a test event
delivered to a real local receiver and shown in the delivery log, a replay, the verification snippet, and a viewer
who reads without being offered any change."""
from __future__ import annotations

import json

import pytest
from sqlmodel import select

from core.auth import Actor
from core.models import AuditLog
from core.models.webhooks import WebhookEndpoint
from core.webhooks import endpoints as wh
from core.webhooks import signing
from tests.db.test_webhooks import Receiver
from tests.ui.conftest import in_db, texts

PAGE = "pages/webhooks.py"


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


_db = in_db  # fn(session) on the page's database, in a transaction of its own


def _add(at, url: str, events: list[str]):
    next(w for w in at.text_input if w.label == "URL").input(url)  # the first form: "Add an endpoint"
    at.multiselect[0].set_value(events)
    next(b for b in at.get("form_submit_button") if b.label == "Add the endpoint").click().run()
    return at


def test_add_an_endpoint_send_a_test_event_and_replay_it(open_page, demo_db, receiver):
    at = open_page(PAGE, role="finance")
    assert not at.exception, [e.value for e in at.exception]
    assert "No endpoint yet" in texts(at)

    _add(at, "ftp://erp.example.com/hooks", ["invoice.paid"])
    assert any("must start with https://" in e.value for e in at.error)
    assert _db(demo_db, lambda s: s.exec(select(WebhookEndpoint)).all()) == []

    _add(at, receiver.url, ["invoice.paid", "customer.created"])
    assert not at.exception, [e.value for e in at.exception]
    [secret] = [c.value for c in at.code if c.value.startswith("whsec_")]
    assert "shown only this once" in texts(at)
    assert f"Endpoint {receiver.url} added" in texts(at)
    ep = _db(demo_db, lambda s: s.exec(select(WebhookEndpoint)).one())
    assert ep.event_types == ["customer.created", "invoice.paid"] and ep.created_by == "finance-user"
    assert receiver.url in list(at.dataframe[0].value["URL"])

    at.run()  # the secret is gone on the next run
    assert not [c for c in at.code if c.value.startswith("whsec_")]

    at.button(key="webhooks_test").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Test event delivered" in texts(at) and "HTTP 200" in texts(at)
    [req] = receiver.requests
    assert json.loads(req["body"])["type"] == "webhook.test"
    assert signing.verify(secret, req["headers"][signing.SIGNATURE_HEADER], req["body"])

    at.session_state["webhooks_tab"] = "Delivery log"
    at.run()
    log = at.dataframe[0].value
    assert list(log["Event"]) == ["webhook.test"] and list(log["Status"]) == ["Succeeded"]
    assert "HTTP 200" in log["Answer"].iloc[0]
    at.button(key="webhooks_replay").click().run()
    assert "replayed as" in texts(at)
    first, again = receiver.requests
    assert json.loads(first["body"])["id"] == json.loads(again["body"])["id"]
    assert len(at.dataframe[0].value) == 2
    actions = _db(demo_db, lambda s: s.exec(select(AuditLog.action).where(AuditLog.action.like("webhook.%"))).all())
    assert sorted(actions) == ["webhook.endpoint_create", "webhook.replay", "webhook.test"]


def test_an_auto_disabled_endpoint_says_so_and_can_be_enabled(open_page, demo_db):
    def setup(s):
        made = wh.create_endpoint(s, Actor("fiona", "finance"), url="https://erp.example.com/hooks",
                                  event_types=["invoice.paid"])
        ep = s.get(WebhookEndpoint, made.endpoint_id)
        ep.active, ep.consecutive_failures = False, 15
        ep.disabled_reason = "Disabled automatically after 15 failed attempts in a row (last: HTTP 500)."
        s.add(ep)

    _db(demo_db, setup)
    at = open_page(PAGE, role="admin")
    assert any("is disabled" in w.value and "15 failed attempts" in w.value for w in at.warning)
    assert list(at.dataframe[0].value["Status"]) == ["Disabled"]
    at.button(key="webhooks_enable").click().run()
    assert "enabled again" in texts(at)
    assert _db(demo_db, lambda s: s.exec(select(WebhookEndpoint.active)).one()) is True


def test_the_verification_snippet_is_on_the_page(open_page):
    at = open_page(PAGE, role="viewer")
    at.session_state["webhooks_tab"] = "Verifying signatures"
    at.run()
    assert not at.exception
    assert any("hmac.compare_digest" in c.value for c in at.code)
    assert "CountingHouse-Signature" in texts(at)
    assert "invoice.approved" in set(at.dataframe[0].value["Type"])


@pytest.mark.parametrize("role", ["viewer", "ops", "sales"])
def test_a_role_that_may_not_write_reads_without_changing(open_page, demo_db, role):
    _db(demo_db, lambda s: wh.create_endpoint(s, Actor("fiona", "finance"), url="https://erp.example.com/hooks",
                                              event_types=["invoice.paid"]))
    at = open_page(PAGE, role=role)
    assert not at.exception
    assert list(at.dataframe[0].value["URL"]) == ["https://erp.example.com/hooks"]
    assert not at.get("form") and "Only finance and admin users" in texts(at)
    assert not [b for b in at.button if b.key in ("webhooks_test", "webhooks_disable", "webhooks_delete_btn")]
    at.session_state["webhooks_tab"] = "Delivery log"
    at.run()
    assert not at.exception and "Nothing has been sent yet" in texts(at)


def test_rotate_the_secret_and_delete_after_confirming(open_page, demo_db):
    made = _db(demo_db, lambda s: wh.create_endpoint(s, Actor("fiona", "finance"), url="https://erp.example.com/hooks",
                                                     event_types=["invoice.paid"]))
    at = open_page(PAGE, role="finance")
    at.button(key="webhooks_rotate_btn").click().run()
    at.button(key="webhooks_rotate_yes").click().run()
    assert not at.exception, [e.value for e in at.exception]
    [secret] = [c.value for c in at.code if c.value.startswith("whsec_")]
    assert secret != made.secret and "The secret was rotated" in texts(at)
    assert _db(demo_db, lambda s: s.get(WebhookEndpoint, made.endpoint_id).secret) == secret

    at.button(key="webhooks_delete_btn").click().run()
    at.button(key="webhooks_delete_no").click().run()  # "keep it": nothing happens
    assert _db(demo_db, lambda s: s.get(WebhookEndpoint, made.endpoint_id)) is not None
    at.button(key="webhooks_delete_btn").click().run()
    at.button(key="webhooks_delete_yes").click().run()
    assert "Endpoint https://erp.example.com/hooks deleted" in texts(at)
    assert _db(demo_db, lambda s: s.get(WebhookEndpoint, made.endpoint_id)) is None
    assert "No endpoint yet" in texts(at)
