"""Bill run and bulk approval: ``generate_drafts`` for one month and ``approve_invoices`` for every draft, against
a floor measured in the same run, with the SQL statements each issues counted.

Workload: the reference usage of ``bench/gen_usage.py`` (1,000,000 events, 10,000 customers, 5 metrics, January
2025), loaded with ``import_usage`` into a database seeded by ``gen_usage.seed_database`` (seller, customers,
metrics), then, through the real services: the customers' countries (a second customer import), tax rates for
4 countries and a few tax-exempt customers, prepaid credit for 1 % of the customers, and one contract per
customer (``create_contract``, all in one transaction) with a realistic mix — a flat-fee platform line (half
in advance, half in arrears) and 3 to 5 usage lines priced per unit, tiered, volume and package, some with free
units, a line discount, a credit grant, a contract discount, a minimum commitment or a service fee.

Timed (each in its own transaction, commit included):
- ours: ``generate_drafts`` for January 2025, then ``approve_invoices`` for every draft;
- floor of the run: ``aggregate()`` for the 5 metrics (all customers, one query each — the usage any bill run
  must read) + a raw driver ``executemany`` insert of as many invoice and invoice-line rows as ours wrote,
  then commit (the rows are deleted afterwards, untimed);
- floor of the approval: a raw ``executemany`` UPDATE giving every draft its number, status and approval
  stamp + a raw ``executemany`` insert of one audit row per invoice, then commit.

SQL statements are counted with a ``before_cursor_execute`` listener (one ``executemany`` counts as one) at
two sizes — by default 1,000 customers / 100,000 events and 10,000 customers / 1,000,000 events — to show
that the count does not grow with the number of customers. A digest of every invoice and line the run wrote
(ids and timestamps left out) is printed, to compare the output of two versions of the code.

    .venv/bin/python bench/bill_run.py [--sizes 1000:100000,10000:1000000] [--only sqlite|postgres]
    bash scripts/with_postgres.sh .venv/bin/python bench/bill_run.py          # SQLite and PostgreSQL
    .venv/bin/python bench/bill_run.py --profile generate                    # pyinstrument report of one phase
    .venv/bin/python bench/bill_run.py --only sqlite --cache                 # reuse the seeded database
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import gen_usage
from csv_upload import _engine

JAN = dict(period_start=date(2025, 1, 1), period_end=date(2025, 2, 1))
COUNTRIES = ["US", "DE", "GB", "FR", "IN", "CA", "DE", "US", ""]
RATES = [("DE", "VAT", "19"), ("GB", "VAT", "20"), ("FR", "TVA", "20"), ("IN", "GST", "18")]


# --------------------------------------------------------------------------------------------------
# seeding, through the real services


def _customer_update_csv(customers: int) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["external_id", "name", "country"])
    for i in range(customers):
        w.writerow([gen_usage.customer_id(i), f"Customer {i:05d}", COUNTRIES[i % len(COUNTRIES)]])
    return buf.getvalue().encode()


def contract_spec(i: int):
    """Customer i's contract: the mix described in the module docstring."""
    from core.billing.contracts import ContractSpec, LineSpec

    platform = LineSpec("Platform", "flat_fee", {"amount": "99"}, timing="advance" if i % 2 == 0 else "arrears")
    usage = [
        LineSpec("API calls", "tiered", {"tiers": [{"up_to": "1000", "unit_price": "0.01"},
                                                   {"up_to": "5000", "unit_price": "0.008"},
                                                   {"up_to": None, "unit_price": "0.005"}]},
                 metric_code="api_calls", free_units="500" if i % 3 == 0 else "0"),
        LineSpec("Storage", "volume", {"tiers": [{"up_to": "1000", "unit_price": "0.10"},
                                                 {"up_to": "50000", "unit_price": "0.08"},
                                                 {"up_to": None, "unit_price": "0.05"}]},
                 metric_code="storage_gb",
                 modifiers={"credit_grants": [{"amount": "25", "description": "Welcome credit"}]}
                 if i % 17 == 0 else {}),
        LineSpec("Compute", "per_unit", {"unit_price": "0.05", "unit_scale": "1000"}, metric_code="compute_hours"),
        LineSpec("Messages", "package", {"package_size": "10", "package_price": "1.50"}, metric_code="messages",
                 free_units="20" if i % 5 == 0 else "0"),
        LineSpec("Bandwidth", "per_unit", {"unit_price": "0.0001"}, metric_code="bandwidth_gb",
                 modifiers={"discounts": [{"type": "percent", "value": "10", "description": "Partner discount"}]}
                 if i % 4 == 1 else {}),
    ]
    chosen = usage if i % 4 == 0 else [usage[(i + k) % 5] for k in range(3)]
    modifiers: dict = {}
    if i % 10 == 0:
        modifiers["minimum_commitment"] = {"amount": "5000"}
    if i % 7 == 0:
        modifiers["discounts"] = [{"type": "percent", "value": "5"}]
    if i % 50 == 0:
        modifiers["service_fees"] = [{"type": "percent", "value": "3", "description": "Support fee"}]
    return ContractSpec(customer_external_id=gen_usage.customer_id(i), name=f"Contract {i:05d}", currency="USD",
                        start_date=date(2024, 10, 1), lines=[platform, *chosen], modifiers=modifiers)


