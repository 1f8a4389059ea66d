"""Usage events from systems (the REST API): validate each event, store the valid ones, report the rest.

Policy (as Lago and Orb do): a batch is accepted *per event*. Valid events are stored; each invalid event is
reported with its index, key, field and message and nothing of it is stored; events whose idempotency key is
already stored — or repeated within the batch — are reported as duplicates and stored once. Re-sending a batch
after a timeout is therefore always safe: it counts nothing twice. The rules are the upload's
(:func:`core.importers.usage.check_event`) plus a time window for live ingestion: timestamps more than
``INGEST_MAX_FUTURE`` ahead (default ``1d``; also ``12h``, ``30m``, ``90s`` or plain seconds) or more than
``INGEST_MAX_AGE_DAYS`` old (default 400) are refused — older usage goes through a CSV upload.
Rows are written by the upload's bulk writers (executemany on SQLite, COPY on PostgreSQL) inside the caller's
transaction; the caller commits.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from core.auth import Actor, require
from core.errors import UserError
from core.importers.dbutil import chunks, now_utc
from core.importers.usage import (
    _WRITERS,
    UsageRow,
    _insert_core,
    check_event,
    clean_properties,
)
from core.models import BillableMetric, Customer, UsageEvent

DEFAULT_MAX_FUTURE = timedelta(days=1)
DEFAULT_MAX_AGE_DAYS = 400
_SOURCE_LENGTH = UsageEvent.__table__.c.source.type.length or 40
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class IngestConflict(UserError):
    """Another request stored some of these keys at the same moment; nothing of this call was kept.
    Retrying the same call stores the rest and reports those as duplicates."""


@dataclass(frozen=True)
class Rejection:
    index: int  # position of the event in the batch (0-based)
    key: str
    field: str
    message: str


@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)  # idempotency keys stored by this call
    duplicates: list[str] = field(default_factory=list)  # keys already stored (or repeated in the batch)
    rejected: list[Rejection] = field(default_factory=list)  # one entry per problem (an event may have several)

    @property
    def rejected_events(self) -> int:
        return len({r.index for r in self.rejected})


def max_future() -> timedelta:
    raw = os.environ.get("INGEST_MAX_FUTURE", "").strip().lower()
    m = _DURATION.match(raw) if raw else None
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)]) if m else DEFAULT_MAX_FUTURE


def max_age() -> timedelta:
    raw = os.environ.get("INGEST_MAX_AGE_DAYS", "").strip()
    return timedelta(days=int(raw)) if raw.isdigit() else timedelta(days=DEFAULT_MAX_AGE_DAYS)


def window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """(earliest, latest) naive-UTC timestamps accepted now."""
    now = now or now_utc()
    return now - max_age(), now + max_future()


def _text(value: object) -> str | None:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else None


def _quantity_text(value: object) -> str | None:
    """None -> None (no quantity); exact numbers and strings -> text for parse_quantity; floats/bools -> ValueError."""
    if value is None:
        return None
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("must be a JSON number or a string such as \"12.5\"; it is read exactly, never as a float")
    if isinstance(value, (str, int, Decimal)):
        return str(value)
    raise ValueError("must be a number or a string such as \"12.5\"")


_KEY_COLUMN = UsageEvent.__table__.c.idempotency_key
_CUSTOMER_COLUMN = Customer.__table__.c.external_id
_METRIC_EVENT = BillableMetric.__table__.c.event_name
_RAW_IN = {  # one parameter however many values (as core.importers.dbutil.value_in), through the driver's cursor
    "sqlite": "SELECT {col} FROM {table} WHERE {col} IN (SELECT value FROM json_each(?))",
    "postgresql": "SELECT {col} FROM {table} WHERE {col} IN (SELECT unnest(%s::text[]))",
}
_RAW_CHUNK = 50_000  # values per lookup on SQLite/PostgreSQL (as core.importers.dbutil.in_chunk_size)
_CORE_CHUNK = 1_000  # values per plain IN list elsewhere


class _Lookups:
    """The reads one call needs, in the caller's transaction. On SQLite and PostgreSQL they go through the
    driver's own cursor (core.importers.dbutil.existing_values' queries without SQLAlchemy's statement and result
    handling: a lookup of 1,000 keys costs half as much, a single event's a few microseconds); elsewhere
    through SQLAlchemy Core. Nothing is cached between calls: a customer or metric made meanwhile counts at once,
    a customer renamed meanwhile no longer matches its old id."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.dialect = conn.dialect.name
        self.cur = conn.connection.driver_connection.cursor() if self.dialect in _RAW_IN else None

    def close(self) -> None:
        if self.cur is not None:
            self.cur.close()

    def existing(self, col, values: list[str]) -> set[str]:  # noqa: ANN001
        """Which of ``values`` are stored in ``col``."""
        found: set[str] = set()
        if not values:
            return found
        if self.cur is None:
            for part in chunks(values, _CORE_CHUNK):
                found.update(self.conn.execute(select(col).where(col.in_(list(part)))).scalars())
            return found
        sql = _RAW_IN[self.dialect].format(col=col.name, table=col.table.name)
        sqlite = self.dialect == "sqlite"
        for part in chunks(values, _RAW_CHUNK):
            self.cur.execute(sql, (json.dumps(list(part)) if sqlite else list(part),))
            found.update([r[0] for r in self.cur.fetchall()])
        return found

    def metered(self) -> set[str]:
        """The event names some billable metric counts."""
        if self.cur is None:
            return set(self.conn.execute(select(_METRIC_EVENT).distinct()).scalars())
        self.cur.execute(f"SELECT DISTINCT {_METRIC_EVENT.name} FROM {_METRIC_EVENT.table.name}")
        return {r[0] for r in self.cur.fetchall()}


