"""Redaction on import: what "Redact before importing" costs on the 1M-row usage CSV (bench/gen_usage.py).

Each measurement runs in a child process of its own, on a fresh SQLite database seeded like bench/csv_upload.py's
(seller, 10,000 customers, 5 metrics) — for the redacted runs with the customers file imported redacted too
(external_id as identifier), so the usage file's redacted customer ids must match theirs:

- ``plain``: ``import_usage`` + commit, no redaction (the reference, as in bench/csv_upload.py);
- ``redacted``: the same with ``customer_external_id`` and the ``host`` property (1,000 distinct values) redacted
  as identifiers — the plain-CSV path, redacted column-wise by pyarrow;
- ``preview`` / ``preview redacted``: ``preview_usage`` alone, without and with the redaction;
- ``redactor, 1M distinct``: :class:`core.pilot_redaction.Redactor` on a column of a million distinct values (the
  worst case: a property such as a request id that never repeats), as pyarrow's column and as a list.

Every redacted run checks what was stored: as many events and the same quantity total as the plain run, no original
customer id left, every stored customer id a pseudonym of the customers file.

    .venv/bin/python bench/redaction.py [--events 1000000] [--customers 10000]
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

REDACTION = {"customer_external_id": "identifier", "host": "identifier"}
CHILD_TIMEOUT = 1800


def _seed(engine, customers: int, redacted: bool) -> None:  # noqa: ANN001
    from gen_usage import METRICS, customers_csv

    from core.auth import SYSTEM
    from core.catalog import create_entity
    from core.db import session_scope, upgrade
    from core.importers.customers import import_customers
    from core.metering.metrics import MetricSpec, create_metric

    upgrade(engine)
    with session_scope(engine) as s:
        create_entity(s, SYSTEM, name="Bench Seller", invoice_prefix="B-")
        rep = import_customers(s, SYSTEM, customers_csv(customers), "customers.csv",
                               redaction={"external_id": "identifier"} if redacted else None)
        assert rep.ok, rep.errors[:3]
        for code, event, agg, _kind in METRICS:
            create_metric(s, SYSTEM, MetricSpec(code=code, name=code.title(), event_name=event, aggregation=agg))


def child(kind: str, path: Path, customers: int, workdir: Path) -> dict:
    from sqlalchemy import text

    from core.auth import SYSTEM
    from core.db import make_engine, session_scope
    from core.importers.usage import import_usage, preview_usage

    if kind == "redactor":
        return _redactor_only(int(customers))
    redacted = "redacted" in kind
    engine = make_engine(f"sqlite:///{workdir / 'bench.db'}")
    _seed(engine, customers, redacted)
    data = path.read_bytes()
    opts = {"redaction": REDACTION} if redacted else {}
    t0 = time.perf_counter()
    if kind.startswith("preview"):
        with session_scope(engine) as s:
            rep = preview_usage(s, data, path.name, **opts)
        seconds = time.perf_counter() - t0
        assert rep.ok, rep.errors[:3]
        return {"seconds": seconds, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    with session_scope(engine) as s:
        rep = import_usage(s, SYSTEM, data, path.name, **opts)
        assert rep.ok, rep.errors[:3]
    seconds = time.perf_counter() - t0
    with engine.connect() as conn:
        count, total = conn.execute(text("SELECT count(*), sum(quantity) FROM usage_event")).one()
        ids = set(conn.execute(text("SELECT DISTINCT customer_external_id FROM usage_event")).scalars())
        hosts = conn.execute(text("SELECT count(*) FROM usage_event WHERE properties LIKE '%.example%'")).scalar_one()
    out = {"seconds": seconds, "events": count, "total": str(total), "customers": len(ids),
           "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if redacted:
        from gen_usage import customer_id

        from core import pilot_redaction as pr

        key = pr.secret()
        assert not any(i.startswith("CUST-") for i in ids), "an original customer id was stored"
        assert ids <= {pr.pseudonym("identifier", customer_id(i), key) for i in range(customers)}
        assert hosts == 0, "an original host was stored"
    return out


def _redactor_only(n: int) -> dict:
    import pyarrow as pa

    from core.pilot_redaction import Redactor

    values = [f"req-{i:09d}" for i in range(n)]
    column = pa.chunked_array([pa.array(values, pa.string())])
    t0 = time.perf_counter()
    Redactor().arrow("identifier", column, "request_id")
    arrow_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    Redactor().values("identifier", values, "request_id")
    list_s = time.perf_counter() - t0
    return {"arrow_seconds": arrow_s, "list_seconds": list_s}


def _run(kind: str, path: Path, customers: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-redaction-") as tmp:
        proc = subprocess.run([sys.executable, __file__, "--child", kind, str(path), str(customers), tmp],
                              capture_output=True, text=True, check=False, timeout=CHILD_TIMEOUT,
                              env={**os.environ, "REDACTION_SECRET": os.environ.get(
                                  "REDACTION_SECRET", "bench-redaction-key-0123456789abcdefghijkl")})
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--child", nargs=4, metavar=("KIND", "PATH", "CUSTOMERS", "WORKDIR"))
    args = ap.parse_args()
    if args.child:
        kind, path, customers, workdir = args.child
        print(json.dumps(child(kind, Path(path), int(customers), Path(workdir))))
        return
    from gen_usage import workload

    w = workload(args.events, args.customers)
    print(f"workload: {w.events:,} events, {w.customers:,} customers, {w.size / 1e6:.0f} MB ({w.path})")
    load = os.getloadavg()[0]
    plain = _run("plain", w.path, w.customers)
    red = _run("redacted", w.path, w.customers)
    assert (red["events"], red["total"], red["customers"]) == (plain["events"], plain["total"], plain["customers"])
    prev = _run("preview", w.path, w.customers)
    prev_red = _run("preview redacted", w.path, w.customers)
    only = _run("redactor", w.path, w.events)
    print(f"load average at the start: {load:.2f}, at the end: {os.getloadavg()[0]:.2f}")
    print("| measurement | plain | redacted | cost |")
    print("|---|---|---|---|")
    print(f"| import + commit, SQLite | {plain['seconds']:.2f} s | {red['seconds']:.2f} s | "
          f"{red['seconds'] - plain['seconds']:+.2f} s ({red['seconds'] / plain['seconds']:.2f}×) |")
    print(f"| preview alone | {prev['seconds']:.2f} s | {prev_red['seconds']:.2f} s | "
          f"{prev_red['seconds'] - prev['seconds']:+.2f} s |")
    print(f"| peak RSS of the import | {plain['rss_mib']:.0f} MiB | {red['rss_mib']:.0f} MiB | |")
    print(f"| Redactor, {w.events:,} distinct values | pyarrow column {only['arrow_seconds']:.2f} s | "
          f"list {only['list_seconds']:.2f} s | |")
    print(f"stored alike: {red['events']:,} events, quantity total {red['total']}, {red['customers']:,} customers "
          "(pseudonyms only, no original id or host left)")


if __name__ == "__main__":
    main()
