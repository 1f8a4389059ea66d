"""Customer segments (spec section 7), on SQLite and PostgreSQL: every field kind, AND within a group and OR between
groups compiled to one SQL query, the open invoices of the members, saving / editing / deleting (audited), bad
rules refused with a message that names the condition and nothing saved, and only finance may save."""
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.auth import SYSTEM, Actor
from core.errors import PermissionDenied, UserError
from core.invoicing.drafts import create_one_off_invoice
from core.invoicing.payments import record_payment
from core.invoicing.service import approve_invoice
from core.models import AuditLog, Customer, Segment
from core.receivables import segments as seg
from tests.db import factories as f

D = Decimal
TODAY = date.today()
FINANCE, VIEWER = Actor("fiona", "finance"), Actor("victor", "viewer")


def _invoice(session, cust, amount: str, days_late: int, currency: str | None = None):
    inv = create_one_off_invoice(session, SYSTEM, customer_id=cust.id, currency_code=currency,
                                 issue_date=TODAY - timedelta(days=30 + days_late),
                                 lines=[{"description": "Services", "quantity": "1", "unit_price": amount}])
    return approve_invoice(session, SYSTEM, inv.id)


@pytest.fixture
def book(session):
    """de: Germany, EUR, enterprise, saved card, 45 days late on 900 · fr: France, EUR, growth, 10 days late on 50
    · us: USA, USD, no attributes, auto-charged card, paid up · gb: UK, GBP, enterprise, 100 days late on 2,000."""
    f.seller(session)
    made = {}
    for key, country, code in (("de", "DE", "EUR"), ("fr", "FR", "EUR"), ("us", "US", "USD"), ("gb", "GB", "GBP")):
        made[key] = f.customer(session, key.upper(), country=country, currency=code)
    seg.set_customer_attributes(session, SYSTEM, made["de"].id, {"tier": "enterprise", "region": "EMEA"})
    seg.set_customer_attributes(session, SYSTEM, made["fr"].id, {"tier": "growth"})
    seg.set_customer_attributes(session, SYSTEM, made["gb"].id, {"tier": "enterprise"})
    made["de"].stripe_payment_method = "pm_card_de"
    made["us"].stripe_payment_method, made["us"].auto_charge = "pm_card_us", True
    session.add_all([made["de"], made["us"]])
    made["inv_de"] = _invoice(session, made["de"], "900", 45)
    made["inv_fr"] = _invoice(session, made["fr"], "50", 10)
    paid = _invoice(session, made["us"], "300", 5)
    record_payment(session, SYSTEM, customer_id=made["us"].id, currency_code="USD", amount="300",
                   method="bank_transfer", received_on=TODAY, allocations={paid.id: "300"})
    made["inv_gb"] = _invoice(session, made["gb"], "2000", 100)
    session.flush()
    return made


def members(session, *groups) -> set[str]:
    rules = {"groups": [list(g) for g in groups]}
    ids = set(session.scalars(seg.members_select(seg.validate_rules(rules))))
    names = set(session.scalars(select(Customer.external_id).where(Customer.id.in_(ids)))) if ids else set()
    assert seg.preview(session, rules).count == len(names)
    return names


def c(field, op, value=None, **kw):
    return {"field": field, "op": op, "value": value, **kw}


def test_each_customer_field(session, book):
    assert members(session, [c("country", "in", "de, fr")]) == {"DE", "FR"}
    assert members(session, [c("country", "not_in", ["DE", "FR"])]) == {"US", "GB"}
    assert members(session, [c("currency", "in", ["gbp"])]) == {"GB"}
    assert members(session, [c("attribute", "eq", "enterprise", key="tier")]) == {"DE", "GB"}
    assert members(session, [c("attribute", "ne", "enterprise", key="tier")]) == {"FR", "US"}
    assert members(session, [c("attribute", "in", "growth, startup", key="tier")]) == {"FR"}
    assert members(session, [c("attribute", "exists", key="region")]) == {"DE"}
    assert members(session, [c("attribute", "missing", key="tier")]) == {"US"}
    assert members(session, [c("payment_method", "is", True)]) == {"DE", "US"}
    assert members(session, [c("payment_method", "is", "no")]) == {"FR", "GB"}
    assert members(session, [c("auto_charge", "is", "yes")]) == {"US"}


