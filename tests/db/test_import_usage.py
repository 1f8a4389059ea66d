"""Usage upload against a real database (SQLite and PostgreSQL).

Every bad input: the report names the row and the column, and the database is exactly as before.
Re-uploading a file stores nothing twice."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import text

from core.auth import Actor
from core.errors import PermissionDenied, UserError
from core.importers import dbutil
from core.importers import usage as usage_module
from core.importers.dbutil import now_utc
from core.importers.usage import import_usage, preview_usage
from core.types import QUANTITY_SCALE, from_scaled
from tests.db import factories

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "imports"
OPS = Actor("omar", "ops")
HEADER = "idempotency_key,customer_external_id,event_name,timestamp,quantity"


def snapshot(session) -> dict:
    conn = session.connection()
    count, total = conn.execute(text("SELECT count(*), coalesce(sum(quantity), 0) FROM usage_event")).one()
    return {
        "events": count,
        "sum": from_scaled(total, QUANTITY_SCALE),
        "keys": conn.execute(text("SELECT idempotency_key FROM usage_event ORDER BY idempotency_key")).scalars().all(),
        "audit": conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one(),
    }


def stored_events(session) -> dict[str, dict]:
    rows = session.connection().execute(text(
        "SELECT idempotency_key, customer_external_id, event_name, timestamp, quantity, properties, source "
        "FROM usage_event")).mappings()
    out = {}
    for r in rows:
        r = dict(r)
        r["quantity"] = None if r["quantity"] is None else from_scaled(r["quantity"], QUANTITY_SCALE)
        if isinstance(r["properties"], str):
            r["properties"] = json.loads(r["properties"])
        if isinstance(r["timestamp"], str):
            r["timestamp"] = datetime.fromisoformat(r["timestamp"])
        out[r["idempotency_key"]] = r
    return out


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


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
    factories.customer(session, "ACME-001")
    factories.customer(session, "GLOBEX-002")
    factories.metric(session, "api_calls", "api_call", "sum")
    factories.metric(session, "storage", "storage_gb", "max")
    session.commit()
    return session


def import_and_commit(session, data: bytes, filename: str = "usage.csv", **kw):
    report = import_usage(session, OPS, data, filename, **kw)
    session.commit()  # what the page's session_scope does, whatever the outcome
    return report


# ---- the happy paths --------------------------------------------------------------------------------------


def test_import_stores_exact_events_and_audits(db):
    report = import_and_commit(db, (FIXTURES / "usage_small.csv").read_bytes(), "usage_small.csv")
    assert report.ok, report.errors
    assert report.inserted == 5 and report.committed
    assert report.summary() == "5 rows: 5 accepted, 0 rejected (5 events stored)"
    assert report.warnings == ["stored as event properties: 'region'"]
    ev = stored_events(db)
    assert ev["evt-001"]["timestamp"] == datetime(2025, 1, 10, 9, 0)
    assert ev["evt-002"]["timestamp"] == datetime(2025, 1, 10, 8, 30)  # +02:00 -> UTC
    assert ev["evt-003"]["timestamp"] == datetime(2025, 1, 11)  # a date alone is midnight UTC
    assert ev["evt-004"]["timestamp"] == datetime(2025, 1, 12, 8, 15)
    assert ev["evt-002"]["quantity"] == Decimal("2.5")
    assert ev["evt-003"]["quantity"] == Decimal("0.1")
    assert ev["evt-004"]["quantity"] == Decimal("1500.25")
    assert ev["evt-005"]["quantity"] is None
    assert ev["evt-001"]["properties"] == {"region": "eu"}
    assert ev["evt-002"]["properties"] == {"plan": "pro", "seats": "3", "region": "eu"}
    assert ev["evt-003"]["properties"] == {}
    assert {e["source"] for e in ev.values()} == {"upload"}
    assert snapshot(db)["sum"] == Decimal("1503.85")
    audit = db.connection().execute(text("SELECT actor, details FROM audit_log WHERE action = 'usage.import'")).all()
    assert len(audit) == 1 and audit[0].actor == "omar"
    details = audit[0].details if isinstance(audit[0].details, dict) else json.loads(audit[0].details)
    assert (details["inserted"], details["duplicates"], details["filename"]) == (5, 0, "usage_small.csv")


def test_the_generic_writer_stores_the_same(db, monkeypatch):
    """Databases without a fast path go through SQLAlchemy Core executemany, with the same result."""
    monkeypatch.setattr(usage_module, "_CHUNK_WRITERS", {})
    assert import_and_commit(db, (FIXTURES / "usage_small.csv").read_bytes()).inserted == 5
    ev = stored_events(db)
    assert ev["evt-002"]["timestamp"] == datetime(2025, 1, 10, 8, 30)
    assert ev["evt-004"]["quantity"] == Decimal("1500.25") and ev["evt-005"]["quantity"] is None
    assert ev["evt-002"]["properties"] == {"plan": "pro", "seats": "3", "region": "eu"}


def test_reuploading_the_same_file_counts_nothing_twice(db):
    data = (FIXTURES / "usage_small.csv").read_bytes()
    import_and_commit(db, data)
    after_first = snapshot(db)
    report = import_and_commit(db, data)
    assert report.ok and report.inserted == 0
    assert [d.row for d in report.duplicates] == [2, 3, 4, 5, 6]
    assert report.summary() == "5 rows: 0 accepted, 5 duplicates skipped, 0 rejected (0 events stored)"
    again = snapshot(db)
    assert (again["events"], again["sum"], again["keys"]) == (after_first["events"], after_first["sum"],
                                                              after_first["keys"])


def test_overlapping_upload_stores_only_the_new_events(db, monkeypatch):
    monkeypatch.setattr(dbutil, "in_chunk_size", lambda _s: 2)  # the lookups run in chunks
    monkeypatch.setattr(usage_module, "WRITE_CHUNK", 2)  # and the writes too
    import_and_commit(db, csv_bytes(*(f"k{i},ACME-001,api_call,2025-01-01,1" for i in range(5))))
    report = import_and_commit(db, csv_bytes(*(f"k{i},ACME-001,api_call,2025-01-01,1" for i in range(3, 10))))
    assert report.inserted == 5 and [d.key for d in report.duplicates] == ["k3", "k4"]
    assert snapshot(db)["sum"] == Decimal(10)


def test_duplicates_are_not_checked_again(db):
    """A stored event that comes back with a since-removed customer is still just a duplicate."""
    import_and_commit(db, csv_bytes("k1,ACME-001,api_call,2025-01-01,1"))
    report = preview_usage(db, csv_bytes("k1,NO-SUCH,api_call,not a date,-1"), "u.csv")
    assert report.ok and len(report.duplicates) == 1


def test_column_aliases_and_json_properties(db):
    data = csv_bytes('e1,ACME-001,api_call,2025-01-01T00:00:00Z,3,"{""tier"": 2, ""beta"": true, ""x"": null}"',
                     header="event_id,customer,event,time,qty,properties")
    report = import_and_commit(db, data)
    assert report.ok, report.errors
    assert report.columns == {"event_id": "idempotency_key", "customer": "customer_external_id",
                              "event": "event_name", "time": "timestamp", "qty": "quantity",
                              "properties": "properties"}
    assert stored_events(db)["e1"]["properties"] == {"tier": "2", "beta": "true"}


def test_xlsx_usage_with_real_dates_and_numbers(db):
    data = xlsx([
        ["idempotency_key", "customer_external_id", "event_name", "timestamp", "quantity", "region"],
        ["x1", "ACME-001", "api_call", datetime(2025, 2, 3, 4, 5, 6), 0.1, "eu"],
        ["x2", "ACME-001", "api_call", datetime(2025, 2, 4), 0.2, None],
        [3, "GLOBEX-002", "storage_gb", "2025-02-05T10:00:00Z", 1234567.123456, 7],
    ])
    report = import_and_commit(db, data, "usage.xlsx")
    assert report.ok, report.errors
    ev = stored_events(db)
    assert ev["x1"]["timestamp"] == datetime(2025, 2, 3, 4, 5, 6) and ev["x2"]["timestamp"] == datetime(2025, 2, 4)
    assert ev["x1"]["quantity"] + ev["x2"]["quantity"] == Decimal("0.3")  # exact, not 0.30000000000000004
    assert ev["3"]["quantity"] == Decimal("1234567.123456")
    assert ev["3"]["properties"] == {"region": "7"} and ev["x2"]["properties"] == {}


def test_many_small_quantities_sum_exactly(db):
    data = csv_bytes(*(f"s{i},ACME-001,api_call,2025-01-01T00:00:{i % 60:02d}Z,0.1" for i in range(3000)))
    report = import_and_commit(db, data)
    assert report.inserted == 3000
    assert snapshot(db)["sum"] == Decimal(300)


def test_progress_is_reported(db):
    seen = []
    import_and_commit(db, (FIXTURES / "usage_small.csv").read_bytes(), progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert seen[-1][1] == "Saved 5 events"


def test_source_is_recorded(db):
    import_and_commit(db, csv_bytes("k1,ACME-001,api_call,2025-01-01,1"), source="backfill-jan")
    assert stored_events(db)["k1"]["source"] == "backfill-jan"


def test_imported_usage_is_what_the_metrics_bill(db):
    from core.metering.metrics import aggregate, get_metric
    from core.models import BillableMetric
    from sqlmodel import select

    import_and_commit(db, (FIXTURES / "usage_small.csv").read_bytes())
    metric = get_metric(db, db.exec(select(BillableMetric.id).where(BillableMetric.code == "api_calls")).one())
    jan10 = aggregate(db, metric, datetime(2025, 1, 10), datetime(2025, 1, 11))
    assert jan10["ACME-001"].quantity == Decimal("3.5") and jan10["ACME-001"].events == 2
    # evt-002 is 10:30+02:00 = 08:30 UTC: inside [08:30, 09:00), and evt-001 (09:00) is not
    window = aggregate(db, metric, datetime(2025, 1, 10, 8, 30), datetime(2025, 1, 10, 9, 0))
    assert window["ACME-001"].quantity == Decimal("2.5")


def test_a_key_stored_meanwhile_aborts_the_whole_import(db, monkeypatch):
    """Another upload stores a key between our check and our write: the database refuses, nothing is kept."""
    import_and_commit(db, csv_bytes("k1,ACME-001,api_call,2025-01-01,1"))
    before = snapshot(db)
    real = usage_module.existing_values
    monkeypatch.setattr(usage_module, "existing_values",  # the duplicate check sees no stored keys
                        lambda s, col, values: set() if col.name == "idempotency_key" else real(s, col, values))
    with pytest.raises(UserError, match="stored by another upload at the same moment; nothing was imported"):
        import_usage(db, OPS, csv_bytes("k0,ACME-001,api_call,2025-01-01,5", "k1,ACME-001,api_call,2025-01-01,1"),
                     "u.csv")
    db.rollback()  # what the page's session_scope does with an exception
    assert snapshot(db) == before


# ---- bad input: named row and column, database untouched -------------------------------------------------

GOOD = "g1,ACME-001,api_call,2025-01-01T00:00:00Z,1"


@pytest.mark.parametrize("row,column,value,message", [
    ("b1,ACME-001,api_call,31/01/2025,1", "timestamp", "31/01/2025", "is not a date in ISO 8601 form"),
    ("b1,ACME-001,api_call,2025-02-30,1", "timestamp", "2025-02-30", "is not a date in ISO 8601 form"),
    ("b1,ACME-001,api_call,,1", "timestamp", "", "timestamp is required"),
    ("b1,ACME-001,api_call,2025-01-01,abc", "quantity", "abc", "'abc' is not a number"),
    ("b1,ACME-001,api_call,2025-01-01,-3", "quantity", "-3", "quantity is negative"),
    ("b1,ACME-001,api_call,2025-01-01,0.0000001", "quantity", "0.0000001", "more than 6 decimals"),
    ('b1,ACME-001,api_call,2025-01-01,"1,5"', "quantity", "1,5", "use a point for decimals"),
    ("b1,NOBODY-9,api_call,2025-01-01,1", "customer_external_id", "NOBODY-9",
     "there is no customer with the external id 'NOBODY-9'"),
    ("b1,,api_call,2025-01-01,1", "customer_external_id", "", "customer external id is required"),
    ("b1,ACME-001,page_view,2025-01-01,1", "event_name", "page_view",
     "no billable metric uses the event 'page_view'; define one on the Billable metrics page first"),
    (",ACME-001,api_call,2025-01-01,1", "idempotency_key", "", "idempotency key is required"),
    ("k" * 201 + ",ACME-001,api_call,2025-01-01,1", "idempotency_key", "k" * 201, "at most 200 fit"),
])
def test_bad_cell(db, row, column, value, message):
    before = snapshot(db)
    report = import_and_commit(db, csv_bytes(GOOD, row))
    assert not report.ok and not report.committed and report.inserted == 0
    assert [(e.row, e.column, e.value) for e in report.errors] == [(3, column, value)]
    assert message in report.errors[0].message
    assert report.summary() == "2 rows: 1 accepted, 1 rejected — nothing is imported until the rejected row is fixed"
    assert snapshot(db) == before


def test_bad_properties_json(db):
    before = snapshot(db)
    report = import_and_commit(db, csv_bytes(GOOD + ",", 'b1,ACME-001,api_call,2025-01-01,1,"{not json"',
                                             header=HEADER + ",properties"))
    assert [(e.row, e.column) for e in report.errors] == [(3, "properties")]
    assert "properties is not valid JSON" in report.errors[0].message
    assert snapshot(db) == before


def test_duplicate_key_inside_the_file_names_the_first_row(db):
    before = snapshot(db)
    report = import_and_commit(db, csv_bytes(GOOD, "k2,ACME-001,api_call,2025-01-01,1", GOOD))
    assert [(e.row, e.column, e.value) for e in report.errors] == [(4, "idempotency_key", "g1")]
    assert "already used on row 2" in report.errors[0].message
    assert snapshot(db) == before


def test_every_problem_is_listed_at_once(db):
    report = preview_usage(db, csv_bytes("b1,NOBODY,nothing,yesterday,-1"), "u.csv")
    assert sorted(e.column for e in report.errors) == ["customer_external_id", "event_name", "quantity", "timestamp"]


def test_error_file_lists_rows_columns_and_problems(db):
    report = import_and_commit(db, csv_bytes(GOOD, "b1,ACME-001,api_call,2025-01-01,-1",
                                             "b2,ACME-001,api_call,soon,1"))
    rows = list(csv.reader(io.StringIO(report.errors_csv().decode("utf-8-sig"))))
    assert rows == [["row", "column", "value", "problem"],
                    ["3", "quantity", "'-1", "quantity is negative"],
                    ["4", "timestamp", "soon", "'soon' is not a date in ISO 8601 form (for example 2025-01-31, "
                                               "2025-01-31 14:30 or 2025-01-31T14:30:00Z)"]]


@pytest.mark.parametrize("data,filename,where,message", [
    (csv_bytes("g1,ACME-001,api_call,1", header="idempotency_key,customer_external_id,event_name,quantity"), "u.csv",
     (1, "timestamp"),
     "the file has no 'timestamp' column (also accepted: time, date, event_time)"),
    (b"when,who,what\n2025-01-01,ACME-001,api_call\n", "u.csv", (1, "idempotency_key"),
     "the file has no 'idempotency_key' column"),
    (b"", "u.csv", (0, ""), "the file is empty"),
    (HEADER.encode() + b"\n", "u.csv", (0, ""), "the file has a header but no rows"),
    (xlsx([HEADER.split(","), GOOD.split(",")]), "usage.csv", (0, ""),
     "this file is not a CSV text file (it looks like an Excel workbook)"),
    (b"%PDF-1.4 binary", "usage.csv", (0, ""), "this file is not a CSV text file (it looks like a PDF document)"),
    (xlsx([HEADER.split(","), GOOD.split(","), ["g2", "ACME-001", "api_call", "2025-01-01", "=E2*2"]]),
     "usage.xlsx", (3, "quantity"), "contains a formula (=E2*2); paste values instead"),
])
def test_unusable_file(db, data, filename, where, message):
    before = snapshot(db)
    report = import_and_commit(db, data, filename)
    assert not report.ok and report.inserted == 0
    assert (report.errors[0].row, report.errors[0].column) == where
    assert message in report.errors[0].message
    assert "nothing imported — " in report.summary()
    assert snapshot(db) == before


def test_permission_is_checked_before_anything(db):
    before = snapshot(db)
    with pytest.raises(PermissionDenied):
        import_usage(db, Actor("sam", "sales"), csv_bytes(GOOD), "u.csv")
    db.commit()
    assert snapshot(db) == before


def test_preview_writes_nothing(db):
    before = snapshot(db)
    report = preview_usage(db, csv_bytes(GOOD), "u.csv")
    db.commit()
    assert report.ok and not report.committed and len(report.rows) == 1
    assert snapshot(db) == before


def test_preview_keeps_a_sample_of_the_accepted_rows(db, monkeypatch):
    """report.rows holds the first accepted rows, for display; the count to import is accepted_rows."""
    monkeypatch.setattr(usage_module, "ROWS_KEPT", 3)
    monkeypatch.setattr(usage_module, "WRITE_CHUNK", 2)
    report = preview_usage(db, csv_bytes(*(f"k{i},ACME-001,api_call,2025-01-0{i % 9 + 1}T10:00:00Z,{i}.5"
                                           for i in range(7))), "u.csv")
    assert report.ok and report.accepted_rows == 7
    assert [(r.row, r.idempotency_key, r.timestamp, r.quantity) for r in report.rows] == [
        (2, "k0", datetime(2025, 1, 1, 10), Decimal("0.5")), (3, "k1", datetime(2025, 1, 2, 10), Decimal("1.5")),
        (4, "k2", datetime(2025, 1, 3, 10), Decimal("2.5"))]


# ---- files read in chunks: what a user sees does not depend on where a chunk ends ---------------------------


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(usage_module, "WRITE_CHUNK", 2)
    monkeypatch.setattr(dbutil, "in_chunk_size", lambda _s: 2)


def test_a_key_repeated_in_a_later_chunk_names_the_first_row(db, small_chunks):
    before = snapshot(db)
    report = import_and_commit(db, csv_bytes(GOOD, "k2,ACME-001,api_call,2025-01-01,1",
                                             "k3,ACME-001,api_call,2025-01-01,1", "g1,ACME-001,api_call,2025-01-02,1"))
    assert [(e.row, e.column, e.value) for e in report.errors] == [(5, "idempotency_key", "g1")]
    assert "already used on row 2" in report.errors[0].message
    assert not report.committed and report.inserted == 0
    assert snapshot(db) == before


def test_problems_in_late_chunks_are_all_reported_and_nothing_is_written(db, small_chunks):
    before = snapshot(db)
    rows = [f"ok{i},ACME-001,api_call,2025-01-01T00:00:{i:02d}Z,1" for i in range(7)]
    rows[5] = "bad1,ACME-001,api_call,2025-01-01,-1"  # chunk 3 (rows 2-3, 4-5, 6-7, 8-9)
    rows.append("bad2,NOBODY,api_call,2025-01-01,1")  # the last chunk
    report = import_and_commit(db, csv_bytes(*rows))
    assert [(e.row, e.column) for e in report.errors] == [(7, "quantity"), (9, "customer_external_id")]
    assert report.summary() == "8 rows: 6 accepted, 2 rejected — nothing is imported until the 2 rejected rows are fixed"
    assert not report.committed and report.inserted == 0
    assert snapshot(db) == before
    # fixed, the same file imports whole
    rows[5], rows[7] = "bad1,ACME-001,api_call,2025-01-01,1", "bad2,GLOBEX-002,api_call,2025-01-01,1"
    assert import_and_commit(db, csv_bytes(*rows)).inserted == 8
    assert snapshot(db)["events"] == 8


def test_a_problem_with_the_whole_file_found_at_its_end_writes_nothing(db, small_chunks):
    """A value beyond the last column in the last row: only known once every chunk has been read."""
    before = snapshot(db)
    rows = [f"k{i},ACME-001,api_call,2025-01-01,1" for i in range(6)] + ["k9,ACME-001,api_call,2025-01-01,1,oops"]
    report = import_and_commit(db, csv_bytes(*rows))
    assert not report.ok and report.unreadable and report.inserted == 0 and not report.rows
    assert [(e.row, e.column) for e in report.errors] == [(8, "column F")]
    assert "nothing imported — row 8, column F: row 8 has a value in column F" in report.summary()
    assert snapshot(db) == before


def test_stored_keys_are_duplicates_in_every_chunk(db, small_chunks):
    import_and_commit(db, csv_bytes("k1,ACME-001,api_call,2025-01-01,1", "k4,ACME-001,api_call,2025-01-01,1"))
    report = import_and_commit(db, csv_bytes(*(f"k{i},ACME-001,api_call,2025-01-01,1" for i in range(6)),
                                             "k4,ACME-001,api_call,2025-01-01,1"))
    assert report.ok and report.inserted == 4
    assert [(d.row, d.key) for d in report.duplicates] == [(3, "k1"), (6, "k4"), (8, "k4")]
    assert snapshot(db)["events"] == 6


def test_events_keep_the_order_of_the_file(db, small_chunks):
    """Ids follow the file (the latest aggregation breaks timestamp ties by id)."""
    import_and_commit(db, csv_bytes(*(f"z{9 - i},ACME-001,api_call,2025-01-01T00:00:00Z,{i}" for i in range(5))))
    keys = db.connection().execute(text("SELECT idempotency_key FROM usage_event ORDER BY id")).scalars().all()
    assert keys == ["z9", "z8", "z7", "z6", "z5"]


def _indexes(session) -> set[str]:
    if session.get_bind().dialect.name == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_event'"
    else:
        sql = "SELECT indexname FROM pg_indexes WHERE tablename = 'usage_event'"
    return set(session.connection().execute(text(sql)).scalars())


_USAGE_INDEXES = {"ix_usage_event_name_customer_ts", "uq_usage_event_idempotency_key"}


def test_a_large_upload_rebuilds_the_index_it_dropped(db, monkeypatch):
    """SQLite drops the indexes for a large upload and builds them again; after a refused file too. Into an
    empty table the unique key's index goes too (nothing is looked up); into a table with events it stays."""
    monkeypatch.setattr(usage_module, "REINDEX_MIN_ROWS", 3)
    monkeypatch.setattr(usage_module, "WRITE_CHUNK", 2)
    dropped = []
    real = usage_module._drop_indexes
    monkeypatch.setattr(usage_module, "_drop_indexes", lambda *a, **k: dropped.append(r := real(*a, **k)) or r)
    rows = [f"k{i},ACME-001,api_call,2025-01-01,1" for i in range(5)]
    assert not import_and_commit(db, csv_bytes(*rows, "bad,ACME-001,api_call,2025-01-01,x")).ok
    assert _USAGE_INDEXES <= _indexes(db)
    assert import_and_commit(db, csv_bytes(*rows)).inserted == 5
    assert _USAGE_INDEXES <= _indexes(db)
    more = [f"m{i},ACME-001,api_call,2025-01-01,1" for i in range(6)]
    assert import_and_commit(db, csv_bytes(*more, *rows)).inserted == 6
    assert _USAGE_INDEXES <= _indexes(db)
    assert snapshot(db)["events"] == 11
    if db.get_bind().dialect.name == "sqlite":
        assert ["UNIQUE" in c for c in dropped[0]] == [True, False]  # empty table: both, the unique one first
        assert ["UNIQUE" in c for c in dropped[1]] == [True, False]
        assert ["UNIQUE" in c for c in dropped[2]] == [False]  # 5 events stored: the key's index stays
    # the unique rule holds after the rebuilds
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        db.connection().execute(text(
            "INSERT INTO usage_event (idempotency_key, customer_external_id, event_name, timestamp, quantity, "
            "properties, source, created_at) SELECT idempotency_key, customer_external_id, event_name, timestamp, "
            "quantity, properties, source, created_at FROM usage_event WHERE idempotency_key = 'k1'"))
    db.rollback()