def seed(engine, customers: int, wl) -> dict:
    from sqlalchemy import text
    from sqlmodel import select

    from core import tax, wallet
    from core.auth import SYSTEM
    from core.billing.contracts import create_contract
    from core.db import session_scope
    from core.importers.customers import import_customers
    from core.importers.usage import import_usage
    from core.models import Customer

    out = {}
    t0 = time.perf_counter()
    gen_usage.seed_database(engine, customers)
    with session_scope(engine) as s:
        rep = import_customers(s, SYSTEM, _customer_update_csv(customers), "countries.csv")
        assert rep.ok, rep.errors[:3]
        for country, name, pct in RATES:
            tax.set_rate(s, SYSTEM, country=country, name=name, percent=pct)
        ids = {ext: cid for ext, cid in s.exec(select(Customer.external_id, Customer.id))}
        for i in range(1, customers, 1000):
            tax.set_tax_exempt(s, SYSTEM, ids[gen_usage.customer_id(i)], True, reason=f"EXEMPT-{i}")
        for i in range(0, customers, 100):
            wallet.add_credit(s, SYSTEM, customer_id=ids[gen_usage.customer_id(i)], currency="USD", amount="50")
    t1 = time.perf_counter()
    with session_scope(engine) as s:
        rep = import_usage(s, SYSTEM, wl.path.read_bytes(), wl.path.name)
        assert rep.ok and rep.inserted == wl.events, rep.errors[:3]
    t2 = time.perf_counter()
    with session_scope(engine) as s:
        for i in range(customers):
            create_contract(s, SYSTEM, contract_spec(i))
    t3 = time.perf_counter()
    with engine.connect() as c:  # statistics up to date, as after autovacuum / a normal day's use
        c.execute(text("ANALYZE"))
        c.commit()
    out.update(seed_customers=t1 - t0, seed_usage=t2 - t1, seed_contracts=t3 - t2)
    print(f"    seeded: customers etc. {t1 - t0:.1f} s, {wl.events:,} events {t2 - t1:.1f} s, "
          f"{customers:,} contracts (create_contract, one transaction) {t3 - t2:.1f} s", flush=True)
    return out


# --------------------------------------------------------------------------------------------------
# measuring