def test_each_invoice_fact(session, book):
    assert members(session, [c("days_past_due", "gt", "30")]) == {"DE", "GB"}
    assert members(session, [c("days_past_due", "gt", 45)]) == {"GB"}
    assert members(session, [c("days_past_due", "gte", 45)]) == {"DE", "GB"}
    assert members(session, [c("days_past_due", "lte", 10)]) == {"FR"}  # paid invoices are not past due
    assert members(session, [c("days_past_due", "eq", 100)]) == {"GB"}
    assert members(session, [c("amount_due", "gt", "899.99")]) == {"DE", "GB"}
    assert members(session, [c("amount_due", "lt", "100")]) == {"FR"}
    assert members(session, [c("status", "in", ["paid"])]) == {"US"}
    assert members(session, [c("status", "in", "approved")]) == {"DE", "FR", "GB"}
    assert members(session, [c("created_after", "on_or_after", (TODAY - timedelta(days=60)).isoformat())]) == \
        {"FR", "US"}


def test_and_within_a_group_or_between_groups(session, book):
    eu_late = [c("country", "in", "DE, FR"), c("days_past_due", "gt", 30)]
    assert members(session, eu_late) == {"DE"}
    assert members(session, eu_late, [c("auto_charge", "is", True)]) == {"DE", "US"}
    # invoice conditions of one group hold for the same invoice: nobody has one invoice > 30 days late under 100
    assert members(session, [c("days_past_due", "gt", 30), c("amount_due", "lt", "100")]) == set()
    assert members(session, [c("attribute", "eq", "enterprise", key="tier"), c("amount_due", "gt", "1000")],
                   [c("currency", "in", "EUR"), c("days_past_due", "lt", 20)]) == {"GB", "FR"}


def test_archived_customers_are_never_members(session, book):
    book["gb"].archived = True
    session.add(book["gb"])
    session.flush()
    assert members(session, [c("days_past_due", "gt", 30)]) == {"DE"}


def test_saved_segment_selects_members_and_their_open_invoices(session, book):
    s = seg.create_segment(session, FINANCE, name="Late or card", description="for dunning",
                           rules={"groups": [[c("days_past_due", "gt", 30)], [c("payment_method", "is", True)]]})
    ids = set(session.scalars(seg.customer_ids_select(session, s.id)))
    assert ids == {book["de"].id, book["gb"].id, book["us"].id}
    # group 1 brings the late invoices; group 2 every open invoice of card customers (US has none open)
    assert set(session.scalars(seg.invoice_ids_select(session, s.id))) == {book["inv_de"].id, book["inv_gb"].id}
    # days past due as of another date: 75 days ago GB's invoice was 25 days late (DE's still comes by its card)
    early = TODAY - timedelta(days=75)
    assert set(session.scalars(seg.invoice_ids_select(session, s.id, on=early))) == {book["inv_de"].id}
    report = seg.members_report(session, FINANCE, s.id)
    assert sorted(r[0] for r in report.rows) == ["DE", "GB", "US"]
    export = session.scalars(select(AuditLog).where(AuditLog.action == "customer.export")).one()
    assert (export.actor, export.entity_type, export.details) == (FINANCE.username, "segment",
                                                                  {"segment": s.name, "customers": 3})
    assert {label: amounts[10] for label, _, amounts in report.totals} == {
        "Total EUR": D("900"), "Total GBP": D("2000"), "Total USD": D("0")}
    assert [g.name for g in seg.list_segments(session)] == ["Late or card"]


