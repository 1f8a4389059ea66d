"""Usage event upload: CSV/XLSX -> checked rows -> bulk insert through the driver, all or nothing.

Columns: idempotency_key, customer_external_id, event_name, timestamp, quantity (optional); every other
column becomes a string property of the event, and a ``properties`` column holding a JSON object is
merged in. Events whose key is already stored are skipped and reported as duplicates (re-uploading a file
counts nothing twice). A file with any problem imports nothing, and the report lists every problem in it.

Time window: an upload accepts timestamps from ``UPLOAD_MAX_AGE_DAYS`` days ago (default 1096, three years:
back-filling old usage is what uploads are for) to ``UPLOAD_MAX_FUTURE`` ahead (default ``1d``; also
``12h``, ``30m``, ``90s`` or plain seconds), read once per upload; a value that is not a duration leaves the
default. A row outside it is refused with its row, column and the accepted range. (The REST API has its own,
narrower window: ``INGEST_MAX_FUTURE`` / ``INGEST_MAX_AGE_DAYS`` in :mod:`core.metering.ingest`.)

Built for files of a million rows (about 130 MB) in well under 1 GiB. The file is read as a stream, in chunks
of ``WRITE_CHUNK`` rows (:func:`core.importers.files.stream_rows`); for each chunk:

1. one query finds which of its keys are already stored (skipped when the table held no events when the upload
   began), one finds its customers not seen before; the metered event names are read once;
2. each row is checked. The common row — plain key, known customer and metric, ISO timestamp inside the
   window, plain decimal quantity, no JSON properties — is checked inline and turned straight into the tuple
   the driver binds (quantity as the scaled integer, timestamp as the text or value the driver wants, properties
   as JSON text); any other row goes through :func:`check_event`, the rules shared with the API, so every
   message comes from one place;
3. while the file has shown no problem, the chunk's tuples are written (``executemany`` on SQLite, ``COPY`` on
   PostgreSQL, SQLAlchemy Core elsewhere) inside a SAVEPOINT of the caller's transaction, and dropped.

A plain CSV file (printable ASCII, no quotes, no blank line, every row as wide as a header of distinct names:
what exports usually are; :func:`core.importers.files.read_plain_csv`) is read by pyarrow's CSV reader instead,
and each chunk is checked column-wise (:func:`_plain_fast`): when every row of the chunk is a common row (the
same rules as the inline check above, `…T…Z` timestamps only) and no key repeats, the tuples are built from the
columns; any other chunk is handed, as cells, to the row-by-row check, so every message is still that of
:func:`check_event`. The column-wise check accepts only what the row-by-row one accepts, with the same values
(tests/db/test_import_usage.py compares both on the same files). A chunk whose keys are all stored already (a
file uploaded again) is reported as duplicates without further checks, as row by row.

Only the keys of the file (for "this key is already used on row N") and the first ``ROWS_KEPT`` accepted rows
(``report.rows``, for display; the count is ``report.accepted_rows``) outlive their chunk; a plain CSV in which
no key repeats (pyarrow says so before the first chunk) needs not even its keys. At the first problem the
writing stops, the checking goes on to the end so the report names every bad row, and the savepoint is rolled
back: nothing of the file is stored. A problem with the file as a whole (found only at its end, e.g. a value
beyond the last column) does the same. Events get ids in file order (the ``latest`` aggregation breaks
timestamp ties by id).

On SQLite an upload at least as large as the table drops the non-unique index of usage_event and builds it
again at the end, inside the same savepoint; into a table that held no events when the upload began (so no key
was looked up) the unique index of the idempotency key is dropped too and built first at the end — building it
refuses a key stored twice, so a key stored meanwhile by another upload still aborts the import (the write lock
held from the first row keeps anyone else from storing one after that). The rows are then only appended,
``ROWS_PER_INSERT`` to a statement, and the indexes built by a sort each (with the sorter's helper threads): the
write costs about what the floor's sorted ``INSERT OR IGNORE`` does (bench/README.md).
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from itertools import chain, repeat
from operator import itemgetter

from sqlalchemy import JSON, BigInteger, String, column, insert, select, table
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from core import audit
from core.auth import Actor, require
from core.errors import UserError
from core.importers.columns import match_columns
from core.importers.dbutil import bulk_gc, chunks, existing_values, for_column, now_utc
from core.importers.files import ArrowCsv, ImportFileError, read_plain_csv, stream_rows
from core.importers.report import Duplicate, ImportReport, RowError
from core.models import BillableMetric, Customer, UsageEvent
from core.money import MoneyError, to_decimal
from core.pilot_redaction import Redactor, audit_details, clean_mapping, describe
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
WRITE_CHUNK = 50_000  # rows read, looked up, checked and written at a time
ROWS_KEPT = 1_000  # accepted rows kept in report.rows, for display
PLAIN_CSV_FAST = True  # plain CSV files read and checked by pyarrow (tests turn it off to compare)
BULK_CACHE_KIB = -131_072  # SQLite page cache during a bulk write: 128 MiB (negative = KiB)
# SQLite, while indexes are built after a bulk write: the page cache, which also bounds each sorted run of the
# index sorter (16 MiB), and the sorter's helper threads (runs sorted while the table is still being read)
REBUILD_CACHE_KIB = -16_384
ROWS_PER_INSERT = 64  # SQLite: rows per INSERT statement of a bulk write
SORT_THREADS = max(1, min(4, (os.cpu_count() or 2) - 1))
REINDEX_MIN_ROWS = 100_000  # SQLite: from this many events, secondary indexes may be rebuilt after the write
MAX_KEY_LENGTH = UsageEvent.__table__.c.idempotency_key.type.length or 200
DEFAULT_UPLOAD_MAX_FUTURE = timedelta(days=1)
DEFAULT_UPLOAD_MAX_AGE_DAYS = 1096
_MAX_QUANTITY = Decimal(2**63 - 1).scaleb(-QUANTITY_SCALE)
_MAX_SCALED = 2**63 - 1
_SCALE = 10**QUANTITY_SCALE
_QUANTUM = Decimal(1).scaleb(-QUANTITY_SCALE)
_PLAIN = re.compile(r"\d+(?:\.\d+)?")
_GROUPED = re.compile(r"^[+-]?\$?\s*\d{1,3}(,\d{3})+(\.\d*)?$")  # 1,500.25: commas only between thousands
_EARLIEST, _LATEST = 1970, 2100
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}

Progress = Callable[[float, str], None]
_RACE = ("some of these events were stored by another upload at the same moment; nothing was imported — "
         "upload the file again and those events will be skipped")
_STORED = "already stored (imported before); skipped"
_CELLS = itemgetter(1)  # a chunk's (row, cells) -> cells

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


# ---- the upload's time window -----------------------------------------------------------------------------


def upload_max_future() -> timedelta:
    raw = os.environ.get("UPLOAD_MAX_FUTURE", "").strip().lower()
    m = _DURATION.match(raw) if raw else None
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)]) if m else DEFAULT_UPLOAD_MAX_FUTURE


def upload_max_age() -> timedelta:
    raw = os.environ.get("UPLOAD_MAX_AGE_DAYS", "").strip()
    return timedelta(days=int(raw)) if raw.isdigit() else timedelta(days=DEFAULT_UPLOAD_MAX_AGE_DAYS)


def upload_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """(earliest, latest) naive-UTC timestamps an upload accepts now (see the module docstring)."""
    now = now or now_utc()
    return now - upload_max_age(), now + upload_max_future()


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


# ---- redaction (core.pilot_redaction) ---------------------------------------------------------------------

NOT_REDACTED = {
    "idempotency_key": "the event key stays as it is (a file uploaded again is recognised by it)",
    "event_name": "billable metrics find events by their name",
    "timestamp": "the time of an event is never redacted",
    "quantity": "quantities are never redacted",
    "properties": "a JSON properties column cannot be redacted; give each property a column of its own",
}


def unredactable(columns) -> dict[str, str]:  # noqa: ANN001 - the file's header cells
    """The file's columns that cannot be redacted, with why: every column but the customer id and the plain
    property columns (quantities and timestamps never are)."""
    match = match_columns(list(columns), ALIASES, required=())
    return {col: NOT_REDACTED[f] for f, col in match.fields.items() if f in NOT_REDACTED}


def _redact_chunks(chunks, redactor: Redactor, at: dict[int, str], names: list[str]):  # noqa: ANN001, ANN202
    """The stream's chunks with the chosen columns' cells replaced by their pseudonyms (each distinct cell
    hashed once); after the last chunk, no two ids sharing a pseudonym."""
    for chunk in chunks:
        redactor.cells(at, map(_CELLS, chunk))
        yield chunk
    redactor.check(", ".join(names[i] for i, kind in at.items() if kind == "identifier"))


# ---- the pipeline -----------------------------------------------------------------------------------------


def preview_usage(session: Session, data: bytes, filename: str, *, progress: Progress | None = None,
                  redaction: Mapping[str, str] | None = None) -> ImportReport:
    """Check an upload and say what importing it would do. Reads the database, writes nothing.
    ``redaction``: file column -> kind of pseudonym (core.pilot_redaction), for the customer id and property
    columns; applied before anything is checked."""
    with bulk_gc():
        return _Upload(session, filename, progress, redaction=redaction).run(data)


def import_usage(session: Session, actor: Actor, data: bytes, filename: str, source: str = "upload",
                 progress: Progress | None = None, *, redaction: Mapping[str, str] | None = None) -> ImportReport:
    """Import an upload all-or-nothing inside the caller's transaction (the caller commits).

    With any problem nothing is written and the report (``ok`` False) lists every problem. Rows whose key
    is already stored are skipped as duplicates. ``progress(fraction, message)`` is called as work advances.
    With ``redaction`` the chosen columns are stored as pseudonyms only.
    """
    require(actor, "usage:write")
    source = (source or "upload")[: UsageEvent.__table__.c.source.type.length or 40]
    with bulk_gc():
        upload = _Upload(session, filename, progress, source=source, redaction=redaction)
        try:
            report = upload.run(data)
        except IntegrityError:
            raise UserError(_RACE) from None
        except Exception as exc:
            dbapi = session.get_bind().dialect.loaded_dbapi
            if isinstance(exc, dbapi.IntegrityError):
                raise UserError(_RACE) from None
            raise
    if not report.ok:
        return report
    report.committed = True
    details = {"filename": filename, "rows": report.total_rows, "inserted": report.inserted,
               "duplicates": len(report.duplicates), "source": source}
    if upload.redacted:
        details["redaction"] = audit_details(upload.redacted)
    audit.record(session, actor=actor.username, action="usage.import", entity_type="usage_event",
                 details=details)
    upload.say(1.0, f"Saved {report.inserted:,} events")
    return report


class _Upload:
    """One upload being read, checked and — when ``source`` is given — written (see the module docstring)."""

    def __init__(self, session: Session, filename: str, progress: Progress | None, source: str | None = None,
                 redaction: Mapping[str, str] | None = None):
        self.session = session
        self.filename = filename
        self.say = progress or (lambda _f, _m: None)
        self.source = source
        self.redaction = redaction
        self.redacted: dict[str, str] = {}  # the columns redacted, and how
        self.report = ImportReport(kind="usage", filename=filename)

    def run(self, data: bytes) -> ImportReport:
        report = self.report
        self.say(0.0, "Reading the file")
        plain = read_plain_csv(data, self.filename) if PLAIN_CSV_FAST else None
        try:
            stream = _PlainStream(plain) if plain is not None else stream_rows(data, self.filename, WRITE_CHUNK)
        except ImportFileError as exc:
            return self._unreadable(exc)
        report.warnings.extend(stream.notes)
        match = match_columns(stream.columns, ALIASES, required=REQUIRED, header_row=stream.header_row)
        report.columns = match.by_column
        if match.errors:
            try:  # the rows are still read: a problem with the file as a whole is what the user must fix first
                report.total_rows = stream.total() if plain is not None else sum(len(c) for c in stream.chunks)
            except ImportFileError as exc:
                return self._unreadable(exc)
            report.errors.extend(match.errors)
            return report
        prop_cols = list(match.unused)
        for c in prop_cols:
            report.columns[c] = "property"
        if prop_cols:
            report.warnings.append("stored as event properties: " + ", ".join(f"'{c}'" for c in prop_cols))
        if self.redaction:
            try:
                stream = self._redact(stream, plain)
            except UserError as exc:
                report.errors.append(RowError(stream.header_row, "", "", str(exc)))
                return report

        session = self.session
        conn = session.connection()
        writer: _Writer | None = None
        if self.source is not None:
            session.flush()
            writer = _CHUNK_WRITERS.get(conn.dialect.name, _CoreWriter)(conn, self.source, now_utc())
        check = _Checker(stream.columns, match.fields, prop_cols, upload_window(), writer)
        check.metered = set(session.execute(select(BillableMetric.__table__.c.event_name).distinct()).scalars())
        if plain is not None:
            check.first_row = plain.header_row + 1
            check.escapes = plain.escapes
            _plain_keys(check, plain)
            _plain_customers(self, check, plain)
        # Nothing stored yet: no key of this file can be a duplicate, and the lookups are skipped.
        any_stored = _any_stored(session)
        if writer is not None:
            writer.lookups = any_stored
        estimate = stream.estimated_rows
        done = 0
        try:
            for chunk in stream.chunks:
                if plain is not None:
                    rows = self._plain_chunk(check, chunk, any_stored, report)
                    chunk = chunk[1]
                else:
                    stored = self._stored_keys(check, chunk) if any_stored else frozenset()
                    self._look_up_customers(check, chunk)
                    rows = check.chunk(chunk, stored, report)
                done += len(chunk)
                estimate = max(estimate, done)
                if writer is not None and report.ok and rows:
                    writer.write(rows, expected=(estimate - done + len(chunk)) * len(rows) // len(chunk))
                    self.say(0.02 + 0.93 * done / estimate, f"Checked and saved {done:,} of about {estimate:,} rows")
                else:
                    self.say(0.02 + 0.93 * done / estimate, f"Checked {done:,} of about {estimate:,} rows")
            report.total_rows = done
            if writer is not None:
                if report.ok:
                    if writer.rebuilding:
                        self.say(0.96, "Building the indexes")
                    writer.finish()
                else:
                    writer.abort()  # the rows of the chunks before the first problem
        except ImportFileError as exc:
            if writer is not None:
                writer.abort()
            return self._unreadable(exc)
        except BaseException:
            if writer is not None:
                with suppress(Exception):  # the error itself is what the caller must see
                    writer.abort()
            raise
        report.rows = check.kept
        report.inserted = check.accepted if writer is not None and report.ok else 0
        if writer is None:
            self.say(1.0, "Checked")
        return report

    def _plain_chunk(self, check: _Checker, part: tuple[int, object], any_stored: bool,
                     report: ImportReport) -> list[tuple]:
        return _plain_chunk(self, check, part, any_stored, report)

    def _redact(self, stream, plain: ArrowCsv | None):  # noqa: ANN001, ANN202 - RowStream | _PlainStream
        """The chosen columns redacted before any check: a plain CSV's columns at once (pyarrow, each distinct
        value hashed once), another file's cells chunk by chunk as they are read."""
        columns = list(stream.columns)
        chosen = clean_mapping(self.redaction, columns, allowed=unredactable(columns))
        if not chosen:
            return stream
        redactor = Redactor()
        self.say(0.01, "Redacting " + describe(chosen))
        if plain is not None:
            for col, kind in chosen.items():
                i = columns.index(col)
                plain.table = plain.table.set_column(i, col, redactor.arrow(kind, plain.table.column(i), col))
        else:
            at = {columns.index(col): kind for col, kind in chosen.items()}
            stream.chunks = _redact_chunks(stream.chunks, redactor, at, columns)
        self.redacted = chosen
        self.report.warnings.append(f"redacted before import: {describe(chosen)}")
        return stream

    def _unreadable(self, exc: ImportFileError) -> ImportReport:
        report = self.report = ImportReport(kind="usage", filename=self.filename)
        report.errors.extend(exc.problems)
        report.unreadable = True
        return report

    def _stored_keys(self, check: _Checker, chunk: list[tuple[int, list[str]]]) -> set[str]:
        """This chunk's keys stored before the upload (keys of this file seen before are the file's own)."""
        keys = set(map(str.strip, map(itemgetter(check.ik), map(_CELLS, chunk))))
        keys.difference_update(check.seen)
        wanted = {k for k in keys if k and "\x00" not in k}
        if wanted and check.writer is not None:
            check.writer.pause()
        return existing_values(self.session, _ev.c.idempotency_key, list(wanted)) if wanted else set()

    def _look_up_customers(self, check: _Checker, chunk: list[tuple[int, list[str]]]) -> None:
        ic, asked = check.ic, check.customers_asked
        new = set(map(itemgetter(ic), map(_CELLS, chunk)))  # as in the file: stripped below, for the few new
        new.difference_update(asked)
        if not new:
            return
        asked.update(new)
        wanted = {c for raw in new if (c := raw.strip()) and "\x00" not in c}
        if wanted:
            if check.writer is not None:
                check.writer.pause()
            check.known.update(existing_values(self.session, Customer.__table__.c.external_id, list(wanted)))


