"""Entitlements: quantity grants consumed by real usage (exact, reset per period), credit budgets consumed by
approved invoices only (credit notes give budget back), features with dates, soft vs hard limits as ``check``
answers them, the monitor, the exhausted record (once per grant and period), and bad input refused whole."""
from datetime import date, datetime
from decimal import Decimal as D

import pytest
from sqlmodel import func, select

from core.auth import SYSTEM, Actor
from core.billing.contracts import LineSpec
from core.entitlements.balances import balances_of, check, history
from core.entitlements.grants import GrantSpec, create_grant, end_grant, grant_from_contract
from core.entitlements.monitor import monitor, monitor_report, record_exhaustions
from core.errors import NotFound, PermissionDenied, UserError
from core.invoicing.credit_notes import issue_credit_note
from core.invoicing.service import approve_invoices, generate_drafts
from core.ledger.exports import to_csv
from core.models import AuditLog, EntitlementExhaustion, EntitlementGrant, Invoice
from tests.db import factories as f

OPS = Actor("olivia", "ops")
VIEWER = Actor("vic", "viewer")


def _quantity(session, ext, units, *, metric_id, reset="billing_period", limit_type="hard", key="api_calls",
              start=date(2026, 1, 1), end=None, actor=OPS):
    return create_grant(session, actor, GrantSpec(
        customer_external_id=ext, key=key, kind="quantity", metric_id=metric_id, units=units, reset=reset,
        limit_type=limit_type, start_date=start, end_date=end))


@pytest.fixture
def world(session):
    f.seller(session)
    for ext in ("C1", "C2", "C3"):
        f.customer(session, ext)
    m = f.metric(session, "calls", "call")
    f.events(session, "C1", "call", ["600.125", "299.875"], when=datetime(2026, 10, 5))
    f.events(session, "C1", "call", ["200.5"], when=datetime(2026, 11, 5))
    f.events(session, "C2", "call", ["700"], when=datetime(2026, 10, 6))
    f.events(session, "C3", "call", ["10"], when=datetime(2026, 10, 7))
    return m


def _by_customer(rows):
    return {b.customer_external_id: b for b in rows}


def test_quantity_consumed_exactly_from_usage_and_reset_each_period(session, world):
    g1 = _quantity(session, "C1", "1000", metric_id=world.id)
    g2 = _quantity(session, "C2", "500", metric_id=world.id, reset="month", limit_type="soft")
    g3 = _quantity(session, "C3", "100", metric_id=world.id, reset="never", start=date(2026, 10, 1),
                   end=date(2027, 1, 1))
    f.events(session, "C3", "call", ["15.5"], when=datetime(2026, 11, 20))
    october = _by_customer(balances_of(session, [g1, g2, g3], date(2026, 10, 20)))
    assert october["C1"].used == D("900") and october["C1"].remaining == D("100")
    assert (october["C1"].period_start, october["C1"].period_end) == (date(2026, 10, 1), date(2026, 11, 1))
    assert october["C1"].status() == "near"  # 90% ≥ 80%
    assert october["C2"].used == D("700") and october["C2"].remaining == D("0") and october["C2"].status() == "flagged"
    november = _by_customer(balances_of(session, [g1, g2, g3], date(2026, 11, 25)))
    assert november["C1"].used == D("200.5") and november["C1"].remaining == D("799.5")  # reset
    assert november["C1"].status() == "ok"
    assert november["C2"].used == D("0")
    assert november["C3"].used == D("25.5")  # never resets: October and November together
    assert isinstance(november["C1"].used, D)


def test_billing_period_follows_the_contracts_billing_day(session, world):
    f.contract(session, "C3", [LineSpec("Calls", "per_unit", {"unit_price": "1"}, metric_code="calls")],
               start=date(2026, 1, 1), billing_anchor_day=15)
    f.events(session, "C3", "call", ["5"], when=datetime(2026, 10, 20))
    by_period = _quantity(session, "C3", "100", metric_id=world.id, key="calls_period")
    by_month = _quantity(session, "C3", "100", metric_id=world.id, key="calls_month", reset="month")
    a, b = balances_of(session, [by_period, by_month], date(2026, 10, 25))
    assert (a.period_start, a.period_end, a.used) == (date(2026, 10, 15), date(2026, 11, 15), D("5"))
    assert (b.period_start, b.period_end, b.used) == (date(2026, 10, 1), date(2026, 11, 1), D("15"))


