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
    import pandas as pd

    with pd.option_context("display.max_colwidth", None, "display.width", None):
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
    button(at, "Create and activate").click().run()  # with nothing filled in
    no_exception(at)
    error = at.error[0].value
    assert "The contract was not saved" in error
    assert "customer: choose the customer this contract is for" in error
    assert "name: a contract name is required" in error
    assert "lines: a contract needs at least one line" in error


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def build_contract(at: AppTest, customer: int, name: str, last_day: date | None = None,
                   save: str = "Create and activate") -> AppTest:
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
    button(at, save).click().run()
    no_exception(at)
    return at


def test_a_contract_built_through_the_widgets_is_saved_and_shown(open_page, demo_db):
    at = open_builder(open_page, "sales")
    at = build_contract(at, customer_id(demo_db, "INITECH-003"), "Initech — Expansion", last_day=date(2027, 9, 30))
    assert "Contract “Initech — Expansion” for Initech Software was saved and is active with 2 lines." in texts(at)
    # the user typed the last day; it is stored as the exclusive end and shown back as the last day
    assert "from 1 Oct 2026, until 30 Sep 2027" in texts(at)
    assert "Initech — Expansion" in tables(at)  # back on the list, the new contract opened
    lines = tables(at)
    assert "$25.00 per unit" in lines and "Fixed quantity: 20" in lines
    assert "0–500: $2.00/unit · 501–2,000: $1.50/unit · 2,001+: $1.00/unit" in lines


def test_a_draft_is_saved_then_activated(open_page, demo_db):
    at = open_builder(open_page, "finance")
    at = build_contract(at, customer_id(demo_db, "INITECH-003"), "Initech — Pilot", save="Save as draft")
    assert "Contract “Initech — Pilot” for Initech Software was saved as a draft with 2 lines." in texts(at)
    assert "Draft — not billed yet" in texts(at)
    assert "Draft" in tables(at)
    button(at, "Activate").click().run()
    no_exception(at)
    assert "Contract “Initech — Pilot” is active: it is billed from now on." in texts(at)
    assert "Draft — not billed yet" not in texts(at)
    assert not [b for b in at.button if b.label == "Activate"]


def test_line_adjustments_terms_and_a_phase_are_saved_and_read_back(open_page, demo_db):
    at = open_builder(open_page, "finance")
    at.selectbox(key="contracts_customer_0").set_value(customer_id(demo_db, "INITECH-003"))
    at.text_input(key="contracts_name_0").input("Initech — Trial then paid")
    at.date_input(key="contracts_start_0").set_value(date(2026, 1, 1)).run()
    cust = customer_id(demo_db, "INITECH-003")
    at.checkbox(key=f"contracts_t0_{cust}_eom").check()
    at.number_input(key=f"contracts_t0_{cust}_term_months").set_value(12)
    at.selectbox(key=f"contracts_t0_{cust}_renewal").set_value("same_terms")
    at.text_input(key="contracts_l0_desc").input("Platform fee")
    at.radio(key="contracts_l0_billed_on").set_value("fixed").run()
    at.text_input(key="contracts_l0_per_unit_unit_price").input("1000")
    at.text_input(key="contracts_l0_mods_credit").input("100")
    at.checkbox(key="contracts_l0_mods_credit_rec").check()
    at.session_state["contracts_l0_mods_discounts"] = {
        "edited_rows": {}, "deleted_rows": [],
        "added_rows": [{"type": "percent", "value": "10", "per_period_cap": "50"}]}
    at.text_input(key="contracts_l0_mods_min_amount").input("250")
    at.text_input(key="contracts_l0_phase_label").input("Trial")
    at.date_input(key="contracts_l0_phase_first").set_value(date(2026, 1, 1))
    at.date_input(key="contracts_l0_phase_last").set_value(date(2026, 3, 31)).run()
    no_exception(at)
    assert not at.warning, at.warning[0].value
    at.button(key="contracts_l0_add").click().run()
    no_exception(at)
    assert "Trial: 1 Jan 2026 – 31 Mar 2026" in tables(at)
    button(at, "Create and activate").click().run()
    no_exception(at)
    assert not at.error, at.error[0].value
    shown = texts(at) + tables(at)
    assert "Trial: 1 Jan 2026 – 31 Mar 2026" in shown
    assert "credit $100.00 a month" in shown
    assert "10% off, at most $50.00 a month" in shown
    assert "minimum $250.00 a month (prorated for partial months)" in shown
    assert "Term: 12 months · Renew with the same terms" in shown
    assert "moved to the end of that month" in shown
    # stored as the exclusive end, like the contract's own end
    from sqlmodel import select

    from core.db import make_engine, session_scope
    from core.models import ContractLine

    engine = make_engine(demo_db)
    try:
        with session_scope(engine) as s:
            line = s.exec(select(ContractLine).where(
                ContractLine.contract_id == contract_id(demo_db, "Initech — Trial then paid"))).one()
            assert (line.phase, line.start_date, line.end_date) == ("Trial", date(2026, 1, 1), date(2026, 4, 1))
            assert line.modifiers["discounts"][0] == {"type": "percent", "value": "10", "per_period_cap": "50"}
    finally:
        engine.dispose()


def test_renewal_without_a_term_says_what_to_fix(open_page, demo_db):
    at = open_builder(open_page, "finance")
    cust = customer_id(demo_db, "INITECH-003")
    at.selectbox(key="contracts_customer_0").set_value(cust).run()
    at.selectbox(key=f"contracts_t0_{cust}_renewal").set_value("same_terms").run()
    button(at, "Save as draft").click().run()
    no_exception(at)
    assert "a contract that renews needs a term length — type the months" in at.error[0].value