def test_edit_and_delete_are_audited(session, book):
    s = seg.create_segment(session, FINANCE, name="EU", rules={"groups": [[c("country", "in", "DE,FR")]]})
    seg.update_segment(session, FINANCE, s.id, name="EU late", rules={"groups": [[c("country", "in", "DE,FR"),
                                                                                 c("days_past_due", "gt", 0)]]})
    assert set(session.scalars(seg.customer_ids_select(session, s.id))) == {book["de"].id, book["fr"].id}
    seg.delete_segment(session, FINANCE, s.id)
    assert session.get(Segment, s.id) is None
    log = session.scalars(select(AuditLog).where(AuditLog.entity_type == "segment").order_by(AuditLog.id)).all()
    assert [(e.action, e.actor) for e in log] == [("segment.create", "fiona"), ("segment.update", "fiona"),
                                                  ("segment.delete", "fiona")]
    assert log[1].details["name"] == {"before": "EU", "after": "EU late"}


@pytest.mark.parametrize("name, rules, message", [
    ("", {"groups": [[c("country", "in", "DE")]]}, "name: give the segment a name"),
    ("X", {"groups": [[c("colour", "in", "red")]]}, "group 1, condition 1: 'colour' is not a field"),
    ("X", {"groups": [[c("country", "in", "DE")], [c("currency", "in", "EUR"), c("days_past_due", "gt", "ten")]]},
     "group 2, condition 2 (days past due (open invoice)): 'ten' is not a whole number of days"),
    ("X", {"groups": [[c("amount_due", "gt", "12,5x")]]}, "'12,5x' is not an amount"),
    ("X", {"groups": [[c("country", "in", "Germany")]]}, "GERMANY is not a 2-letter country code"),
    ("X", {"groups": [[c("status", "in", ["late"])]]}, "late is not a status"),
    ("X", {"groups": [[c("days_past_due", "between", 3)]]}, "'between' is not an operator"),
    ("X", {"groups": [[c("attribute", "eq", "x", key="")]]}, "give the attribute's name"),
    ("X", {"groups": [[]]}, "add at least one condition"),
])
def test_bad_rules_are_refused_with_the_reason_and_nothing_is_saved(session, book, name, rules, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        seg.create_segment(session, FINANCE, name=name, rules=rules)
    assert session.scalar(select(func.count()).select_from(Segment)) == 0
    assert session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.entity_type == "segment")) == 0


def test_duplicate_name_refused(session, book):
    seg.create_segment(session, FINANCE, name="Late", rules={"groups": [[c("days_past_due", "gt", 0)]]})
    with pytest.raises(UserError, match="a segment called 'Late' already exists"):
        seg.create_segment(session, FINANCE, name="late ", rules={"groups": [[c("days_past_due", "gt", 0)]]})


def test_a_viewer_may_preview_but_not_save(session, book):
    rules = {"groups": [[c("days_past_due", "gt", 30)]]}
    assert seg.preview(session, rules).count == 2
    with pytest.raises(PermissionDenied, match="may not write receivables"):
        seg.create_segment(session, VIEWER, name="Mine", rules=rules)
    s = seg.create_segment(session, FINANCE, name="Theirs", rules=rules)
    with pytest.raises(PermissionDenied):
        seg.update_segment(session, VIEWER, s.id, name="Mine", rules=rules)
    with pytest.raises(PermissionDenied):
        seg.delete_segment(session, VIEWER, s.id)
    assert [g.name for g in seg.list_segments(session)] == ["Theirs"]


def test_customer_attributes_are_checked_and_audited(session, book):
    cust = seg.set_customer_attributes(session, SYSTEM, book["us"].id, {"tier": " growth ", "note": ""})
    assert cust.attributes == {"tier": "growth"}
    assert members(session, [c("attribute", "eq", "growth", key="tier")]) == {"FR", "US"}
    with pytest.raises(UserError, match="attribute 'a/b'"):
        seg.set_customer_attributes(session, SYSTEM, book["us"].id, {"a/b": "x"})
    with pytest.raises(PermissionDenied):
        seg.set_customer_attributes(session, VIEWER, book["us"].id, {"tier": "x"})
    assert seg.attribute_keys(session) == ["region", "tier"]
