"""Billable metrics page: the list reads in plain words, a bad definition is refused field by field, a good one is
created, and the preview gives each customer's quantity for a month."""
from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from core.auth import Actor
from core.billing.periods import add_months
from core.db import make_engine, session_scope
from core.importers.usage import import_usage
from core.metering.metrics import aggregate, list_metrics
from ui.format import qty
from tests.ui.conftest import texts

PAGE = "pages/metrics.py"


def _codes(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            return [m.code for m in list_metrics(s)]
    finally:
        engine.dispose()


def _field(at, label: str):
    return next(w for w in [*at.text_input, *at.text_area] if w.label.startswith(label))


def _create(at):
    return next(b for b in at.button if b.label == "Create the metric").click().run()


def test_list_shows_aggregations_in_plain_words(open_page):
    at = open_page(PAGE, role="viewer")
    assert not at.exception
    table = at.dataframe[0].value
    row = table[table["Code"] == "active_users"].iloc[0]
    assert row["Quantity is"] == "Count of distinct values of a property (user_id)"
    assert table[table["Code"] == "transfer_gb"].iloc[0]["Split by"] == "region"
    assert "Your role can look at metrics but not define them." in texts(at)


def test_a_bad_definition_is_refused_by_field_then_a_good_one_is_created(open_page, demo_db):
    before = _codes(demo_db)
    at = open_page(PAGE, role="ops")
    at.selectbox(key="metrics_new_aggregation").set_value("unique_count").run()
    _field(at, "Code").input("Seats In Use!")
    _field(at, "Event name").input("login")
    _field(at, "Only events with").input("region EU-West")
    _create(at)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert "Use lower-case letters, digits, '-' or '_' (for example api_calls)" in errors
    assert "A name is required" in errors
    assert "A unique count needs the property whose distinct values are counted" in errors
    assert "Line 1 (“region EU-West”) must look like property=value, for example region=EU-West" in errors
    assert _codes(demo_db) == before

    _field(at, "Code").input("eu_seats")
    _field(at, "Name").input("Seats in use (EU)")
    _field(at, "Property whose distinct values").input("user_id")
    _field(at, "Only events with").input("region=EU-West")
    _create(at)
    assert not at.exception
    assert "Metric eu_seats created." in texts(at)
    assert "eu_seats" in _codes(demo_db)
    table = at.dataframe[0].value
    row = table[table["Code"] == "eu_seats"].iloc[0]
    assert row["Only events with"] == "region = EU-West"

    _field(at, "Code").input("eu_seats")  # the same code again: refused, shown by the code field
    _field(at, "Name").input("Duplicate")
    _field(at, "Event name").input("login")
    _field(at, "Property whose distinct values").input("user_id")
    _create(at)
    assert "A metric with the code 'eu_seats' already exists" in [e.value for e in at.error]


def test_the_property_field_appears_only_for_a_unique_count(open_page):
    at = open_page(PAGE, role="admin")
    labels = [w.label for w in at.text_input]
    assert not any(label.startswith("Property whose distinct values") for label in labels)
    at.selectbox(key="metrics_new_aggregation").set_value("unique_count").run()
    assert any(w.label.startswith("Property whose distinct values") for w in at.text_input)


def test_preview_gives_each_customer_a_quantity(open_page, demo_db):
    month = add_months(date.today().replace(day=1), -1)  # the month the preview opens on
    usage = ("idempotency_key,customer_external_id,event_name,timestamp,quantity,region\n"
             f"m-1,GLOBEX-002,data_transfer,{month.isoformat()},700,US-East\n"
             f"m-2,GLOBEX-002,data_transfer,{month.isoformat()},0.25,EU-West\n").encode()
    engine = make_engine(demo_db)
    try:
        with session_scope(engine) as s:
            before = aggregate(s, next(m for m in list_metrics(s) if m.code == "transfer_gb"),
                               datetime.combine(month, time.min),
                               datetime.combine(add_months(month, 1), time.min)).get("GLOBEX-002")
            assert import_usage(s, Actor("setup", "ops"), usage, "transfer.csv").ok
    finally:
        engine.dispose()
    groups = dict(before.groups) if before else {}
    groups["US-East"] = groups.get("US-East", Decimal(0)) + 700
    groups["EU-West"] = groups.get("EU-West", Decimal(0)) + Decimal("0.25")

    at = open_page(PAGE, role="viewer")
    metric = at.selectbox(key="metrics_preview_metric")
    metric.select_index(metric.options.index("Data transfer by region (GB) (transfer_gb)")).run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "Split" in df.value.columns)
    globex = table[table["Customer id"] == "GLOBEX-002"].iloc[0]
    assert globex["Name"] == "Globex Logistics"
    assert globex["Quantity"] == qty(sum(groups.values()))
    assert globex["Split"] == ", ".join(f"{g}: {qty(v)}" for g, v in sorted(groups.items()))
    assert f"customers with events in {month:%B %Y}" in texts(at)


