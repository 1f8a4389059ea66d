"""Pulling usage from the customer's own database or warehouse (any SQLAlchemy URL: PostgreSQL, MySQL/MariaDB,
SQLite, DuckDB, Snowflake, …).

A sync is a read-only SELECT with two placeholders, ``:since`` and ``:until``, bound as parameters (never
formatted into the SQL). It returns usage events — columns ``idempotency_key``, ``customer_external_id``,
``event_name``, ``timestamp``, optional ``quantity`` and any other columns as properties — newer than the
watermark. Each run is incremental (from the watermark) and idempotent (events already stored are duplicates,
counted once); the events go through the same checks as the ingestion API. The watermark only moves forward
when every row read was accepted or already stored, so a rejected row is read again on the next run — nothing is
silently dropped.

Read-only is enforced three ways: the SQL must be one SELECT/WITH statement without writing keywords; the
connection is opened read-only where the database allows it (SQLite ``mode=ro``, DuckDB ``read_only``,
PostgreSQL ``SET TRANSACTION READ ONLY``); and the transaction is always rolled back.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.models import DataSource, SourceSync, utcnow

PLACEHOLDERS = {"since", "until"}
_ENV = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)\}")
_WRITES = re.compile(r"\b(insert|update|delete|merge|upsert|drop|alter|create|truncate|grant|revoke|attach|detach|"
                     r"pragma|copy|call|exec|execute|replace|vacuum|set|begin|commit|rollback|lock|load|install|"
                     r"export|import|into)\b", re.I)
_STRINGS = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
PREVIEW_ROWS = 20
MAX_ROWS = 200_000


def _strip(sql: str) -> str:
    return _STRINGS.sub("''", _COMMENTS.sub(" ", sql))


def validate_query(sql: str) -> list[str]:
    """Problems with a sync query, in words a finance or ops user can act on."""
    body = _strip(sql or "").strip().rstrip(";").strip()
    problems = []
    if not body:
        return ["query: write a SELECT that returns the usage events"]
    if ";" in body:
        problems.append("query: one statement only (remove the ';' in the middle)")
    if not re.match(r"^(select|with)\b", body, re.I):
        problems.append("query: it must start with SELECT (or WITH): a sync only reads")
    if m := _WRITES.search(body):
        problems.append(f"query: '{m.group(1).upper()}' is not allowed: a sync only reads")
    found = set(re.findall(r"(?<!:):([A-Za-z_]\w*)", body))
    if missing := PLACEHOLDERS - found:
        problems.append("query: use the placeholders " + " and ".join(f":{p}" for p in sorted(missing))
                        + " to read only events newer than the last sync (they are bound as parameters)")
    if unknown := found - PLACEHOLDERS:
        problems.append("query: unknown placeholders " + ", ".join(f":{p}" for p in sorted(unknown))
                        + "; only :since and :until exist")
    return problems


def validate_url(url: str) -> list[str]:
    try:
        parsed = make_url((url or "").strip())
    except ArgumentError:
        return ["URL: not a database URL (for example postgresql+psycopg://user:${PASSWORD_VAR}@host:5432/db)"]
    if parsed.password and not _ENV.fullmatch(str(parsed.password)):
        return ["URL: do not put the password in the URL; write ${SOME_VARIABLE} and set that environment "
                "variable on the server, so the password is never stored"]
    return []


def _expand(url: str) -> str:
    def sub(m: re.Match) -> str:
        value = os.environ.get(m.group(1))
        if value is None:
            raise UserError(f"the environment variable {m.group(1)} (the source's password) is not set on the server")
        return value

    return _ENV.sub(sub, url)


def display_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=False)


def create_source(session: Session, actor: Actor, *, name: str, url: str) -> DataSource:
    require(actor, "usage:write")
    problems = ([] if (name or "").strip() else ["name: give the source a name"]) + validate_url(url)
    if session.exec(select(DataSource).where(DataSource.name == (name or "").strip())).first():
        problems.append(f"name: a source called '{name}' exists")
    if problems:
        raise UserError("; ".join(problems))
    source = DataSource(name=name.strip(), url=url.strip(), created_by=actor.username)
    session.add(source)
    session.flush()
    audit.record(session, actor=actor.username, action="source.create", entity_type="data_source",
                 entity_id=source.id, details={"name": source.name, "url": display_url(source.url)})
    return source


def create_sync(session: Session, actor: Actor, *, source_id: int, name: str, query: str) -> SourceSync:
    require(actor, "usage:write")
    if session.get(DataSource, source_id) is None:
        raise NotFound(f"there is no data source #{source_id}")
    problems = ([] if (name or "").strip() else ["name: give the sync a name"]) + validate_query(query)
    if problems:
        raise UserError("; ".join(problems))
    sync = SourceSync(source_id=source_id, name=name.strip(), query=query.strip(), created_by=actor.username)
    session.add(sync)
    session.flush()
    audit.record(session, actor=actor.username, action="source.sync_create", entity_type="source_sync",
                 entity_id=sync.id, details={"name": sync.name, "source_id": source_id})
    return sync


def _engine(url: str):
    real = _expand(url)
    parsed = make_url(real)
    backend = parsed.get_backend_name()
    kwargs: dict = {}
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        real = f"sqlite:///file:{parsed.database}?mode=ro&uri=true"
    elif backend == "duckdb":
        kwargs["connect_args"] = {"read_only": True}
    return create_engine(real, **kwargs), backend


def read_rows(url: str, sql: str, params: dict, *, limit: int = MAX_ROWS) -> tuple[list[str], list[dict]]:
    """Run the read-only query; returns (columns, rows as dicts). Never commits."""
    problems = validate_query(sql)
    if problems:
        raise UserError("; ".join(problems))
    engine, backend = _engine(url)
    try:
        with engine.connect() as conn:
            if backend == "postgresql":
                conn.execute(text("SET TRANSACTION READ ONLY"))
            result = conn.execute(text(sql), params)
            columns = list(result.keys())
            rows = [dict(zip(columns, r)) for r in result.fetchmany(limit + 1)]
            conn.rollback()
    except SQLAlchemyError as exc:
        raise UserError(f"the source answered: {str(getattr(exc, 'orig', exc)).splitlines()[0][:300]}") from None
    finally:
        engine.dispose()
    if len(rows) > limit:
        raise UserError(f"the query returned more than {limit:,} rows; narrow it (the next run continues from "
                        "where this one stopped)")
    return columns, rows


def preview_query(session: Session, actor: Actor, *, source_id: int, query: str,
               since: datetime | None = None) -> tuple[list[str], list[dict]]:
    """The "Test query" button: the first rows the sync would read, nothing stored."""
    require(actor, "usage:read")
    source = session.get(DataSource, source_id)
    if source is None:
        raise NotFound(f"there is no data source #{source_id}")
    return _preview(source.url, query, since)


def _preview(url: str, query: str, since: datetime | None):
    columns, rows = read_rows(url, f"SELECT * FROM ({_strip_semicolon(query)}) AS preview LIMIT {PREVIEW_ROWS}",
                              {"since": since or datetime(1970, 1, 1), "until": utcnow()}, limit=PREVIEW_ROWS)
    return columns, rows


def _strip_semicolon(sql: str) -> str:
    return sql.strip().rstrip(";")


EVENT_COLUMNS = ("idempotency_key", "customer_external_id", "event_name", "timestamp", "quantity", "properties")


def _event(row: dict) -> dict:
    event = {k: row.get(k) for k in EVENT_COLUMNS if k in row}
    if isinstance(event.get("quantity"), float):
        event["quantity"] = repr(event["quantity"])  # a driver float: its shortest exact text, never arithmetic
    if isinstance(event.get("quantity"), (int, Decimal)):
        event["quantity"] = str(event["quantity"])
    ts = event.get("timestamp")
    if isinstance(ts, datetime):
        event["timestamp"] = ts.isoformat()  # an offset, if the source gives one, is kept and converted to UTC
    props = dict(event.get("properties") or {})
    props.update({k: str(v) for k, v in row.items() if k not in EVENT_COLUMNS and v is not None})
    if props:
        event["properties"] = props
    return event


@dataclass
class SyncResult:
    read: int
    accepted: int
    duplicates: int
    rejected: list
    watermark: datetime | None

    def summary(self) -> str:
        text = (f"{self.read:,} rows read: {self.accepted:,} new events, {self.duplicates:,} already stored, "
                f"{len(self.rejected):,} rejected")
        if self.rejected:
            text += " — the watermark stays put, so they are read again after you fix them"
        return text


def run_sync(session: Session, actor: Actor, sync_id: int, *, until: datetime | None = None) -> SyncResult:
    """One incremental, idempotent run (CLI `sync-sources`, cron)."""
    from core.importers.usage import parse_timestamp
    from core.metering.ingest import ingest_events

    require(actor, "usage:write")
    sync = session.get(SourceSync, sync_id)
    if sync is None:
        raise NotFound(f"there is no sync #{sync_id}")
    source = session.get(DataSource, sync.source_id)
    until = until or utcnow()
    since = sync.watermark or datetime(1970, 1, 1)
    _, rows = read_rows(source.url, sync.query, {"since": since, "until": until})
    events = [_event(r) for r in rows]
    result = ingest_events(session, actor, events, source=f"sync:{sync.name}"[:40], now=until) if events else None
    rejected = list(result.rejected) if result else []
    newest = sync.watermark
    for e in events:
        try:
            ts = parse_timestamp(str(e.get("timestamp")))
        except ValueError:
            continue
        if newest is None or ts > newest:
            newest = ts
    if not rejected:
        sync.watermark = newest
    sync.last_run_at = utcnow()
    out = SyncResult(len(rows), len(result.accepted) if result else 0, len(result.duplicates) if result else 0,
                     rejected, sync.watermark)
    sync.last_result = out.summary()[:500]
    session.add(sync)
    audit.record(session, actor=actor.username, action="source.sync", entity_type="source_sync", entity_id=sync.id,
                 details={"read": out.read, "accepted": out.accepted, "duplicates": out.duplicates,
                          "rejected": len(rejected), "watermark": sync.watermark})
    return out


def run_all_syncs(session: Session, actor: Actor) -> list[tuple[str, SyncResult]]:
    return [(s.name, run_sync(session, actor, s.id)) for s in session.exec(select(SourceSync).order_by(SourceSync.id))]