def test_a_key_stored_meanwhile_aborts_a_large_upload_into_an_empty_table(db, monkeypatch):
    """The table looked empty when the upload began (no lookups; on SQLite the key's index is dropped and built
    again at the end), but another upload stored one of its keys before our first write: nothing is kept."""
    monkeypatch.setattr(usage_module, "REINDEX_MIN_ROWS", 3)
    monkeypatch.setattr(usage_module, "WRITE_CHUNK", 2)
    import_and_commit(db, csv_bytes("k3,ACME-001,api_call,2025-01-01,1"))
    before = snapshot(db)
    monkeypatch.setattr(usage_module, "_any_stored", lambda _s: False)
    rows = [f"k{i},ACME-001,api_call,2025-01-01,1" for i in range(6)]
    with pytest.raises(UserError, match="stored by another upload at the same moment; nothing was imported"):
        import_usage(db, OPS, csv_bytes(*rows), "u.csv")
    db.rollback()
    assert snapshot(db) == before
    assert _USAGE_INDEXES <= _indexes(db)


def test_many_rows_per_statement_keep_the_order_of_the_file(db, monkeypatch):
    """A large upload into an empty table (no index left to update) writes several rows per INSERT on SQLite,
    the rest of a chunk one by one: ids still follow the file."""
    monkeypatch.setattr(usage_module, "REINDEX_MIN_ROWS", 3)
    monkeypatch.setattr(usage_module, "ROWS_PER_INSERT", 4)
    monkeypatch.setattr(usage_module, "WRITE_CHUNK", 11)
    statements = []
    real = usage_module._multi_row_insert
    monkeypatch.setattr(usage_module, "_multi_row_insert", lambda n: statements.append(n) or real(n))
    keys = [f"z{99 - i:02d}" for i in range(30)]
    rows = [f"{k},ACME-001,api_call,2025-01-01T00:00:00Z,{i}" for i, k in enumerate(keys)]
    assert import_and_commit(db, csv_bytes(*rows)).inserted == 30
    got = db.connection().execute(text("SELECT idempotency_key, quantity FROM usage_event ORDER BY id")).all()
    assert [k for k, _q in got] == keys
    assert [from_scaled(q, QUANTITY_SCALE) for _k, q in got] == list(range(30))
    assert statements == ([4, 4, 4] if db.get_bind().dialect.name == "sqlite" else [])  # chunks of 11, 11, 8


