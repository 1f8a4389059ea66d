"""Deterministic reference workload for the usage-upload and aggregation benchmarks.

1,000,000 events (~130 MB CSV) for 10,000 customers and 5 event names in January 2025, written to a temp
dir (cached there by size and seed), plus the exact totals per metric and customer computed here, in
Python integers, independently of the database. ``seed_database`` creates the seller, the customers (one
customer import, as a user would) and the 5 metrics through the real services.

    .venv/bin/python bench/gen_usage.py [--events N] [--customers N]   # writes the file, prints its path
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import pickle
import random
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PERIOD_START = datetime(2025, 1, 1)
PERIOD_END = datetime(2025, 2, 1)
HEADER = ["idempotency_key", "customer_external_id", "event_name", "timestamp", "quantity", "region", "host"]
# (metric code, event name, aggregation, how quantities look)
METRICS = [
    ("api_calls", "api_call", "sum", "int"),
    ("storage_gb", "storage_gb", "max", "dec3"),
    ("compute_hours", "compute_hour", "sum", "dec6"),
    ("messages", "message_sent", "count", "int"),
    ("bandwidth_gb", "bandwidth_gb", "sum", "dec2"),
]
REGIONS = ["eu-west-1", "us-east-1", "us-west-2", "ap-southeast-1"]
SCALE = 10**6


@dataclass
class Workload:
    path: Path
    events: int
    customers: int
    size: int
    # exact expected results: {metric code: {customer: (value scaled by 10^6 — count unscaled —, events)}}
    expected: dict[str, dict[str, tuple[int, int]]]


def customer_id(i: int) -> str:
    return f"CUST-{i:05d}"


def _quantity(rng: random.Random, kind: str) -> tuple[str, int]:
    """(text in the CSV, value × 10^6)."""
    if kind == "int":
        v = rng.randint(1, 500)
        return str(v), v * SCALE
    digits = {"dec2": 2, "dec3": 3, "dec6": 6}[kind]
    v = rng.randint(1, 100_000 * 10**digits)
    whole, frac = divmod(v, 10**digits)
    return f"{whole}.{frac:0{digits}d}", v * 10 ** (6 - digits)


def generate(path: Path, events: int = 1_000_000, customers: int = 10_000, seed: int = 42):
    rng = random.Random(seed)
    span = int((PERIOD_END - PERIOD_START).total_seconds() * 1_000_000)
    expected: dict[str, dict[str, list[int]]] = {m[0]: {} for m in METRICS}
    # a skewed but bounded customer distribution: some customers are much busier than others
    weights = [1 + (i * 7919 % 97) for i in range(customers)]
    custs = rng.choices(range(customers), weights=weights, k=events)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(HEADER)
        for n in range(events):
            code, event, agg, kind = METRICS[rng.randrange(len(METRICS))]
            cust = customer_id(custs[n])
            ts = PERIOD_START + timedelta(microseconds=rng.randrange(span))
            text, scaled = _quantity(rng, kind)
            key = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            w.writerow([key, cust, event, ts.isoformat(timespec="microseconds") + "Z", text,
                        REGIONS[rng.randrange(4)], f"host-{rng.randrange(1000):03d}.example"])
            acc = expected[code].setdefault(cust, [0, 0])
            if agg == "sum":
                acc[0] += scaled
            elif agg == "max":
                acc[0] = max(acc[0], scaled)
            elif agg == "count":
                acc[0] += 1
            acc[1] += 1
    return {code: {c: (v[0], v[1]) for c, v in per.items()} for code, per in expected.items()}


def workload(events: int = 1_000_000, customers: int = 10_000, seed: int = 42,
             directory: str | None = None) -> Workload:
    """The workload file (generated once, then reused from the temp dir) and its expected totals."""
    d = Path(directory or os.environ.get("BENCH_DIR") or Path(tempfile.gettempdir()) / "countinghouse-bench")
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"usage_{events}_{customers}_{seed}.csv"
    meta = path.with_suffix(".expected.pickle")
    if not (path.exists() and meta.exists()):
        expected = generate(path, events, customers, seed)
        meta.write_bytes(pickle.dumps(expected))
    expected = pickle.loads(meta.read_bytes())
    return Workload(path, events, customers, path.stat().st_size, expected)


def customers_csv(customers: int) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["external_id", "name", "currency"])
    for i in range(customers):
        w.writerow([customer_id(i), f"Customer {i:05d}", "USD"])
    return buf.getvalue().encode()


def seed_database(engine, customers: int = 10_000) -> None:  # noqa: ANN001
    """Seller, customers (one bulk customer import) and the 5 metrics, through the real services."""
    from core.auth import SYSTEM
    from core.catalog import create_entity
    from core.db import session_scope, upgrade
    from core.importers.customers import import_customers
    from core.metering.metrics import MetricSpec, create_metric

    upgrade(engine)
    with session_scope(engine) as s:
        create_entity(s, SYSTEM, name="Bench Seller", invoice_prefix="B-")
        rep = import_customers(s, SYSTEM, customers_csv(customers), "customers.csv")
        assert rep.ok, rep.errors[:3]
        for code, event, agg, _kind in METRICS:
            create_metric(s, SYSTEM, MetricSpec(code=code, name=code.replace("_", " ").title(), event_name=event,
                                                aggregation=agg))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--customers", type=int, default=10_000)
    a = ap.parse_args()
    wl = workload(a.events, a.customers)
    print(f"{wl.path} {wl.size / 1e6:.1f} MB, {wl.events:,} events, {wl.customers:,} customers")


if __name__ == "__main__":
    main()
