"""Usage event upload: CSV/XLSX -> checked rows -> bulk insert through the driver, all or nothing.

Columns: idempotency_key, customer_external_id, event_name, timestamp, quantity (optional); every other
column becomes a string property of the event, and a ``properties`` column holding a JSON object is
merged in. Events whose key is already stored are skipped and reported as duplicates (re-uploading a file
counts nothing twice). Built for files of hundreds of thousands of rows: one pass in Python, a handful of
queries (never one per row), no ORM objects.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, String, column, insert, select, table
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from core import audit
from core.auth import Actor, require
from core.errors import UserError
from core.importers.columns import match_columns
from core.importers.dbutil import bulk_gc, chunks, existing_values, for_column, now_utc
from core.importers.files import ImportFileError, read_columns
from core.importers.report import Duplicate, ImportReport, RowError
from core.models import BillableMetric, Customer, UsageEvent
from core.money import MoneyError, to_decimal
from core.types import QUANTITY_SCALE, ScaledDecimal

ALIASES: dict[str, tuple[str, ...]] = {
    "idempotency_key": ("idempotency_key", "event_id", "id", "key"),
    "customer_external_id": ("customer_external_id", "customer", "customer_id", "external_customer_id"),
    "event_name": ("event_name", "event", "metric"),
    "timestamp": ("timestamp", "time", "date", "event_time"),
    "quantity": ("quantity", "qty"),
    "properties": ("properties",),
}
REQUIRED = ("idempotency_key", "customer_external_id", "event_name", "timestamp")
WRITE_CHUNK = 10_000
BULK_CACHE_KIB = -131_072  # SQLite page cache during a bulk write: 128 MiB (negative = KiB)
REINDEX_MIN_ROWS = 100_000  # SQLite: from this many events, secondary indexes may be rebuilt after the write
MAX_KEY_LENGTH = UsageEvent.__table__.c.idempotency_key.type.length or 200
_MAX_QUANTITY = Decimal(2**63 - 1).scaleb(-QUANTITY_SCALE)
_QUANTUM = Decimal(1).scaleb(-QUANTITY_SCALE)
_PLAIN = re.compile(r"\d+(?:\.\d+)?")
_GROUPED = re.compile(r"^[+-]?\$?\s*\d{1,3}(,\d{3})+(\.\d*)?$")  # 1,500.25: commas only between thousands
_EARLIEST, _LATEST = 1970, 2100

Progress = Callable[[float, str], None]
_RACE = ("some of these events were stored by another upload at the same moment; nothing was imported — "
         "upload the file again and those events will be skipped")

# Only the columns we write, with the quantity as the raw scaled integer it is stored as.
_ev = UsageEvent.__table__
_EVENTS = table(
    "usage_event",
    column("idempotency_key", String), column("customer_external_id", String), column("event_name", String),
    column("timestamp", _ev.c.timestamp.type), column("quantity", BigInteger), column("properties", JSON),
    column("source", String), column("created_at", _ev.c.created_at.type),
)
_QTY = ScaledDecimal(QUANTITY_SCALE)  # one instance: core.types.to_scaled builds a new one per call
_json = json.JSONEncoder().encode  # what json.dumps(obj) does, without its per-call setup
_COPY_COLUMNS = ("idempotency_key", "customer_external_id", "event_name", "timestamp", "quantity", "properties",
                 "source", "created_at")


@dataclass(slots=True)
class UsageRow:
    row: int
    idempotency_key: str
    customer_external_id: str
    event_name: str
    timestamp: datetime  # naive UTC
    quantity: Decimal | None
    properties: dict[str, str] = field(default_factory=dict)


# ---- values -----------------------------------------------------------------------------------------------


def parse_timestamp(text: str) -> datetime:
    """ISO 8601 date or date-time -> naive UTC. A date alone is midnight UTC; no offset means UTC.
    Raises ValueError with a message for the user."""
    s = text.strip()
    try:
        if len(s) == 10:
            d = date.fromisoformat(s)
            dt = datetime(d.year, d.month, d.day)
        else:
            dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"'{text}' is not a date in ISO 8601 form (for example 2025-01-31, "
                         "2025-01-31 14:30 or 2025-01-31T14:30:00Z)") from None
    if dt.tzinfo is not None:  # what astimezone(UTC) does for the fixed offsets ISO 8601 gives, but cheaper
        offset = dt.utcoffset()
        dt = dt.replace(tzinfo=None)
        if offset:
            dt -= offset
    if not _EARLIEST <= dt.year <= _LATEST:
        raise ValueError(f"'{text}' is outside the years {_EARLIEST}–{_LATEST}; check the date")
    return dt


def parse_quantity(text: str) -> Decimal | None:
    """'' -> None; '1,500.25' -> Decimal('1500.25'). Exact; refuses negatives and more than 6 decimals.
    Raises ValueError with a message for the user."""
    s = text.strip()
    if not s:
        return None
    if _PLAIN.fullmatch(s):  # the common case, without to_decimal's clean-up: no sign, no exponent
        q = Decimal(s)
        point = s.find(".")
        if q > _MAX_QUANTITY:
            raise ValueError(f"'{text}' is too large")
        if point >= 0 and len(s) - point - 1 > QUANTITY_SCALE and q != q.quantize(_QUANTUM):
            raise ValueError(f"'{text}' has more than {QUANTITY_SCALE} decimals")
        return q
    else:
        if "," in s and not _GROUPED.match(s):
            raise ValueError(f"'{text}' is not a number: use a point for decimals (1.5); commas may only group "
                             "thousands (1,500)")
        try:
            q = to_decimal(s, field="quantity")
        except MoneyError:
            raise ValueError(f"'{text}' is not a number") from None
    if q < 0:
        raise ValueError("quantity is negative")
    if q > _MAX_QUANTITY:
        raise ValueError(f"'{text}' is too large")
    if q.as_tuple().exponent < -QUANTITY_SCALE and q != q.quantize(_QUANTUM):
        raise ValueError(f"'{text}' has more than {QUANTITY_SCALE} decimals")
    return q + 0  # drops a negative zero's sign


def _parse_properties(text: str) -> dict[str, str]:
    try:
        obj = json.loads(text, parse_float=str, parse_int=str)
    except ValueError:
        raise ValueError("is not valid JSON; write an object like {\"region\": \"eu\"}") from None
    return clean_properties(obj)


def clean_properties(obj: object) -> dict[str, str]:
    """A JSON object's plain values as text (what is stored); lists and nested objects are refused."""
    if not isinstance(obj, dict):
        raise ValueError("must be a JSON object like {\"region\": \"eu\"}")
    out = {}
    for k, v in obj.items():
        if isinstance(v, (dict, list)):
            raise ValueError(f"the property '{k}' holds a list or object; use plain values")
        if v is None:
            continue
        out[str(k)] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return out