class StatementCounter:
    def __init__(self, engine):
        self.engine = engine
        self.n = 0
        self.kinds: dict[str, int] = {}

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        self.n += 1
        word = statement.lstrip().split(None, 1)[0].upper()
        self.kinds[word] = self.kinds.get(word, 0) + 1

    @contextmanager
    def counting(self):
        from sqlalchemy import event

        self.n, self.kinds = 0, {}
        event.listen(self.engine, "before_cursor_execute", self)
        try:
            yield self
        finally:
            event.remove(self.engine, "before_cursor_execute", self)


@contextmanager
def profiled(enabled: bool, label: str):
    if not enabled:
        yield
        return
    from pyinstrument import Profiler

    p = Profiler(interval=0.001)
    p.start()
    try:
        yield
    finally:
        p.stop()
        print(f"\n----- profile: {label} -----")
        print(p.output_text(unicode=True, color=False, show_all=False))


def _raw(session):
    return session.connection().connection.driver_connection


def _loads(value):
    import json

    return json.loads(value) if isinstance(value, str) else value


def _digest(engine) -> tuple[str, int, int]:
    """A fingerprint of every invoice and line (no ids, no timestamps), to compare two versions' output."""
    import json

    from sqlalchemy import text

    h = hashlib.sha256()
    with engine.connect() as c:
        inv = c.execute(text(
            "SELECT i.id, c.external_id, i.run_key, i.number, i.status, i.currency, i.period_start, i.period_end, "
            "i.issue_date, i.due_date, i.subtotal, i.tax, i.total, i.credits_applied, i.contract_id "
            "FROM invoice i JOIN customer c ON c.id = i.customer_id")).all()
        key_of = {r[0]: (r[1], r[2]) for r in inv}
        for r in sorted(tuple(str(x) for x in r[1:14]) for r in inv):
            h.update(repr(r).encode())
        lines = c.execute(text(
            "SELECT invoice_id, kind, description, quantity, amount, breakdown, period_start, period_end, "
            "sort_order, indent, modifier_key, contract_line_id IS NULL, product_id FROM invoice_line")).all()
        for r in sorted((key_of[r[0]],) + tuple(str(x) for x in r[1:]) for r in lines):
            h.update(repr(r).encode())
        audit = c.execute(text("SELECT id, actor, action, entity_type, entity_id, details FROM audit_log "
                               "WHERE action LIKE 'invoice.%' OR action LIKE 'wallet.%' ORDER BY id")).all()
        for r in audit:
            h.update(repr(tuple(str(x) for x in r[1:5]) + (json.dumps(_loads(r[5]), sort_keys=True),)).encode())
        wallet = c.execute(text("SELECT id, customer_id, currency, amount, kind, invoice_id, note, created_by "
                                "FROM wallet_entry ORDER BY id")).all()
        for r in wallet:
            h.update(repr(tuple(str(x) for x in r)).encode())
    return h.hexdigest()[:16], len(inv), len(lines)


