"""Pulling usage from the customer's own database or warehouse (any SQLAlchemy URL: PostgreSQL, MySQL/MariaDB,
SQLite, DuckDB, Snowflake, …).

A sync is a read-only SELECT with two placeholders, ``:since`` and ``:until``, bound as parameters (never
formatted into the SQL). It returns usage events — columns ``idempotency_key``, ``customer_external_id``,
``event_name``, ``timestamp``, optional ``quantity`` and any other columns as properties — newer than the
watermark. Each run is incremental (from the watermark) and idempotent (events already stored are duplicates,
counted once); the events go through the same checks as the ingestion API. The watermark only moves forward
when every row read was accepted or already stored, so a rejected row is read again on the next run — nothing is
silently dropped.

Read-only is enforced three ways: the SQL must be one SELECT/WITH statement without writing keywords and with no
inputs but its ``:name`` placeholders; the connection is opened read-only where the database allows it (SQLite
``mode=ro``, DuckDB ``read_only``, PostgreSQL ``SET TRANSACTION READ ONLY``, MySQL/MariaDB ``START TRANSACTION
READ ONLY``; Snowflake has no such mode); and the transaction is always rolled back.

The same checks and the same read-only reading serve the SQL-template billable metrics
(core/metering/metrics.py), whose placeholders are ``:period_start``, ``:period_end`` and ``:customer_id``.
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
                     r"export|import|into|put|remove|unload|handler|outfile|dumpfile)\b", re.I)
# Quoted text and comments are blanked before the checks. Whether a backslash escapes a quote depends on the
# database (MySQL: yes; PostgreSQL, SQLite, DuckDB: no), so the checks run on both readings and a problem in
# either one counts: a write cannot hide inside what one of them takes for a string.
_STRINGS = (re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|`[^`]*`"),
            re.compile(r"'(?:[^'\\]|''|\\.)*'|\"(?:[^\"\\]|\"\"|\\.)*\"|`[^`]*`"))
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)
_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
# Parameter styles other than :name — each would be a way around the bound placeholders.
_OTHER_STYLES = re.compile(r"%\(\w+\)s|%s\b|\?|\{[^{}]*\}|\$\d+|(?<![:\w])@@?\w+")
PREVIEW_ROWS = 20
MAX_ROWS = 200_000


def _strip(sql: str, reading: int = 0) -> str:
    return _STRINGS[reading].sub("''", _COMMENTS.sub(" ", sql))


def check_read_only_sql(sql: str, *, field: str, purpose: str, required: dict[str, str],
                        optional: tuple[str, ...] = ()) -> list[str]:
    """Problems with a read-only query whose only inputs are ``:name`` placeholders bound as parameters — in
    words a finance or ops user can act on, each starting with the field's name. ``required`` maps each
    placeholder that must appear to why; ``optional`` are the others allowed. Serves both the syncs (``:since``,
    ``:until``) and the SQL-template metrics (``:period_start``, ``:period_end``, ``:customer_id``)."""
    problems: list[str] = []
    for reading in (0, 1):
        problems += [p for p in _check(_strip(sql or "", reading).strip().rstrip(";").strip(), field, purpose,
                                       required, optional) if p not in problems]
    return problems


def _check(body: str, field: str, purpose: str, required: dict[str, str], optional: tuple[str, ...]) -> list[str]:
    problems = []
    if not body:
        return [f"{field}: write a SELECT that returns {purpose}"]
    if ";" in body:
        problems.append(f"{field}: one statement only (remove the ';' in the middle)")
    if not re.match(r"^(select|with)\b", body, re.I):
        problems.append(f"{field}: it must start with SELECT (or WITH): it only reads")
    if m := _WRITES.search(body):
        problems.append(f"{field}: '{m.group(1).upper()}' is not allowed: it only reads")
    allowed = list(required) + [p for p in optional if p not in required]
    listed = ", ".join(f":{p}" for p in allowed[:-1]) + f" and :{allowed[-1]}" if len(allowed) > 1 \
        else f":{allowed[0]}"
    if m := _OTHER_STYLES.search(body):
        problems.append(f"{field}: '{m.group(0)}' is not a placeholder here; write {listed} (they are bound as "
                        "parameters, never pasted into the SQL)")
    found = set(_PLACEHOLDER.findall(body))
    missing = [p for p in required if p not in found]
    if missing:
        reasons = sorted({required[p] for p in missing})
        problems.append(f"{field}: use the placeholders " + " and ".join(f":{p}" for p in missing)
                        + f" {' and '.join(reasons)} (they are bound as parameters)")
    if unknown := found - set(allowed):
        problems.append(f"{field}: unknown placeholders " + ", ".join(f":{p}" for p in sorted(unknown))
                        + f"; only {listed} exist")
    return problems


def validate_query(sql: str) -> list[str]:
    """Problems with a sync query, in words a finance or ops user can act on."""
    return check_read_only_sql(sql, field="query", purpose="the usage events",
                               required={"since": "to read only events newer than the last sync",
                                         "until": "to read only events newer than the last sync"})


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
    from core.source_snowflake import register

    register()  # snowflake:// URLs: snowflake-sqlalchemy if installed, else the minimal dialect
    real = _expand(url)
    parsed = make_url(real)
    backend = parsed.get_backend_name()
    kwargs: dict = {}
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        real = f"sqlite:///file:{parsed.database}?mode=ro&uri=true"
    elif backend == "duckdb":
        kwargs["connect_args"] = {"read_only": True}
    try:
        return create_engine(real, **kwargs), backend
    except (ArgumentError, ValueError) as exc:
        raise UserError(f"URL: {exc}") from None
    except ImportError as exc:
        raise UserError(f"URL: the server has no driver for {backend} URLs ({exc.name} is not installed)") from None


def _begin_read_only(conn, backend: str) -> None:
    """The database's own read-only transaction, where it has one (SQLite and DuckDB are opened read-only;
    Snowflake has none: there the checks and the rollback stand guard)."""
    if backend == "postgresql":
        conn.execute(text("SET TRANSACTION READ ONLY"))
    elif backend in ("mysql", "mariadb"):
        conn.execute(text("SET SESSION TRANSACTION READ ONLY"))
        conn.execute(text("START TRANSACTION READ ONLY"))


def read_rows(url: str, sql: str, params: dict, *, limit: int = MAX_ROWS,
              check=validate_query) -> tuple[list[str], list[dict]]:
    """Run the read-only query; returns (columns, rows as dicts). Never commits. ``check`` lists the problems
    with the SQL (the sync's rules by default); any problem refuses the query before it reaches the source."""
    return read_many(url, sql, [params], limit=limit, check=check)[0]


def read_many(url: str, sql: str, params_list: list[dict], *, limit: int = MAX_ROWS,
              check=validate_query) -> list[tuple[list[str], list[dict]]]:
    """The same read-only query once per parameter set, on one connection, each run in its own read-only
    transaction that is rolled back."""
    problems = check(sql)
    if problems:
        raise UserError("; ".join(problems))
    if not params_list:
        return []
    engine, backend = _engine(url)
    out = []
    try:
        with engine.connect() as conn:
            for params in params_list:
                _begin_read_only(conn, backend)
                try:
                    result = conn.execute(text(sql), params)
                    columns = list(result.keys())
                    rows = [dict(zip(columns, r)) for r in result.fetchmany(limit + 1)]
                finally:
                    conn.rollback()
                if len(rows) > limit:
                    raise UserError(f"the query returned more than {limit:,} rows; narrow it (the next run "
                                    "continues from where this one stopped)")
                out.append((columns, rows))
    except SQLAlchemyError as exc:
        raise UserError(f"the source answered: {str(getattr(exc, 'orig', exc)).splitlines()[0][:300]}") from None
    finally:
        engine.dispose()
    return out


def column_lookup(row: dict, names) -> dict:
    """The columns called ``names``, found whatever their case (Snowflake upper-cases unquoted names)."""
    lowered = {str(k).lower(): k for k in row}
    return {n: row[lowered[n]] for n in names if n in lowered}


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
    event = column_lookup(row, EVENT_COLUMNS)
    if isinstance(event.get("quantity"), float):
        event["quantity"] = repr(event["quantity"])  # a driver float: its shortest exact text, never arithmetic
    if isinstance(event.get("quantity"), (int, Decimal)):
        event["quantity"] = str(event["quantity"])
    ts = event.get("timestamp")
    if isinstance(ts, datetime):
        event["timestamp"] = ts.isoformat()  # an offset, if the source gives one, is kept and converted to UTC
    props = dict(event.get("properties") or {})
    props.update({k: str(v) for k, v in row.items() if str(k).lower() not in EVENT_COLUMNS and v is not None})
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
