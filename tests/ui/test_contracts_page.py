"""The Contracts page: the list and a contract's lines for every role, and the builder — per-model widgets,
live price preview, problems listed as the user types, every problem at once when saving."""
from __future__ import annotations

from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

ROLES = ("admin", "finance", "ops", "sales", "viewer")
WRITERS = ("admin", "finance", "sales")
PAGE = "pages/contracts.py"


def texts(at: AppTest) -> str:
    parts = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "success", "warning", "error"):
        parts.extend(str(el.value) for el in getattr(at, kind))
    return "\n".join(parts)


def tables(at: AppTest) -> str:
    """Every table on the page (interactive and static) as text."""
    return "\n".join(t.value.to_string() for t in [*at.dataframe, *at.table])


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def customer_id(db_url: str, external_id: str) -> int:
    from sqlmodel import select

    from core.db import make_engine, session_scope
    from core.models import Customer

    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            return s.exec(select(Customer.id).where(Customer.external_id == external_id)).one()
    finally:
        engine.dispose()


def contract_id(db_url: str, name: str) -> int:
    from sqlmodel import select

    from core.db import make_engine, session_scope
    from core.models import Contract

    engine = make_engine(db_url)
    try:
        with session_scope(engine) as s:
            return s.exec(select(Contract.id).where(Contract.name == name)).one()
    finally:
        engine.dispose()


def open_builder(open_page, role: str = "finance") -> AppTest:
    at = open_page(PAGE, role)
    at.session_state["contracts_tab"] = "New contract"
    at.run()
    no_exception(at)
    return at


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_contracts_and_can_open_one(open_page, demo_db, role):
    at = open_page(PAGE, role)
    no_exception(at)
    assert at.title[0].value == "Contracts"
    assert "Acme — Growth" in tables(at)
    assert "Acme Analytics — Acme — Growth" in at.selectbox(key="contracts_open").options
    at.selectbox(key="contracts_open").set_value(contract_id(demo_db, "Acme — Growth")).run()
    no_exception(at)
    lines = tables(at)
    # the prices of each line read like a rate card, never as raw params or stored decimals
    assert "0–50,000: $0.002/unit · 50,001–200,000: $0.0015/unit · 200,001+: $0.001/unit" in lines
    assert "$500.00 flat" in lines
    assert "Usage: API requests" in lines
    assert "500.000" not in lines
    builder_visible = any("New contract" in t.label for t in at.tabs)
    assert builder_visible == (role in WRITERS)


def test_customer_filter_narrows_the_list(open_page, demo_db):
    at = open_page(PAGE, "viewer")
    at.selectbox(key="contracts_filter").set_value(customer_id(demo_db, "GLOBEX-002")).run()
    no_exception(at)
    listed = at.dataframe[0].value
    assert set(listed["Customer"]) == {"Globex Logistics"}


def test_builder_lists_problems_as_the_user_types(open_page):
    at = open_builder(open_page)
    # an untouched line is a quiet checklist, not a warning
    assert not at.warning and "Still needed before this line can be added" in texts(at)
    at.text_input(key="contracts_l0_desc").input("API requests")
    at.text_input(key="contracts_l0_per_unit_unit_price").input("two dollars").run()
    no_exception(at)
    warning = at.warning[0].value
    assert "'two dollars' is not a number" in warning
    assert "Usage metric: choose which metric" in warning
    assert at.button(key="contracts_l0_add").disabled