def test_check_answers_hard_soft_feature_and_unknown(session, world):
    _quantity(session, "C1", "1000", metric_id=world.id)
    _quantity(session, "C2", "500", metric_id=world.id, limit_type="soft")
    create_grant(session, OPS, GrantSpec(customer_external_id="C1", key="sso", kind="feature",
                                         start_date=date(2026, 10, 1), end_date=date(2026, 11, 1)))
    on = date(2026, 10, 20)
    d = check(session, "C1", "api_calls", on=on)
    assert (d.allowed, d.remaining, d.limit, d.flagged) == (True, D("100"), D("1000"), False)
    f.events(session, "C1", "call", ["100"], when=datetime(2026, 10, 19))
    d = check(session, "C1", "api_calls", on=on)
    assert (d.allowed, d.remaining) == (False, D("0")) and d.reason.startswith("blocked")
    d = check(session, "C2", "api_calls", on=on)
    assert d.allowed and d.flagged and d.used == D("700") and "soft limit" in d.reason
    assert check(session, "C1", "sso", on=on).allowed
    assert not check(session, "C1", "sso", on=date(2026, 11, 1)).allowed  # ended
    assert not check(session, "C1", "sso", on=date(2026, 9, 30)).allowed  # not started
    nothing = check(session, "C3", "api_calls", on=on)
    assert not nothing.allowed and "no 'api_calls' entitlement" in nothing.reason
    with pytest.raises(NotFound, match="no customer 'NOPE'"):
        check(session, "NOPE", "api_calls", on=on)


def test_feature_switched_off_and_ended_early(session, world):
    g = create_grant(session, OPS, GrantSpec(customer_external_id="C2", key="beta", kind="feature", enabled=False,
                                             start_date=date(2026, 1, 1)))
    assert not check(session, "C2", "beta", on=date(2026, 5, 1)).allowed
    g2 = create_grant(session, OPS, GrantSpec(customer_external_id="C3", key="beta", kind="feature",
                                              start_date=date(2026, 1, 1)))
    assert check(session, "C3", "beta", on=date(2026, 5, 1)).allowed
    end_grant(session, OPS, g2.id, end_date=date(2026, 6, 1), reason="trial over")
    assert check(session, "C3", "beta", on=date(2026, 5, 31)).allowed
    assert not check(session, "C3", "beta", on=date(2026, 6, 1)).allowed
    assert g.ended_at is None and session.get(EntitlementGrant, g2.id).ended_by == "olivia"
    assert session.exec(select(AuditLog).where(AuditLog.action == "entitlement.end")).one().entity_id == str(g2.id)


def _billed(session):
    """C1 billed $1,000 a month from January 2025: invoices dated 1 Feb, 1 Mar, 1 Apr."""
    f.contract(session, "C1", [LineSpec("Platform fee", "flat_fee", {"amount": "1000.10"})], start=date(2025, 1, 1))
    ids = []
    for month in (1, 2, 3):
        ids += generate_drafts(session, SYSTEM, period_start=date(2025, month, 1),
                               period_end=date(2025, month + 1, 1)).created
    return [session.get(Invoice, i) for i in ids]


def test_credit_consumed_by_approved_invoices_only_and_given_back_by_credit_notes(session, world):
    jan, feb, mar = _billed(session)
    g = create_grant(session, OPS, GrantSpec(customer_external_id="C1", key="prepaid", kind="credit", amount="2500",
                                             start_date=date(2025, 1, 1), limit_type="soft"))
    [b] = balances_of(session, [g], date(2025, 4, 30))
    assert b.used == D("0") and b.unit == "USD"  # drafts do not count
    approve_invoices(session, SYSTEM, [jan.id, feb.id])  # march stays a draft
    [b] = balances_of(session, [g], date(2025, 4, 30))
    assert b.used == jan.total + feb.total == D("2000.20") and b.remaining == D("499.80")
    [b] = balances_of(session, [g], date(2025, 2, 15))
    assert b.used == jan.total  # as of mid-February only January's invoice (1 Feb) was issued
    issue_credit_note(session, SYSTEM, feb.id, reason="Outage", amount="300.05", issue_date=date(2025, 3, 10))
    [b] = balances_of(session, [g], date(2025, 4, 30))
    assert b.used == D("1700.15") and b.remaining == D("799.85")
    assert [invoice.total for invoice in (jan, feb)] == [D("1000.10"), D("1000.10")]  # invoices untouched
    rows = history(session, OPS, g.id, on=date(2025, 4, 30)).rows
    assert [r.what.split()[0] for r in rows] == ["Credit", "Invoice", "Invoice"]  # newest first
    assert rows[0].amount == D("-300.05") and rows[0].used == D("1700.15")


