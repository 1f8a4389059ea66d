"""Period aggregation: all customers per metric (5 metrics, one month of the reference workload), checked
exact against totals computed by the generator in Python integers, and one customer's usage (median of 100).

Loads the workload with ``import_usage`` into a fresh database (SQLite, and PostgreSQL when TEST_POSTGRES_URL
is set), then times ``core.metering.metrics.aggregate``. Floor: the bare ``SELECT … GROUP BY`` for the
same metric through the DBAPI cursor, in the same run.

    .venv/bin/python bench/aggregate.py [--events 1000000]
    bash scripts/with_postgres.sh .venv/bin/python bench/aggregate.py
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import gen_usage  # noqa: E402
from csv_upload import _engine  # noqa: E402


def _check(metric, results, expected) -> int:  # noqa: ANN001
    """Problems found comparing aggregate()'s results with the generator's exact totals."""
    bad = 0
    if set(results) != set(expected):
        return abs(len(set(results) ^ set(expected))) or 1
    for cust, (value, n) in expected.items():
        r = results[cust]
        want = Decimal(value) if metric.aggregation == "count" else Decimal(value).scaleb(-6)
        if r.quantity != want or r.events != n:
            bad += 1
    return bad


def run(backend: str, wl, workdir: Path, url: str | None) -> list[tuple]:  # noqa: ANN001
    from sqlalchemy import text

    from core.auth import SYSTEM
    from core.db import session_scope
    from core.importers.usage import import_usage
    from core.metering.metrics import aggregate, list_metrics

    engine = _engine(backend, workdir, url)
    gen_usage.seed_database(engine, wl.customers)
    t0 = time.perf_counter()
    with session_scope(engine) as s:
        rep = import_usage(s, SYSTEM, wl.path.read_bytes(), wl.path.name)
        assert rep.ok and rep.inserted == wl.events
    print(f"  {backend}: loaded {wl.events:,} events in {time.perf_counter() - t0:.1f} s")
    with engine.connect() as c:  # statistics up to date, as after autovacuum / a normal day's use
        c.execute(text("ANALYZE"))
        c.commit()
    start, end = gen_usage.PERIOD_START, gen_usage.PERIOD_END
    out = []
    with session_scope(engine) as s:
        metrics = list_metrics(s)
        one = gen_usage.customer_id(123)
        for m in metrics:
            # floor: the bare grouped query through the driver
            raw = s.connection().connection.driver_connection
            sql = ("SELECT customer_external_id, sum(quantity), count(*) FROM usage_event WHERE event_name = {p} "
                   "AND timestamp >= {p} AND timestamp < {p} GROUP BY customer_external_id")
            p = "?" if backend == "sqlite" else "%s"
            args = (m.event_name, str(start), str(end)) if backend == "sqlite" else (m.event_name, start, end)
            cur = raw.cursor()
            t0 = time.perf_counter()
            cur.execute(sql.format(p=p), args)
            cur.fetchall()
            floor = time.perf_counter() - t0
            cur.close()
            t0 = time.perf_counter()
            res = aggregate(s, m, start, end)
            secs = time.perf_counter() - t0
            bad = _check(m, res, wl.expected[m.code])
            lat = []
            for _ in range(100):
                t1 = time.perf_counter()
                r1 = aggregate(s, m, start, end, customers=[one])
                lat.append(time.perf_counter() - t1)
            assert r1[one].quantity == res[one].quantity
            out.append((backend, m.code, m.aggregation, floor, secs, len(res), bad, statistics.median(lat)))
    engine.dispose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=10_000)
    a = ap.parse_args()
    wl = gen_usage.workload(a.events, a.customers)
    print(f"workload: {wl.path.name}, {wl.events:,} events, {wl.customers:,} customers")
    url = os.environ.get("TEST_POSTGRES_URL")
    rows = []
    for backend in ["sqlite"] + (["postgres"] if url else []):
        with tempfile.TemporaryDirectory(prefix="ch-agg-") as wd:
            rows += run(backend, wl, Path(wd), url)
    print()
    print("| db | metric | aggregation | floor: bare GROUP BY | aggregate(), all customers | target | customers | "
          "exact | one customer (median of 100) | target |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for backend, code, agg, floor, secs, n, bad, one in rows:
        limit = 1.0 if backend == "sqlite" else 4.0
        print(f"| {backend} | {code} | {agg} | {floor * 1000:.0f} ms | {secs * 1000:.0f} ms | ≤ {limit:.0f} s "
              f"{'met' if secs <= limit else 'NOT met'} | {n:,} | {'yes' if not bad else f'NO ({bad} differ)'} | "
              f"{one * 1000:.2f} ms | ≤ 5 ms {'met' if one <= 0.005 else 'NOT met'} |")
    if any(r[6] for r in rows):
        raise SystemExit("aggregate() is not exact")


if __name__ == "__main__":
    main()
