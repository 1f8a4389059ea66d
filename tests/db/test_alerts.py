"""Usage alerts fire once per customer and period, and email through a real local SMTP server (aiosmtpd)."""
from datetime import date, datetime

import pytest
from sqlmodel import select

from core.auth import SYSTEM
from core.errors import UserError
from core.metering.alerts import check_alerts, create_alert
from core.models import AlertFiring
from tests.db import factories as f
from tests.smtp import smtp  # noqa: F401, F811 - the fixture


def _setup(session):
    f.seller(session)
    f.customer(session, "C1")
    f.customer(session, "C2")
    m = f.metric(session, "calls", "call")
    f.events(session, "C1", "call", [600, 300], when=datetime(2026, 10, 5))
    f.events(session, "C2", "call", [100], when=datetime(2026, 10, 5))
    return m


def test_alert_fires_once_per_period_and_emails(session, smtp):
    m = _setup(session)
    create_alert(session, SYSTEM, name="80% of included calls", metric_id=m.id, threshold="80",
                 threshold_kind="percent", allowance="1000", recipients="ops@northwind.example, cfo@northwind.example")
    first = check_alerts(session, SYSTEM, on=date(2026, 10, 20))
    assert [x.customer_external_id for x in first.fired] == ["C1"] and first.emails_sent == 1
    [(rcpts, msg)] = smtp.messages
    assert sorted(rcpts) == ["cfo@northwind.example", "ops@northwind.example"]
    assert "C1" in msg["Subject"] and "80% of 1,000" in msg["Subject"]
    body = " ".join(part.get_payload(decode=True).decode() for part in msg.walk()
                    if part.get_content_type() in ("text/plain", "text/html"))
    assert "900" in body
    again = check_alerts(session, SYSTEM, on=date(2026, 10, 21))
    assert again.fired == [] and len(smtp.messages) == 1  # once per period
    nxt = check_alerts(session, SYSTEM, on=date(2026, 11, 2))
    assert nxt.fired == []  # November has no usage yet
    assert len(session.exec(select(AlertFiring)).all()) == 1


def test_alert_validation_names_the_field(session):
    m = _setup(session)
    with pytest.raises(UserError, match="allowance") as err:
        create_alert(session, SYSTEM, name="x", metric_id=m.id, threshold="50", threshold_kind="percent",
                     recipients="not-an-email")
    assert "not-an-email is not an email address" in str(err.value)


def test_without_smtp_settings_alerts_are_only_listed(session, monkeypatch):
    monkeypatch.delenv("SMTP_HOST", raising=False)
    m = _setup(session)
    create_alert(session, SYSTEM, name="big", metric_id=m.id, threshold="50", recipients="ops@northwind.example")
    result = check_alerts(session, SYSTEM, on=date(2026, 10, 31))
    assert {x.customer_external_id for x in result.fired} == {"C1", "C2"} and result.emails_sent == 0


def test_alert_period_is_the_customers_billing_period_in_its_time_zone(session, monkeypatch):
    """A contract billed from the 15th, customer in New York: the period the alert watches (and fires once in)
    is 15 Oct – 14 Nov local, as the invoice counts it — not the UTC calendar month."""
    from core.billing.contracts import LineSpec

    monkeypatch.delenv("SMTP_HOST", raising=False)
    f.seller(session)
    f.customer(session, "NY", timezone="America/New_York")
    m = f.metric(session, "calls", "call")
    f.contract(session, "NY", [LineSpec("Calls", "per_unit", {"unit_price": "1"}, metric_code="calls")],
               start=date(2026, 1, 15), billing_anchor_day=15)
    f.events(session, "NY", "call", [700], when=datetime(2026, 10, 10))  # previous period (15 Sep – 14 Oct)
    f.events(session, "NY", "call", [200], when=datetime(2026, 10, 15, 3))  # 14 Oct 23:00 in New York: previous
    f.events(session, "NY", "call", [600], when=datetime(2026, 10, 16))
    create_alert(session, SYSTEM, name="500 calls", metric_id=m.id, threshold="500")

    first = check_alerts(session, SYSTEM, on=date(2026, 10, 14))
    assert [(x.customer_external_id, x.period_start, x.quantity) for x in first.fired] == \
        [("NY", date(2026, 9, 15), 900)]
    second = check_alerts(session, SYSTEM, on=date(2026, 10, 20))  # a new period: fires again, 600 only
    assert [(x.period_start, x.quantity) for x in second.fired] == [(date(2026, 10, 15), 600)]
    assert check_alerts(session, SYSTEM, on=date(2026, 11, 14)).fired == []  # same period: once


def test_customers_on_different_billing_days_each_get_their_own_period(session, monkeypatch):
    from core.billing.contracts import LineSpec

    monkeypatch.delenv("SMTP_HOST", raising=False)
    f.seller(session)
    f.customer(session, "A")
    f.customer(session, "B")
    m = f.metric(session, "calls", "call")
    f.contract(session, "A", [LineSpec("Calls", "per_unit", {"unit_price": "1"}, metric_code="calls")],
               start=date(2026, 1, 1))
    f.contract(session, "B", [LineSpec("Calls", "per_unit", {"unit_price": "1"}, metric_code="calls")],
               start=date(2026, 1, 20), billing_anchor_day=20)
    f.events(session, "A", "call", [100], when=datetime(2026, 10, 2))
    f.events(session, "B", "call", [100], when=datetime(2026, 10, 2))  # B: the period before (20 Sep – 19 Oct)
    create_alert(session, SYSTEM, name="100", metric_id=m.id, threshold="100")
    fired = check_alerts(session, SYSTEM, on=date(2026, 10, 25)).fired
    assert sorted((x.customer_external_id, x.period_start) for x in fired) == [("A", date(2026, 10, 1))]