# ---- the upload's time window -----------------------------------------------------------------------------


def test_a_row_in_the_future_is_refused_with_row_and_column(db):
    before = snapshot(db)
    soon = (now_utc() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    report = import_and_commit(db, csv_bytes(GOOD, f"f1,ACME-001,api_call,{soon},1"))
    assert [(e.row, e.column, e.value) for e in report.errors] == [(3, "timestamp", soon)]
    assert f"'{soon}' is too far in the future: events are accepted from " in report.errors[0].message
    assert not report.committed and snapshot(db) == before


def test_old_usage_within_the_window_is_accepted_and_older_is_refused(db, monkeypatch):
    monkeypatch.delenv("UPLOAD_MAX_AGE_DAYS", raising=False)  # the default: three years
    two_years = (now_utc() - timedelta(days=730)).strftime("%Y-%m-%d %H:%M")
    four_years = (now_utc() - timedelta(days=4 * 365)).strftime("%Y-%m-%d")
    report = preview_usage(db, csv_bytes(f"o1,ACME-001,api_call,{two_years},1", f"o2,ACME-001,api_call,{four_years},1"),
                           "u.csv")
    assert [(e.row, e.column, e.value) for e in report.errors] == [(3, "timestamp", four_years)]
    assert "is too far in the past" in report.errors[0].message
    assert import_and_commit(db, csv_bytes(f"o1,ACME-001,api_call,{two_years},1")).inserted == 1


def test_the_window_follows_the_settings(db, monkeypatch):
    monkeypatch.setenv("UPLOAD_MAX_FUTURE", "30d")
    monkeypatch.setenv("UPLOAD_MAX_AGE_DAYS", "10")
    soon = (now_utc() + timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    report = preview_usage(db, csv_bytes(f"w1,ACME-001,api_call,{soon},1", GOOD), "u.csv")
    assert [(e.row, e.column) for e in report.errors] == [(3, "timestamp")]  # 2025 is now too old
    assert "too far in the past" in report.errors[0].message
    monkeypatch.setenv("UPLOAD_MAX_FUTURE", "12h")
    report = preview_usage(db, csv_bytes(f"w1,ACME-001,api_call,{soon},1"), "u.csv")
    assert "too far in the future" in report.errors[0].message
    monkeypatch.setenv("UPLOAD_MAX_AGE_DAYS", "not a number")  # ignored: the default (three years)
    monkeypatch.delenv("UPLOAD_MAX_FUTURE")
    assert preview_usage(db, csv_bytes(GOOD), "u.csv").ok


# ---- plain CSV files take pyarrow's column-wise path: same rows, same errors as the row-by-row path ----------

_EDGE_ROWS = [
    "f01,ACME-001,api_call,2025-01-01T10:00:00.123456Z,1.5,eu,h1",
    "f02,ACME-001,api_call,2025-01-01T10:00:00Z,7,eu,h2",
    "f03,ACME-001,api_call,2025-01-01T10:00:00Z,1e3,eu,h3",
    "f04,ACME-001,api_call,2025-01-01T10:00:00Z, 12 ,eu,h4",
    "f05,ACME-001,api_call,2025-01-01T10:00:00Z,+5,eu,h5",
    "f06,ACME-001,api_call,2025-01-01T10:00:00Z,5.,eu,h6",
    "f07,ACME-001,api_call,2025-01-01T10:00:00Z,.5,eu,h7",
    "f08,ACME-001,api_call,2025-01-01T10:00:00Z,1.1234567,eu,h8",
    "f09,ACME-001,api_call,2025-01-01T10:00:00Z,1.0000000,eu,h9",
    "f10,ACME-001,api_call,2025-01-01T10:00:00Z,007,eu,h10",
    "f11,ACME-001,api_call,2025-01-01T10:00:00Z,99999999999999,eu,h11",
    "f12,ACME-001,api_call,2025-01-01T10:00:00Z,-1,eu,h12",
    "f13,ACME-001,api_call,2025-01-01T10:00:00Z,,eu,h13",
    "f14,ACME-001,api_call,2025-01-01T10:00:00,1,eu,h14",
    "f15,ACME-001,api_call,2025-01-02,1,eu,h15",
    "f16,ACME-001,api_call,2025-01-01T10:00:00+02:00,1,eu,h16",
    "f17,ACME-001,api_call,2025-02-30T00:00:00Z,1,eu,h17",
    "f18,ACME-001,api_call,2025-01-01T24:00:00Z,1,eu,h18",
    "f19,ACME-001,api_call,2025-01-01T23:59:60Z,1,eu,h19",
    "f20,ACME-001,api_call,2099-01-01T00:00:00Z,1,eu,h20",
    "f21,ACME-001,api_call,1999-01-01T00:00:00Z,1,eu,h21",
    "f22,ACME-001,api_call, 2025-01-01T10:00:00Z ,1,eu,h22",
    "f23,ACME-001,api_call,2025-01-01T10:00:00.123Z,1,eu,h23",
    ",ACME-001,api_call,2025-01-01T10:00:00Z,1,eu,h24",
    "k" * 250 + ",ACME-001,api_call,2025-01-01T10:00:00Z,1,eu,h25",
    "f01,ACME-001,api_call,2025-01-01T10:00:00Z,1,eu,h26",
    "f27,NOBODY,api_call,2025-01-01T10:00:00Z,1,eu,h27",
    "f28,ACME-001,no_such_event,2025-01-01T10:00:00Z,1,eu,h28",
    "f29,ACME-001,,2025-01-01T10:00:00Z,1,eu,h29",
    "f30,ACME-001,api_call,2025-01-01T10:00:00Z,1,,h30",
    "f31,ACME-001,api_call,2025-01-01T10:00:00Z,1,,",
    "f32,ACME-001,api_call,2025-01-01T10:00:00Z,1,e\\u,h\tx",
    " f33 ,GLOBEX-002 , storage_gb ,2025-01-01T10:00:00Z,2,eu,h33",
    "f34,ACME-001,api_call,2025-01-01T10:00:00Z,1,eu,h34",
    "f35,ACME-001,api_call,2025-1-01T10:00:00Z,1,eu,h35",
    "f36,ACME-001,api_call,2025-01-01t10:00:00Z,1,eu,h36",
    "f37,ACME-001,api_call,2025-01-01T10:00:00Z,1.000001,eu,h37",
    "f38,ACME-001,api_call,2025-01-01T10:00:00Z,9223372036854.775807,eu,h38",
]
_EDGE_ROWS_NO_REPEAT = [r for r in _EDGE_ROWS if not r.endswith("h26")]  # every key once: no `seen` needed
_EDGE_HEADER = HEADER + ",region,host"


def _both_ways(session, monkeypatch, data: bytes, filename: str = "u.csv", *, chunk: int = 3) -> tuple:
    """The same file through the column-wise path and the row-by-row path: (report, stored events) each, with
    nothing committed; and whether the column-wise path built any chunk itself."""
    monkeypatch.setattr(usage_module, "WRITE_CHUNK", chunk)
    monkeypatch.setattr(dbutil, "in_chunk_size", lambda _s: 2)
    fast_chunks = []
    real_fast = usage_module._plain_fast
    monkeypatch.setattr(usage_module, "_plain_fast",
                        lambda *a: fast_chunks.append(r := real_fast(*a)) or r)
    out = []
    for fast in (True, False):
        monkeypatch.setattr(usage_module, "PLAIN_CSV_FAST", fast)
        preview = preview_usage(session, data, filename)
        report = import_usage(session, OPS, data, filename)
        events = stored_events(session)
        session.rollback()
        out.append((_seen(preview), _seen(report), events))
    return out[0], out[1], any(c is not None for c in fast_chunks)


def _seen(report) -> tuple:
    return (report.ok, report.unreadable, report.total_rows, report.accepted_rows, report.inserted,
            [(e.row, e.column, e.value, e.message) for e in report.errors],
            [(d.row, d.key, d.reason) for d in report.duplicates],
            [(r.row, r.idempotency_key, r.customer_external_id, r.event_name, r.timestamp, r.quantity, r.properties)
             for r in report.rows], report.columns, report.warnings)


@pytest.mark.parametrize("rows", [
    pytest.param(_EDGE_ROWS, id="every-edge"),
    pytest.param(_EDGE_ROWS_NO_REPEAT, id="every-edge-no-repeated-key"),
    pytest.param([r for r in _EDGE_ROWS if r.startswith(("f01", "f02", "f10", "f13", "f30", "f31", " f33", "f34",
                                                         "f37")) and not r.endswith("h26")], id="good-no-escapes"),
    pytest.param([r for r in _EDGE_ROWS if r.startswith(("f01", "f02", "f10", "f13", "f30", "f31", "f32", " f33",
                                                         "f34", "f37")) and not r.endswith("h26")], id="good"),
])
@pytest.mark.parametrize("chunk", [1, 3, 50_000])
def test_plain_csv_fast_path_matches_the_row_by_row_path(db, monkeypatch, rows, chunk):
    import_and_commit(db, csv_bytes("f34,ACME-001,api_call,2025-01-01T10:00:00Z,1,eu,h34", header=_EDGE_HEADER))
    fast, slow, used = _both_ways(db, monkeypatch, csv_bytes(*rows, header=_EDGE_HEADER), chunk=chunk)
    assert fast == slow
    # (one chunk with bad rows: all row by row)
    assert used or (chunk == 50_000 and (rows is _EDGE_ROWS or rows is _EDGE_ROWS_NO_REPEAT))


@pytest.mark.parametrize("chunk", [2, 3, 50_000])
def test_plain_csv_fast_path_matches_on_a_file_uploaded_again(db, monkeypatch, chunk):
    """Chunks whose keys are all stored are duplicates, whatever their other cells hold (not checked again)."""
    first = ["s1,ACME-001,api_call,2025-01-01T10:00:00Z,1,eu,h", "s2,ACME-001,api_call,2025-01-01T10:00:00Z,2,eu,h",
             "s3,ACME-001,api_call,2025-01-01T10:00:00Z,3,eu,h", "s4,ACME-001,api_call,2025-01-01T10:00:00Z,4,eu,h"]
    import_and_commit(db, csv_bytes(*first, header=_EDGE_HEADER))
    again = [first[0], "s2,NOBODY,api_call,2025-01-01,x,eu,h", first[2], first[3],
             "s5,ACME-001,api_call,2025-01-01T10:00:00Z,5,eu,h", first[1], "s4,ACME-001,api_call,bad,1,eu,h"]
    fast, slow, _used = _both_ways(db, monkeypatch, csv_bytes(*again, header=_EDGE_HEADER), chunk=chunk)
    assert fast == slow
    assert fast[1][0] and fast[1][4] == 1 and [d[0] for d in fast[1][6]] == [2, 3, 4, 5, 7, 8]


@pytest.mark.parametrize("chunk", [3, 50_000])
def test_plain_csv_fast_path_matches_with_a_key_repeated_far_apart(db, monkeypatch, chunk):
    rows = [f"r{i},ACME-001,api_call,2025-01-01T10:00:00Z,{i},eu,h" for i in range(10)]
    for data in (csv_bytes(*rows, rows[1], header=_EDGE_HEADER), csv_bytes(*rows, header=_EDGE_HEADER)):
        fast, slow, used = _both_ways(db, monkeypatch, data, chunk=chunk)
        assert fast == slow and used


def test_plain_csv_fast_path_stores_exact_values(db, monkeypatch):
    rows = [f"k{i},ACME-001,api_call,2025-01-0{i % 9 + 1}T10:00:00.00000{i % 10}Z,{i}.{i:06d},eu,h{i}"
            for i in range(20)]
    fast, slow, used = _both_ways(db, monkeypatch, csv_bytes(*rows, header=_EDGE_HEADER), chunk=7)
    assert fast == slow and used and fast[1][0] and fast[1][4] == 20
    ev = fast[2]
    assert ev["k3"]["quantity"] == Decimal("3.000003") and ev["k3"]["properties"] == {"region": "eu", "host": "h3"}
    assert ev["k3"]["timestamp"] == datetime(2025, 1, 4, 10, 0, 0, 3)


@pytest.mark.parametrize("data, filename", [
    pytest.param(csv_bytes(*_EDGE_ROWS[:5], header=_EDGE_HEADER).replace(b"\n", b"\r\n"), "u.csv", id="crlf"),
    pytest.param(csv_bytes(*_EDGE_ROWS[:5], "", *_EDGE_ROWS[5:9], header=_EDGE_HEADER), "u.csv", id="blank-line"),
    pytest.param(csv_bytes(*_EDGE_ROWS[:5], ",,,,,,", *_EDGE_ROWS[5:9], header=_EDGE_HEADER), "u.csv",
                 id="empty-cells-row"),
    pytest.param(csv_bytes(*_EDGE_ROWS[:5], "q1,ACME-001,api_call,2025-01-01T10:00:00Z,\"1,500\",eu,h",
                           header=_EDGE_HEADER), "u.csv", id="quoted"),
    pytest.param(csv_bytes(*_EDGE_ROWS[:5], "w1,ACME-001,api_call,2025-01-01T10:00:00Z,1,eu,h,extra",
                           header=_EDGE_HEADER), "u.csv", id="too-wide"),
    pytest.param(csv_bytes(*_EDGE_ROWS[:5], "w1,ACME-001,api_call,2025-01-01T10:00:00Z,1,eu",
                           header=_EDGE_HEADER), "u.csv", id="too-narrow"),
    pytest.param(csv_bytes(*_EDGE_ROWS[:5], header=_EDGE_HEADER + ",host"), "u.csv", id="header-twice"),
    pytest.param(csv_bytes(*(r.replace(",", "\t") for r in _EDGE_ROWS[:8]), header=_EDGE_HEADER.replace(",", "\t")),
                 "u.tsv", id="tsv"),
    pytest.param(csv_bytes(*(r.replace(",", ";") for r in _EDGE_ROWS[:8]), header=_EDGE_HEADER.replace(",", ";")),
                 "u.csv", id="semicolons"),
    pytest.param(csv_bytes("p1,ACME-001,api_call,2025-01-01T10:00:00Z,1,{}",
                           header=HEADER + ",properties"), "u.csv", id="properties-column"),
    pytest.param(csv_bytes("p1,ACME-001,api_call,2025-01-01T10:00:00Z,1,caf\u00e9", header=HEADER + ",region"),
                 "u.csv", id="not-ascii"),
    pytest.param(csv_bytes("p1,ACME-001,api_call,2025-01-01T10:00:00Z,1", header="idempotency_key,customer"),
                 "u.csv", id="missing-columns"),
    pytest.param(csv_bytes(header=_EDGE_HEADER), "u.csv", id="no-rows"),
])
def test_plain_csv_fast_path_matches_on_unusual_files(db, monkeypatch, data, filename):
    fast, slow, _used = _both_ways(db, monkeypatch, data, filename)
    assert fast == slow