def _webhook_events(session):
    from core.models.webhooks import WebhookEvent

    return [(e.type, e.data) for e in session.exec(select(WebhookEvent).order_by(WebhookEvent.id))]


def test_exhausted_recorded_once_per_period_with_audit_and_webhook(session, world):
    from core.webhooks.endpoints import create_endpoint

    create_endpoint(session, SYSTEM, url="https://hooks.example.com/billing", event_types=["entitlement.exhausted"])
    g1 = _quantity(session, "C1", "800", metric_id=world.id)  # 900 in October
    _quantity(session, "C2", "1000", metric_id=world.id, limit_type="soft")  # 700: not passed
    first = record_exhaustions(session, OPS, on=date(2026, 10, 20))
    assert [x.grant_id for x in first.recorded] == [g1.id] and first.recorded[0].used == D("900")
    emitted = _webhook_events(session)
    assert emitted[0][0] == "entitlement.exhausted" and emitted[0][1]["customer_external_id"] == "C1"
    assert emitted[0][1]["used"] == "900" and emitted[0][1]["status"] == "blocked"
    assert record_exhaustions(session, OPS, on=date(2026, 10, 28)).recorded == []  # same period: once
    assert record_exhaustions(session, OPS, on=date(2026, 11, 10)).recorded == []  # November: 200.5 < 800
    f.events(session, "C1", "call", ["700"], when=datetime(2026, 11, 12))
    again = record_exhaustions(session, OPS, on=date(2026, 11, 15))
    assert [(x.grant_id, x.period_start) for x in again.recorded] == [(g1.id, date(2026, 11, 1))]
    assert session.exec(select(func.count()).select_from(EntitlementExhaustion)).one() == 2
    assert len(_webhook_events(session)) == 2
    assert session.exec(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "entitlement.exhausted")).one() == 2
    rows = history(session, OPS, g1.id, on=date(2026, 11, 15)).rows
    assert [(r.when, r.used, r.exhausted_at is not None) for r in rows[:2]] == [
        (date(2026, 11, 1), D("900.5"), True), (date(2026, 10, 1), D("900"), True)]


def test_monitor_lists_customers_near_or_over_the_limit(session, world):
    _quantity(session, "C1", "1000", metric_id=world.id)  # 900: 90%
    _quantity(session, "C2", "500", metric_id=world.id, limit_type="soft")  # 700: 140%
    _quantity(session, "C3", "100", metric_id=world.id)  # 10: 10%
    rows = monitor(session, VIEWER, on=date(2026, 10, 20))
    assert [(b.customer_external_id, b.status()) for b in rows] == [("C2", "flagged"), ("C1", "near")]
    assert [b.customer_external_id for b in monitor(session, VIEWER, on=date(2026, 10, 20), near="95")] == ["C2"]
    assert [b.customer_external_id for b in monitor(session, VIEWER, on=date(2026, 10, 20), near="5")] == [
        "C2", "C1", "C3"]
    with pytest.raises(UserError, match="between 1 and 100"):
        monitor(session, VIEWER, on=date(2026, 10, 20), near="0")
    csv = to_csv(monitor_report(session, VIEWER, on=date(2026, 10, 20))).decode("utf-8-sig").splitlines()
    assert csv[0].startswith("Customer ID,Customer,Entitlement") and len(csv) == 3
    assert csv[1].startswith("C2,") and ",700,500,,,140," in csv[1]


def test_contract_grant_takes_the_contracts_customer_and_dates(session, world):
    ct = f.contract(session, "C2", [LineSpec("Fee", "flat_fee", {"amount": "10"})], start=date(2026, 3, 1),
                    end_date=date(2027, 3, 1))
    g = grant_from_contract(session, OPS, ct.id, GrantSpec(customer_external_id="", key="sso", kind="feature",
                                                           start_date=None))
    assert (g.customer_id, g.start_date, g.end_date, g.contract_id) == (ct.customer_id, date(2026, 3, 1),
                                                                        date(2027, 3, 1), ct.id)
    with pytest.raises(UserError, match="belongs to another customer"):
        create_grant(session, OPS, GrantSpec(customer_external_id="C1", key="sso", kind="feature",
                                             start_date=date(2026, 3, 1), contract_id=ct.id))


