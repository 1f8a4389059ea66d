"""Customer import and export against a real database (SQLite and PostgreSQL).

Every bad input is checked twice: the report names the row and the column, and the database is exactly
as it was (the test commits as the app would, then compares a snapshot)."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import text
from sqlmodel import select

from core.auth import SYSTEM, Actor
from core.errors import PermissionDenied
from core.importers.customers import export_customers, import_customers, preview_customers
from core.importers.files import read_table
from tests.db import factories

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "imports"
OPS = Actor("olivia", "ops")
HEADER = ("external_id,name,email,address_line1,city,region,postal_code,country,currency,tax_id,timezone,"
          "payment_terms_days")


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def snapshot(session) -> dict:
    conn = session.connection()
    return {
        "customers": conn.execute(text(
            "SELECT external_id, name, email, address_line1, city, region, postal_code, country, currency, tax_id,"
            " timezone, payment_terms_days, entity_id, archived, updated_at FROM customer ORDER BY external_id"
        )).all(),
        "audit": conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one(),
    }


def customers(session) -> dict[str, dict]:
    rows = session.connection().execute(text("SELECT * FROM customer")).mappings()
    return {r["external_id"]: dict(r) for r in rows}


def xlsx(rows) -> bytes:
    wb = Workbook()
    for r in rows:
        wb.active.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture
def db(session):
    factories.seller(session)
    factories.customer(session, "ACME-001", email="old@acme.example", city="San Francisco", country="US")
    session.commit()
    return session


def import_and_commit(session, data: bytes, filename: str, **kw):
    report = import_customers(session, OPS, data, filename, **kw)
    session.commit()  # what the page's session_scope does, whatever the outcome
    return report


# ---- the happy paths --------------------------------------------------------------------------------------


def test_template_import_creates_updates_and_audits(db):
    report = import_and_commit(db, fixture("customers_template.csv"), "customers_template.csv")
    assert report.ok and report.committed
    assert (report.created, report.updated, report.unchanged) == (2, 1, 0)
    assert report.summary() == "3 rows: 3 accepted, 0 rejected (2 created, 1 updated)"
    stored = customers(db)
    assert stored["GLOBEX-002"]["currency"] == "EUR" and stored["GLOBEX-002"]["payment_terms_days"] == 14
    assert stored["INITECH-003"]["payment_terms_days"] == 45  # "Net 45"
    assert stored["INITECH-003"]["address_line1"] == "1 King Street, Floor 2"
    assert stored["ACME-001"]["email"] == "billing@acme-analytics.example"  # updated
    assert stored["ACME-001"]["timezone"] == "America/Los_Angeles"
    audit = db.connection().execute(text(
        "SELECT actor, details FROM audit_log WHERE action = 'customers.import'")).all()
    assert len(audit) == 1 and audit[0].actor == "olivia"
    details = audit[0].details if isinstance(audit[0].details, dict) else __import__("json").loads(audit[0].details)
    assert details["filename"] == "customers_template.csv"
    assert (details["created"], details["updated"]) == (2, 1)
    # and the updated customer has its own entry, field by field, as an edit on the form would
    [(entity_id, raw)] = db.connection().execute(text(
        "SELECT entity_id, details FROM audit_log WHERE action = 'customer.update'")).all()
    change = raw if isinstance(raw, dict) else __import__("json").loads(raw)
    assert entity_id == str(stored["ACME-001"]["id"]) and change["external_id"] == "ACME-001"
    assert change["email"] == {"before": "old@acme.example", "after": "billing@acme-analytics.example"}
    assert "city" not in change or change["city"]["before"] == "San Francisco"


def test_an_import_sends_the_customer_webhook_events(db, monkeypatch):
    """Customers created or changed by a file reach a subscribed endpoint like those made on the form."""
    from core.models import WebhookEvent
    from core.webhooks import endpoints as wh

    wh.create_endpoint(db, SYSTEM, url="https://erp.example/hooks", event_types=["customer.created",
                                                                                "customer.updated"])
    db.commit()
    monkeypatch.setenv("WEBHOOKS_AUTODELIVER", "0")
    import_and_commit(db, fixture("customers_template.csv"), "customers_template.csv")
    events = db.exec(select(WebhookEvent).order_by(WebhookEvent.id)).all()
    assert sorted(e.data["external_id"] for e in events if e.type == "customer.created") == ["GLOBEX-002",
                                                                                             "INITECH-003"]
    [upd] = [e for e in events if e.type == "customer.updated"]
    assert upd.data["external_id"] == "ACME-001" and "email" in upd.data["changed"]


def test_preview_writes_nothing_and_says_what_would_happen(db):
    before = snapshot(db)
    report = preview_customers(db, fixture("customers_template.csv"), "customers_template.csv")
    db.commit()
    assert report.ok and not report.committed
    assert [r.action for r in report.rows] == ["update", "create", "create"]
    assert report.rows[0].changes["email"] == ("old@acme.example", "billing@acme-analytics.example")
    assert report.summary() == "3 rows: 3 accepted, 0 rejected (2 new, 1 to update)"
    assert snapshot(db) == before


def test_blank_cells_never_erase_stored_values(db):
    data = f"{HEADER}\nACME-001,Acme Renamed,,,,,,,,,,\n".encode()
    report = import_and_commit(db, data, "c.csv")
    assert report.ok and report.updated == 1
    acme = customers(db)["ACME-001"]
    assert acme["name"] == "Acme Renamed"
    assert (acme["email"], acme["city"], acme["country"]) == ("old@acme.example", "San Francisco", "US")


def test_unchanged_rows_are_not_rewritten(db):
    data = b"external_id,name,city\nACME-001,Customer ACME-001,San Francisco\n"
    before = snapshot(db)
    report = import_and_commit(db, data, "c.csv")
    assert report.ok and (report.updated, report.unchanged) == (0, 1)
    assert snapshot(db)["customers"] == before["customers"]  # not even updated_at moved


def test_hubspot_companies_export(db):
    report = import_and_commit(db, fixture("hubspot_companies.csv"), "hubspot-crm-exports-all-companies.csv")
    assert report.ok, report.errors
    assert report.preset == "hubspot" and report.created == 3
    assert report.warnings == ["these columns are not imported: 'Company Domain Name', 'Phone Number', "
                               "'Create Date'"]
    stored = customers(db)
    acme = stored["18239473921"]
    assert (acme["name"], acme["address_line1"], acme["region"], acme["postal_code"], acme["country"]) == (
        "Acme Analytics", "100 Market St", "CA", "94105", "US")
    assert stored["18239473922"]["country"] == "DE" and stored["18239473923"]["country"] == "GB"
    assert acme["currency"] == "USD"  # HubSpot has no currency: the business entity's default


def test_salesforce_accounts_export(db):
    report = import_and_commit(db, fixture("salesforce_accounts.csv"), "Account.csv")
    assert report.ok, report.errors
    assert report.preset == "salesforce"
    assert "the column 'AccountNumber' is not imported: 'Id' is used for external_id" in report.warnings
    stored = customers(db)
    assert stored["001Dn00000AbCdFIAV"]["currency"] == "EUR"
    assert stored["001Dn00000AbCdFIAV"]["country"] == "FR"
    assert stored["001Dn00000AbCdGIAV"]["country"] == "US"  # "USA"
    assert stored["001Dn00000AbCdGIAV"]["address_line1"] == "2019 Replicant Way, Suite 9"


def test_salesforce_report_with_an_unknown_country(db):
    before = snapshot(db)
    report = import_and_commit(db, fixture("salesforce_report_bad_country.csv"), "report.csv")
    assert report.preset == "salesforce" and not report.ok
    assert [(e.row, e.column, e.value) for e in report.errors] == [(3, "Billing Country", "Atlantis")]
    assert "is not a country we recognise" in report.errors[0].message
    assert str(report.errors[0]).startswith("row 3, column Billing Country:")
    assert snapshot(db) == before


def test_explicit_mapping(db):
    data = b"Client Code,Client,Notes\nX-1,Xylo,vip\n"
    report = import_and_commit(db, data, "c.csv", mapping={"Client Code": "external_id", "Client": "name",
                                                          "Notes": None})
    assert report.ok and report.created == 1 and not report.warnings
    assert customers(db)["X-1"]["name"] == "Xylo"


def test_xlsx_import(db):
    data = xlsx([
        ["External ID", "Name", "Postal Code", "Country", "Currency", "Payment Terms Days", "Timezone"],
        [1001, "Numbered Ltd", "02134", "united states", "usd", 60, "europe/london"],
        ["A-2", "Zürich Büro AG", 8001, "CH", "CHF", None, None],
    ])
    report = import_and_commit(db, data, "customers.xlsx")
    assert report.ok, report.errors
    stored = customers(db)
    assert stored["1001"]["postal_code"] == "02134" and stored["1001"]["payment_terms_days"] == 60
    assert (stored["1001"]["country"], stored["1001"]["currency"], stored["1001"]["timezone"]) == (
        "US", "USD", "Europe/London")
    assert stored["A-2"]["postal_code"] == "8001" and stored["A-2"]["payment_terms_days"] == 30


# ---- bad input: named row and column, database untouched -------------------------------------------------


@pytest.mark.parametrize("cell,column,message", [
    ("email=not-an-email", "email", "'not-an-email' is not an email address"),
    ("country=Atlantis", "country", "is not a country we recognise"),
    ("currency=XYZ", "currency", "'XYZ' is not a supported currency code"),
    ("payment_terms_days=400", "payment_terms_days", "400 days is more than the 365 allowed"),
    ("payment_terms_days=-5", "payment_terms_days", "is not a whole number of days"),
    ("payment_terms_days=thirty", "payment_terms_days", "is not a whole number of days"),
    ("timezone=Mars/Olympus", "timezone", "'Mars/Olympus' is not a time zone"),
    ("name=", "name", "name is required"),
    ("external_id=", "external_id", "external id is required"),
    ("postal_code=" + "9" * 21, "postal_code", "is 21 characters long; at most 20 fit"),
])
def test_bad_cell(db, cell, column, message):
    field, _, value = cell.partition("=")
    good = {"external_id": "NEW-1", "name": "New Co", "email": "a@b.example", "country": "US", "currency": "USD",
            "payment_terms_days": "30", "timezone": "UTC", "postal_code": "12345"}
    bad = {**good, "external_id": "NEW-2", "name": "Bad Co", field: value}
    cols = list(good)
    data = "\n".join([",".join(cols), ",".join(good[c] for c in cols), ",".join(bad[c] for c in cols)]).encode()
    before = snapshot(db)
    report = import_and_commit(db, data, "c.csv")
    assert not report.ok and not report.committed
    assert [(e.row, e.column) for e in report.errors] == [(3, column)]
    assert message in report.errors[0].message
    assert report.summary().endswith("1 accepted, 1 rejected — nothing is imported until the rejected row is fixed")
    assert snapshot(db) == before


def test_duplicate_external_id_in_the_file_names_both_rows(db):
    data = b"external_id,name\nD-1,First\nD-2,Other\nD-1,Second\n"
    before = snapshot(db)
    report = import_and_commit(db, data, "c.csv")
    assert [(e.row, e.column, e.value) for e in report.errors] == [(4, "external_id", "D-1")]
    assert "also on row 2" in report.errors[0].message
    assert snapshot(db) == before


def test_existing_customer_refused_when_updates_are_off(db):
    data = b"external_id,name\nNEW-1,New\nACME-001,Acme Again\n"
    before = snapshot(db)
    report = import_and_commit(db, data, "c.csv", on_existing="error")
    assert [(e.row, e.column, e.value) for e in report.errors] == [(3, "external_id", "ACME-001")]
    assert "already exists (Customer ACME-001)" in report.errors[0].message
    assert snapshot(db) == before


@pytest.mark.parametrize("data,filename,where,message", [
    (b"id,email\nX,a@b.example\n", "c.csv", (1, "name"), "the file has no 'name' column"),
    (b"foo,bar\n1,2\n", "c.csv", (1, "external_id"), "the file has no 'external_id' column"),
    (b"", "c.csv", (0, ""), "the file is empty"),
    (HEADER.encode() + b"\r\n", "c.csv", (0, ""), "the file has a header but no rows"),
    (xlsx([["external_id", "name"], ["a", "b"]]), "c.csv", (0, ""), "this file is not a CSV text file (it looks "
                                                                      "like an Excel workbook)"),
    (xlsx([["external_id", "name"], ["a", "b"], ["c", "=A2&\"x\""]]), "c.xlsx", (3, "name"),
     "contains a formula (=A2&\"x\"); paste values instead"),
])
def test_unusable_file(db, data, filename, where, message):
    before = snapshot(db)
    report = import_and_commit(db, data, filename)
    assert not report.ok
    assert (report.errors[0].row, report.errors[0].column) == where
    assert message in report.errors[0].message
    assert "nothing imported — " in report.summary()
    assert snapshot(db) == before


def test_permission_is_checked_before_anything(db):
    before = snapshot(db)
    with pytest.raises(PermissionDenied):
        import_customers(db, Actor("vic", "viewer"), fixture("customers_template.csv"), "c.csv")
    db.commit()
    assert snapshot(db) == before


# ---- export -----------------------------------------------------------------------------------------------

TRICKY = [
    ("=HYPERLINK(\"http://evil.example\",\"x\")", "EVIL-1"),
    ("-Minus Corp", "MIN-1"),
    ("+Plus GmbH", "PLUS-1"),
    ("@Home Ltd", "AT-1"),
    ("Zürich Büro, \"AG\"", "ZUR-1"),
]


@pytest.fixture
def tricky(db):
    for name, ext in TRICKY:
        factories.customer(db, ext, name=name, postal_code="02134", tax_id="=1+1", city="Line\nBreak")
    db.commit()
    return db


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_round_trip(tricky, fmt):
    data = export_customers(tricky, OPS, fmt)
    before = snapshot(tricky)
    report = import_and_commit(tricky, data, f"customers.{fmt}")
    assert report.ok, report.errors
    assert (report.created, report.updated, report.unchanged) == (0, 0, len(TRICKY) + 1)
    assert snapshot(tricky)["customers"] == before["customers"]
    assert customers(tricky)["EVIL-1"]["name"] == TRICKY[0][0]


def test_export_round_trip_into_an_empty_database(tricky, engine):
    data = export_customers(tricky, OPS, "xlsx")
    original = {k: {f: v for f, v in r.items() if f not in ("id", "created_at", "updated_at")}
                for k, r in customers(tricky).items()}
    tricky.execute(text("DELETE FROM customer"))
    tricky.commit()
    report = import_and_commit(tricky, data, "customers.xlsx")
    assert report.created == len(original)
    again = {k: {f: v for f, v in r.items() if f not in ("id", "created_at", "updated_at")}
             for k, r in customers(tricky).items()}
    assert again == original


def test_csv_export_neutralises_formulas(tricky):
    rows = list(csv.DictReader(io.StringIO(export_customers(tricky, OPS, "csv").decode("utf-8-sig"))))
    by_id = {r["external_id"]: r for r in rows}
    assert by_id["EVIL-1"]["name"] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    assert by_id["MIN-1"]["name"] == "'-Minus Corp"
    assert by_id["PLUS-1"]["name"] == "'+Plus GmbH"
    assert by_id["AT-1"]["name"] == "'@Home Ltd"
    assert by_id["ZUR-1"]["name"] == "Zürich Büro, \"AG\""
    assert by_id["EVIL-1"]["tax_id"] == "'=1+1"
    assert by_id["EVIL-1"]["postal_code"] == "02134"


def test_xlsx_export_is_formatted_and_holds_no_formulas(tricky):
    wb = load_workbook(io.BytesIO(export_customers(tricky, OPS, "xlsx")))
    ws = wb.active
    assert ws.title == "Customers"
    assert [c.value for c in ws[1]] == HEADER.split(",")
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2"
    assert ws.column_dimensions["B"].width > 10
    cells = [c for row in ws.iter_rows(min_row=2) for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    names = {c.value for c in cells if c.column == 2}
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in names
    terms = [c.value for c in cells if c.column == 12]
    assert set(terms) == {30}  # numbers stay numbers


def test_export_needs_a_known_format(db):
    from core.errors import UserError

    with pytest.raises(UserError, match="choose csv or xlsx"):
        export_customers(db, SYSTEM, "pdf")


def test_exported_file_reads_back_as_text(tricky):
    frame = read_table(export_customers(tricky, OPS, "xlsx"), "c.xlsx")
    assert frame.loc[frame["external_id"] == "EVIL-1", "postal_code"].tolist() == ["02134"]