def test_builder_preview_follows_the_tiers_table(open_page):
    at = open_builder(open_page)
    at.text_input(key="contracts_l0_desc").input("API requests")
    at.selectbox(key="contracts_l0_model").set_value("tiered").run()
    no_exception(at)
    assert "At 1,500 units this line costs $2,500.00: 500 × $2.00 + 1,000 × $1.50" in texts(at)
    # the user changes the first tier's rate to 3 and tries 800 units with 300 free
    at.session_state["contracts_l0_tiered_tiers"] = {"edited_rows": {0: {"unit_price": "3"}}, "added_rows": [],
                                                     "deleted_rows": []}
    at.text_input(key="contracts_l0_free").input("300")
    at.text_input(key="contracts_l0_tiered_try_q").input("800").run()
    no_exception(at)
    assert "800 used − 300 free = 500 billed. At 500 units this line costs $1,500.00: 500 × $3.00" in texts(at)
    # a last tier with an upper bound is refused with words that say what to do
    at.session_state["contracts_l0_tiered_tiers"] = {"edited_rows": {2: {"up_to": "5000"}}, "added_rows": [],
                                                     "deleted_rows": []}
    at.run()
    assert "the last tier must be open-ended (leave 'up to' empty)" in at.warning[0].value
    assert "The price preview appears here once the prices above are complete." in texts(at)


def test_builder_matrix_preview_prices_each_category(open_page):
    at = open_builder(open_page)
    at.selectbox(key="contracts_l0_model").set_value("matrix").run()
    at.text_input(key="contracts_l0_matrix_try_EU-West").input("1500")
    at.text_input(key="contracts_l0_matrix_try_US-East").input("2500").run()
    no_exception(at)
    assert "this line costs $275.00: EU-West: 1,500 × $0.10 + US-East: 2,500 × $0.05" in texts(at)


def test_saving_an_incomplete_contract_lists_every_problem(open_page):
    at = open_builder(open_page)
    at.button[-1].click().run()  # "Create contract", with nothing filled in
    no_exception(at)
    error = at.error[0].value
    assert "The contract was not saved" in error
    assert "customer: choose the customer this contract is for" in error
    assert "name: a contract name is required" in error
    assert "lines: a contract needs at least one line" in error


def build_contract(at: AppTest, customer: int, name: str, last_day: date | None = None) -> AppTest:
    """Drive the builder like a user: header, a seats line (fixed quantity) and a tiered usage line."""
    at.selectbox(key="contracts_customer_0").set_value(customer)
    at.text_input(key="contracts_name_0").input(name)
    at.date_input(key="contracts_start_0").set_value(date(2026, 10, 1))
    if last_day:
        at.date_input(key="contracts_last_0").set_value(last_day)
    at.text_input(key="contracts_l0_desc").input("User seats")
    at.radio(key="contracts_l0_billed_on").set_value("fixed").run()
    at.text_input(key="contracts_l0_qty").input("20")
    at.text_input(key="contracts_l0_per_unit_unit_price").input("25").run()
    no_exception(at)
    assert "At 20 units this line costs $500.00: 20 × $25.00" in texts(at)
    at.button(key="contracts_l0_add").click().run()
    no_exception(at)
    assert "Lines (1)" in texts(at)
    at.text_input(key="contracts_l1_desc").input("API requests")
    at.selectbox(key="contracts_l1_model").set_value("tiered")
    at.selectbox(key="contracts_l1_metric").set_value("api_requests").run()
    no_exception(at)
    assert not at.warning, at.warning[0].value
    at.button(key="contracts_l1_add").click().run()
    no_exception(at)
    assert "Lines (2)" in texts(at)
    create = next(b for b in at.button if b.label == "Create contract")
    create.click().run()
    no_exception(at)
    return at


def test_a_contract_built_through_the_widgets_is_saved_and_shown(open_page, demo_db):
    at = open_builder(open_page, "sales")
    at = build_contract(at, customer_id(demo_db, "INITECH-003"), "Initech — Expansion", last_day=date(2027, 9, 30))
    assert "Contract “Initech — Expansion” for Initech Software was saved with 2 lines." in texts(at)
    # the user typed the last day; it is stored as the exclusive end and shown back as the last day
    assert "from 1 Oct 2026, until 30 Sep 2027" in texts(at)
    assert "Initech — Expansion" in tables(at)  # back on the list, the new contract opened
    lines = tables(at)
    assert "$25.00 per unit" in lines and "Fixed quantity: 20" in lines
    assert "0–500: $2.00/unit · 501–2,000: $1.50/unit · 2,001+: $1.00/unit" in lines
