"""Usage CSV upload: our import end to end against a floor measured in the same run.

SQLite floor: raw ``sqlite3.executemany`` of the same rows, already parsed (scaled quantities, timestamp text,
properties JSON), sorted by key, ``INSERT OR IGNORE`` into a table with a UNIQUE event key (WAL,
synchronous=NORMAL, 256 MiB cache), then commit. PostgreSQL floor (when TEST_POSTGRES_URL is set): COPY of
the same rows into a temp table, then ``INSERT … SELECT … ON CONFLICT DO NOTHING`` into a table with a
UNIQUE key, then commit.

Ours: ``import_usage`` (bytes in → read, validated, deduplicated, written) + commit on a fresh database
seeded with the customers and metrics, then the same file again (every row a duplicate, nothing inserted).
Each measurement runs in a child process of its own, so its peak RSS (``ru_maxrss``) is its own.

    .venv/bin/python bench/csv_upload.py [--events 1000000] [--only sqlite|postgres]
    bash scripts/with_postgres.sh .venv/bin/python bench/csv_upload.py      # both databases
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

CHILD_TIMEOUT = 1800  # seconds: a measurement that takes longer is stopped


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _parsed_rows(path: Path) -> list[tuple]:
    """The rows as they are stored: what the floor inserts (parsing is not timed)."""
    import csv
    from datetime import UTC, datetime
    from decimal import Decimal

    out = []
    created = datetime(2025, 2, 1).isoformat(" ", "microseconds")
    with open(path, newline="", encoding="utf-8") as fh:
        r = csv.reader(fh)
        next(r)
        for key, cust, ev, ts, qty, region, host in r:
            stamp = datetime.fromisoformat(ts).astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
            out.append((key, cust, ev, stamp, int(Decimal(qty).scaleb(6)),
                        json.dumps({"region": region, "host": host}), "upload", created))
    out.sort()
    return out


_FLOOR_DDL = ("CREATE TABLE ev (id INTEGER PRIMARY KEY, idempotency_key VARCHAR(200) NOT NULL UNIQUE, "
              "customer_external_id VARCHAR(100) NOT NULL, event_name VARCHAR(100) NOT NULL, "
              "timestamp DATETIME NOT NULL, quantity BIGINT, properties JSON NOT NULL, source VARCHAR(40) NOT NULL, "
              "created_at DATETIME NOT NULL)")
_COLS = "idempotency_key, customer_external_id, event_name, timestamp, quantity, properties, source, created_at"


def child_floor_sqlite(path: Path, workdir: Path) -> dict:
    import sqlite3

    rows = _parsed_rows(path)
    db = workdir / "floor.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA cache_size=-262144")
    conn.execute(_FLOOR_DDL)
    conn.commit()
    sql = f"INSERT OR IGNORE INTO ev ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    t0 = time.perf_counter()
    conn.executemany(sql, rows)
    conn.commit()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.executemany(sql, rows)
    conn.commit()
    again = time.perf_counter() - t0
    n = conn.execute("SELECT count(*) FROM ev").fetchone()[0]
    conn.close()
    return {"seconds": first, "again": again, "rows": n}


def child_floor_postgres(path: Path, url: str) -> dict:
    import psycopg
    from sqlalchemy.engine import make_url

    rows = _parsed_rows(path)
    u = make_url(url)
    dsn = f"host={u.host} port={u.port} user={u.username} dbname={u.database}"
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS bench_floor_ev")
        c.execute(_FLOOR_DDL.replace("CREATE TABLE ev", "CREATE TABLE bench_floor_ev")
                  .replace("id INTEGER PRIMARY KEY", "id BIGSERIAL PRIMARY KEY")
                  .replace("DATETIME", "TIMESTAMP").replace("JSON", "JSON"))

    def load() -> float:
        with psycopg.connect(dsn) as c:
            t0 = time.perf_counter()
            c.execute("CREATE TEMP TABLE t (idempotency_key text, customer_external_id text, event_name text, "
                      "timestamp timestamp, quantity bigint, properties json, source text, created_at timestamp) "
                      "ON COMMIT DROP")
            with c.cursor() as cur, cur.copy(f"COPY t ({_COLS}) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
            c.execute(f"INSERT INTO bench_floor_ev ({_COLS}) SELECT {_COLS} FROM t ON CONFLICT DO NOTHING")
            c.commit()
            return time.perf_counter() - t0

    first, again = load(), load()
    with psycopg.connect(dsn, autocommit=True) as c:
        n = c.execute("SELECT count(*) FROM bench_floor_ev").fetchone()[0]
        c.execute("DROP TABLE bench_floor_ev")
    return {"seconds": first, "again": again, "rows": n}


def _engine(backend: str, workdir: Path, url: str | None):
    from sqlalchemy import text

    from core.db import make_engine

    if backend == "sqlite":
        return make_engine(f"sqlite:///{workdir / 'ours.db'}")
    name = "bench_upload"
    admin = make_engine(url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    from sqlalchemy.engine import make_url

    return make_engine(make_url(url).set(database=name).render_as_string(hide_password=False))


def child_ours(path: Path, backend: str, workdir: Path, url: str | None, customers: int) -> dict:
    import gen_usage
    from sqlalchemy import text

    from core.auth import SYSTEM
    from core.db import session_scope
    from core.importers.usage import import_usage, preview_usage

    engine = _engine(backend, workdir, url)
    gen_usage.seed_database(engine, customers)
    base_rss = _rss_mib()
    data = path.read_bytes()
    out: dict = {"base_rss": base_rss}
    # the preview alone (what the page shows before the user confirms)
    t0 = time.perf_counter()
    with session_scope(engine) as s:
        rep = preview_usage(s, data, path.name)
        assert rep.ok, rep.errors[:3]
        s.rollback()
    out["preview"] = time.perf_counter() - t0
    for label in ("first", "again"):
        t0 = time.perf_counter()
        with session_scope(engine) as s:
            rep = import_usage(s, SYSTEM, data, path.name)
            assert rep.ok, rep.errors[:3]
        out[label] = time.perf_counter() - t0
        out[f"{label}_inserted"] = rep.inserted
        out[f"{label}_duplicates"] = len(rep.duplicates)
        out[f"{label}_rss"] = _rss_mib()
    with engine.connect() as c:
        out["rows"] = c.execute(text("SELECT count(*) FROM usage_event")).scalar_one()
        if backend == "sqlite":  # the import may rebuild secondary indexes: they must all be back
            names = set(c.execute(text("SELECT name FROM sqlite_master WHERE tbl_name = 'usage_event'")).scalars())
            assert "ix_usage_event_name_customer_ts" in names, names
    engine.dispose()
    return out


def _run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False,
                          timeout=CHILD_TIMEOUT)
    if proc.returncode:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"measurement {args[0]} failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--only", choices=["sqlite", "postgres"])
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        step, path, workdir, *rest = a.child
        url = os.environ.get("TEST_POSTGRES_URL")
        if step == "floor-sqlite":
            res = child_floor_sqlite(Path(path), Path(workdir))
        elif step == "floor-postgres":
            res = child_floor_postgres(Path(path), url)
        else:
            res = child_ours(Path(path), step.removeprefix("ours-"), Path(workdir), url, int(rest[0]))
        res["peak_rss"] = _rss_mib()
        res["load"] = Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"
        print(json.dumps(res))
        return

    import gen_usage

    wl = gen_usage.workload(a.events, a.customers)
    print(f"workload: {wl.path.name}, {wl.size / 1e6:.1f} MB, {wl.events:,} events, {wl.customers:,} customers")
    backends = ["sqlite"]
    if os.environ.get("TEST_POSTGRES_URL"):
        backends.append("postgres")
    elif a.only != "sqlite":
        print("(TEST_POSTGRES_URL not set: PostgreSQL skipped; run under scripts/with_postgres.sh)")
    if a.only:
        backends = [b for b in backends if b == a.only]
    lines = []
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="ch-upload-") as wd:
            floor = _run_child(f"floor-{backend}", str(wl.path), wd)
            ours = _run_child(f"ours-{backend}", str(wl.path), wd, str(wl.customers))
        assert floor["rows"] == wl.events and ours["rows"] == wl.events, (floor["rows"], ours["rows"])
        assert ours["first_inserted"] == wl.events and ours["again_inserted"] == 0
        target = 2.0 if backend == "sqlite" else 1.5
        ratio = ours["first"] / floor["seconds"]
        lines.append((backend, floor, ours, ratio, target))
    print()
    print("| db | floor | floor again | ours: import+commit | ratio | target | re-upload | preview | "
          "peak RSS (import child) | after first / again | RSS before import | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for backend, floor, ours, ratio, target in lines:
        print(f"| {backend} | {floor['seconds']:.2f} s | {floor['again']:.2f} s | {ours['first']:.2f} s | "
              f"{ratio:.2f}× | ≤ {target}× {'met' if ratio <= target else 'NOT met'} | {ours['again']:.2f} s "
              f"({'≤' if ours['again'] <= ours['first'] else '>'} first) | {ours['preview']:.2f} s | "
              f"{ours['peak_rss']:.0f} MiB ({'≤' if ours['peak_rss'] <= 1024 else '>'} 1 GiB) | "
              f"{ours['first_rss']:.0f} / {ours['again_rss']:.0f} MiB | {ours['base_rss']:.0f} MiB | "
              f"{floor['load']} → {ours['load']} |")


if __name__ == "__main__":
    main()
