"""The Settings page: the tax-rate table — add a rate, read it back, correct it, delete it after confirming; the
page says how region and country rates combine; roles that may not change rates do not see the page."""
from __future__ import annotations

import pytest

from tests.ui.test_contracts_page import button, no_exception, tables, texts

PAGE = "pages/settings.py"


def add_rate(at, country: str, percent: str, region: str = "", name: str = "Tax"):
    next(s for s in at.selectbox if s.label == "Country").set_value(country)
    next(t for t in at.text_input if t.label == "Region (optional)").input(region)
    next(t for t in at.text_input if t.label == "Name on the invoice").input(name)
    next(t for t in at.text_input if t.label == "Rate (%)").input(percent)
    button(at, "Save the rate").click().run()
    no_exception(at)
    return at


def test_the_page_explains_region_beats_country_and_exempt_customers(open_page):
    at = open_page(PAGE, "finance")
    no_exception(at)
    assert at.title[0].value == "Settings"
    caption = at.caption[0].value
    assert "beats the country rate" in caption and "Tax-exempt customers" in caption and "pay no tax" in caption


def test_add_change_and_delete_a_tax_rate(open_page):
    at = open_page(PAGE, "finance")
    assert "US — United States" not in tables(at)
    add_rate(at, "US", "6", name="Sales tax")
    add_rate(at, "US", "7.25", region="CA", name="Sales tax")
    assert "Saved Sales tax 7.25% for US, CA." in texts(at)
    shown = tables(at)
    assert "US — United States" in shown and "whole country" in shown and "6%" in shown and "7.25%" in shown
    add_rate(at, "US", "7.5", region="CA", name="Sales tax")  # the same place: replaced, not duplicated
    assert "7.5%" in tables(at) and "7.25%" not in tables(at)
    pick = at.selectbox(key="settings_pick")
    ca = next(o for o in pick.options if "CA" in o)
    pick.select(ca).run()
    button(at, "Delete…").click().run()
    no_exception(at)
    assert "Invoices already approved keep their tax" in texts(at)
    button(at, "Delete the rate").click().run()
    no_exception(at)
    assert "Deleted the Sales tax rate for US — United States, CA." in texts(at)
    assert "7.5%" not in tables(at) and "6%" in tables(at)


@pytest.mark.parametrize("raw, problem", [("eighteen", "'eighteen' is not a number"),
                                          ("", "type the percentage"), ("150", "between 0 and 100")])
def test_a_wrong_rate_says_what_to_type(open_page, raw, problem):
    at = open_page(PAGE, "admin")
    add_rate(at, "DE", raw, name="VAT")
    assert "The rate was not saved" in at.error[0].value and problem in at.error[0].value


def test_a_customer_is_marked_tax_exempt_and_consolidated_on_the_customers_page(open_page, demo_db):
    from sqlmodel import select

    from core.db import make_engine, session_scope
    from core.models import Customer
    from tests.ui.test_contracts_page import customer_id

    at = open_page("pages/customers.py", "finance")
    at.selectbox(key="customers_edit_id").set_value(customer_id(demo_db, "GLOBEX-002")).run()
    no_exception(at)
    next(c for c in reversed(at.checkbox) if c.label == "Tax exempt").check()  # the edit form (after "Add")
    next(c for c in reversed(at.checkbox) if c.label.startswith("Consolidate invoices")).check()
    button(at, "Save changes").click().run()
    no_exception(at)
    assert "Saved Globex Logistics." in texts(at)
    engine = make_engine(demo_db)
    try:
        with session_scope(engine) as s:
            c = s.exec(select(Customer).where(Customer.external_id == "GLOBEX-002")).one()
            assert (c.tax_exempt, c.consolidate_invoices) == (True, True)
    finally:
        engine.dispose()