def _any_stored(session: Session) -> bool:
    """Whether usage_event holds any event (when it holds none, an upload looks up no stored keys)."""
    return session.execute(select(_ev.c.id).limit(1)).first() is not None


class _PlainStream:
    """A plain CSV read by pyarrow (:func:`core.importers.files.read_plain_csv`), in :class:`RowStream`'s shape:
    ``chunks`` are ``(first row number, table slice)``. Such a file has no problem as a whole and no blank row."""

    def __init__(self, plain: ArrowCsv):
        self.plain = plain
        self.columns = plain.columns
        self.header_row = plain.header_row
        self.notes: list[str] = []
        self.estimated_rows = plain.table.num_rows

    def total(self) -> int:
        return self.plain.table.num_rows

    @property
    def chunks(self) -> Iterable[tuple[int, object]]:
        table, first = self.plain.table, self.plain.header_row + 1
        for start in range(0, table.num_rows, WRITE_CHUNK):
            yield first + start, table.slice(start, WRITE_CHUNK)


_TS_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z$"
_QTY_SHAPE = r"^[0-9]+(\.[0-9]{1,6})?$"


def _plain_keys(check: _Checker, plain: ArrowCsv) -> None:
    """Before the first chunk of a plain CSV: the whole file's keys, trimmed (each chunk takes its slice), and
    whether no key repeats anywhere in the file. When none does, the chunks checked column-wise need not
    remember their keys (``seen``): no later row can repeat one. A file with repeats keeps the usual
    bookkeeping, so every message about them is unchanged."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = pc.utf8_trim(plain.table.column(check.ik), " \t")  # no other whitespace in a plain file
    check.plain_keys = keys
    check.distinct_keys = len(pc.unique(keys)) == len(keys)  # (faster than count_distinct in pyarrow 26)
    pa.default_memory_pool().release_unused()  # the reader's and these kernels' scratch back to the system


def _plain_customers(upload: _Upload, check: _Checker, plain: ArrowCsv) -> None:
    """Before the first chunk of a plain CSV: every customer of the file looked up at once (a few thousand
    names), so that no chunk has to — on PostgreSQL a lookup ends the open COPY and waits for the server."""
    import pyarrow.compute as pc

    names = set(pc.unique(pc.utf8_trim(plain.table.column(check.ic), " \t")).to_pylist())
    check.customers_asked.update(names)
    names.discard("")
    if names:
        check.known.update(existing_values(upload.session, Customer.__table__.c.external_id, list(names)))


def _plain_chunk(upload: _Upload, check: _Checker, part: tuple[int, object], any_stored: bool,
                 report: ImportReport) -> list[tuple]:
    """One chunk of a plain CSV: looked up, then checked column-wise by pyarrow. When every row passes the
    common path's checks (or is a stored duplicate) and no key repeats, the insert tuples are built from the
    columns; otherwise the whole chunk goes through :meth:`_Checker.chunk`, row by row, which says what is wrong
    exactly as for any other file. The column-wise checks accept only what the row-by-row ones accept, with the
    same values."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    row0, sl = part
    n = sl.num_rows
    rows = range(row0, row0 + n)

    def trim(i: int):
        return pc.utf8_trim(sl.column(i), " \t")  # the file holds no other whitespace than space and tab

    if check.plain_keys is not None:
        keys_a = check.plain_keys.slice(row0 - check.first_row, n)
    else:
        keys_a = trim(check.ik)
    keys = keys_a.to_pylist()
    seen, writer = check.seen, check.writer
    stored: set[str] | frozenset = frozenset()
    if any_stored:
        wanted = set(keys)
        wanted.difference_update(seen)
        wanted.discard("")
        if wanted:
            if writer is not None:
                writer.pause()
            stored = existing_values(upload.session, _ev.c.idempotency_key, list(wanted))
        if stored and all(map(stored.__contains__, keys)):  # a file uploaded again: nothing else to check
            report.duplicates.extend(map(Duplicate, rows, keys, repeat(_STORED)))
            pa.default_memory_pool().release_unused()
            return []
    cust_a = trim(check.ic)
    if check.known_arrow is None:
        check.known_arrow = pa.array(list(check.known), pa.string())
    unknown = pc.invert(pc.is_in(cust_a, value_set=check.known_arrow))
    check.cust_known = not pc.any(unknown).as_py()
    if not check.cust_known:  # customers not seen before: looked up once each
        new = set(pc.unique(cust_a.filter(unknown)).to_pylist())
        new.difference_update(check.customers_asked)
        if new:
            check.customers_asked.update(new)
            new.discard("")
            if new:
                if writer is not None:
                    writer.pause()
                found = existing_values(upload.session, Customer.__table__.c.external_id, list(new))
                if found:
                    check.known.update(found)
                    check.known_arrow = pa.array(list(check.known), pa.string())
                    check.cust_known = pc.all(pc.is_in(cust_a, value_set=check.known_arrow)).as_py()

    fast = _plain_fast(check, sl, trim, keys_a, cust_a, pa, pc, np)
    pa.default_memory_pool().release_unused()  # the kernels' scratch back to the system, chunk by chunk
    if fast is not None:
        skip = [k in stored for k in keys] if stored else None
        take = keys if skip is None else [k for k, s in zip(keys, skip) if not s]
        took = rows if skip is None else [r for r, s in zip(rows, skip) if not s]
        if check.distinct_keys:  # no key of the file repeats: nothing to remember
            clear = True
        else:
            first = dict(zip(take, took))
            clear = len(first) == len(take) and seen.keys().isdisjoint(first)
        if clear:
            if skip is not None:
                report.duplicates.extend(Duplicate(r, k, _STORED) for r, k, s in zip(rows, keys, skip) if s)
            if not check.distinct_keys:
                seen.update(first)
            cols = fast
            if skip is not None:
                mask = pa.array([not s for s in skip])
                cols = [c.filter(mask) for c in cols]
            source, created = check.tail
            check.accepted += len(take)
            if writer is None:  # a preview: the rows are counted, and only those kept for display are built
                room = max(0, ROWS_KEPT - len(check.kept))
                take, cols = take[:room], [c.slice(0, room) for c in cols]
            shared = (False, True, True, False, False, True)  # few distinct customers, events, properties
            out = list(zip(take, *(_as_list(c, pa, pc, np, d) for c, d in zip(cols[1:], shared[1:])),
                           repeat(source), repeat(created)))
            if len(check.kept) < ROWS_KEPT:
                for t, r in zip(out[:ROWS_KEPT - len(check.kept)], took):
                    check.kept.append(check._usage_row(t, r))
            return out if writer is not None else []
    cells = list(zip(*(sl.column(i).to_pylist() for i in range(sl.num_columns))))
    return check.chunk(list(zip(rows, cells)), stored, report)


