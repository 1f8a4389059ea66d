"""The first invoice guide (pages/get_started.py): an empty database to a first approved invoice, through the same
services as the other pages; where the user stands is read from the database; a step the role may not do says
what is missing and writes nothing; bad input is refused naming the field, and nothing is written.

Runs on SQLite and PostgreSQL (the ``db_url`` fixture), each test on a fresh, empty, migrated database.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
import streamlit as st
from sqlmodel import func, select
from streamlit.testing.v1 import AppTest

from core.auth import Actor
from core.guide import EXAMPLE_QUANTITIES, example_usage_csv
from tests.ui.conftest import APP, TIMEOUT, in_db, texts

PAGE = "pages/get_started.py"


@pytest.fixture
def empty_db(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    from ui.state import _engine

    monkeypatch.setenv("DATABASE_URL", db_url)
    st.cache_resource.clear()
    yield db_url
    _engine(db_url).dispose()  # the app's cached engine: its pooled connections closed before the database goes
    st.cache_resource.clear()


def open_guide(role: str = "admin") -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["actor"] = Actor(f"{role}-user", role)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def click(at: AppTest, label: str) -> AppTest:
    buttons = [b for b in at.button if b.label.startswith(label)]
    assert buttons, f"no button '{label}' in {[b.label for b in at.button]}"
    buttons[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def step_shown(at: AppTest) -> str:
    return at.subheader[0].value


def progress(at: AppTest) -> str:
    return at.get("progress")[0].proto.text


def counts(url: str) -> dict[str, int]:
    from core.models import (
        AuditLog, BillableMetric, BusinessEntity, Contract, Customer, Invoice, Product, UsageEvent,
    )

    def read(s):  # noqa: ANN001, ANN202
        return {m.__name__: s.exec(select(func.count()).select_from(m)).one()
                for m in (BusinessEntity, Product, BillableMetric, Customer, Contract, UsageEvent, Invoice, AuditLog)}

    return in_db(url, read)


def seed_until(url: str, last: str) -> None:
    """The steps up to ``last`` done through the services, as an admin would on the pages."""
    from core.billing.contracts import ContractSpec, LineSpec, create_contract
    from core.catalog import create_entity, create_product
    from core.customers import create_customer
    from core.metering.metrics import MetricSpec, create_metric

    admin = Actor("setup", "admin")

    def run(s):  # noqa: ANN001, ANN202
        create_entity(s, admin, name="Northwind Cloud", default_currency="USD")
        if last == "company":
            return
        create_product(s, admin, sku="API-CALLS", name="API requests", unit_name="request")
        create_metric(s, admin, MetricSpec(code="api-calls", name="API requests", event_name="api_request",
                                           aggregation="sum"))
        if last == "product":
            return
        create_customer(s, admin, {"external_id": "ACME-001", "name": "Acme Corp"})
        if last == "customer":
            return
        from core.analytics.overview import billing_month

        create_contract(s, admin, ContractSpec(
            customer_external_id="ACME-001", name="Acme Corp — API requests", currency="USD",
            start_date=billing_month()[0], lines=[LineSpec(description="API requests", pricing_model="per_unit",
                                                           params={"unit_price": "0.01"}, metric_code="api-calls",
                                                           product_sku="API-CALLS")]))

    in_db(url, run)


def test_the_guide_walks_an_empty_database_to_an_approved_invoice(empty_db):
    from core.analytics.overview import billing_month
    from core.models import AuditLog, Invoice, InvoiceLine, UsageEvent

    month = f"{billing_month()[0]:%B %Y}"
    at = open_guide()
    assert progress(at).startswith("**0 of 7 steps done** — next: Your company")
    assert step_shown(at) == "Step 1 of 7 · Your company"
    assert "The seller printed on every invoice" in texts(at)  # each step says what it is for

    at.text_input(key="guide_company_name").input("Northwind Cloud")
    click(at, "Save my company")
    assert "Your company **Northwind Cloud** is set up, billing in USD." in texts(at)
    assert step_shown(at) == "Step 2 of 7 · What you sell"  # the guide moves on by itself

    click(at, "Save the product")  # the defaults: API requests, counted from api_request events
    assert step_shown(at) == "Step 3 of 7 · A customer"
    click(at, "Add the customer")
    assert "**Acme Corp** (ACME-001) is your customer." in texts(at)
    assert step_shown(at) == "Step 4 of 7 · A contract with one price"
    assert at.radio(key="guide_contract_model").value == "per_unit"  # the default pricing model, explained
    assert "The same price for every unit" in texts(at)
    assert "1,500 × $0.01" in texts(at)  # the live price of the default

    # a later visit (a new session) opens where the user stands, from the database alone
    later = open_guide()
    assert progress(later).startswith("**3 of 7 steps done** — next: A contract with one price")
    assert step_shown(later) == "Step 4 of 7 · A contract with one price"

    click(at, "Create the contract")
    assert step_shown(at) == "Step 5 of 7 · Usage"
    assert f"in **{month}**" in texts(at)
    click(at, "Save these events")  # three typed events: 1,200 + 850 + 2,300
    assert "3 events saved for Acme Corp." in texts(at)
    assert step_shown(at) == "Step 6 of 7 · Generate the invoice"
    click(at, f"Generate the invoice for {month}")
    assert f"The draft invoice for {month} is generated: $43.50." in texts(at)
    assert step_shown(at) == "Step 7 of 7 · Approve it"
    shown = at.table[0].value
    assert list(shown["Line"]) == ["API requests"] and list(shown["Amount"]) == ["$43.50"]
    assert list(shown["How it was calculated"]) == ["4,350 × $0.01"]
    click(at, "Approve the invoice")
    assert progress(at).startswith("**7 of 7 steps done** — your first invoice is approved.")
    assert any(s.value.startswith("Invoice **INV-000001** approved: $43.50") for s in at.success)
    assert any(link.label == "Payments" for link in at.page_link)  # where to go next

    def stored(s):  # noqa: ANN001, ANN202
        inv = s.exec(select(Invoice)).one()
        lines = s.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == inv.id)).all()
        events = s.exec(select(UsageEvent)).all()
        actions = set(s.exec(select(AuditLog.action)).all())
        return inv, lines, events, actions

    inv, lines, events, actions = in_db(empty_db, stored)
    assert (inv.status, inv.number, inv.total, inv.currency) == ("approved", "INV-000001", Decimal("43.50"), "USD")
    assert inv.period_start == billing_month()[0] and inv.approved_by == "admin-user"
    assert [ln.quantity for ln in lines if ln.kind == "usage"] == [Decimal(4350)]
    assert sorted(e.quantity for e in events) == [Decimal(850), Decimal(1200), Decimal(2300)]
    assert {e.source for e in events} == {"guide"}
    # every step went through its service: each left the audit entry that service writes
    assert {"entity.create", "product.create", "metric.create", "customer.create", "contract.create",
            "invoice.generate"} <= actions and any(a.startswith("invoice.approve") for a in actions)

    again = open_guide()  # and the next visit opens on the approved invoice
    assert step_shown(again) == "Step 7 of 7 · Approve it"
    assert "Invoice **INV-000001** for" in texts(again)


def test_the_example_usage_file_is_made_for_the_customer_and_uploads(empty_db):
    from core.analytics.overview import billing_month

    seed_until(empty_db, "contract")
    at = open_guide()
    assert step_shown(at) == "Step 5 of 7 · Usage"
    body = example_usage_csv("ACME-001", "api_request", billing_month()[0])
    assert body.decode().splitlines()[1].split(",")[1:3] == ["ACME-001", "api_request"]
    at.file_uploader(key="guide_usage_file_0").upload("usage-ACME-001.csv", body, "text/csv").run()
    assert "Ready to import." in texts(at)
    click(at, "Import 8 usage events")
    assert step_shown(at) == "Step 6 of 7 · Generate the invoice"
    total = sum(Decimal(q) for q in EXAMPLE_QUANTITIES)
    assert counts(empty_db)["UsageEvent"] == 8
    at.button_group(key="guide_step").set_value("usage").run()
    assert f"8 `api_request` events for Acme Corp in {billing_month()[0]:%B %Y}: {total:,}" in texts(at)


@pytest.mark.parametrize(("role", "done_until", "step", "wanted"), [
    ("finance", None, "Your company", "set up the company (an admin's permission) (`users:write`)"),
    ("ops", "customer", "A contract with one price", "create contracts (`contracts:write`)"),
    ("sales", "contract", "Usage", "upload usage (`usage:write`)"),
    ("viewer", "product", "A customer", "add customers (`customers:write`)"),
])
def test_a_step_the_role_may_not_do_says_what_is_missing_and_writes_nothing(empty_db, role, done_until, step,
                                                                              wanted):
    if done_until:
        seed_until(empty_db, done_until)
    before = counts(empty_db)
    at = open_guide(role)
    assert step_shown(at).endswith(step)
    warning = at.warning[0].value
    assert wanted in warning and "does not have" in warning and "**Users** page" in warning
    assert not [b for b in at.button if b.label.startswith(("Save", "Add", "Create", "Import"))]
    assert counts(empty_db) == before


def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(empty_db):
    seed_until(empty_db, "customer")
    at = open_guide()
    at.text_input(key="guide_contract_per_unit_unit_price").input("two dollars").run()
    before = counts(empty_db)
    click(at, "Create the contract")
    assert "The contract was not saved" in at.error[0].value and "unit price" in at.error[0].value
    assert counts(empty_db) == before
    assert step_shown(at) == "Step 4 of 7 · A contract with one price"



def test_typed_events_with_a_mistake_are_refused_naming_the_event_and_nothing_is_stored(session):
    """The typed table becomes a usage file for the same importer as an upload: a bad quantity names the event
    (file row 3 = the table's second event) and the column, and no event of the table is stored."""
    from datetime import date

    from core.guide import typed_usage_csv
    from core.importers.usage import import_usage
    from core.models import UsageEvent

    seed = session.get_bind().url.render_as_string(hide_password=False)
    seed_until(seed, "contract")
    data = typed_usage_csv("ACME-001", "api_request", [(date(2026, 10, 3), "1200"), (date(2026, 10, 4), "12x"),
                                                       (None, "5")])
    report = import_usage(session, Actor("a", "admin"), data, "typed-events.csv", source="guide")
    assert not report.ok
    assert {(e.row, e.column) for e in report.errors} == {(3, "quantity"), (4, "timestamp")}
    assert "12x" in {e.value for e in report.errors}
    assert session.exec(select(func.count()).select_from(UsageEvent)).one() == 0
    # the same events typed again get the same keys: saving twice stores nothing twice
    good = typed_usage_csv("ACME-001", "api_request", [(date(2026, 10, 3), "1200")])
    assert import_usage(session, Actor("a", "admin"), good, "typed-events.csv").inserted == 1
    again = import_usage(session, Actor("a", "admin"), good, "typed-events.csv")
    assert (again.inserted, len(again.duplicates)) == (0, 1)


def test_a_flat_fee_contract_needs_no_usage_and_bills_its_fee(empty_db):
    from core.analytics.overview import billing_month

    seed_until(empty_db, "customer")
    at = open_guide()
    at.radio(key="guide_contract_model").set_value("flat_fee").run()
    assert "The same amount every month, whatever the usage." in texts(at)
    click(at, "Create the contract")
    # the usage step is done by itself: the contract charges a fixed fee
    assert step_shown(at) == "Step 6 of 7 · Generate the invoice"
    assert progress(at).startswith("**5 of 7 steps done**")
    click(at, f"Generate the invoice for {billing_month()[0]:%B %Y}")
    assert list(at.table[0].value["Amount"]) == ["$500.00"]
    assert counts(empty_db)["UsageEvent"] == 0


def test_the_overview_points_at_the_guide_only_while_the_database_is_empty(empty_db):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["actor"] = Actor("viewer-user", "viewer")
    at.run()  # the Overview is the default page
    assert at.title[0].value == "Overview"
    assert "**New here?** The first invoice guide" in texts(at)
    assert [link.label for link in at.page_link][:1] == ["Start the guide"]
    # the next steps start with the company too — not "add customers", which cannot work before a seller exists
    assert "Nothing is set up yet: start with your company" in texts(at)
    assert "No customers yet" not in texts(at)

    seed_until(empty_db, "customer")
    at.run()
    assert "New here?" not in texts(at)
