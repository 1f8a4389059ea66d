"""Small helpers for the importers' bulk paths (Core statements through the session's connection)."""
from __future__ import annotations

import gc
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import Column, String, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def in_chunk_size(session: Session) -> int:
    """How many values one lookup sends (SQLite's JSON array / PostgreSQL's array / a plain ``IN`` list)."""
    return 50_000 if session.get_bind().dialect.name in ("sqlite", "postgresql") else 1_000


def value_in(session: Session, col: Column, values: Sequence[str]):
    """``col IN values`` that binds one parameter however many values there are: a JSON array on SQLite
    (``IN (SELECT value FROM json_each(?))``), an array on PostgreSQL (``IN (SELECT unnest(?))``), else a
    plain list.
    Callers still pass at most :func:`in_chunk_size` values at a time."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        listed = select(literal_column("value")).select_from(
            func.json_each(bindparam("values", json.dumps(list(values)), type_=String)))
        return col.in_(listed.scalar_subquery())
    if dialect == "postgresql":
        # ``IN (SELECT unnest(?))``, a semi-join the planner can run by index or hash, rather than
        # ``= ANY(?)``: with the statistics of a table that has just grown (a bulk import, not yet analysed)
        # that became a sequential scan testing every row against the whole array — minutes for 1M keys.
        listed = select(func.unnest(bindparam("values", list(values), type_=ARRAY(String))))
        return col.in_(listed.scalar_subquery())
    return col.in_(list(values))


def existing_values(session: Session, col: Column, values: Sequence[str]) -> set[str]:
    """Which of ``values`` are stored in ``col``: one query per :func:`in_chunk_size` values, never one per value.

    On SQLite the values are walked in sorted order and each is looked up in the column's index
    (``SELECT value FROM json_each(?) WHERE value IN (SELECT col FROM t)``): ``col IN (SELECT value FROM
    json_each(?))`` first builds a temporary index of the values, which costs about half as much again. On SQLite
    and PostgreSQL (there with value_in's query) the queries go through the driver's cursor on the session's
    connection (same transaction): SQLAlchemy's result handling would cost about as much as the query (a million
    keys on SQLite: ~2 s in all instead of ~4 s). ``col`` needs an index of its own (it has one: the lookups are
    of keys)."""
    found: set[str] = set()
    dialect = session.get_bind().dialect
    if dialect.name in ("sqlite", "postgresql"):
        name, table = dialect.identifier_preparer.quote(col.name), dialect.identifier_preparer.quote(col.table.name)
        if dialect.name == "sqlite":
            sql = f"SELECT value FROM json_each(?) WHERE value IN (SELECT {name} FROM {table})"
        else:  # (the same query as value_in's)
            sql = f"SELECT {name} FROM {table} WHERE {name} IN (SELECT unnest(%s::text[]))"
        cur = session.connection().connection.driver_connection.cursor()
        try:
            for part in chunks(sorted(values), in_chunk_size(session)):
                cur.execute(sql, (json.dumps(part) if dialect.name == "sqlite" else part,))
                found.update([r[0] for r in cur.fetchall()])
        finally:
            cur.close()
        return found
    for part in chunks(list(values), in_chunk_size(session)):
        found.update(session.execute(select(col).where(value_in(session, col, part))).scalars())
    return found


def for_column(column: Column, naive_utc: datetime) -> datetime:
    """A naive UTC datetime in the form the column's type binds: aware (UTC) for a timezone-aware column."""
    if getattr(column.type, "timezone", False):
        return naive_utc.replace(tzinfo=UTC)
    return naive_utc


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def bulk_gc() -> Iterator[None]:
    """No cyclic garbage collection while a bulk path builds millions of small objects (none of them in
    cycles): each full collection walks every object made so far, which made large uploads quadratic.
    The collector's previous state comes back afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