def floor_generate(engine, backend: str, n_invoices: int, n_lines: int) -> float:
    """aggregate() for the 5 metrics + raw executemany of as many invoice and line rows as ours wrote."""
    from sqlalchemy import text

    from core.db import session_scope
    from core.metering.metrics import aggregate, list_metrics

    with session_scope(engine) as s:
        base = s.execute(text("SELECT coalesce(max(id), 0) FROM invoice")).scalar_one() + 1
        entity, customer = s.execute(text("SELECT entity_id, id FROM customer LIMIT 1")).one()
    p = "?" if backend == "sqlite" else "%s"
    now = datetime(2025, 2, 1, 0, 0, 1)
    invoices = [(base + k, entity, customer, f"floor:{k}", "draft", "USD", date(2025, 1, 1), date(2025, 2, 1),
                 date(2025, 2, 1), date(2025, 3, 3), 123450, 12340, 135790, 0, 0, now) for k in range(n_invoices)]
    per = max(1, n_lines // max(1, n_invoices))
    lines = [(base + k // per if k // per < n_invoices else base, "usage", "API calls",
              1234000000, 56780, "5,000 used − 500 free = 4,500 billed; 1,000 × $0.01 + 3,500 × $0.008", date(2025, 1, 1),
              date(2025, 2, 1), k % per, 0) for k in range(n_lines)]
    cols_i = ("id, entity_id, customer_id, run_key, status, currency, period_start, period_end, issue_date, due_date, "
              "subtotal, tax, total, amount_paid, credits_applied, created_at")
    cols_l = "invoice_id, kind, description, quantity, amount, breakdown, period_start, period_end, sort_order, indent"
    if backend == "sqlite":
        invoices = [r[:6] + tuple(str(x) for x in r[6:10]) + r[10:15] + (str(r[15]),) for r in invoices]
        lines = [r[:6] + (str(r[6]), str(r[7])) + r[8:] for r in lines]
    with session_scope(engine) as s:
        metrics = list_metrics(s)
        t0, c0 = time.perf_counter(), time.process_time()
        for m in metrics:
            aggregate(s, m, gen_usage.PERIOD_START, gen_usage.PERIOD_END)
        cur = _raw(s).cursor()
        cur.executemany(f"INSERT INTO invoice ({cols_i}) VALUES ({', '.join([p] * 16)})", invoices)
        cur.executemany(f"INSERT INTO invoice_line ({cols_l}) VALUES ({', '.join([p] * 10)})", lines)
        cur.close()
        s.commit()
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    with session_scope(engine) as s:
        s.execute(text("DELETE FROM invoice_line WHERE invoice_id >= :b"), {"b": base})
        s.execute(text("DELETE FROM invoice WHERE id >= :b"), {"b": base})
    return secs, cpu


def floor_approve(engine, backend: str) -> float:
    """Raw executemany: every approved invoice's number/status/stamp written again + one audit row each."""
    import json

    from sqlalchemy import text

    from core.db import session_scope

    with session_scope(engine) as s:
        rows = s.execute(text("SELECT id, number, total FROM invoice WHERE number IS NOT NULL ORDER BY id")).all()
        top = s.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one()
    p = "?" if backend == "sqlite" else "%s"
    now = datetime(2025, 2, 2, 9, 0)
    stamp = str(now) if backend == "sqlite" else now
    upd = [(num, "approved", stamp, "system", i) for i, num, _ in rows]
    aud = [(stamp, "system", "invoice.approve", "invoice", str(i),
            json.dumps({"number": num, "total": str(total), "currency": "USD", "before": "draft",
                        "after": "approved"})) for i, num, total in rows]
    with session_scope(engine) as s:
        t0, c0 = time.perf_counter(), time.process_time()
        cur = _raw(s).cursor()
        cur.execute("UPDATE business_entity SET next_invoice_number = next_invoice_number")
        cur.executemany(f"UPDATE invoice SET number = {p}, status = {p}, approved_at = {p}, approved_by = {p} "
                        f"WHERE id = {p}", upd)
        cur.executemany(f"INSERT INTO audit_log (at, actor, action, entity_type, entity_id, details) "
                        f"VALUES ({p}, {p}, {p}, {p}, {p}, {p})", aud)
        cur.close()
        s.commit()
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    with session_scope(engine) as s:  # the floor's rows out again (the audit log is append-only: lift it)
        sqlite = engine.dialect.name == "sqlite"
        s.execute(text("DROP TRIGGER audit_log_no_delete" if sqlite
                       else "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"))
        s.execute(text("DELETE FROM audit_log WHERE id > :t"), {"t": top})
        s.execute(text("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, "
                       "'the audit log is append-only: its rows are never changed or deleted'); END" if sqlite
                       else "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only"))
    return secs, cpu


def _admin(url: str):
    from sqlalchemy import create_engine

    return create_engine(url, isolation_level="AUTOCOMMIT")


def _cached(backend: str, path: Path, template: str, url: str | None) -> bool:
    if backend == "sqlite":
        return path.exists()
    from sqlalchemy import text

    admin = _admin(url)
    with admin.connect() as c:
        found = c.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": template}).first() is not None
    admin.dispose()
    return found


def _keep(backend: str, workdir: Path, path: Path, template: str, url: str | None) -> None:
    """--cache: keep the seeded database (SQLite: a file next to the workload; PostgreSQL: a template database
    on the server, which lives as long as the server)."""
    if backend == "sqlite":
        import shutil

        shutil.copy(workdir / "ours.db", path)
        return
    from sqlalchemy import text

    admin = _admin(url)
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {template}"))
        c.execute(text(f"CREATE DATABASE {template} TEMPLATE bench_upload"))
    admin.dispose()


def _from_cache(backend: str, workdir: Path, path: Path, template: str, url: str | None):
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from core.db import make_engine, upgrade

    if backend == "sqlite":
        import shutil

        shutil.copy(path, workdir / "ours.db")
        engine = make_engine(f"sqlite:///{workdir / 'ours.db'}")
        upgrade(engine)  # kept by an older schema: brought to the head
        return engine
    admin = _admin(url)
    with admin.connect() as c:
        c.execute(text("DROP DATABASE IF EXISTS bench_upload WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE bench_upload TEMPLATE {template}"))
    admin.dispose()
    engine = make_engine(make_url(url).set(database="bench_upload").render_as_string(hide_password=False))
    upgrade(engine)
    with engine.connect() as c:
        c.execute(text("ANALYZE"))
        c.commit()
    return engine


def run(backend: str, customers: int, events: int, url: str | None, profile: str | None,
        cache: bool = False) -> dict:
    from sqlalchemy import text
    from sqlmodel import select

    from core.auth import SYSTEM
    from core.db import session_scope
    from core.invoicing.service import approve_invoices, generate_drafts
    from core.models import Invoice

    wl = gen_usage.workload(events, customers)
    print(f"  {backend}, {customers:,} customers, {events:,} events", flush=True)
    with tempfile.TemporaryDirectory(prefix="ch-billrun-") as wd:
        engine = _engine(backend, Path(wd), url)
        cached = wl.path.with_name(f"billrun_{customers}_{events}.db")
        template = f"billrun_{customers}_{events}"
        if cache and _cached(backend, cached, template, url):  # a seeded database kept by an earlier --cache run
            engine.dispose()
            engine = _from_cache(backend, Path(wd), cached, template, url)
            out = {"backend": backend, "customers": customers, "events": events, "seed_contracts": float("nan")}
            print(f"    seeded database copied from {cached if backend == 'sqlite' else template}", flush=True)
        else:
            out = {"backend": backend, "customers": customers, "events": events, **seed(engine, customers, wl)}
            if cache:
                engine.dispose()
                _keep(backend, Path(wd), cached, template, url)
        counter = StatementCounter(engine)
        with profiled(profile == "generate", "generate_drafts"), counter.counting():
            t0, c0 = time.perf_counter(), time.process_time()
            with session_scope(engine) as s:
                res = generate_drafts(s, SYSTEM, **JAN)
            out["generate"] = time.perf_counter() - t0
            out["generate_cpu"] = time.process_time() - c0
        out["generate_statements"], out["generate_kinds"] = counter.n, dict(counter.kinds)
        out["drafts"] = len(res.created)
        digest, n_inv, n_lines = _digest(engine)
        out["lines"] = n_lines
        out["floor_generate"], out["floor_generate_cpu"] = floor_generate(engine, backend, n_inv, n_lines)
        with session_scope(engine) as s:
            ids = list(s.exec(select(Invoice.id).where(Invoice.status == "draft")))
        with profiled(profile == "approve", "approve_invoices"), counter.counting():
            t0, c0 = time.perf_counter(), time.process_time()
            with session_scope(engine) as s:
                done = approve_invoices(s, SYSTEM, ids)
            out["approve"] = time.perf_counter() - t0
            out["approve_cpu"] = time.process_time() - c0
        out["approve_statements"], out["approve_kinds"] = counter.n, dict(counter.kinds)
        numbers = sorted(inv.number for inv in done)
        assert numbers == [f"B-{k:06d}" for k in range(1, len(ids) + 1)], "numbers are not gapless"
        out["digest"] = _digest(engine)[0]
        out["draft_digest"] = digest
        out["floor_approve"], out["floor_approve_cpu"] = floor_approve(engine, backend)
        with engine.connect() as c:
            out["credits"] = c.execute(text("SELECT count(*) FROM invoice WHERE credits_applied > 0")).scalar_one()
        engine.dispose()
    print(f"    generate_drafts {out['generate']:.2f} s (our process's CPU {out['generate_cpu']:.2f} s; {out['drafts']:,} drafts, {out['lines']:,} lines, "
          f"{out['generate_statements']} statements {out['generate_kinds']}); floor {out['floor_generate']:.2f} s "
          f"(CPU {out['floor_generate_cpu']:.2f} s)",
          flush=True)
    print(f"    approve_invoices {out['approve']:.2f} s (our process's CPU {out['approve_cpu']:.2f} s; {out['approve_statements']} statements "
          f"{out['approve_kinds']}; {out['credits']} use prepaid credit); floor {out['floor_approve']:.2f} s "
          f"(CPU {out['floor_approve_cpu']:.2f} s); "
          f"digest drafts {out['draft_digest']} / approved {out['digest']}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000:100000,10000:1000000",
                    help="customers:events pairs, comma separated")
    ap.add_argument("--only", choices=("sqlite", "postgres"))
    ap.add_argument("--profile", choices=("generate", "approve"), help="print a pyinstrument profile of the phase")
    ap.add_argument("--cache", action="store_true",
                    help="keep the seeded database and reuse it (SQLite: a file next to the workload; PostgreSQL: "
                         "a template database on the server, useful with a server that outlives one run)")
    a = ap.parse_args()
    sizes = [tuple(int(x) for x in p.split(":")) for p in a.sizes.split(",")]
    url = os.environ.get("TEST_POSTGRES_URL")
    backends = [b for b in ("sqlite", "postgres") if (a.only in (None, b)) and (b == "sqlite" or url)]
    rows = []
    for backend in backends:
        for customers, events in sizes:
            rows.append(run(backend, customers, events, url, a.profile, a.cache))
    print()
    print("Wall-clock seconds, our process's CPU seconds in brackets (on SQLite the database work is ours too; on "
          "PostgreSQL the server's CPU is not counted).")
    print()
    print("| db | customers / events | drafts / lines | floor: run | generate_drafts + commit | ratio | statements | "
          "floor: approval | approve_invoices + commit | ratio | statements |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['customers']:,} / {r['events']:,} | {r['drafts']:,} / {r['lines']:,} | "
              f"{r['floor_generate']:.2f} s ({r['floor_generate_cpu']:.2f}) | {r['generate']:.2f} s "
              f"({r['generate_cpu']:.2f}) | {r['generate'] / r['floor_generate']:.1f}× | {r['generate_statements']} | "
              f"{r['floor_approve']:.2f} s ({r['floor_approve_cpu']:.2f}) | {r['approve']:.2f} s "
              f"({r['approve_cpu']:.2f}) | {r['approve'] / r['floor_approve']:.1f}× | {r['approve_statements']} |")
    seeded = [r for r in rows if r.get("seed_contracts") == r.get("seed_contracts")]  # not NaN: seeded here
    for r in seeded:
        print(f"seeding {r['backend']}, {r['customers']:,} customers: {r['customers']:,} contracts through "
              f"create_contract in one transaction took {r['seed_contracts']:.1f} s")


if __name__ == "__main__":
    main()