def _key_text(value: object) -> str:
    return value.strip() if type(value) is str else (_text(value) or "")


def ingest_events(session: Session | Connection, actor: Actor, events: list[dict], *, source: str = "api",
                  now: datetime | None = None) -> IngestResult:
    """Validate and store ``events`` (dicts with idempotency_key, customer_external_id, event_name, timestamp,
    optional quantity and properties). See the module docstring for the policy. Raises IngestConflict when a
    concurrent call stored the same keys first (the caller rolls back and retries once).

    ``session`` is the caller's transaction: an ORM Session (flushed first, as its autoflush would before a
    query) or a Core Connection (what the API's common path uses: lighter per request)."""
    require(actor, "usage:write")
    now = now or now_utc()
    span = window(now)
    result = IngestResult()
    if isinstance(session, Session):
        session.flush()
        conn = session.connection()
    else:
        conn = session
        if not conn.in_transaction():  # the writes below go through the driver: begin SQLAlchemy's transaction
            conn.begin()               # so that the caller's commit() commits them (else it would be a no-op)
    keys = [_key_text(e.get("idempotency_key")) for e in events]
    wanted = {c for e in events if (c := _key_text(e.get("customer_external_id"))) and "\x00" not in c}
    lookups = _Lookups(conn)
    try:
        # Values with a NUL character are never looked up (PostgreSQL refuses them); check_event rejects them.
        stored = lookups.existing(_KEY_COLUMN, list({k for k in keys if k and "\x00" not in k}))
        known_customers = lookups.existing(_CUSTOMER_COLUMN, list(wanted))
        metered = lookups.metered()
    finally:
        lookups.close()

    rows: list[UsageRow] = []
    taken: set[str] = set()
    duplicate, accept, add_row, take = result.duplicates.append, result.accepted.append, rows.append, taken.add
    for i, e in enumerate(events):
        key = keys[i]
        if key and (key in stored or key in taken):
            duplicate(key)
            continue
        get = e.get
        cust, name, raw_ts, q = get("customer_external_id"), get("event_name"), get("timestamp"), get("quantity")
        problems: list[tuple[str, str]] = []
        if (type(cust) is str and type(name) is str and type(raw_ts) is str and type(get("idempotency_key")) is str
                and (q is None or type(q) is str or type(q) is Decimal)):
            cust, name, raw_ts = cust.strip(), name.strip(), raw_ts.strip()
            raw_q = None if q is None else str(q)
        else:  # some value of a wrong type: say which, and check the rest as usual
            texts = {}
            for fld, value in (("idempotency_key", get("idempotency_key")), ("customer_external_id", cust),
                               ("event_name", name), ("timestamp", raw_ts)):
                t = _text(value)
                if t is None:
                    problems.append((fld, "must be a string"))
                texts[fld] = t or ""
            cust, name, raw_ts = texts["customer_external_id"], texts["event_name"], texts["timestamp"]
            raw_q = None
            try:
                raw_q = _quantity_text(q)
            except ValueError as exc:
                problems.append(("quantity", str(exc)))
        found, ts, qty = check_event(key, cust, name, raw_ts, raw_q, known_customers=known_customers,
                                     metered=metered, window=span)
        if found:
            bad = {f for f, _m in problems}
            problems.extend((f, m) for f, _v, m in found if f not in bad)
        props: dict[str, str] = {}
        raw_props = get("properties")
        if raw_props is not None:
            try:
                props = clean_properties(raw_props)
            except ValueError as exc:
                problems.append(("properties", f"properties {exc}"))
        if problems:
            result.rejected.extend(Rejection(i, key, f, m) for f, m in problems)
            continue
        take(key)
        add_row(UsageRow(i, key, cust, name, ts, qty, props))
        accept(key)

    if rows:
        write = _WRITERS.get(conn.dialect.name, _insert_core)
        try:
            write(conn, rows, (source or "api")[:_SOURCE_LENGTH], now, lambda _done: None)
        except (IntegrityError, conn.dialect.loaded_dbapi.IntegrityError):
            raise IngestConflict("some of these events were stored by another request at the same moment; "
                                 "nothing of this request was kept — send it again") from None
    return result
