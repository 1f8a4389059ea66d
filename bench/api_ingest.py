"""Usage ingestion through the REST API: events/s in batches and single-event requests/s, on SQLite and PostgreSQL.

For each database: starts the API the way ``make api`` does (``uvicorn api.main:app --loop uvloop --http
httptools``, one process unless ``--workers``) on 127.0.0.1 at a free port, on a fresh database seeded through the
real services with 10,000 customers (one customer import), a metric and a key; then
  1. with one keep-alive httpx client: 200 batches of 1,000 events, 2,000 single-event requests (once from one
     client, once from 4 clients in threads), 10 batches re-sent (all duplicates), and the framework's floor
     ``GET /openapi.json`` (cached: no database, no key) — request bodies encoded before the clock starts;
  2. when Debian's ``wrk`` is installed (a load generator in C: the Python client above costs more CPU per request
     than the server on these 2 shared cores), the same requests for a fixed time each: single events over 1 and 4
     connections, batches of 1,000 over 1 and 2 connections, and the same framework floor. Bodies are made by a Lua
     script (unique keys, random customers); the database count is checked against the answers wrk counted.
Every answer of the Python client is checked; stored counts are verified after each step.
Floors, in the same run: the same events written straight into a copy of the seeded database with the driver's
``executemany`` (SQLite: INSERT OR IGNORE, WAL, synchronous=NORMAL; PostgreSQL: INSERT … ON CONFLICT DO NOTHING)
in 200 transactions of 1,000 rows, and in 2,000 one-row transactions.
PostgreSQL runs when TEST_POSTGRES_URL is set (``scripts/with_postgres.sh``). Everything is bounded (fixed
counts, fixed wrk durations, a hard time limit) and stops by itself; every server started is stopped.

    .venv/bin/python bench/api_ingest.py [--batches 200] [--batch-size 1000] [--singles 2000] [--only sqlite]
    bash scripts/with_postgres.sh .venv/bin/python bench/api_ingest.py       # SQLite and PostgreSQL
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CUSTOMERS = 10_000
TIME_LIMIT = 1200  # seconds: the whole run stops by then whatever happens
SERVER = ["-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--loop", "uvloop", "--http", "httptools"]
TARGETS = {"sqlite": 20_000, "postgresql": 10_000}  # events/s in batches of 1,000; singles: 1,000 req/s


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(url: str) -> str:
    from core.apikeys import create_key
    from core.auth import SYSTEM
    from core.catalog import create_entity
    from core.db import make_engine, session_scope, upgrade
    from core.importers.customers import import_customers
    from core.metering.metrics import MetricSpec, create_metric

    engine = make_engine(url)
    try:
        upgrade(engine)
        with session_scope(engine) as s:
            create_entity(s, SYSTEM, name="Bench Seller", invoice_prefix="B-")
            csv = "external_id,name,currency\n" + "".join(f"c{i:05d},Customer {i},USD\n" for i in range(CUSTOMERS))
            rep = import_customers(s, SYSTEM, csv.encode(), "customers.csv")
            assert rep.ok, rep.errors[:3]
            create_metric(s, SYSTEM, MetricSpec(code="api_calls", name="API calls", event_name="api_call",
                                                aggregation="sum"))
            _key, secret = create_key(s, SYSTEM, "bench", ["usage:write"])
    finally:
        engine.dispose()
    return secret


def stamp(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_events(prefix: str, n: int, rng: random.Random) -> list[dict]:
    now = datetime.utcnow()
    return [{"idempotency_key": f"{prefix}-{i}", "customer_external_id": f"c{rng.randrange(CUSTOMERS):05d}",
             "event_name": "api_call", "timestamp": stamp(now - timedelta(seconds=rng.randrange(86_400 * 20))),
             "quantity": f"{rng.randrange(1, 10_000)}.{rng.randrange(100):02d}",
             "properties": {"region": rng.choice(["eu", "us", "ap"])}} for i in range(n)]


def start_server(url: str, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url}
    extra = ["--workers", str(workers)] if workers > 1 else []
    proc = subprocess.Popen([sys.executable, *SERVER, "--port", str(port), "--log-level", "warning",
                             "--no-access-log", *extra], cwd=ROOT, env=env)
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"uvicorn exited with {proc.returncode}")
        time.sleep(0.2)
    stop_server(proc)
    raise SystemExit("uvicorn did not answer within 60 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def post_batches(base: str, headers: dict, bodies: list[bytes]) -> float:
    import httpx

    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        t0 = time.perf_counter()
        for body in bodies:
            r = client.post("/v1/events/batch", content=body)
            assert r.status_code == 200 and r.json()["rejected"]["count"] == 0, r.text[:500]
        return time.perf_counter() - t0


def post_singles(base: str, headers: dict, bodies: list[bytes], clients: int) -> float:
    import httpx

    parts = [bodies[i::clients] for i in range(clients)]
    errors: list[str] = []

    def run(part: list[bytes]) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for body in part:
                r = client.post("/v1/events", content=body)
                if r.status_code != 201:
                    errors.append(r.text[:300])
                    return

    threads = [threading.Thread(target=run, args=(p,)) for p in parts]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIME_LIMIT)
    elapsed = time.perf_counter() - t0
    assert not errors, errors[:3]
    return elapsed


def get_many(base: str, path: str, n: int) -> float:
    import httpx

    with httpx.Client(base_url=base, timeout=60) as client:
        client.get(path)
        t0 = time.perf_counter()
        for _ in range(n):
            assert client.get(path).status_code == 200
        return time.perf_counter() - t0


# ---- wrk ------------------------------------------------------------------------------------------------------

_LUA = r"""
local size = tonumber(os.getenv("BENCH_BATCH") or "0")
local prefix = os.getenv("BENCH_PREFIX")
local ts = os.getenv("BENCH_TS")
local headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("BENCH_KEY")}
local regions = {"eu", "us", "ap"}
local n = 0
local function event()
  n = n + 1
  return string.format('{"idempotency_key":"%s-%d","customer_external_id":"c%05d","event_name":"api_call",' ..
    '"timestamp":"%s","quantity":"%d.%02d","properties":{"region":"%s"}}', prefix, n, math.random(0, 9999), ts,
    math.random(1, 9999), math.random(0, 99), regions[math.random(1, 3)])