def _on_row(row: int) -> str:
    return f"row {row}"


def check_event(key: str, cust: str, name: str, raw_ts: str, raw_q: str | None, *, known_customers: set[str],
                metered: set[str], seen: dict[str, int] | None = None, position: int = 0,
                where: Callable[[int], str] = str, window: tuple[datetime, datetime] | None = None,
                ) -> tuple[list[tuple[str, str, str]], datetime | None, Decimal | None]:
    """The rules one usage event must pass, shared by uploads and the API (core.metering.ingest).

    Returns ``(problems, timestamp, quantity)``; each problem is ``(field, value, message)`` with ``field`` one of
    idempotency_key, customer_external_id, event_name, timestamp, quantity. ``seen`` maps keys already used in
    this batch to their position (``where(position)`` names it in the message); ``window`` is the (earliest,
    latest) naive-UTC timestamp accepted."""
    problems: list[tuple[str, str, str]] = []
    if "\x00" in key or "\x00" in cust or "\x00" in name:  # PostgreSQL cannot store it; say so, never crash
        for fld, value in (("idempotency_key", key), ("customer_external_id", cust), ("event_name", name)):
            if "\x00" in value:
                problems.append((fld, value.replace("\x00", "\\0"), "contains a NUL character (\\0); remove it"))
        return problems, None, None
    if not key:
        problems.append(("idempotency_key", "", "idempotency key is required"))
    elif len(key) > MAX_KEY_LENGTH:
        problems.append(("idempotency_key", key, f"is {len(key)} characters long; at most {MAX_KEY_LENGTH} fit"))
    elif seen is not None:
        if key in seen:
            problems.append(("idempotency_key", key, f"the idempotency key '{key}' is already used on "
                                                     f"{where(seen[key])}; each event needs its own key"))
        else:
            seen[key] = position
    if not cust:
        problems.append(("customer_external_id", "", "customer external id is required"))
    elif cust not in known_customers:
        problems.append(("customer_external_id", cust, f"there is no customer with the external id '{cust}'; "
                                                       "import or create the customer first"))
    if not name:
        problems.append(("event_name", "", "event name is required"))
    elif name not in metered:
        problems.append(("event_name", name, f"no billable metric uses the event '{name}'; define one on the "
                                             "Billable metrics page first"))
    ts = None
    if not raw_ts:
        problems.append(("timestamp", "", "timestamp is required"))
    else:
        try:
            ts = parse_timestamp(raw_ts)
        except ValueError as exc:
            problems.append(("timestamp", raw_ts, str(exc)))
        else:
            if window is not None and not window[0] <= ts <= window[1]:
                when = "in the future" if ts > window[1] else "in the past"
                problems.append(("timestamp", raw_ts, f"'{raw_ts}' is too far {when}: events are accepted from "
                                                      f"{window[0]:%Y-%m-%d %H:%M} to {window[1]:%Y-%m-%d %H:%M} UTC"))
    qty = None
    if raw_q is not None:
        try:
            qty = parse_quantity(raw_q)
        except ValueError as exc:
            problems.append(("quantity", raw_q.strip(), str(exc)))
    return problems, ts, qty


