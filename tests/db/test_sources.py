"""Pulling usage from a customer's own database: read-only, bound parameters, incremental and idempotent.
Sources tested for real: a SQLite file, a DuckDB file, (on the PostgreSQL backend) PostgreSQL, a MariaDB server
(TEST_MARIADB_URL, started by `make test`) and Snowflake (fakesnow)."""
import sqlite3
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, text

from core.auth import SYSTEM
from core.errors import UserError
from core.metering.metrics import aggregate
from core.sources import create_source, create_sync, preview_query, run_sync, validate_query, validate_url
from tests.db import factories as f

QUERY = ("SELECT event_id AS idempotency_key, account AS customer_external_id, 'call' AS event_name, "
         "ts AS timestamp, amount AS quantity, region FROM usage_log WHERE ts >= :since AND ts < :until")
ROWS = [("e1", "C1", "2025-01-05 10:00:00", "0.1", "eu"), ("e2", "C1", "2025-01-06 10:00:00", "0.2", "us"),
        ("e3", "C2", "2025-01-07 10:00:00", "5", "eu")]


def _sqlite_source(tmp_path, rows=ROWS) -> str:
    path = tmp_path / "warehouse.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE IF NOT EXISTS usage_log (event_id TEXT, account TEXT, ts TEXT, amount TEXT, region TEXT)")
    con.executemany("INSERT INTO usage_log VALUES (?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    return f"sqlite:///{path}"


def _app(session):
    f.seller(session)
    f.customer(session, "C1")
    f.customer(session, "C2")
    return f.metric(session, "calls", "call")


def _total(session, metric):
    res = aggregate(session, metric, datetime(2025, 1, 1), datetime(2025, 2, 1))
    return {k: v.quantity for k, v in res.items()}


def test_sync_from_sqlite_is_incremental_and_idempotent(session, tmp_path):
    metric = _app(session)
    src = create_source(session, SYSTEM, name="Warehouse", url=_sqlite_source(tmp_path))
    sync = create_sync(session, SYSTEM, source_id=src.id, name="calls", query=QUERY)
    first = run_sync(session, SYSTEM, sync.id, until=datetime(2025, 2, 1))
    assert (first.read, first.accepted, first.duplicates) == (3, 3, 0)
    assert _total(session, metric) == {"C1": Decimal("0.3"), "C2": Decimal("5")}
    assert sync.watermark == datetime(2025, 1, 7, 10)
    _sqlite_source(tmp_path, [("e4", "C2", "2025-01-08 09:00:00", "1", "eu")])
    second = run_sync(session, SYSTEM, sync.id, until=datetime(2025, 2, 1))
    assert (second.read, second.accepted, second.duplicates) == (2, 1, 1)  # from the watermark; e3 again: once
    assert _total(session, metric)["C2"] == Decimal("6")


def test_rejected_rows_hold_the_watermark(session, tmp_path):
    _app(session)
    src = create_source(session, SYSTEM, name="W", url=_sqlite_source(tmp_path, ROWS + [
        ("e9", "NOBODY", "2025-01-09 10:00:00", "1", "eu")]))
    sync = create_sync(session, SYSTEM, source_id=src.id, name="calls", query=QUERY)
    result = run_sync(session, SYSTEM, sync.id, until=datetime(2025, 2, 1))
    assert result.accepted == 3 and len(result.rejected) == 1 and sync.watermark is None
    assert "read again" in result.summary()


def test_source_is_read_only_and_sql_is_checked(session, tmp_path):
    _app(session)
    assert any("only reads" in p for p in validate_query("DELETE FROM usage_log WHERE ts >= :since AND ts < :until"))
    assert any("one statement" in p for p in validate_query("SELECT 1 WHERE :since < :until; DROP TABLE x"))
    assert any(":since" in p for p in validate_query("SELECT * FROM usage_log"))
    assert any("unknown placeholders :customer" in p for p in
               validate_query("SELECT * FROM t WHERE a = :customer AND b >= :since AND b < :until"))
    assert validate_url("postgresql+psycopg://bill:secret@db/x")  # a literal password is refused
    assert not validate_url("postgresql+psycopg://bill:${WAREHOUSE_PW}@db/x")
    url = _sqlite_source(tmp_path)
    src = create_source(session, SYSTEM, name="W", url=url)
    sneaky = "WITH x AS (SELECT 1) SELECT * FROM usage_log WHERE ts >= :since AND ts < :until"
    columns, rows = preview_query(session, SYSTEM, source_id=src.id, query=sneaky)
    assert "event_id" in columns and len(rows) == 3
    # even a write that slips past the checks cannot change the source: it is opened read-only
    from core.sources import read_rows
    with pytest.raises(UserError, match="source answered"):
        read_rows(url, "SELECT * FROM usage_log WHERE ts >= :since AND ts < :until AND "
                  "(SELECT load_extension('x')) IS NULL", {"since": datetime(2000, 1, 1), "until": datetime(2030, 1, 1)})
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    assert con.execute("SELECT count(*) FROM usage_log").fetchone()[0] == 3


def test_sync_from_duckdb(session, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    metric = _app(session)
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE usage_log (event_id VARCHAR, account VARCHAR, ts TIMESTAMP, amount DECIMAL(18,6), "
                "region VARCHAR)")
    con.executemany("INSERT INTO usage_log VALUES (?, ?, ?, ?, ?)", [list(r) for r in ROWS])
    con.close()
    src = create_source(session, SYSTEM, name="Duck", url=f"duckdb:///{path}")
    sync = create_sync(session, SYSTEM, source_id=src.id, name="calls", query=QUERY)
    assert run_sync(session, SYSTEM, sync.id, until=datetime(2025, 2, 1)).accepted == 3
    assert _total(session, metric) == {"C1": Decimal("0.3"), "C2": Decimal("5")}


def test_sync_from_postgresql(session, backend, db_url):
    if backend != "postgres":
        pytest.skip("the PostgreSQL source runs on the PostgreSQL backend")
    metric = _app(session)
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE usage_log (event_id text, account text, ts timestamp, amount numeric, "
                          "region text)"))
        for r in ROWS:
            conn.execute(text("INSERT INTO usage_log VALUES (:a, :b, :c, :d, :e)"),
                         dict(zip("abcde", (r[0], r[1], datetime.fromisoformat(r[2]), Decimal(r[3]), r[4]))))
    engine.dispose()
    session.commit()
    src = create_source(session, SYSTEM, name="PG", url=db_url)
    sync = create_sync(session, SYSTEM, source_id=src.id, name="calls", query=QUERY)
    assert run_sync(session, SYSTEM, sync.id, until=datetime(2025, 2, 1)).accepted == 3
    assert _total(session, metric) == {"C1": Decimal("0.3"), "C2": Decimal("5")}


def _server_sync_case(session, url: str, ddl: str) -> None:
    metric = _app(session)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(ddl))
        for r in ROWS:
            conn.execute(text("INSERT INTO usage_log VALUES (:a, :b, :c, :d, :e)"),
                         dict(zip("abcde", (r[0], r[1], datetime.fromisoformat(r[2]), Decimal(r[3]), r[4]))))
    session.commit()
    src = create_source(session, SYSTEM, name="Server", url=url)
    sync = create_sync(session, SYSTEM, source_id=src.id, name="calls", query=QUERY)
    assert run_sync(session, SYSTEM, sync.id, until=datetime(2025, 2, 1)).accepted == 3
    assert _total(session, metric) == {"C1": Decimal("0.3"), "C2": Decimal("5")}
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO usage_log VALUES ('e4', 'C2', '2025-01-08 09:00:00', 1, 'eu')"))
    again = run_sync(session, SYSTEM, sync.id, until=datetime(2025, 2, 1))
    assert (again.read, again.accepted, again.duplicates) == (2, 1, 1)  # from the watermark, e3 once
    assert _total(session, metric)["C2"] == Decimal("6")
    from core.sources import read_rows
    with pytest.raises(UserError, match="source answered: .*READ ONLY"):  # the transaction itself is read-only
        read_rows(url, "DELETE FROM usage_log", {}, check=lambda sql: [])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM usage_log")).scalar() == 4
    engine.dispose()


