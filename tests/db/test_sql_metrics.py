"""SQL-template billable metrics (spec section 4): a read-only template run on a data source, its period and
customer placeholders bound as parameters. Sources tested for real: SQLite and DuckDB files, PostgreSQL (on the
PostgreSQL backend), a MariaDB server (TEST_MARIADB_URL) and Snowflake (fakesnow)."""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import Engine

from core.auth import SYSTEM, Actor
from core.billing.contracts import LineSpec
from core.errors import PermissionDenied, UserError
from core.invoicing.service import generate_drafts, invoice_lines
from core.metering.ingest import ingest_events
from core.metering.metrics import (MetricSpec, aggregate, behind_note, create_metric, events_behind, try_template,
                                   validate_template)
from core.models import AuditLog, BillableMetric
from core.sources import create_source, read_rows
from tests.db import factories as f

JAN = (datetime(2025, 1, 1), datetime(2025, 2, 1))
ROWS = [("C1", "2025-01-05 10:00:00", "0.1", "eu"), ("C1", "2025-01-06 10:00:00", "0.2", "us"),
        ("C2", "2025-01-07 10:00:00", "5", "eu"), ("C2", "2025-02-01 00:00:00", "1000", "eu"),  # February
        ("C3", "2024-12-31 23:59:59", "7", "eu")]  # December
# ROUND(…, 6): SQLite sums text as floating point (0.1 + 0.2 = 0.30000000000000004), which a metric refuses
PER_CUSTOMER = ("SELECT account AS customer_external_id, ROUND(SUM(amount), 6) AS quantity FROM usage_log "
                "WHERE ts >= :period_start AND ts < :period_end GROUP BY account")
BY_REGION = ("SELECT account AS customer_external_id, region AS \"group\", ROUND(SUM(amount), 6) AS quantity "
             "FROM usage_log "
             "WHERE ts >= :period_start AND ts < :period_end GROUP BY account, region")
ONE_CUSTOMER = ("SELECT ROUND(SUM(amount), 6) AS quantity FROM usage_log "
                "WHERE account = :customer_id AND ts >= :period_start AND ts < :period_end")


