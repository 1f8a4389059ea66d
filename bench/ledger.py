"""Trial balance over a million journal lines (issue: accounting; target ≤ 1 s).

Builds a ledger of ``--lines`` journal lines (default 1,000,000: 250,000 balanced entries of 4 lines, two
currencies, 2 years of dates, 1,000 customers) through the real posting path (``core.ledger.posting.post_many``,
in batches of 10,000 entries — its throughput is printed too), then times, median of 5 after one warm-up:

- ``reports.trial_balance`` over everything, and for one quarter (opening balances + movements);
- ``reports.income_statement`` for a year and ``reports.balance_sheet`` at a date;
- AR by customer (``reports.account_balances_by``).

Floor, same run: the bare ``SELECT account_id, currency, sum(amount) FROM journal_line GROUP BY 1, 2`` through
the driver's cursor. SQLite always; PostgreSQL too when TEST_POSTGRES_URL is set
(``bash scripts/with_postgres.sh .venv/bin/python bench/ledger.py``).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _engine(backend: str, workdir: Path, url: str | None):  # noqa: ANN202
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from core.db import make_engine, upgrade

    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{workdir / 'ledger.db'}")
    else:
        admin = make_engine(url)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("DROP DATABASE IF EXISTS bench_ledger WITH (FORCE)"))
            c.execute(text("CREATE DATABASE bench_ledger"))
        admin.dispose()
        engine = make_engine(make_url(url).set(database="bench_ledger").render_as_string(hide_password=False))
    upgrade(engine)
    return engine


def build(engine, lines: int, seed: int = 7) -> tuple[float, int]:  # noqa: ANN001
    from sqlmodel import Session

    from core.auth import SYSTEM
    from core.catalog import create_entity
    from core.customers import create_customer
    from core.importers.dbutil import bulk_gc
    from core.ledger.accounts import chart
    from core.ledger.posting import Draft, post_many

    rnd = random.Random(seed)
    with Session(engine) as s:
        create_entity(s, SYSTEM, name="Bench Ltd", invoice_prefix="B-")
        customers = [create_customer(s, SYSTEM, {"external_id": f"C{n:05d}", "name": f"Customer {n}",
                                                 "currency": "USD"}).id for n in range(1000)]
        s.commit()
        c = chart(s)
        ar, rev, tax, cash = (c.key(k) for k in ("accounts_receivable", "revenue", "sales_tax", "cash"))
        deferred, wallet = c.key("deferred_revenue"), c.key("customer_wallet")
        start = date(2025, 1, 1)
        t0 = time.perf_counter()
        posted = 0
        with bulk_gc():
            while posted < lines:
                drafts = []
                for _ in range(10_000):
                    cust = rnd.choice(customers)
                    code = "USD" if rnd.random() < 0.8 else "EUR"
                    net = Decimal(rnd.randint(100, 500_000)) / 100
                    vat = (net * Decimal("0.18")).quantize(Decimal("0.01"))
                    day = start + timedelta(days=rnd.randint(0, 729))
                    d = Draft(entity_id=1, entry_date=day, memo="bench", source_type="manual")
                    if rnd.random() < 0.6:
                        d.debit(ar, code, net + vat, customer_id=cust)
                        d.credit(rev if rnd.random() < 0.7 else deferred, code, net, customer_id=cust)
                        d.credit(tax, code, vat, customer_id=cust)
                        d.debit(wallet, code, Decimal("0.01"), customer_id=cust)
                        d.credit(cash, code, Decimal("0.01"), customer_id=cust)
                    else:
                        d.debit(cash, code, net, customer_id=cust)
                        d.credit(ar, code, net - Decimal("1"), customer_id=cust)
                        d.credit(wallet, code, Decimal("0.5"), customer_id=cust)
                        d.credit(wallet, code, Decimal("0.5"), customer_id=cust)
                    drafts.append(d)
                    posted += len(d.legs)
                    if posted >= lines:
                        break
                post_many(s, drafts, posted_by="bench")
                s.commit()
        return time.perf_counter() - t0, posted


def _median(fn, runs: int = 5) -> tuple[float, float]:  # noqa: ANN001
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), max(times)


def measure(engine, backend: str) -> dict:  # noqa: ANN001
    from sqlalchemy import text
    from sqlmodel import Session

    from core.ledger import reports

    with engine.connect() as c:
        c.execute(text("ANALYZE"))
        c.commit()
    out = {}
    with Session(engine) as s:
        raw = s.connection().connection.driver_connection

        def floor() -> None:
            cur = raw.cursor()
            cur.execute("SELECT account_id, currency, sum(amount) FROM journal_line GROUP BY account_id, currency")
            cur.fetchall()
            cur.close()

        out["floor"] = _median(floor)
        tb = reports.trial_balance(s)
        assert all(v == 0 for v in _sums(tb).values()), "the trial balance does not balance"
        out["trial balance, all"] = _median(lambda: reports.trial_balance(s))
        out["trial balance, Q1 2026"] = _median(lambda: reports.trial_balance(s, start=date(2026, 1, 1),
                                                                             end=date(2026, 3, 31)))
        out["income statement 2025"] = _median(lambda: reports.income_statement(s, start=date(2025, 1, 1),
                                                                               end=date(2025, 12, 31)))
        out["balance sheet 30 Jun 2026"] = _median(lambda: reports.balance_sheet(s, at=date(2026, 6, 30)))
        out["AR by customer"] = _median(lambda: reports.account_balances_by(s, "accounts_receivable", "customer"))
    return out


def _sums(rows) -> dict:  # noqa: ANN001
    sums: dict = {}
    for r in rows:
        sums[r.currency] = sums.get(r.currency, 0) + r.closing
    return sums


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--only", choices=["sqlite", "postgres"])
    args = ap.parse_args()
    url = os.environ.get("TEST_POSTGRES_URL")
    backends = [b for b in ("sqlite", "postgres") if (args.only in (None, b)) and (b == "sqlite" or url)]
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}")
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            engine = _engine(backend, Path(tmp), url)
            took, n = build(engine, args.lines)
            print(f"{backend}: posted {n:,} journal lines through post_many in {took:.1f} s "
                  f"({n / took:,.0f} lines/s)")
            for name, (median, worst) in measure(engine, backend).items():
                print(f"  {name:28s} median {median * 1000:7.0f} ms   worst {worst * 1000:7.0f} ms")
            engine.dispose()
    print(f"load average: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
