"""Usage upload against a real database (SQLite and PostgreSQL).

Every bad input: the report names the row and the column, and the database is exactly as before.
Re-uploading a file stores nothing twice."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import text

from core.auth import Actor
from core.errors import PermissionDenied, UserError
from core.importers import dbutil
from core.importers import usage as usage_module
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
    monkeypatch.setattr(usage_module, "_WRITERS", {})
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