def _warehouse(tmp_path, demo_db: str, month: date) -> None:
    """A customer's database (a SQLite file) and the data source pointing at it, made through the services."""
    import sqlite3

    from core.sources import create_source

    path = tmp_path / "warehouse.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE api_usage (account_id TEXT, used_at TEXT, calls INTEGER)")
    con.executemany("INSERT INTO api_usage VALUES (?, ?, ?)", [
        ("ACME-001", f"{month.isoformat()} 10:00:00", 1200), ("ACME-001", f"{month.isoformat()} 11:00:00", 34),
        ("GLOBEX-002", f"{month.isoformat()} 12:00:00", 7), ("ACME-001", "2001-01-01 00:00:00", 999)])
    con.commit()
    con.close()
    engine = make_engine(demo_db)
    try:
        with session_scope(engine) as s:
            create_source(s, Actor("setup", "ops"), name="Acme warehouse", url=f"sqlite:///{path}")
    finally:
        engine.dispose()


GOOD = ("SELECT account_id AS customer_external_id, SUM(calls) AS quantity FROM api_usage "
        "WHERE used_at >= :period_start AND used_at < :period_end GROUP BY account_id")


def test_a_sql_template_metric_is_checked_tested_created_and_previewed(open_page, demo_db, tmp_path):
    month = add_months(date.today().replace(day=1), -1)  # the month the test and the preview open on
    _warehouse(tmp_path, demo_db, month)
    before = _codes(demo_db)
    at = open_page(PAGE, role="ops")
    at.selectbox(key="metrics_new_aggregation").set_value("sql").run()
    assert not at.exception
    assert not any(w.label == "Event name" for w in at.text_input)  # a SQL metric counts no events
    _field(at, "Code").input("wh_calls")
    _field(at, "Name").input("API calls (warehouse)")

    _field(at, "SQL template").input("DELETE FROM api_usage WHERE used_at >= :period_start AND used_at < :period_end")
    at.button(key="metrics_sql_create").click().run()
    errors = [e.value for e in at.error]
    assert "It must start with SELECT (or WITH): it only reads\n\n'DELETE' is not allowed: it only reads" in errors
    assert "The metric was not created — correct the fields marked in red." in errors

    _field(at, "SQL template").input("SELECT account_id AS customer_external_id, calls AS quantity FROM api_usage "
                                     "WHERE region = ?")
    at.button(key="metrics_sql_test").click().run()
    errors = " ".join(e.value for e in at.error)
    assert "'?' is not a placeholder here; write :period_start, :period_end and :customer_id" in errors
    assert "Use the placeholders :period_start and :period_end to read only the billing period" in errors
    assert _codes(demo_db) == before

    _field(at, "SQL template").input(GOOD.replace("AS quantity", "AS calls"))
    at.button(key="metrics_sql_test").click().run()
    assert "The result has no 'quantity' column (it has customer_external_id, calls); name the number AS quantity" \
        in [e.value for e in at.error]

    _field(at, "SQL template").input(GOOD.replace("account_id AS customer_external_id, ", "")
                                     .replace("GROUP BY account_id", "AND account_id = :customer_id"))
    at.button(key="metrics_sql_test").click().run()
    assert "The template uses :customer_id; choose the customer to run it for" in [e.value for e in at.error]
    at.selectbox(key="metrics_sql_customer").set_value("ACME-001").run()
    at.button(key="metrics_sql_test").click().run()
    assert f"The template returned 1 customer for {month:%B %Y} — ACME-001: {qty(Decimal(1234))}" in texts(at)

    _field(at, "SQL template").input(GOOD)
    at.button(key="metrics_sql_test").click().run()
    assert not at.exception
    assert (f"The template returned 2 customers for {month:%B %Y} — ACME-001: {qty(Decimal(1234))}, "
            f"GLOBEX-002: {qty(Decimal(7))}") in texts(at)
    assert "The first 2 rows, as the source returned them:" in texts(at)
    assert _codes(demo_db) == before  # testing stores nothing

    at.button(key="metrics_sql_create").click().run()
    assert not at.exception
    assert "Metric wh_calls created." in texts(at)
    assert "wh_calls" in _codes(demo_db)
    row = at.dataframe[0].value.set_index("Code").loc["wh_calls"]
    assert row["Event"] == "SQL on Acme warehouse" and row["Quantity is"] == "Result of a SQL template on a data source"

    metric = at.selectbox(key="metrics_preview_metric")
    metric.select_index(metric.options.index("API calls (warehouse) (wh_calls)")).run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "Split" in df.value.columns).set_index("Customer id")
    assert table.loc["ACME-001", "Quantity"] == qty(Decimal(1234))
    assert table.loc["GLOBEX-002", "Name"] == "Globex Logistics"
    assert table.loc["ACME-001", "Events"] == "from the source"
    assert f"2 customers in the result of the SQL template for {month:%B %Y}" in texts(at)


def test_a_sql_template_needs_a_data_source_first(open_page):
    at = open_page(PAGE, role="admin")
    at.selectbox(key="metrics_new_aggregation").set_value("sql").run()
    assert not at.exception
    assert "add the customer's database on the Data sources page first" in texts(at)