end
function request()
  if size == 0 then
    return wrk.format("POST", "/v1/events", headers, event())
  end
  local parts = {}
  for i = 1, size do parts[i] = event() end
  return wrk.format("POST", "/v1/events/batch", headers, '{"events":[' .. table.concat(parts, ",") .. ']}')
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d\n", summary.requests, e.status,
                         e.connect + e.read + e.write + e.timeout, summary.duration, latency.mean))
end
"""


def wrk_run(base: str, seconds: float, connections: int, env: dict | None = None, script: Path | None = None,
            path: str = "/") -> dict:
    """One wrk run (one thread); {"requests", "bad", "seconds", "rate", "latency_ms"} from its summary."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s"]
    if script is not None:
        cmd += ["-s", str(script)]
    else:
        cmd += ["-s", str(_DONE_ONLY)]
    out = subprocess.run(cmd + [base + path], env={**os.environ, **(env or {})}, capture_output=True, text=True,
                         timeout=seconds + 60)
    m = re.search(r"^BENCH (\d+) (\d+) (\d+) (\d+) (\d+)$", out.stdout, re.M)
    assert m, out.stdout + out.stderr
    req, status, other, dur_us, lat_us = map(int, m.groups())
    return {"requests": req, "bad": status + other, "seconds": dur_us / 1e6, "rate": req / (dur_us / 1e6),
            "latency_ms": lat_us / 1000}


_DONE_ONLY = Path()  # set in main: a script with only the done() summary (for the GET floor)


def count_events(url: str) -> int:
    from sqlalchemy import text

    from core.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as c:
            return c.execute(text("SELECT count(*) FROM usage_event")).scalar_one()
    finally:
        engine.dispose()


def wrk_phase(base: str, url: str, secret: str, seconds: float, batch_size: int, tmp: Path) -> dict:
    script = tmp / "ingest.lua"
    script.write_text(_LUA)
    ts = stamp(datetime.utcnow() - timedelta(hours=1))
    out = {}
    for label, size, conns in (("singles_1", 0, 1), ("singles_4", 0, 4), ("batches_1", batch_size, 1),
                                ("batches_2", batch_size, 2)):
        before = count_events(url)
        r = wrk_run(base, seconds, conns, script=script,
                    env={"BENCH_BATCH": str(size), "BENCH_PREFIX": f"w{label}", "BENCH_TS": ts, "BENCH_KEY": secret})
        stored = count_events(url) - before
        per = size or 1
        # wrk stops with up to `conns` requests in flight: the server may finish those after wrk stopped counting
        assert r["bad"] == 0 and r["requests"] * per <= stored <= (r["requests"] + conns) * per, (label, r, stored)
        out[label] = r
    out["framework"] = wrk_run(base, min(seconds, 3), 1, path="/openapi.json")
    assert out["framework"]["bad"] == 0, out["framework"]
    return out