# ---- the pipeline -----------------------------------------------------------------------------------------


def _validate(session: Session, data: bytes, filename: str, progress: Progress | None) -> ImportReport:
    say = progress or (lambda _f, _m: None)
    report = ImportReport(kind="usage", filename=filename)
    say(0.0, "Reading the file")
    try:
        frame = read_columns(data, filename)  # columns of strings: no DataFrame for a million rows
    except ImportFileError as exc:
        report.errors.extend(exc.problems)
        report.unreadable = True
        return report
    n = report.total_rows = len(frame)
    report.warnings.extend(frame.notes)
    match = match_columns(list(frame.values), ALIASES, required=REQUIRED, header_row=frame.header_row)
    report.columns = match.by_column
    if match.errors:
        report.errors.extend(match.errors)
        return report
    prop_cols = list(match.unused)
    for c in prop_cols:
        report.columns[c] = "property"
    if prop_cols:
        report.warnings.append("stored as event properties: " + ", ".join(f"'{c}'" for c in prop_cols))

    say(0.05, f"Checking {n:,} rows")
    col = match.fields
    cells = frame.values
    rows = frame.rows
    keys = [v.strip() for v in cells[col["idempotency_key"]]]
    customers = [v.strip() for v in cells[col["customer_external_id"]]]
    names = [v.strip() for v in cells[col["event_name"]]]
    stamps = cells[col["timestamp"]]
    quantities = cells[col["quantity"]] if "quantity" in col else None
    json_props = cells[col["properties"]] if "properties" in col else None
    prop_values = [(c, cells[c]) for c in prop_cols]
    del frame, cells

    stored = existing_values(session, UsageEvent.__table__.c.idempotency_key, list({k for k in keys if k}))
    known_customers = existing_values(session, Customer.__table__.c.external_id, list({c for c in customers if c}))
    metered = set(session.execute(select(BillableMetric.__table__.c.event_name).distinct()).scalars())

    errors = report.errors
    first_row: dict[str, int] = {}
    step = max(n // 20, 1)
    for i in range(n):
        row = rows[i]
        if i % step == 0 and i:
            say(0.05 + 0.45 * i / n, f"Checking row {i:,} of {n:,}")
        key = keys[i]
        if key in stored:
            report.duplicates.append(Duplicate(row, key, "already stored (imported before); skipped"))
            continue
        before = len(errors)
        problems, ts, qty = check_event(key, customers[i], names[i], str(stamps[i]).strip(),
                                        None if quantities is None else str(quantities[i]),
                                        known_customers=known_customers, metered=metered, seen=first_row,
                                        position=row, where=_on_row)
        for fld, value, message in problems:
            errors.append(RowError(row, col[fld], value, message))
        cust, name = customers[i], names[i]
        props: dict[str, str] = {}
        if json_props is not None:
            raw_p = str(json_props[i]).strip()
            if raw_p:
                try:
                    props = _parse_properties(raw_p)
                except ValueError as exc:
                    errors.append(RowError(row, col["properties"], raw_p, f"properties {exc}"))
        for c, values in prop_values:
            v = str(values[i]).strip()
            if v:
                props[c] = v
        if len(errors) == before:
            report.rows.append(UsageRow(row, key, cust, name, ts, qty, props))
    say(0.5, "Checked")
    return report


def preview_usage(session: Session, data: bytes, filename: str, *, progress: Progress | None = None) -> ImportReport:
    """Check an upload and say what importing it would do. Reads the database, writes nothing."""
    with bulk_gc():
        return _validate(session, data, filename, progress)


def import_usage(session: Session, actor: Actor, data: bytes, filename: str, source: str = "upload",
                 progress: Progress | None = None) -> ImportReport:
    """Import an upload all-or-nothing inside the caller's transaction (the caller commits).

    With any problem nothing is written and the report (``ok`` False) lists every problem. Rows whose key
    is already stored are skipped as duplicates. ``progress(fraction, message)`` is called as work advances.
    """
    require(actor, "usage:write")
    say = progress or (lambda _f, _m: None)
    with bulk_gc():
        report = _validate(session, data, filename, say)
        if not report.ok:
            return report
        source = (source or "upload")[: UsageEvent.__table__.c.source.type.length or 40]
        total = len(report.rows)
        session.flush()
        conn = session.connection()
        write = _WRITERS.get(conn.dialect.name, _insert_core)
        try:
            write(conn, report.rows, source, now_utc(),
                  lambda done: say(0.5 + 0.5 * done / max(total, 1), f"Saved {done:,} of {total:,} events"))
        except (IntegrityError, conn.dialect.loaded_dbapi.IntegrityError):
            raise UserError(_RACE) from None
    report.inserted = total
    report.committed = True
    audit.record(session, actor=actor.username, action="usage.import", entity_type="usage_event",
                 details={"filename": filename, "rows": report.total_rows, "inserted": total,
                          "duplicates": len(report.duplicates), "source": source})
    say(1.0, f"Saved {total:,} events")
    return report


# ---- writers: each gets naive-UTC ``now`` and calls ``advance(rows_done)`` after each chunk ------------------


def _scaled(q: Decimal | None) -> int | None:
    if q is None:
        return None
    s = q.scaleb(QUANTITY_SCALE)  # parse_quantity's values: exact, so the common case skips to_decimal
    if s == s.to_integral_value():
        return int(s)
    return _QTY.process_bind_param(q, None)


_esc = json.encoder.encode_basestring_ascii  # what json.dumps does to each string (ensure_ascii)


def _props_json(props: dict[str, str]) -> str:
    """json.dumps(props) for the str -> str dicts events carry, without the encoder's per-call setup."""
    if not props:
        return "{}"
    try:
        return "{" + ", ".join([_esc(k) + ": " + _esc(v) for k, v in props.items()]) + "}"
    except TypeError:  # not all text: the general encoder
        return _json(props)


def _copy_postgres(conn, rows: list[UsageRow], source: str, now: datetime, advance) -> None:  # noqa: ANN001
    """PostgreSQL: COPY through psycopg on the session's own connection (same transaction).
    Timestamps go with their UTC offset, right for timestamp and timestamptz columns alike."""
    raw = conn.connection.driver_connection
    now = now.replace(tzinfo=UTC)
    stmt = f"COPY usage_event ({', '.join(_COPY_COLUMNS)}) FROM STDIN"
    with raw.cursor() as cur, cur.copy(stmt) as cp:
        for i, r in enumerate(rows, start=1):
            cp.write_row((r.idempotency_key, r.customer_external_id, r.event_name, r.timestamp.replace(tzinfo=UTC),
                          _scaled(r.quantity), _props_json(r.properties), source, now))
            if i % WRITE_CHUNK == 0:
                advance(i)
    advance(len(rows))


def _executemany_sqlite(conn, rows: list[UsageRow], source: str, now: datetime, advance) -> None:  # noqa: ANN001
    """SQLite: executemany on the session's own DBAPI connection (same transaction), values pre-bound the way
    SQLAlchemy binds them (the timestamp text format is checked against SQLAlchemy's own processor)."""
    dialect = conn.dialect
    ts_type = _ev.c.timestamp.type
    bind = ts_type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
    if getattr(ts_type, "timezone", False):
        stamp = lambda d: bind(d.replace(tzinfo=UTC))  # noqa: E731
    else:
        sample = datetime(2001, 2, 3, 4, 5, 6, 7)
        fast = bind(sample) == sample.isoformat(" ", "microseconds")
        stamp = (lambda d: d.isoformat(" ", "microseconds")) if fast else bind  # noqa: E731
    created = bind(for_column(_ev.c.created_at, now))
    sql = (f"INSERT INTO usage_event ({', '.join(_COPY_COLUMNS)}) "
           f"VALUES ({', '.join('?' for _ in _COPY_COLUMNS)})")
    cur = conn.connection.cursor()
    # A large page cache while the indexes take many keys in no particular order (the default 2 MiB spills
    # and re-reads index pages); the connection's own setting comes back afterwards.
    old_cache = cur.execute("PRAGMA cache_size").fetchone()[0]
    if len(rows) > WRITE_CHUNK:
        cur.execute(f"PRAGMA cache_size={BULK_CACHE_KIB}")
    deferred: list[str] = []
    try:
        done = 0
        for part in chunks(rows, WRITE_CHUNK):
            cur.executemany(sql, [(r.idempotency_key, r.customer_external_id, r.event_name, stamp(r.timestamp),
                                   _scaled(r.quantity), _props_json(r.properties), source, created) for r in part])
            done += len(part)
            advance(done)
            if done == len(part) and len(rows) >= REINDEX_MIN_ROWS and cur.connection.in_transaction:
                deferred = _drop_secondary_indexes(cur, len(rows))
    finally:
        for create in deferred:  # also on failure: the caller's rollback then undoes drop and create alike
            cur.execute(create)
        cur.execute(f"PRAGMA cache_size={int(old_cache)}")
        cur.close()


def _drop_secondary_indexes(cur, incoming: int) -> list[str]:  # noqa: ANN001
    """SQLite, inside the import's transaction: when an upload brings at least as many events as are stored,
    drop the non-unique indexes of usage_event and hand back their CREATE statements, to build them once at
    the end (a sort) instead of updating them a row at a time in random order. The unique key stays: it still
    refuses a key stored by another upload meanwhile."""
    stored = cur.execute("SELECT coalesce(max(id), 0) FROM usage_event").fetchone()[0]
    if incoming < stored:
        return []
    found = cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_event' "
                        "AND sql IS NOT NULL").fetchall()
    creates = []
    for name, create in found:
        if create.lstrip().upper().startswith("CREATE INDEX"):
            cur.execute(f'DROP INDEX "{name}"')
            creates.append(create)
    return creates


def _insert_core(conn, rows: list[UsageRow], source: str, now: datetime, advance) -> None:  # noqa: ANN001
    """Any other database: SQLAlchemy Core executemany."""
    created = for_column(_ev.c.created_at, now)
    done = 0
    for part in chunks(rows, WRITE_CHUNK):
        conn.execute(insert(_EVENTS), [
            {"idempotency_key": r.idempotency_key, "customer_external_id": r.customer_external_id,
             "event_name": r.event_name, "timestamp": for_column(_ev.c.timestamp, r.timestamp),
             "quantity": _scaled(r.quantity), "properties": r.properties, "source": source, "created_at": created}
            for r in part])
        done += len(part)
        advance(done)


_WRITERS = {"postgresql": _copy_postgres, "sqlite": _executemany_sqlite}
