"""Usage ingestion through the REST API: events/s in batches and single-event requests/s, on SQLite.

Starts ``uvicorn api.main:app`` (one process, as documented) on 127.0.0.1 at a free port, on a fresh SQLite file
seeded through the real services with 10,000 customers (one customer import) and a metric; creates a key; then
posts 200 batches of 1,000 events with one keep-alive httpx client, and 2,000 single-event requests (once from
one client, once from 4 clients in parallel). Request bodies are encoded before the clock starts.
Floor, in the same run: the same events written straight into a copy of the same database with sqlite3
``executemany`` (INSERT OR IGNORE, WAL, synchronous=NORMAL): 200 transactions of 1,000 rows, and 2,000
one-row transactions. Everything is bounded (fixed counts, a time limit) and stops by itself.

    .venv/bin/python bench/api_ingest.py [--batches 200] [--batch-size 1000] [--singles 2000]
"""
from __future__ import annotations

import argparse
import json
import os
import random
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
TIME_LIMIT = 600  # seconds: the whole run stops by then whatever happens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(path: Path) -> str:
    from core.apikeys import create_key
    from core.auth import SYSTEM
    from core.catalog import create_entity
    from core.db import make_engine, session_scope, upgrade
    from core.importers.customers import import_customers
    from core.metering.metrics import MetricSpec, create_metric

    engine = make_engine(f"sqlite:///{path}")
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


def make_events(prefix: str, n: int, rng: random.Random) -> list[dict]:
    now = datetime.utcnow()
    return [{"idempotency_key": f"{prefix}-{i}", "customer_external_id": f"c{rng.randrange(CUSTOMERS):05d}",
             "event_name": "api_call",
             "timestamp": (now - timedelta(seconds=rng.randrange(86_400 * 20))).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "quantity": f"{rng.randrange(1, 10_000)}.{rng.randrange(100):02d}",
             "properties": {"region": rng.choice(["eu", "us", "ap"])}} for i in range(n)]


def start_server(db: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port",
                             str(port), "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=env)
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
    proc.terminate()
    raise SystemExit("uvicorn did not answer within 60 s")


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


def floor_rows(events: list[dict]) -> list[tuple]:
    from core.importers.usage import parse_quantity, parse_timestamp

    now = datetime.utcnow().isoformat(" ", "microseconds")
    return [(e["idempotency_key"], e["customer_external_id"], e["event_name"],
             parse_timestamp(e["timestamp"]).isoformat(" ", "microseconds"),
             int(parse_quantity(e["quantity"]).scaleb(6)), json.dumps(e["properties"]), "floor", now)
            for e in events]


def floor(db: Path, batches: list[list[tuple]], singles: list[tuple]) -> tuple[float, float]:
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    sql = ("INSERT OR IGNORE INTO usage_event (idempotency_key, customer_external_id, event_name, timestamp, "
           "quantity, properties, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
    t0 = time.perf_counter()
    for rows in batches:
        conn.execute("BEGIN")
        conn.executemany(sql, rows)
        conn.execute("COMMIT")
    batch_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for row in singles:
        conn.execute("BEGIN")
        conn.execute(sql, row)
        conn.execute("COMMIT")
    single_s = time.perf_counter() - t0
    conn.close()
    return batch_s, single_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--singles", type=int, default=2000)
    a = ap.parse_args()
    stop = threading.Timer(TIME_LIMIT, lambda: os._exit(3))  # a hard stop, whatever hangs
    stop.daemon = True
    stop.start()

    rng = random.Random(7)
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    proc = None
    try:
        db, floor_db = tmp / "api.db", tmp / "floor.db"
        t0 = time.perf_counter()
        secret = seed(db)
        shutil.copyfile(db, floor_db)
        print(f"seeded {CUSTOMERS:,} customers in {time.perf_counter() - t0:.1f} s")
        batch_events = [make_events(f"b{j}", a.batch_size, rng) for j in range(a.batches)]
        batch_bodies = [json.dumps({"events": evs}).encode() for evs in batch_events]
        single_events = make_events("s", a.singles, rng)
        single_bodies = [json.dumps(e).encode() for e in single_events]
        par_events = make_events("p", a.singles, rng)
        par_bodies = [json.dumps(e).encode() for e in par_events]

        port = free_port()
        proc = start_server(db, port)
        base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {secret}",
                                                     "Content-Type": "application/json"}
        n_batch = a.batches * a.batch_size
        batch_s = post_batches(base, headers, batch_bodies)
        single_s = post_singles(base, headers, single_bodies, 1)
        par_s = post_singles(base, headers, par_bodies, 4)
        resend_s = post_batches(base, headers, batch_bodies[:10])  # duplicates: nothing stored twice
        framework_s = get_many(base, "/openapi.json", a.singles)  # the framework's floor: no database, no auth

        with sqlite3.connect(db) as c:
            stored = c.execute("SELECT count(*) FROM usage_event").fetchone()[0]
        assert stored == n_batch + 2 * a.singles, stored

        floor_batch = [floor_rows(evs) for evs in batch_events]
        floor_single = floor_rows(single_events)
        fb_s, fs_s = floor(floor_db, floor_batch, floor_single)

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
        print(f"stored {stored:,} events; targets: batches ≥ 20,000 events/s: "
              f"{'met' if n_batch / batch_s >= 20_000 else 'NOT met'}; singles ≥ 1,000 req/s: "
              f"{'met' if max(a.singles / single_s, a.singles / par_s) >= 1_000 else 'NOT met'}")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