# ---- floors ---------------------------------------------------------------------------------------------------


def floor_rows(events: list[dict]) -> list[tuple]:
    from core.importers.usage import parse_quantity, parse_timestamp

    now = datetime.utcnow().isoformat(" ", "microseconds")
    return [(e["idempotency_key"], e["customer_external_id"], e["event_name"],
             parse_timestamp(e["timestamp"]).isoformat(" ", "microseconds"),
             int(parse_quantity(e["quantity"]).scaleb(6)), json.dumps(e["properties"]), "floor", now)
            for e in events]


_COLS = "idempotency_key, customer_external_id, event_name, timestamp, quantity, properties, source, created_at"


def floor(kind: str, target: str, batches: list[list[tuple]], singles: list[tuple]) -> tuple[float, float]:
    """(seconds for the batches, seconds for the one-row transactions), written by the driver itself."""
    if kind == "sqlite":
        conn = sqlite3.connect(target, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        sql = f"INSERT OR IGNORE INTO usage_event ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        begin, commit = (lambda: conn.execute("BEGIN")), (lambda: conn.execute("COMMIT"))
        cur = conn
    else:
        import psycopg

        conn = psycopg.connect(target)
        sql = f"INSERT INTO usage_event ({_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
        begin, commit = (lambda: None), conn.commit
        cur = conn.cursor()
    try:
        t0 = time.perf_counter()
        for rows in batches:
            begin()
            cur.executemany(sql, rows)
            commit()
        batch_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for row in singles:
            begin()
            cur.execute(sql, row)
            commit()
        single_s = time.perf_counter() - t0
    finally:
        conn.close()
    return batch_s, single_s


# ---- one database ---------------------------------------------------------------------------------------------


def prepare(kind: str, tmp: Path, pg_url: str | None) -> tuple[str, str, str]:
    """(API database URL, floor target, key): a fresh seeded database and a copy of it for the floor."""
    if kind == "sqlite":
        db, floor_db = tmp / "api.db", tmp / "floor.db"
        url = f"sqlite:///{db}"
        secret = seed(url)
        shutil.copyfile(db, floor_db)
        return url, str(floor_db), secret
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from core.db import make_engine

    admin = make_engine(pg_url)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            for name in ("bench_api", "bench_api_floor"):
                c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            c.execute(text("CREATE DATABASE bench_api"))
        url = make_url(pg_url).set(database="bench_api").render_as_string(hide_password=False)
        secret = seed(url)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("CREATE DATABASE bench_api_floor TEMPLATE bench_api"))
    finally:
        admin.dispose()
    floor_url = make_url(pg_url).set(drivername="postgresql", database="bench_api_floor")
    return url, floor_url.render_as_string(hide_password=False), secret