def _as_list(col, pa, pc, np, shared: bool = False) -> list:  # noqa: ANN001
    """A column as a Python list. Integers through numpy; with ``shared`` (text with few distinct values:
    customers, event names, properties), one string object per distinct value instead of one per row."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count:
        return col.to_pylist()
    if pa.types.is_integer(col.type):
        return col.to_numpy().tolist()
    if shared and len(col) >= 64:
        enc = pc.dictionary_encode(col)
        if len(enc.dictionary) * 4 <= len(col):
            values = np.array(enc.dictionary.to_pylist(), dtype=object)
            return values[enc.indices.to_numpy()].tolist()
    return col.to_pylist()


def _plain_fast(check: _Checker, sl, trim, keys_a, cust_a, pa, pc, np) -> list | None:  # noqa: ANN001
    """The chunk's columns (key, customer, event, timestamp as the writer takes it, scaled quantity, properties
    JSON) when every row passes the common path's checks; None otherwise."""
    if check.text_suffix is None or not check.metered or not check.known:
        return None
    n = len(keys_a)
    klen = pc.min_max(pc.binary_length(keys_a))  # ASCII: bytes are characters
    if klen["min"].as_py() < 1 or klen["max"].as_py() > MAX_KEY_LENGTH:
        return None
    if not check.cust_known:
        return None
    name_a = trim(check.iname)
    if check.metered_arrow is None:
        check.metered_arrow = pa.array(list(check.metered), pa.string())
    if not pc.all(pc.is_in(name_a, value_set=check.metered_arrow)).as_py():
        return None
    if check.ij is not None and pc.max(pc.binary_length(trim(check.ij))).as_py() != 0:
        return None
    # timestamps: 2025-01-31T14:30:00[.123456]Z, a real date and time,
    # inside the window; stored as "2025-01-31 14:30:00.123456" + the writer's suffix
    ts = trim(check.its)
    if not pc.all(pc.match_substring_regex(ts, _TS_SHAPE)).as_py():
        return None
    tlen = pc.min_max(pc.binary_length(ts))
    if tlen["min"].as_py() == tlen["max"].as_py() == 27:  # all with microseconds, the usual export
        text = pc.binary_replace_slice(pc.binary_replace_slice(ts, 26, 27, ""), 10, 11, " ")
    else:
        head = pc.utf8_slice_codeunits(ts, 0, 19)
        micro = pc.utf8_slice_codeunits(ts, 19, 26)  # ".123456", or "Z" without microseconds
        micro = pc.if_else(pc.equal(micro, "Z"), ".000000", micro)
        text = pc.binary_join_element_wise(pc.replace_substring(head, "T", " "), micro, "")
    try:  # a real date and time: the cast refuses Feb 30, hour 24, second 60 (strptime would roll them over)
        pc.cast(text, pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    span = pc.min_max(text)  # canonical text compares like the times it spells
    if span["min"].as_py() < check.lo_text or span["max"].as_py() > check.hi_text:
        return None
    if check.text_suffix:
        text = pc.binary_join_element_wise(text, check.text_suffix, "")
    # quantities: digits with up to 6 decimals -> the scaled integer, exact (never a float)
    if check.iq is None:
        qty = pa.nulls(n, pa.int64())
    else:
        q = trim(check.iq)
        qlen = pc.binary_length(q)
        some_empty = pc.min(qlen).as_py() == 0
        shaped = pc.match_substring_regex(q, _QTY_SHAPE)
        if not pc.all(pc.or_(pc.equal(qlen, 0), shaped) if some_empty else shaped).as_py():
            return None
        empty = pc.equal(qlen, 0) if some_empty else None
        try:
            exact = pc.cast(pc.if_else(empty, "0", q) if some_empty else q, pa.decimal128(38, QUANTITY_SCALE))
            if isinstance(exact, pa.ChunkedArray):
                exact = exact.combine_chunks()
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if pc.max(exact).as_py() > _MAX_QUANTITY:  # the row path refuses it: say so there
            return None
        # a decimal128 holds its value as the scaled integer (128 bits, little-endian); below 2^63 the low
        # half is that integer
        ints = np.frombuffer(exact.buffers()[1], dtype=np.int64, count=2 * (exact.offset + len(exact)))
        ints = ints[2 * exact.offset::2]
        mask = empty.to_numpy(zero_copy_only=False) if some_empty else None
        qty = pa.array(ints, pa.int64(), mask=mask)
    # properties: the other columns' non-empty cells as a JSON object, in column order
    if not check.props:
        pj = pa.array(["{}"] * n, pa.string())
    else:
        values = [trim(i) for _c, i, _prefix in check.props]
        pj = None
        # the usual: every cell filled, none to escape (the file holds no backslash, no tab inside a cell)
        if not check.escapes and all(pc.min(pc.binary_length(v)).as_py() > 0 for v in values):
            parts: list = []
            for k, ((_c, _i, prefix), v) in enumerate(zip(check.props, values)):
                parts += [("{" if k == 0 else '", ') + prefix + '"', v]
            pj = pc.binary_join_element_wise(*parts, '"}', "")
        if pj is None:
            pieces = []
            for (_c, _i, prefix), v in zip(check.props, values):
                esc = pc.replace_substring(pc.replace_substring(v, "\\", "\\\\"), "\t", "\\t")
                piece = pc.binary_join_element_wise(", " + prefix + '"', esc, '"', "")
                pieces.append(pc.if_else(pc.greater(pc.binary_length(v), 0), piece, ""))  # empty cells left out
            # (not null_handling="skip": pyarrow 26 drops rows whose pieces are all null)
            joined = pc.replace_substring_regex(pc.binary_join_element_wise(*pieces, ""), "^, ", "",
                                                max_replacements=1)
            pj = pc.binary_join_element_wise("{", joined, "}", "")
    return [keys_a, cust_a, name_a, text, qty, pj]


class _Checker:
    """The rows of one upload, a chunk at a time: duplicates and problems into the report, accepted rows out as
    the writer's tuples (or counted, for a preview)."""

    def __init__(self, columns: list[str], fields: dict[str, str], prop_cols: list[str],
                 window: tuple[datetime, datetime], writer: _Writer | None):
        pos = {c: i for i, c in enumerate(columns)}
        self.col = fields  # field -> the file's column (names the column in messages)
        self.ik, self.ic = pos[fields["idempotency_key"]], pos[fields["customer_external_id"]]
        self.iname, self.its = pos[fields["event_name"]], pos[fields["timestamp"]]
        self.iq = pos[fields["quantity"]] if "quantity" in fields else None
        self.ij = pos[fields["properties"]] if "properties" in fields else None
        self.props = [(c, pos[c], _esc(c) + ": ") for c in prop_cols]
        # the property cells of a row as a tuple, and the JSON they make when none is empty
        where = [pos[c] for c in prop_cols]
        self.props_of = (None if not where else itemgetter(*where) if len(where) > 1
                         else (lambda v, i=where[0]: (v[i],)))
        self.props_template = "{" + ", ".join(_esc(c).replace("%", "%%") + ": %s" for c in prop_cols) + "}"
        self.window = window
        # the fast path's bounds: the window and parse_timestamp's years together
        self.lo = max(window[0], datetime(_EARLIEST, 1, 1))
        self.hi = min(window[1], datetime(_LATEST, 12, 31, 23, 59, 59, 999_999))
        self.writer = writer
        self.stamp = writer.stamp if writer is not None else (lambda d: d)
        # None: timestamps go to the writer as datetimes; else as text "YYYY-MM-DD HH:MM:SS.ffffff" + suffix
        self.text_suffix = writer.text_suffix if writer is not None else ""
        self.lo_text = self.lo.isoformat(" ", "microseconds")
        self.hi_text = self.hi.isoformat(" ", "microseconds")
        self.tail = (writer.source, writer.created) if writer is not None else (None, None)
        self.metered: set[str] = set()
        self.known: set[str] = set()  # customers that exist
        self.customers_asked: set[str] = set()  # cells as in the file
        self.seen: dict[str, int] = {}  # keys of this file -> first row (not the stored duplicates)
        # plain CSV (pyarrow): the file's trimmed keys, whether none repeats, the sets as Arrow arrays
        self.plain_keys = None
        self.first_row = 0
        self.distinct_keys = False
        self.known_arrow = None
        self.metered_arrow = None
        self.cust_known = False  # every customer of the chunk at hand exists
        self.escapes = True  # some cell may hold a backslash or a tab
        self.kept: list[UsageRow] = []
        self.accepted = 0

    def chunk(self, chunk: list[tuple[int, list[str]]], stored: set[str] | frozenset, report: ImportReport
              ) -> list[tuple]:
        ik, ic, iname, its, iq, ij = self.ik, self.ic, self.iname, self.its, self.iq, self.ij
        seen, known, metered = self.seen, self.known, self.metered
        props, props_of, template = self.props, self.props_of, self.props_template
        p1, p2, p3 = ([i for _c, i, _p in props] + [None, None, None])[:3]
        lo, hi, stamp = self.lo, self.hi, self.stamp
        text_suffix, lo_text, hi_text = self.text_suffix, self.lo_text, self.hi_text
        source, created = self.tail
        fromiso = datetime.fromisoformat
        strip = str.strip
        duplicates = report.duplicates
        out: list[tuple] = []
        add = out.append
        for row, v in chunk:
            key = v[ik].strip()
            if key in stored and key not in seen:
                duplicates.append(Duplicate(row, key, _STORED))
                continue
            cust, name, raw_ts = v[ic].strip(), v[iname].strip(), v[its].strip()
            raw_q = None if iq is None else v[iq]
            # The common row, checked inline; anything else — and anything wrong — goes to _slow_row, which
            # applies check_event and says what is wrong.
            if (key and cust and name and key not in seen and len(key) <= MAX_KEY_LENGTH and cust in known
                    and name in metered and len(raw_ts) > 10 and "\x00" not in key
                    and (ij is None or not v[ij].strip())):
                stamped = None
                n = len(raw_ts)
                if text_suffix is not None and raw_ts[-1] == "Z" and (
                        (n == 27 and raw_ts[4:20:3] == "--T::.") or (n == 20 and raw_ts[4:17:3] == "--T::")):
                    # 2025-01-31T14:30:00[.123456]Z, the usual export: validated by the parser (ASCII digits
                    # only), then stored as the text it already is — a datetime round trip costs more than
                    # the rest of the row. Canonical text compares like the times it spells.
                    try:
                        fromiso(raw_ts)
                    except ValueError:
                        pass
                    else:
                        text = raw_ts[:26].replace("T", " ") if n == 27 else raw_ts[:19].replace("T", " ") + ".000000"
                        if lo_text <= text <= hi_text:
                            stamped = text + text_suffix if text_suffix else text
                else:
                    try:
                        ts = fromiso(raw_ts)
                    except ValueError:
                        ts = None
                    if ts is not None:
                        if ts.tzinfo is not None:
                            offset = ts.utcoffset()
                            ts = ts.replace(tzinfo=None)
                            if offset:
                                ts -= offset
                        if lo <= ts <= hi:
                            stamped = stamp(ts)
                qty: int | None | bool = None
                if raw_q is not None:
                    q = raw_q.strip()
                    if not q:
                        pass
                    elif len(q) > 30:  # long numbers: _slow_row (and int()'s digit limit is never near)
                        qty = False
                    elif q.isdecimal():
                        qty = int(q) * _SCALE
                    else:
                        whole, _dot, frac = q.partition(".")
                        if whole.isdecimal() and frac.isdecimal() and len(frac) <= QUANTITY_SCALE:
                            qty = int(whole + frac.ljust(QUANTITY_SCALE, "0"))
                        else:
                            qty = False
                    if qty and qty > _MAX_SCALED:
                        qty = False
                if stamped is not None and qty is not False:
                    if not props:
                        pj = "{}"
                    else:
                        # one or two property columns (the usual) without building any sequence
                        a = v[p1].strip() if p1 is not None else None
                        b = v[p2].strip() if p2 is not None else "-"
                        if a and b and p3 is None:
                            pj = template % (_esc(a), _esc(b)) if p2 is not None else template % _esc(a)
                        else:
                            values = tuple(map(strip, props_of(v)))
                            if all(values):
                                pj = template % tuple(map(_esc, values))
                            else:  # empty cells are left out
                                parts = [prefix + _esc(p) for (_c, _i, prefix), p in zip(props, values) if p]
                                pj = "{" + ", ".join(parts) + "}" if parts else "{}"
                    seen[key] = row
                    add((key, cust, name, stamped, qty, pj, source, created))
                    continue
            t = self._slow_row(row, key, cust, name, raw_ts, raw_q, v, report)
            if t is not None:
                add(t)
        self.accepted += len(out)
        if len(self.kept) < ROWS_KEPT:
            for t in out[:ROWS_KEPT - len(self.kept)]:
                self.kept.append(self._usage_row(t))
        return out

    def _slow_row(self, row: int, key: str, cust: str, name: str, raw_ts: str, raw_q: str | None,
                  v: list[str], report: ImportReport) -> tuple | None:
        """Any row the fast path did not take: check_event's rules and messages, JSON properties."""
        errors, col = report.errors, self.col
        before = len(errors)
        problems, ts, qty = check_event(key, cust, name, raw_ts, raw_q, known_customers=self.known,
                                        metered=self.metered, seen=self.seen, position=row, where=_on_row,
                                        window=self.window)
        for fld, value, message in problems:
            errors.append(RowError(row, col[fld], value, message))
        props: dict[str, str] = {}
        if self.ij is not None:
            raw_p = v[self.ij].strip()
            if raw_p:
                try:
                    props = _parse_properties(raw_p)
                except ValueError as exc:
                    errors.append(RowError(row, col["properties"], raw_p, f"properties {exc}"))
        for c, i, _prefix in self.props:
            p = v[i].strip()
            if p:
                props[c] = p
        if len(errors) != before:
            return None
        source, created = self.tail
        return key, cust, name, self.stamp(ts), _scaled(qty), _props_json(props), source, created

    def _usage_row(self, t: tuple, row: int | None = None) -> UsageRow:
        """An accepted row for display, from its insert tuple."""
        if row is None:
            row = self.seen[t[0]]
        ts = t[3]
        if not isinstance(ts, datetime):
            ts = datetime.fromisoformat(str(ts).removesuffix("+00")).replace(tzinfo=None)
        qty = None if t[4] is None else Decimal(t[4]).scaleb(-QUANTITY_SCALE)
        return UsageRow(row, t[0], t[1], t[2], ts, qty, json.loads(t[5]))


# ---- writers ----------------------------------------------------------------------------------------------
# A writer takes an upload's rows a chunk at a time, as tuples in _COPY_COLUMNS order built by the checker with
# ``stamp`` (the timestamp as this driver binds it) and ``created``/``source``. The first ``write`` opens a
# savepoint in the caller's transaction; ``finish`` releases it, ``abort`` rolls it back. Used with
# ``savepoint=False`` by the API's path (_WRITERS below), where the caller's transaction is all-or-nothing.


class _Writer:
    SAVEPOINT = "usage_upload"

    def __init__(self, conn, source: str, now: datetime, *, savepoint: bool = True):  # noqa: ANN001
        self.conn = conn
        self.source = source
        self.created = self.stamp(now)
        self.savepoint = savepoint
        self.started = False
        self.rebuilding = False
        self.lookups = True  # False: this upload looks up no stored keys (the table held no events at its start)

    text_suffix: str | None = None  # what follows the UTC text of a timestamp, when the driver takes text

    def stamp(self, naive_utc: datetime) -> object:
        return for_column(_ev.c.timestamp, naive_utc)

    def write(self, rows: list[tuple], expected: int = 0) -> None:
        if not self.started:
            self.started = True
            if self.savepoint:
                self._begin()
            self._prepare(max(expected, len(rows)))
        self._write(rows)

    def pause(self) -> None:
        """Before another statement on the connection (PostgreSQL's open COPY ends here)."""

    def finish(self) -> None:
        if self.started:
            self._done()
            if self.savepoint:
                self.conn.exec_driver_sql(f"RELEASE SAVEPOINT {self.SAVEPOINT}")
            self.started = False

    def abort(self) -> None:
        if self.started:
            self.started = False
            self._cleanup()
            if self.savepoint:
                self.conn.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {self.SAVEPOINT}")
                self.conn.exec_driver_sql(f"RELEASE SAVEPOINT {self.SAVEPOINT}")

    def _begin(self) -> None:
        if self.conn.dialect.name == "sqlite":  # pysqlite opens its transaction only before DML: open it now,
            raw = self.conn.connection.dbapi_connection  # or RELEASE would commit the caller's work
            if not raw.in_transaction:
                raw.execute("BEGIN")
        self.conn.exec_driver_sql(f"SAVEPOINT {self.SAVEPOINT}")

    def _prepare(self, expected: int) -> None:
        pass

    def _write(self, rows: list[tuple]) -> None:
        raise NotImplementedError

    def _done(self) -> None:
        self._cleanup()

    def _cleanup(self) -> None:
        pass


class _CoreWriter(_Writer):
    """Any other database: SQLAlchemy Core executemany."""

    def _write(self, rows: list[tuple]) -> None:
        self.conn.execute(insert(_EVENTS), [
            {"idempotency_key": t[0], "customer_external_id": t[1], "event_name": t[2], "timestamp": t[3],
             "quantity": t[4], "properties": json.loads(t[5]), "source": t[6], "created_at": t[7]} for t in rows])


class _PostgresWriter(_Writer):
    """PostgreSQL: COPY through psycopg on the session's own connection (same transaction). Timestamps go as
    text with their UTC offset, right for timestamp and timestamptz columns alike."""

    text_suffix = "+00"

    def stamp(self, naive_utc: datetime) -> object:
        return naive_utc.isoformat(" ", "microseconds") + "+00"

    copying = None  # (cursor, the COPY's context manager, the copy) while a COPY is open

    def _write(self, rows: list[tuple]) -> None:
        # One COPY stays open across chunks: the server stores rows while the next chunk is checked. Any other
        # statement on the connection (a lookup, the savepoint's end) first ends it: pause().
        if self.copying is None:
            cur = self.conn.connection.driver_connection.cursor()
            cm = cur.copy(f"COPY usage_event ({', '.join(_COPY_COLUMNS)}) FROM STDIN")
            self.copying = (cur, cm, cm.__enter__())
        write = self.copying[2].write_row
        for t in rows:
            write(t)

    def pause(self) -> None:
        if self.copying is not None:
            cur, cm, _cp = self.copying
            self.copying = None
            try:
                cm.__exit__(None, None, None)  # the server's answer: a key stored meanwhile raises here
            finally:
                cur.close()

    def _done(self) -> None:
        self.pause()

    def _cleanup(self) -> None:
        if self.copying is not None:  # abandoned (a problem in the file, or an error): end it as failed
            cur, cm, _cp = self.copying
            self.copying = None
            with suppress(Exception):
                cm.__exit__(UserError, UserError("upload abandoned"), None)
            cur.close()


class _SqliteWriter(_Writer):
    """SQLite: executemany on the session's own DBAPI connection (same transaction), values pre-bound the way
    SQLAlchemy binds them (the timestamp text format is checked against SQLAlchemy's own processor). A large
    page cache while the unique index takes keys in no particular order (the default 2 MiB spills and re-reads
    index pages); a small one when that index was dropped (rows only appended) and while indexes are built;
    the connection's own settings come back afterwards."""

    _SQL = (f"INSERT INTO usage_event ({', '.join(_COPY_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in _COPY_COLUMNS)})")

    def __init__(self, conn, source: str, now: datetime, *, savepoint: bool = True):  # noqa: ANN001
        dialect = conn.dialect
        ts_type = _ev.c.timestamp.type
        bind = ts_type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
        if getattr(ts_type, "timezone", False):
            self.stamp = lambda d: bind(d.replace(tzinfo=UTC))  # type: ignore[method-assign]
        else:
            sample = datetime(2001, 2, 3, 4, 5, 6, 7)
            if bind(sample) == sample.isoformat(" ", "microseconds"):
                self.stamp = lambda d: d.isoformat(" ", "microseconds")  # type: ignore[method-assign]
                self.text_suffix = ""
            else:
                self.stamp = bind  # type: ignore[method-assign]
        super().__init__(conn, source, now, savepoint=savepoint)
        self.cur = None
        self.old_cache: int | None = None
        self.old_threads: int | None = None
        self.deferred: list[str] = []
        self.appending = False  # no index left on usage_event until the end: rows only appended

    def _prepare(self, expected: int) -> None:
        self.cur = cur = self.conn.connection.dbapi_connection.cursor()
        if expected >= REINDEX_MIN_ROWS and self.savepoint:
            self.deferred = _drop_indexes(cur, expected, keys_too=not self.lookups)
            self.rebuilding = bool(self.deferred)
        if any(c.lstrip()[:13].upper() == "CREATE UNIQUE" for c in self.deferred):
            # no index left to update: the rows are appended, several to a statement, and a small cache does
            self.appending = True
            self._set_cache(REBUILD_CACHE_KIB)
        elif expected > WRITE_CHUNK // 5:
            self._set_cache(BULK_CACHE_KIB)

    def _set_cache(self, kib: int) -> None:
        if self.old_cache is None:
            self.old_cache = self.cur.execute("PRAGMA cache_size").fetchone()[0]
        self.cur.execute(f"PRAGMA cache_size={int(kib)}")

    def _write(self, rows: list[tuple]) -> None:
        # Rows only appended (no index to update): ROWS_PER_INSERT rows per statement (512 parameters, under the
        # 999 of old SQLite builds), about a third less time than a statement per row, whose step, reset and
        # call overhead then dominate. The rows of a statement are inserted in their order: ids still follow the
        # file. Not while an index is updated: a statement of several rows then keeps a statement journal of the
        # index pages it changes (to undo itself on a duplicate key), which costs more than it saves.
        per = ROWS_PER_INSERT if self.appending else 1
        n = len(rows)
        full = n - n % per if per > 1 else 0
        if full:
            flat = list(chain.from_iterable(rows[:full] if full < n else rows))
            width = per * len(_COPY_COLUMNS)
            self.cur.executemany(_multi_row_insert(per), [flat[i:i + width] for i in range(0, len(flat), width)])
        if full < n:
            self.cur.executemany(self._SQL, rows[full:])

    def _done(self) -> None:
        try:
            if self.deferred:
                # each index is built by a sort of the whole table: in runs of the cache's size, sorted by
                # helper threads while the main one reads on, then merged
                self._set_cache(REBUILD_CACHE_KIB)
                self.old_threads = self.cur.execute("PRAGMA threads").fetchone()[0]
                self.cur.execute(f"PRAGMA threads={SORT_THREADS}")
            for create in self.deferred:
                self.cur.execute(create)
        finally:
            self.deferred = []
            self._cleanup()

    def _cleanup(self) -> None:
        if self.cur is not None:
            if self.old_cache is not None:
                self.cur.execute(f"PRAGMA cache_size={int(self.old_cache)}")
                self.old_cache = None
            if self.old_threads is not None:
                self.cur.execute(f"PRAGMA threads={int(self.old_threads)}")
                self.old_threads = None
            self.cur.close()
            self.cur = None


_CHUNK_WRITERS: dict[str, type[_Writer]] = {"postgresql": _PostgresWriter, "sqlite": _SqliteWriter}


@lru_cache(maxsize=4)
def _multi_row_insert(rows: int) -> str:
    one = f"({', '.join('?' for _ in _COPY_COLUMNS)})"
    return f"INSERT INTO usage_event ({', '.join(_COPY_COLUMNS)}) VALUES " + ", ".join([one] * rows)


def _drop_indexes(cur, incoming: int, *, keys_too: bool) -> list[str]:  # noqa: ANN001
    """SQLite, inside the import's savepoint: when an upload brings at least as many events as are stored, drop
    the non-unique indexes of usage_event and hand back their CREATE statements, to build them once at the end
    (a sort) instead of updating them a row at a time in random order. With ``keys_too`` (the upload looks up no
    stored keys: the table held no events when it began) the unique index of the idempotency key goes too and
    comes back first: building it refuses a key stored twice — by another upload between our start and our
    first write (the file's own repeats are caught before), as the index itself would have — and the write lock
    the import holds from its first row keeps anyone else from storing one meanwhile. A rollback to the
    savepoint brings the indexes back."""
    stored = cur.execute("SELECT coalesce(max(id), 0) FROM usage_event").fetchone()[0]
    if incoming < stored:
        return []
    found = cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_event' "
                        "AND sql IS NOT NULL").fetchall()
    unique, plain = [], []
    for name, create in found:
        head = " ".join(create.split()[:3]).upper()
        if head.startswith("CREATE INDEX"):
            plain.append((name, create))
        elif keys_too and head == "CREATE UNIQUE INDEX":
            unique.append((name, create))
    for name, _create in unique + plain:
        cur.execute(f'DROP INDEX "{name}"')
    return [create for _name, create in unique + plain]


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