@pytest.mark.parametrize("spec, message", [
    (dict(kind="quantity", units="-5"), "units: must be greater than 0"),
    (dict(kind="credit", amount="-100"), "amount: must be greater than 0"),
    (dict(kind="credit", amount="10.005"), "more decimals than USD"),
    (dict(kind="quantity", units="10", metric_id=999999), "metric: there is no billable metric #999999"),
    (dict(kind="quantity", units="10", customer_external_id="NOPE"), "customer: there is no customer 'NOPE'"),
    (dict(kind="feature", end_date=date(2025, 12, 1)), "end date: 1 Dec 2025 is not after the start date"),
    (dict(kind="feature", key="Bad Key!"), "key: use lower-case letters"),
    (dict(kind="points"), "kind: choose one of quantity, credit, feature"),
])
def test_bad_input_refused_with_the_field_named_and_nothing_saved(session, world, spec, message):
    base = dict(customer_external_id="C1", key="thing", start_date=date(2026, 1, 1), metric_id=world.id)
    with pytest.raises(UserError, match=message):
        create_grant(session, OPS, GrantSpec(**{**base, **spec}))
    assert session.exec(select(func.count()).select_from(EntitlementGrant)).one() == 0
    assert session.exec(select(func.count()).select_from(AuditLog).where(
        AuditLog.action == "entitlement.grant")).one() == 0


def test_overlapping_grant_and_key_of_another_kind_refused(session, world):
    _quantity(session, "C1", "1000", metric_id=world.id, start=date(2026, 1, 1), end=date(2026, 7, 1))
    with pytest.raises(UserError, match=r"C1 already has 'api_calls' from 1 Jan 2026 until 1 Jul 2026"):
        _quantity(session, "C1", "2000", metric_id=world.id, start=date(2026, 6, 1))
    _quantity(session, "C1", "2000", metric_id=world.id, start=date(2026, 7, 1))  # back to back is fine
    with pytest.raises(UserError, match="'api_calls' is already a quantity entitlement"):
        create_grant(session, OPS, GrantSpec(customer_external_id="C2", key="api_calls", kind="feature",
                                             start_date=date(2026, 1, 1)))
    assert session.exec(select(func.count()).select_from(EntitlementGrant)).one() == 2


def test_viewer_may_read_but_not_grant_or_record(session, world):
    with pytest.raises(PermissionDenied, match="may not write entitlements"):
        create_grant(session, VIEWER, GrantSpec(customer_external_id="C1", key="sso", kind="feature",
                                                start_date=date(2026, 1, 1)))
    with pytest.raises(PermissionDenied):
        record_exhaustions(session, VIEWER, on=date(2026, 10, 20))
    g = create_grant(session, Actor("fiona", "finance"), GrantSpec(customer_external_id="C1", key="sso",
                                                                   kind="feature", start_date=date(2026, 1, 1)))
    with pytest.raises(PermissionDenied):
        end_grant(session, VIEWER, g.id, end_date=date(2026, 2, 1))
    assert session.get(EntitlementGrant, g.id).end_date is None
    assert monitor(session, VIEWER, on=date(2026, 10, 20)) == []


def test_usage_of_every_customer_sharing_a_window_is_one_query(session, world, monkeypatch):
    import core.entitlements.balances as balances_module

    calls = []
    real = balances_module.aggregate
    monkeypatch.setattr(balances_module, "aggregate", lambda *a, **k: calls.append(k.get("customers")) or real(*a, **k))
    grants = [_quantity(session, ext, "1000", metric_id=world.id) for ext in ("C1", "C2", "C3")]
    used = [b.used for b in balances_of(session, grants, date(2026, 10, 20))]
    assert used == [D("900"), D("700"), D("10")]
    assert calls == [["C1", "C2", "C3"]]  # one aggregation for all three customers, not one each
    calls.clear()
    monkeypatch.setattr(balances_module, "NAMED_CUSTOMERS", 2)
    assert [b.used for b in balances_of(session, grants, date(2026, 10, 20))] == used
    assert calls == [None]  # many customers: every customer's usage in the window, still one query


def test_cli_check_entitlements_records_once(session, world, db_url, monkeypatch, capsys):
    from cli import main

    _quantity(session, "C1", "800", metric_id=world.id)
    session.commit()
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["check-entitlements", "--date", "2026-10-20"]) == 0
    assert "1 entitlement newly exhausted" in capsys.readouterr().out
    assert main(["check-entitlements", "--date", "2026-10-21"]) == 0
    assert "0 entitlements newly exhausted" in capsys.readouterr().out
