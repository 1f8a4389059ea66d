"""Customers page: import a file with problems (nothing saved, problems shown by row and column), then a good
file (customers created); the add form shows field errors; export bytes come from the core function."""
from __future__ import annotations

import csv
import io

from core.auth import Actor
from core.customers import count_customers
from core.db import make_engine, session_scope
from core.importers.customers import export_customers
from tests.ui.conftest import texts

PAGE = "pages/customers.py"
HEADER = "external_id,name,email,country,currency,payment_terms_days\n"
BAD = (HEADER + "NEW-100,Northwind Traders,ap@northwind.example,US,USD,30\n"
       "NEW-101,Contoso Ltd,not-an-email,GB,GBP,14\n"
       "NEW-102,Fabrikam,billing@fabrikam.example,Atlantis,EUR,30\n").encode()
GOOD = (HEADER + "NEW-100,Northwind Traders,ap@northwind.example,US,USD,30\n"
        "NEW-101,Contoso Ltd,ap@contoso.example,United Kingdom,GBP,Net 14\n").encode()


def _count(url: str) -> int:
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            return count_customers(s)
    finally:
        engine.dispose()


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_a_file_with_problems_saves_nothing_and_a_good_file_imports(open_page, demo_db):
    before = _count(demo_db)
    at = open_page(PAGE, role="ops")
    assert not at.exception
    assert "Customers" in [t.value for t in at.title]

    at.file_uploader(key="customers_import_file_0").upload("crm-export.csv", BAD, "text/csv").run()
    assert not at.exception
    shown = texts(at)
    assert "nothing is imported until the 2 rejected rows are fixed" in shown
    assert "Counting House customer template" in shown  # the detected format
    problems = next(df.value for df in at.dataframe if "Problem" in df.value.columns)
    by_cell = {(r.Row, r.Column): r.Problem for r in problems.itertuples()}
    assert "not an email address" in by_cell[(3, "email")]
    assert "not a country we recognise" in by_cell[(4, "country")]
    assert _button(at, "Import customers").disabled  # only a file without problems can be imported
    assert any(d.label == "Download the problems as CSV" for d in at.get("download_button"))
    assert _count(demo_db) == before

    at.file_uploader(key="customers_import_file_0").set_value(("crm-export.csv", GOOD, "text/csv")).run()
    assert "Ready to import" in texts(at)
    button = _button(at, "Import 2 customers")
    assert not button.disabled
    button.click().run()
    assert not at.exception
    assert "crm-export.csv** imported" in texts(at)
    assert "2 created" in texts(at)
    assert _count(demo_db) == before + 2
    listing = at.dataframe[0].value
    assert {"NEW-100", "NEW-101"} <= set(listing["Customer id"])
    assert at.file_uploader(key="customers_import_file_1").value is None  # a fresh uploader after the import


def test_add_form_shows_the_problem_by_the_field_and_saves_when_fixed(open_page, demo_db):
    before = _count(demo_db)
    at = open_page(PAGE, role="sales")

    def field(label):
        return next(w for w in at.text_input if w.label == label)

    field("Customer id").input("NEW-200")
    field("Name").input("Initrode")
    field("Billing email").input("billing at initrode")
    _button(at, "Add the customer").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert "'billing at initrode' is not an email address" in errors  # shown under the email field
    assert any("Nothing was saved" in e for e in errors)
    assert _count(demo_db) == before

    field("Billing email").input("billing@initrode.example")
    _button(at, "Add the customer").click().run()
    assert "Saved Initrode." in texts(at)
    assert _count(demo_db) == before + 1

    field("Customer id").input("ACME-001")  # taken: the message lands by the customer id field
    field("Name").input("Second Acme")
    _button(at, "Add the customer").click().run()
    assert any("already exists" in e.value for e in at.error)
    assert _count(demo_db) == before + 1


def test_viewer_sees_the_list_but_no_way_to_change_it(open_page):
    at = open_page(PAGE, role="viewer")
    assert not at.exception
    assert len(at.dataframe[0].value) == 20  # the demo customers
    assert not [b for b in at.button if b.label in ("Add the customer", "Save changes")]
    assert "Your role can look at customers but not add them." in texts(at)
    labels = [d.label for d in at.get("download_button")]
    assert "Export as CSV" in labels and "Export as Excel" in labels


def test_search_narrows_the_list(open_page):
    at = open_page(PAGE, role="viewer")
    at.text_input(key="customers_search").input("acme").run()
    assert list(at.dataframe[0].value["Customer id"]) == ["ACME-001"]
    assert "1 customer matching “acme”" in texts(at)


def test_export_is_the_template_and_reimports_unchanged(demo_db):
    # Download payloads are not exposed by AppTest: the export buttons call this function.
    engine = make_engine(demo_db)
    try:
        with session_scope(engine) as s:
            data = export_customers(s, Actor("t", "viewer"), "csv")
            xlsx = export_customers(s, Actor("t", "viewer"), "xlsx")
    finally:
        engine.dispose()
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 20 and rows[0]["external_id"] == "ACME-001"
    assert xlsx.startswith(b"PK")