def test_sync_from_mariadb(session, mariadb_url):
    _server_sync_case(session, mariadb_url, "CREATE TABLE usage_log (event_id varchar(20), account varchar(20), "
                                            "ts datetime, amount decimal(18,6), region varchar(20))")


@pytest.mark.filterwarnings("ignore:Arrow output:UserWarning")
def test_sync_from_snowflake(session, monkeypatch):
    """A snowflake:// URL through the SQLAlchemy dialect and the Snowflake connector, answered by fakesnow."""
    import fakesnow
    import snowflake.connector

    metric = _app(session)
    monkeypatch.setenv("FAKESNOW_PW", "snow")
    with fakesnow.patch():
        con = snowflake.connector.connect(user="billing", password="snow", account="acme", database="WAREHOUSE",
                                          schema="USAGE")
        con.cursor().execute("CREATE TABLE usage_log (event_id varchar, account varchar, ts timestamp_ntz, "
                             "amount number(18,6), region varchar)")
        con.cursor().executemany("INSERT INTO usage_log VALUES (%s, %s, %s, %s, %s)", [list(r) for r in ROWS])
        src = create_source(session, SYSTEM, name="Snow", url="snowflake://billing:${FAKESNOW_PW}@acme/WAREHOUSE/USAGE")
        sync = create_sync(session, SYSTEM, source_id=src.id, name="calls", query=QUERY)
        columns, rows = preview_query(session, SYSTEM, source_id=src.id, query=QUERY)
        assert [c.lower() for c in columns][:3] == ["idempotency_key", "customer_external_id", "event_name"]
        first = run_sync(session, SYSTEM, sync.id, until=datetime(2025, 2, 1))
        assert (first.read, first.accepted, first.duplicates) == (3, 3, 0)
        assert _total(session, metric) == {"C1": Decimal("0.3"), "C2": Decimal("5")}
        assert sync.watermark == datetime(2025, 1, 7, 10)
        con.cursor().execute("INSERT INTO usage_log VALUES ('e4', 'C2', '2025-01-08 09:00:00', 1, 'eu')")
        again = run_sync(session, SYSTEM, sync.id, until=datetime(2025, 2, 1))
        assert (again.read, again.accepted, again.duplicates) == (2, 1, 1)
        con.close()
    assert _total(session, metric)["C2"] == Decimal("6")


@pytest.mark.parametrize(("query", "expected"), [
    ("SELECT * FROM usage_log WHERE ts >= %s AND ts < :until AND :since IS NOT NULL", "'%s' is not a placeholder"),
    ("SELECT * FROM usage_log WHERE ts >= ? AND ts < :until AND :since IS NOT NULL", "'?' is not a placeholder"),
    ("SELECT * FROM usage_log WHERE ts >= '{since}' AND ts < :until AND :since IS NOT NULL", None),  # in a string
    ("SELECT * FROM usage_log WHERE ts >= {since} AND ts < :until", "'{since}' is not a placeholder"),
    ("SELECT * FROM usage_log WHERE ts >= %(since)s AND ts < :until", "'%(since)s' is not a placeholder"),
    ("SELECT 'x\\', (DELETE FROM usage_log), '' WHERE :since < :until", "'DELETE' is not allowed"),
    ("SELECT 'x\\'', (DELETE FROM usage_log), 'y' WHERE :since < :until", "'DELETE' is not allowed"),
])
def test_other_parameter_styles_and_hidden_writes_are_refused(query, expected):
    problems = validate_query(query)
    if expected is None:
        assert problems == []
    else:
        assert any(p.startswith("query: ") and expected in p for p in problems), problems
