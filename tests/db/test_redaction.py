"""Redaction on import against a real database (SQLite and PostgreSQL): a pilot's customers, contracts and usage
imported with pseudonyms still join and bill — and not one original name, email, address, tax id or id is found in
any table afterwards, the audit log included."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from datetime import date, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import MetaData, func, text
from sqlalchemy import select as sa_select
from sqlmodel import select

from core import pilot_redaction as pr
from core.auth import Actor
from core.contract_io import import_json, preview_contracts
from core.errors import UserError
from core.importers.customers import import_customers, preview_customers, unredactable
from core.importers.usage import import_usage, preview_usage
from core.importers.usage import unredactable as usage_unredactable
from core.invoicing.service import generate_drafts
from core.metering.metrics import aggregate
from core.models import AuditLog, BillableMetric, Customer, Invoice, UsageEvent
from tests.db import factories

FIN = Actor("fiona", "finance")
KEY = pr.secret()  # the test suite's REDACTION_SECRET (tests/conftest.py)

PEOPLE = [  # external id, name, email, street, city, postal code, tax id
    ("ZEPH-001", "Zephyrine Widgets", "payables@zephyrine.example", "17 Quillfeather Lane", "Marrowdale", "90210",
     "DE 811999001"),
    ("QUOR-002", "Quorvath Mining", "ap@quorvath.example", "9 Brimblecombe Rd", "Thistlewick", "10001",
     "GB 555123999"),
    ("YSOLD-003", "Ysolde Bakeries", "finance@ysolde.example", "2 Plumtree Mews", "Wrenhaven", "30301", ""),
]
USERS = ["mirabel.okonkwo", "thaddeus.vireo", "perpetua.lindqvist"]
CUSTOMER_REDACTION = {"external_id": "identifier", "name": "name", "email": "email", "address_line1": "address",
                      "city": "address", "postal_code": "address", "tax_id": "tax_id"}
USAGE_REDACTION = {"customer_external_id": "identifier", "user_id": "identifier"}


def originals() -> list[str]:
    return [v for row in PEOPLE for v in row if v] + USERS


def customers_csv() -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["external_id", "name", "email", "address_line1", "city", "postal_code", "country", "currency",
                "tax_id"])
    for ext, name, email, street, city, postal, tax in PEOPLE:
        w.writerow([ext, name, email, street, city, postal, "US", "USD", tax])
    return out.getvalue().encode()


def usage_csv(quoted: bool = False, prefix: str = "evt") -> bytes:
    """Two events per customer and user in January 2025. ``quoted``: every cell in quotes, so the file is read
    row by row rather than by the plain-CSV fast path."""
    out = io.StringIO()
    w = csv.writer(out, quoting=csv.QUOTE_ALL if quoted else csv.QUOTE_MINIMAL)
    w.writerow(["idempotency_key", "customer_external_id", "event_name", "timestamp", "quantity", "user_id"])
    n = 0
    for ext, *_ in PEOPLE:
        for user in USERS:
            for day in (5, 6):
                n += 1
                w.writerow([f"{prefix}-{n}", ext, "api_call", f"2025-01-{day:02d}T10:00:00Z", "100", user])
    return out.getvalue().encode()


def contracts_json() -> bytes:
    return json.dumps({"format": "countinghouse.contracts", "version": 1, "contracts": [
        {"key": f"zk-{ext.lower()}", "customer_external_id": ext, "name": f"{name} — API", "currency": "USD",
         "start_date": "2025-01-01",
         "lines": [{"description": "API calls", "pricing_model": "per_unit", "metric_code": "api_calls",
                    "params": {"unit_price": "0.01"}}]}
        for ext, name, *_ in PEOPLE]}).encode()


def dump(session) -> str:
    """Every row of every table, as text (lower case): what a search of the database would find."""
    conn = session.connection()
    meta = MetaData()
    meta.reflect(conn)
    return "\n".join(repr(tuple(row)) for t in meta.sorted_tables for row in conn.execute(sa_select(t))).lower()


def found(session) -> list[str]:
    text_ = dump(session)
    return [v for v in originals() if v.lower() in text_]


@pytest.fixture
def pilot(session):
    factories.seller(session)
    factories.metric(session, "api_calls", "api_call")
    factories.metric(session, "users", "api_call", "unique_count", unique_property="user_id")
    session.commit()
    return session


def test_a_redacted_pilot_joins_bills_and_stores_no_original(pilot):
    s = pilot
    report = import_customers(s, FIN, customers_csv(), "customers.csv", redaction=CUSTOMER_REDACTION)
    assert report.ok and report.created == 3, report.errors
    assert any("redacted before import" in w for w in report.warnings)
    contracts = import_json(s, FIN, contracts_json(), filename="contracts.json",
                            redaction={"customer_external_id": "identifier", "name": "name", "key": "identifier"})
    assert contracts.ok and contracts.created == 3, contracts.errors
    usage = import_usage(s, FIN, usage_csv(), "usage.csv", redaction=USAGE_REDACTION)
    assert usage.ok and usage.inserted == 18, usage.errors  # every customer id matched a redacted customer
    run = generate_drafts(s, FIN, period_start=date(2025, 1, 1), period_end=date(2025, 2, 1))
    s.commit()
    assert len(run.created) == 3
    # the customer id redacted in three files is one pseudonym: the invoice is the usage of that customer
    zeph = pr.pseudonym("identifier", "ZEPH-001", KEY)
    cust = s.exec(select(Customer).where(Customer.external_id == zeph)).one()
    assert cust.name == pr.pseudonym("name", "Zephyrine Widgets", KEY)
    assert cust.email == pr.pseudonym("email", "payables@zephyrine.example", KEY)
    assert cust.tax_id == pr.pseudonym("tax_id", "DE 811999001", KEY) and cust.country == "US"
    inv = s.exec(select(Invoice).where(Invoice.customer_id == cust.id)).one()
    assert inv.total == 6  # 6 events × 100 calls × $0.01
    # the distinct users are still distinct under their pseudonyms
    users = aggregate(s, s.exec(select(BillableMetric).where(BillableMetric.code == "users")).one(),
                      datetime(2025, 1, 1), datetime(2025, 2, 1))
    assert users[zeph].quantity == 3
    # nothing of the originals anywhere — customers, contracts, events, invoices, the audit log
    assert found(s) == []
    audits = s.exec(select(AuditLog).where(AuditLog.action.in_(
        ["customers.import", "contracts.import", "usage.import"]))).all()
    assert len(audits) == 3
    for a in audits:
        assert a.details["redaction"]["key_fingerprint"] == pr.fingerprint(KEY)
    by_action = {a.action: a.details["redaction"]["columns"] for a in audits}
    assert by_action["customers.import"]["external_id"] == "identifier"
    assert by_action["usage.import"] == USAGE_REDACTION


def test_without_redaction_the_same_search_finds_the_originals(pilot):
    """The search above can fail: imported as they are, the names, emails and ids are there to be found."""
    assert import_customers(pilot, FIN, customers_csv(), "customers.csv").ok
    assert import_usage(pilot, FIN, usage_csv(), "usage.csv").ok
    pilot.commit()
    assert set(found(pilot)) == set(originals())


@pytest.mark.parametrize("fmt", ["quoted csv", "xlsx"])
def test_every_reading_path_gives_the_same_pseudonyms(pilot, fmt):
    """Plain CSV is redacted column-wise by pyarrow; quoted CSV and workbooks row by row as they are read: the same
    pseudonyms either way."""
    s = pilot
    assert import_customers(s, FIN, customers_csv(), "customers.csv", redaction=CUSTOMER_REDACTION).ok
    assert import_usage(s, FIN, usage_csv(prefix="plain"), "usage.csv", redaction=USAGE_REDACTION).inserted == 18
    if fmt == "xlsx":
        rows = list(csv.reader(io.StringIO(usage_csv(prefix="other").decode())))
        wb = Workbook()
        for r in rows:
            wb.active.append(r)
        buf = io.BytesIO()
        wb.save(buf)
        data, name = buf.getvalue(), "usage.xlsx"
    else:
        data, name = usage_csv(quoted=True, prefix="other"), "usage.csv"
    report = import_usage(s, FIN, data, name, redaction=USAGE_REDACTION)
    assert report.ok and report.inserted == 18, report.errors
    s.commit()
    by_prefix = {}
    for key, cust, props in s.exec(select(UsageEvent.idempotency_key, UsageEvent.customer_external_id,
                                          UsageEvent.properties)):
        prefix, n = key.split("-")
        by_prefix.setdefault(prefix, {})[n] = (cust, props["user_id"])
    assert by_prefix["plain"] == by_prefix["other"]
    assert found(s) == []


def test_hubspot_workbook_redacted(pilot):
    src = Path(__file__).resolve().parent.parent / "fixtures" / "imports" / "hubspot_companies.csv"
    rows = list(csv.reader(io.StringIO(src.read_text(encoding="utf-8"))))
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    redaction = {"Record ID": "identifier", "Company name": "name", "Street Address": "address", "City": "address",
                 "Postal Code": "address"}
    report = import_customers(pilot, FIN, buf.getvalue(), "companies.xlsx", redaction=redaction)
    assert report.ok and report.preset == "hubspot" and report.created == 3, report.errors
    pilot.commit()
    stored = {c.external_id: c for c in pilot.exec(select(Customer))}
    acme = stored[pr.pseudonym("identifier", "18239473921", KEY)]
    assert acme.name == pr.pseudonym("name", "Acme Analytics", KEY) and acme.country == "US"
    assert "acme" not in dump(pilot) and "market st" not in dump(pilot)


def _nothing_written(session) -> tuple[int, int, int]:
    conn = session.connection()
    return tuple(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                 for t in ("customer", "usage_event", "audit_log"))


def test_columns_that_billing_depends_on_are_never_redacted(pilot):
    before = _nothing_written(pilot)
    report = import_customers(pilot, FIN, customers_csv(), "customers.csv", redaction={"country": "name"})
    assert not report.ok
    assert report.errors[0].message == ("the column 'country' cannot be redacted: tax and prices depend on the "
                                        "country")
    assert unredactable(["external_id", "Billing Country", "CurrencyIsoCode", "name"]) == {
        "Billing Country": "tax and prices depend on the country", "CurrencyIsoCode": "invoices are in this currency"}
    for col, why in (("timestamp", "the time of an event is never redacted"),
                     ("quantity", "quantities are never redacted"),
                     ("idempotency_key", "the event key stays as it is")):
        usage = import_usage(pilot, FIN, usage_csv(), "usage.csv", redaction={col: "identifier"})
        assert not usage.ok and usage.inserted == 0
        assert usage.errors[0].message.startswith(f"the column '{col}' cannot be redacted: {why}")
    assert set(usage_unredactable(["idempotency_key", "customer", "event", "time", "qty", "region"])) == {
        "idempotency_key", "event", "time", "qty"}
    with pytest.raises(UserError, match="the redaction names the column 'start_date', which is not in the contract"):
        import_json(pilot, FIN, contracts_json(), redaction={"start_date": "name"})
    with pytest.raises(UserError, match="'pseudo' is not a kind of redaction for the column 'name'"):
        preview_contracts([("c.json", contracts_json())], redaction={"name": "pseudo"})
    pilot.rollback()
    assert _nothing_written(pilot) == before


def test_the_preview_shows_what_would_be_saved_and_writes_nothing(pilot):
    before = _nothing_written(pilot)
    report = preview_customers(pilot, customers_csv(), "customers.csv", redaction=CUSTOMER_REDACTION)
    assert report.ok and report.created == 3
    assert {r.values["name"] for r in report.rows} == {pr.pseudonym("name", p[1], KEY) for p in PEOPLE}
    usage = preview_usage(pilot, usage_csv(), "usage.csv", redaction=USAGE_REDACTION)
    # the customers are not stored yet: every redacted id is reported unknown, under its pseudonym
    assert not usage.ok and {e.value for e in usage.errors} == {pr.pseudonym("identifier", p[0], KEY) for p in PEOPLE}
    first = preview_contracts([("c.json", contracts_json())], redaction={"customer_external_id": "identifier"})
    assert first[0]["customer_external_id"] == pr.pseudonym("identifier", "ZEPH-001", KEY)
    assert first[0]["name"] == "Zephyrine Widgets — API"  # not chosen: kept
    assert _nothing_written(pilot) == before


def test_two_ids_sharing_a_pseudonym_stop_the_import(pilot, monkeypatch):
    assert import_customers(pilot, FIN, customers_csv(), "customers.csv").ok
    pilot.commit()
    monkeypatch.setattr(pr, "ID_DIGITS", 1)  # 16 possible pseudonyms: 40 ids must clash
    many = "idempotency_key,customer_external_id,event_name,timestamp,quantity\n" + "".join(
        f'"k{i}","C-{i}","api_call","2025-01-05T10:00:00Z","1"\n' for i in range(40))
    with pytest.raises(UserError, match="got the same pseudonym"):
        import_usage(pilot, FIN, many.encode(), "usage.csv", redaction={"customer_external_id": "identifier"})
    pilot.rollback()
    assert pilot.exec(select(func.count()).select_from(UsageEvent)).one() == 0