def _sqlite_source(tmp_path, rows=ROWS, *, amount_type: str = "TEXT", name: str = "warehouse.db") -> str:
    path = tmp_path / name
    con = sqlite3.connect(path)
    con.execute(f"CREATE TABLE IF NOT EXISTS usage_log (account TEXT, ts TEXT, amount {amount_type}, region TEXT)")
    con.executemany("INSERT INTO usage_log VALUES (?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def _metric(session, source_id: int, template: str, code: str = "warehouse_calls"):
    return create_metric(session, SYSTEM, MetricSpec(code=code, name=code.replace("_", " ").title(), event_name="",
                                                     aggregation="sql", source_id=source_id, sql_template=template))


def _quantities(session, metric, customers=None) -> dict:
    return {k: v.quantity for k, v in aggregate(session, metric, *JAN, customers).items()}


@contextmanager
def _queries_on(url_part: str):
    """The statements sent to engines whose URL contains ``url_part`` (the source's, not the app's)."""
    seen: list[str] = []

    def listen(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        if url_part in str(conn.engine.url):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", listen)


def test_a_sql_metric_gives_each_customer_an_exact_quantity_for_the_period(session, tmp_path):
    f.seller(session)
    src = create_source(session, SYSTEM, name="Warehouse", url=_sqlite_source(tmp_path))
    metric = _metric(session, src.id, PER_CUSTOMER)
    assert metric.event_name == "" and metric.aggregation == "sql"
    with _queries_on("warehouse.db") as sent:
        result = aggregate(session, metric, *JAN)
    assert {k: v.quantity for k, v in result.items()} == {"C1": Decimal("0.3"), "C2": Decimal("5")}
    assert len([s for s in sent if "usage_log" in s]) == 1  # one query for every customer
    assert _quantities(session, metric, ["C2", "C9"]) == {"C2": Decimal("5")}  # only the customers asked for

    grouped = _metric(session, src.id, BY_REGION, code="calls_by_region")
    res = aggregate(session, grouped, *JAN)
    assert res["C1"].groups == {"eu": Decimal("0.1"), "us": Decimal("0.2")} and res["C1"].quantity == Decimal("0.3")
    audit = session.exec(select(AuditLog).where(AuditLog.action == "metric.create")).scalars().all()
    assert audit[-1].details["sql_template"] == BY_REGION and audit[-1].details["source_id"] == src.id


def test_with_customer_id_the_template_runs_once_per_customer_asked_for(session, tmp_path):
    f.seller(session)
    for c in ("C1", "C2", "C3"):
        f.customer(session, c)
    src = create_source(session, SYSTEM, name="W", url=_sqlite_source(tmp_path))
    metric = _metric(session, src.id, ONE_CUSTOMER)
    with _queries_on("warehouse.db") as sent:
        assert _quantities(session, metric, ["C1", "C2"]) == {"C1": Decimal("0.3"), "C2": Decimal("5")}
    assert len([s for s in sent if "usage_log" in s]) == 2
    with pytest.raises(UserError, match="quantity for customer 'C3' is empty"):  # every customer: C3 had none
        aggregate(session, metric, *JAN)
    coalesced = _metric(session, src.id, ONE_CUSTOMER.replace("SUM(amount)", "COALESCE(SUM(amount), 0)"), "c2")
    assert _quantities(session, coalesced) == {"C1": Decimal("0.3"), "C2": Decimal("5"), "C3": Decimal("0")}


def test_a_bound_customer_id_cannot_widen_the_query(session, tmp_path):
    f.seller(session)
    f.customer(session, "C1")
    src = create_source(session, SYSTEM, name="W", url=_sqlite_source(tmp_path))
    metric = _metric(session, src.id, ONE_CUSTOMER.replace("SUM(amount)", "COALESCE(SUM(amount), 0)"))
    sneaky = "C1' OR '1'='1"  # bound as a parameter: it is only ever a (strange) customer id, never SQL
    assert _quantities(session, metric, [sneaky, "C1"]) == {sneaky: Decimal("0"), "C1": Decimal("0.3")}


@pytest.mark.parametrize(("template", "expected"), [
    ("DELETE FROM usage_log WHERE ts >= :period_start AND ts < :period_end", "'DELETE' is not allowed"),
    ("WITH x AS (SELECT 1) INSERT INTO usage_log SELECT * FROM usage_log WHERE ts >= :period_start "
     "AND ts < :period_end", "'INSERT' is not allowed"),
    (PER_CUSTOMER + "; DROP TABLE usage_log", "one statement only"),
    ("SELECT account AS customer_external_id, SUM(amount) AS quantity FROM usage_log GROUP BY account",
     "use the placeholders :period_start and :period_end to read only the billing period"),
    ("SELECT account AS customer_external_id, amount AS quantity FROM usage_log WHERE ts >= :period_start",
     "use the placeholders :period_end"),
    (PER_CUSTOMER.replace("GROUP BY", "AND region = :region GROUP BY"),
     "unknown placeholders :region; only :period_start, :period_end and :customer_id exist"),
    (PER_CUSTOMER.replace("GROUP BY", "AND region = %s GROUP BY"), "'%s' is not a placeholder here"),
    (PER_CUSTOMER.replace("GROUP BY", "AND region = ? GROUP BY"), "'?' is not a placeholder here"),
    (PER_CUSTOMER.replace("GROUP BY", "AND region = {region} GROUP BY"), "'{region}' is not a placeholder"),
    (PER_CUSTOMER.replace("GROUP BY", "AND region = %(region)s GROUP BY"), "'%(region)s' is not a placeholder"),
    ("", "write a SELECT that returns each customer's quantity for the period"),
])
def test_a_template_that_writes_or_reads_outside_its_placeholders_is_refused(session, tmp_path, template,
                                                                             expected):
    f.seller(session)
    url = _sqlite_source(tmp_path)
    src = create_source(session, SYSTEM, name="W", url=url)
    with pytest.raises(UserError) as refused:
        _metric(session, src.id, template)
    assert f"SQL template: {expected}" in str(refused.value)
    assert session.exec(select(func.count()).select_from(BillableMetric)).one()[0] == 0  # nothing stored
    with pytest.raises(UserError, match="SQL template: "):  # the test button refuses it too, before the source
        try_template(session, SYSTEM, source_id=src.id, sql_template=template, start=JAN[0], end=JAN[1])
    assert sqlite3.connect(url.removeprefix("sqlite:///")).execute("SELECT count(*) FROM usage_log").fetchone() \
        == (len(ROWS),)


def test_other_definition_problems_name_their_field(session, tmp_path):
    f.seller(session)
    with pytest.raises(UserError, match="source: choose the data source"):
        create_metric(session, SYSTEM, MetricSpec(code="x", name="X", event_name="", aggregation="sql",
                                                  sql_template=PER_CUSTOMER))
    with pytest.raises(UserError, match="source: there is no data source #99"):
        create_metric(session, SYSTEM, MetricSpec(code="x", name="X", event_name="", aggregation="sql",
                                                  source_id=99, sql_template=PER_CUSTOMER))
    src = create_source(session, SYSTEM, name="W", url=_sqlite_source(tmp_path))
    with pytest.raises(UserError, match="filters: a SQL-template metric filters and groups in its SQL"):
        create_metric(session, SYSTEM, MetricSpec(code="x", name="X", event_name="", aggregation="sql",
                                                  source_id=src.id, sql_template=PER_CUSTOMER, group_by="region"))
    with pytest.raises(UserError, match="SQL template: only a metric whose quantity is a SQL template"):
        create_metric(session, SYSTEM, MetricSpec(code="x", name="X", event_name="call", aggregation="sum",
                                                  sql_template=PER_CUSTOMER))
    with pytest.raises(PermissionDenied):
        create_metric(session, Actor("v", "viewer"), MetricSpec(code="x", name="X", event_name="",
                                                                aggregation="sql", source_id=src.id,
                                                                sql_template=PER_CUSTOMER))
    assert session.exec(select(func.count()).select_from(BillableMetric)).one()[0] == 0


@pytest.mark.parametrize(("rows", "template", "expected"), [
    ([("C1", "2025-01-05", "lots", "eu")], PER_CUSTOMER.replace("ROUND(SUM(amount), 6)", "MAX(amount)"),
     "the quantity for customer 'C1' is 'lots', not a number"),
    ([("C1", "2025-01-05", "-3", "eu")], PER_CUSTOMER, "the quantity for customer 'C1' is -3.0; a quantity "
                                                       "cannot be negative"),
    ([("C1", "2025-01-05", None, "eu")], PER_CUSTOMER, "the quantity for customer 'C1' is empty (NULL)"),
    ([("C1", "2025-01-05", "1", "eu")], PER_CUSTOMER.replace("AS quantity", "AS qty"),
     "the result has no 'quantity' column (it has customer_external_id, qty); name the number AS quantity"),
    ([("C1", "2025-01-05", "1", "eu")], PER_CUSTOMER.replace("account AS customer_external_id", "account"),
     "the result has no 'customer_external_id' column"),
    ([("C1", "2025-01-05", "1", "eu"), ("C1", "2025-01-06", "1", "us")],
     PER_CUSTOMER.replace("GROUP BY account", "GROUP BY account, region"),
     "two rows for customer 'C1'; return one row per customer (GROUP BY)"),
    ([("C1", "2025-01-05", "0.0000001", "eu")], PER_CUSTOMER.replace("ROUND(SUM(amount), 6)", "MAX(amount)"),
     "more than 6 decimals; round it in the SQL"),
    ([("C2", "2025-01-05", "1", "eu")], "SELECT account AS customer_external_id, amount AS quantity FROM usage_log "
     "WHERE ts >= :period_start AND ts < :period_end AND :customer_id IS NOT NULL",
     "run for customer 'C1', it returned a row for 'C2'; filter on :customer_id"),
    ([("C1", "2025-01-05", "1", "eu")], PER_CUSTOMER.replace("usage_log", "no_such_table"),
     "the source answered: no such table: no_such_table"),
])
def test_a_bad_result_is_refused_naming_the_customer_and_nothing_is_billed(session, tmp_path, rows, template,
                                                                          expected):
    f.seller(session)
    f.customer(session, "C1")
    src = create_source(session, SYSTEM, name="W", url=_sqlite_source(tmp_path, rows))
    metric = _metric(session, src.id, template)
    with pytest.raises(UserError) as refused:
        aggregate(session, metric, *JAN)
    assert str(refused.value).startswith("SQL template of the metric 'warehouse_calls': ")
    assert expected in str(refused.value)
    with pytest.raises(UserError, match="SQL template: .*" + expected[:20].replace("(", r"\(").replace("?", r"\?")):
        try_template(session, SYSTEM, source_id=src.id, sql_template=template, start=JAN[0], end=JAN[1],
                     customer="C1")


def test_a_driver_float_is_read_exactly_never_by_float_arithmetic(session, tmp_path):
    f.seller(session)
    src = create_source(session, SYSTEM, name="W", url=_sqlite_source(
        tmp_path, [("C1", "2025-01-05", 0.1, "eu"), ("C2", "2025-01-05", 2.675, "eu")], amount_type="REAL"))
    single = PER_CUSTOMER.replace("ROUND(SUM(amount), 6)", "MAX(amount)")
    metric = _metric(session, src.id, single)
    assert _quantities(session, metric) == {"C1": Decimal("0.1"), "C2": Decimal("2.675")}  # not 0.1000000000000000055
    summed = create_source(session, SYSTEM, name="W2", url=_sqlite_source(
        tmp_path, [("C1", "2025-01-05", 0.1, "eu"), ("C1", "2025-01-06", 0.2, "eu")], amount_type="REAL",
        name="float.db"))
    plain_sum = PER_CUSTOMER.replace("ROUND(SUM(amount), 6)", "SUM(amount)")
    with pytest.raises(UserError, match=r"'C1' is 0.30000000000000004, more than 6 decimals; round it in the SQL"):
        aggregate(session, _metric(session, summed.id, plain_sum, "floaty"), *JAN)
    assert _quantities(session, _metric(session, summed.id, PER_CUSTOMER, "rounded")) == {"C1": Decimal("0.3")}


def test_the_test_button_shows_rows_and_quantities_and_stores_nothing(session, tmp_path):
    f.seller(session)
    src = create_source(session, SYSTEM, name="W", url=_sqlite_source(tmp_path))
    before = session.exec(select(func.count()).select_from(AuditLog)).one()[0]
    columns, rows, results = try_template(session, Actor("v", "viewer"), source_id=src.id, sql_template=BY_REGION,
                                          start=JAN[0], end=JAN[1])
    assert columns == ["customer_external_id", "group", "quantity"] and len(rows) == 3
    assert results["C1"].groups == {"eu": Decimal("0.1"), "us": Decimal("0.2")}
    with pytest.raises(UserError, match="customer: the template uses :customer_id; choose the customer"):
        try_template(session, SYSTEM, source_id=src.id, sql_template=ONE_CUSTOMER, start=JAN[0], end=JAN[1])
    _, rows, results = try_template(session, SYSTEM, source_id=src.id, sql_template=ONE_CUSTOMER, start=JAN[0],
                                    end=JAN[1], customer="C2")
    assert results == {"C2": results["C2"]} and results["C2"].quantity == Decimal("5")
    assert session.exec(select(func.count()).select_from(AuditLog)).one()[0] == before
    assert session.exec(select(func.count()).select_from(BillableMetric)).one()[0] == 0


def test_events_behind_a_sql_metric_say_where_the_numbers_come_from(session, tmp_path):
    f.seller(session)
    f.customer(session, "C1")
    src = create_source(session, SYSTEM, name="Acme warehouse", url=_sqlite_source(tmp_path))
    metric = _metric(session, src.id, PER_CUSTOMER)
    assert events_behind(session, metric, *JAN, "C1") == []
    assert "come from its SQL template, run on the data source 'Acme warehouse'" in behind_note(session, metric)
    assert "no events are stored" in behind_note(session, metric)
    assert behind_note(session, f.metric(session, "calls", "call")) is None


def test_an_empty_event_name_is_still_refused_once_a_sql_metric_exists(session, tmp_path):
    f.seller(session)
    f.customer(session, "C1")
    src = create_source(session, SYSTEM, name="W", url=_sqlite_source(tmp_path))
    _metric(session, src.id, PER_CUSTOMER)  # its event_name is ""
    result = ingest_events(session, SYSTEM, [{"idempotency_key": "k1", "customer_external_id": "C1",
                                              "event_name": "", "timestamp": "2025-01-05T10:00:00Z"}],
                           now=datetime(2025, 1, 10))
    assert not result.accepted
    assert [(r.field, r.message) for r in result.rejected] == [("event_name", "event name is required")]


def test_an_invoice_draft_bills_a_sql_metric_like_any_other(session, tmp_path):
    """Invoicing uses SQL metrics without a change: same contract line, same tiers, same free units."""
    f.seller(session, "SQ-")
    f.customer(session, "C1")
    rows = [("C1", "2025-01-20 10:00:00", "400", "EU-West"), ("C1", "2025-01-21 10:00:00", "400", "US-East"),
            ("C1", "2025-01-03 10:00:00", "1000", "EU-West"),  # before the contract started
            ("C1", "2025-02-03 10:00:00", "5000", "EU-West")]  # next period
    src = create_source(session, SYSTEM, name="W", url=_sqlite_source(tmp_path, rows))
    _metric(session, src.id, PER_CUSTOMER, "calls")
    _metric(session, src.id, BY_REGION, "storage_gb")
    f.contract(session, "C1", [
        LineSpec("API calls", "tiered", f.TIERS, metric_code="calls", free_units="300"),
        LineSpec("Storage", "matrix", {"brackets": [{"up_to": "500"}, {"up_to": None}],
                                       "rates": {"EU-West": ["0.10", "0.05"], "US-East": ["0.20", "0.10"]},
                                       "default_rates": ["1", "1"]}, metric_code="storage_gb"),
    ], start=date(2025, 1, 15))
    run = generate_drafts(session, SYSTEM, period_start=date(2025, 1, 1), period_end=date(2025, 2, 1))
    assert len(run.created) == 1
    calls, storage = invoice_lines(session, run.created[0])
    assert calls.quantity == Decimal("800")  # the template ran for 15 January – 1 February
    assert calls.amount == Decimal("1000")  # 500 free-adjusted units × 2 (first tier)
    assert storage.quantity == Decimal("800") and storage.amount == Decimal("120")  # 400 × 0.10 + 400 × 0.20


def test_sql_metric_on_duckdb(session, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    f.seller(session)
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE usage_log (account VARCHAR, ts TIMESTAMP, amount DOUBLE, region VARCHAR)")
    con.executemany("INSERT INTO usage_log VALUES (?, ?, ?, ?)", [list(r) for r in ROWS])
    con.close()
    src = create_source(session, SYSTEM, name="Duck", url=f"duckdb:///{path}")
    assert _quantities(session, _metric(session, src.id, BY_REGION)) == {"C1": Decimal("0.3"), "C2": Decimal("5")}
    assert _quantities(session, _metric(session, src.id, ONE_CUSTOMER, "one"), ["C1"]) == {"C1": Decimal("0.3")}


def _load(url: str, ddl: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(ddl))
        for r in ROWS:
            conn.execute(text("INSERT INTO usage_log VALUES (:a, :b, :c, :d)"),
                         dict(zip("abcd", (r[0], datetime.fromisoformat(r[1]), Decimal(r[2]), r[3]))))
    engine.dispose()


def _server_source_case(session, url: str, ddl: str) -> None:
    f.seller(session)
    f.customer(session, "C1")
    _load(url, ddl)
    session.commit()
    src = create_source(session, SYSTEM, name="Server", url=url)
    assert _quantities(session, _metric(session, src.id, PER_CUSTOMER)) == {"C1": Decimal("0.3"), "C2": Decimal("5")}
    by_region = _metric(session, src.id, BY_REGION if url.startswith("postgresql")
                        else BY_REGION.replace('"group"', "`group`"), "by_region")
    assert aggregate(session, by_region, *JAN)["C1"].groups == {"eu": Decimal("0.1"), "us": Decimal("0.2")}
    assert _quantities(session, _metric(session, src.id, ONE_CUSTOMER, "one"), ["C1"]) == {"C1": Decimal("0.3")}
    # a write that slipped past the checks still cannot change the source: the transaction is read-only
    with pytest.raises(UserError, match="source answered: .*(read-only|READ ONLY)"):
        read_rows(url, "CREATE TABLE sneaky (a int)", {}, check=lambda sql: [])
    with pytest.raises(UserError, match="source answered: .*(read-only|READ ONLY)"):
        read_rows(url, "DELETE FROM usage_log", {}, check=lambda sql: [])
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM usage_log")).scalar() == len(ROWS)
    engine.dispose()


def test_sql_metric_on_postgresql(session, backend, db_url):
    if backend != "postgres":
        pytest.skip("the PostgreSQL source runs on the PostgreSQL backend")
    _server_source_case(session, db_url, "CREATE TABLE usage_log (account text, ts timestamp, amount numeric, "
                                         "region text)")


def test_sql_metric_on_mariadb(session, mariadb_url):
    _server_source_case(session, mariadb_url, "CREATE TABLE usage_log (account varchar(20), ts datetime, "
                                              "amount decimal(18,6), region varchar(20))")


@pytest.fixture
def snowflake_source(monkeypatch):
    """A "Snowflake" account served by fakesnow: the snowflake:// URL goes through the SQLAlchemy dialect and
    the Snowflake connector, whose connect() fakesnow answers (DuckDB underneath)."""
    import fakesnow
    import snowflake.connector

    monkeypatch.setenv("FAKESNOW_PW", "snow")
    with fakesnow.patch():
        con = snowflake.connector.connect(user="billing", password="snow", account="acme", database="WAREHOUSE",
                                          schema="USAGE")
        con.cursor().execute("CREATE TABLE usage_log (account varchar, ts timestamp_ntz, amount number(18,6), "
                             "region varchar)")
        con.cursor().executemany("INSERT INTO usage_log VALUES (%s, %s, %s, %s)", [list(r) for r in ROWS])
        con.close()
        yield "snowflake://billing:${FAKESNOW_PW}@acme/WAREHOUSE/USAGE"


@pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")
def test_sql_metric_on_snowflake(session, snowflake_source):
    f.seller(session)
    f.customer(session, "C1")
    src = create_source(session, SYSTEM, name="Snow", url=snowflake_source)
    # Snowflake upper-cases unquoted names: CUSTOMER_EXTERNAL_ID, QUANTITY are found all the same
    assert _quantities(session, _metric(session, src.id, PER_CUSTOMER)) == {"C1": Decimal("0.3"), "C2": Decimal("5")}
    assert aggregate(session, _metric(session, src.id, BY_REGION, "by_region"), *JAN)["C1"].groups == \
        {"eu": Decimal("0.1"), "us": Decimal("0.2")}
    assert _quantities(session, _metric(session, src.id, ONE_CUSTOMER, "one"), ["C1"]) == {"C1": Decimal("0.3")}
    with pytest.raises(UserError, match="SQL template: 'DELETE' is not allowed"):
        try_template(session, SYSTEM, source_id=src.id, start=JAN[0], end=JAN[1],
                     sql_template="DELETE FROM usage_log WHERE ts >= :period_start AND ts < :period_end")


def test_validate_template_is_the_sync_check_with_other_placeholders():
    assert validate_template(PER_CUSTOMER) == []
    assert validate_template(ONE_CUSTOMER) == []
    assert validate_template("SELECT 'a; DELETE' AS customer_external_id, 1 AS quantity "
                             "WHERE :period_start < :period_end") == []  # inside a string: not a statement


def test_percent_fees_per_transaction_cannot_use_a_sql_metric(session, tmp_path):
    """A SQL template gives totals, not transactions: a percent line with per-transaction fees is refused when the
    contract is saved (instead of silently billing no fees)."""
    from core.billing.contracts import LineSpec

    f.seller(session)
    f.customer(session, "C1")
    src = create_source(session, SYSTEM, name="W", url=_sqlite_source(tmp_path))
    _metric(session, src.id, PER_CUSTOMER)
    with pytest.raises(UserError, match="per-transaction fees \\(fixed_fee\\) need the individual transactions"):
        f.contract(session, "C1", [LineSpec("Payments", "percent", {"percent": "2.9", "fixed_fee": "0.30"},
                                            metric_code="warehouse_calls")])
    f.contract(session, "C1", [LineSpec("Payments", "percent", {"percent": "2.9"}, metric_code="warehouse_calls")])