# ---- the API's path: whole batches of UsageRow (core.metering.ingest) ------------------------------------
# Each gets naive-UTC ``now`` and calls ``advance(rows_done)`` after each chunk; the caller's transaction makes
# the batch all-or-nothing.


def _write_usage_rows(kind: type[_Writer], conn, rows: Iterable[UsageRow], source: str, now: datetime,  # noqa: ANN001
                      advance: Callable[[int], None]) -> None:
    w = kind(conn, source, now, savepoint=False)
    stamp, created = w.stamp, w.created
    rows = list(rows)
    done = 0
    try:
        for part in chunks(rows, WRITE_CHUNK):
            w.write([(r.idempotency_key, r.customer_external_id, r.event_name, stamp(r.timestamp),
                      _scaled(r.quantity), _props_json(r.properties), source, created) for r in part],
                    expected=len(rows))
            done += len(part)
            advance(done)
        w.finish()
    finally:
        w._cleanup()
    if not rows:
        advance(0)


def _copy_postgres(conn, rows: list[UsageRow], source: str, now: datetime, advance) -> None:  # noqa: ANN001
    _write_usage_rows(_PostgresWriter, conn, rows, source, now, advance)


def _executemany_sqlite(conn, rows: list[UsageRow], source: str, now: datetime, advance) -> None:  # noqa: ANN001
    _write_usage_rows(_SqliteWriter, conn, rows, source, now, advance)


def _insert_core(conn, rows: list[UsageRow], source: str, now: datetime, advance) -> None:  # noqa: ANN001
    """Any other database: SQLAlchemy Core executemany."""
    _write_usage_rows(_CoreWriter, conn, rows, source, now, advance)


_WRITERS = {"postgresql": _copy_postgres, "sqlite": _executemany_sqlite}