def run_one(kind: str, a: argparse.Namespace, tmp: Path, pg_url: str | None) -> None:
    rng = random.Random(7)
    t0 = time.perf_counter()
    url, floor_target, secret = prepare(kind, tmp, pg_url)
    print(f"\n== {kind}: seeded {CUSTOMERS:,} customers in {time.perf_counter() - t0:.1f} s; "
          f"server: uvicorn --loop uvloop --http httptools, {a.workers} process(es)")
    batch_events = [make_events(f"b{j}", a.batch_size, rng) for j in range(a.batches)]
    batch_bodies = [json.dumps({"events": evs}).encode() for evs in batch_events]
    single_events = make_events("s", a.singles, rng)
    single_bodies = [json.dumps(e).encode() for e in single_events]
    par_bodies = [json.dumps(e).encode() for e in make_events("p", a.singles, rng)]

    port = free_port()
    proc = start_server(url, port, a.workers)
    try:
        base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {secret}",
                                                     "Content-Type": "application/json"}
        n_batch = a.batches * a.batch_size
        batch_s = post_batches(base, headers, batch_bodies)
        single_s = post_singles(base, headers, single_bodies, 1)
        par_s = post_singles(base, headers, par_bodies, 4)
        resend_s = post_batches(base, headers, batch_bodies[:10])  # duplicates: nothing stored twice
        framework_s = get_many(base, "/openapi.json", a.singles)  # the framework's floor: no database, no auth
        stored = count_events(url)
        assert stored == n_batch + 2 * a.singles, stored
        w = wrk_phase(base, url, secret, a.wrk_seconds, a.batch_size, tmp) if a.wrk else None
    finally:
        stop_server(proc)

    fb_s, fs_s = floor(kind, floor_target, [floor_rows(evs) for evs in batch_events], floor_rows(single_events))

    print(f"API batches:  {n_batch:,} events in {batch_s:.2f} s = {n_batch / batch_s:,.0f} events/s "
          f"({batch_s / a.batches * 1000:.1f} ms per batch of {a.batch_size:,})")
    print(f"floor:        {n_batch:,} rows by executemany in {fb_s:.2f} s = {n_batch / fb_s:,.0f} rows/s "
          f"→ ratio {batch_s / fb_s:.1f}×")
    print(f"API re-sent:  {10 * a.batch_size:,} duplicate events in {resend_s:.2f} s = "
          f"{10 * a.batch_size / resend_s:,.0f} events/s")
    print(f"API singles:  {a.singles:,} requests, 1 client, in {single_s:.2f} s = {a.singles / single_s:,.0f} "
          f"req/s ({single_s / a.singles * 1000:.2f} ms each)")
    print(f"API singles:  {a.singles:,} requests, 4 clients, in {par_s:.2f} s = {a.singles / par_s:,.0f} req/s")
    print(f"framework:    {a.singles:,} GET /openapi.json (cached, no database, no auth), 1 client: "
          f"{a.singles / framework_s:,.0f} req/s")
    print(f"floor:        {a.singles:,} one-row transactions in {fs_s:.2f} s = {a.singles / fs_s:,.0f} tx/s")
    best_batch, best_single = n_batch / batch_s, max(a.singles / single_s, a.singles / par_s)
    if w:
        for label, conns in (("batches_1", 1), ("batches_2", 2)):
            b = w[label]
            print(f"wrk batches:  {b['requests']:,} batches of {a.batch_size:,} in {b['seconds']:.1f} s, {conns} "
                  f"connection(s) = {b['rate'] * a.batch_size:,.0f} events/s ({b['latency_ms']:.1f} ms mean latency)")
        for label, conns in (("singles_1", 1), ("singles_4", 4)):
            r = w[label]
            print(f"wrk singles:  {r['requests']:,} requests in {r['seconds']:.1f} s, {conns} connection(s) = "
                  f"{r['rate']:,.0f} req/s ({r['latency_ms']:.2f} ms mean latency)")
        print(f"wrk framework: GET /openapi.json, 1 connection = {w['framework']['rate']:,.0f} req/s")
        best_batch = max(best_batch, w["batches_1"]["rate"] * a.batch_size, w["batches_2"]["rate"] * a.batch_size)
        best_single = max(best_single, w["singles_1"]["rate"], w["singles_4"]["rate"])
    target = TARGETS[kind]
    print(f"stored {stored:,} events (+ the wrk runs', checked); targets ({kind}): batches ≥ {target:,} events/s: "
          f"{'met' if best_batch >= target else 'NOT met'} (best {best_batch:,.0f}); singles ≥ 1,000 req/s: "
          f"{'met' if best_single >= 1_000 else 'NOT met'} (best {best_single:,.0f})")


def main() -> None:
    global _DONE_ONLY
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--singles", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1, as `make api`)")
    ap.add_argument("--wrk-seconds", type=float, default=5.0)
    ap.add_argument("--no-wrk", dest="wrk", action="store_false", help="skip the wrk runs")
    ap.add_argument("--only", choices=["sqlite", "postgresql"])
    a = ap.parse_args()
    stop = threading.Timer(TIME_LIMIT, lambda: os._exit(3))  # a hard stop, whatever hangs
    stop.daemon = True
    stop.start()
    if a.wrk and shutil.which("wrk") is None:
        print("(wrk not installed — `apt-get install wrk` — so only the Python client is measured)")
        a.wrk = False

    pg_url = os.environ.get("TEST_POSTGRES_URL")
    kinds = [k for k in ("sqlite", "postgresql") if a.only in (None, k)]
    if "postgresql" in kinds and not pg_url:
        print("(TEST_POSTGRES_URL not set: PostgreSQL skipped; run under scripts/with_postgres.sh)")
        kinds.remove("postgresql")
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    try:
        _DONE_ONLY = tmp / "done.lua"
        _DONE_ONLY.write_text(_LUA[_LUA.index("function done"):])
        for kind in kinds:
            run_one(kind, a, tmp, pg_url)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
