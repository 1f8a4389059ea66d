"""A large database for the page benchmark (``bench/pages.py``): 10,000 customers with contracts, ~100,000
invoices over 18 months in every state, 1,000,000 usage events over 5 metrics, and the journal they post.

Built once through the real services where they are bulk paths, then reused (cached by ``VERSION`` and a digest
of the migration files, in the benchmark data dir, outside git: ``$BENCH_DIR`` or ``<tmp>/countinghouse-bench``):

1. seller, 10,000 customers (one customer import) and the 5 metrics — ``gen_usage.seed_database``; the
   customers' countries, tax rates, tax-exempt customers and prepaid credit as ``bench/bill_run.py`` seeds them;
2. 1,000,000 usage events spread over the 18 months (May 2025 – October 2026), written as a CSV and loaded with
   ``import_usage`` (the upload path);
3. one contract per customer (``create_contract``, the mix of ``bill_run.contract_spec``), the start dates
   staggered over the 18 months so that customers have 1 to 18 billing periods (~95,000 invoices in all);
4. each month: ``generate_drafts`` then ``approve_invoices`` (numbers, wallet use, journal entries, revenue
   schedules, audit) — except 10 % of the last month's drafts, left to approve;
5. payments: most invoices paid in full 5–40 days after issue, some in part, some not at all (overdue), written
   by a bulk path equivalent to ``record_payment`` (payment + allocation rows, the invoices' paid amount and
   status by ``core.invoicing.settlement``, the same journal entry as ``core.ledger.events.payment_entry``
   posted with ``post_many``, one audit entry each); then, through the services one by one, a few hundred credit
   notes, write-offs and failed card payments.

    .venv/bin/python bench/gen_large.py            # builds (or finds) the database, prints its path and counts
    .venv/bin/python bench/gen_large.py --rebuild  # builds it again
    .venv/bin/python bench/gen_large.py --customers 1000 --events 100000   # a smaller one (its own file)

``path()`` / ``build()`` are what ``bench/pages.py`` calls. Copy the file before changing it: the benchmark
reads a copy.
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

#: bump when the data or the way it is made changes: a database of another version is built anew
VERSION = "pages-v1"
FIRST_MONTH = date(2025, 5, 1)
MONTHS = 18  # May 2025 … October 2026
TODAY = date(2026, 11, 29)  # payments are dated no later than this (the services refuse future dates)


def data_dir() -> Path:
    d = Path(os.environ.get("BENCH_DIR") or Path(tempfile.gettempdir()) / "countinghouse-bench")
    d.mkdir(parents=True, exist_ok=True)
    return d


def schema_digest() -> str:
    """A digest of the migration files: a database built under other migrations is built anew (a placeholder
    migration filled in later keeps its revision id, so the revision alone would not tell)."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted((ROOT / "migrations" / "versions").glob("*.py")):
        h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:10]


def path(customers: int = 10_000, events: int = 1_000_000) -> Path:
    return data_dir() / f"large_{VERSION}_{schema_digest()}_{customers}_{events}.db"


def _month(k: int) -> date:
    y, m = divmod(FIRST_MONTH.month - 1 + k, 12)
    return date(FIRST_MONTH.year + y, m + 1, 1)


def _say(t0: float, what: str) -> None:
    print(f"  [{time.perf_counter() - t0:7.1f} s] {what}", flush=True)


# --------------------------------------------------------------------------------------------------------------
# usage: 1M events over the 18 months, in the upload format of bench/gen_usage.py


def usage_csv(events: int, customers: int, seed: int = 7) -> Path:
    import gen_usage

    out = data_dir() / f"large_usage_{events}_{customers}_{seed}.csv"
    if out.exists():
        return out
    rng = random.Random(seed)
    start = datetime.combine(FIRST_MONTH, datetime.min.time())
    span = int((datetime.combine(_month(MONTHS), datetime.min.time()) - start).total_seconds())
    weights = [1 + (i * 7919 % 97) for i in range(customers)]
    custs = rng.choices(range(customers), weights=weights, k=events)
    tmp = out.with_suffix(".part")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(gen_usage.HEADER)
        for n in range(events):
            _code, event, _agg, kind = gen_usage.METRICS[rng.randrange(len(gen_usage.METRICS))]
            ts = start + timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(1_000_000))
            text, _ = gen_usage._quantity(rng, kind)
            w.writerow([str(uuid.UUID(int=rng.getrandbits(128), version=4)), gen_usage.customer_id(custs[n]), event,
                        ts.isoformat(timespec="microseconds") + "Z", text, gen_usage.REGIONS[rng.randrange(4)],
                        f"host-{rng.randrange(1000):03d}.example"])
    tmp.replace(out)
    return out


# --------------------------------------------------------------------------------------------------------------
# payments: record_payment's effect, in bulk


def _pay_plan(inv_id: int, issue: date) -> tuple[str, int] | None:
    """('full' | 'part', days after issue) or None (left unpaid), deterministic per invoice."""
    r = random.Random(inv_id * 2654435761 % 2**32)
    age = (TODAY - issue).days
    x = r.random()
    if age > 60:
        kind = "full" if x < 0.93 else "part" if x < 0.96 else None
    elif age > 28:
        kind = "full" if x < 0.60 else "part" if x < 0.66 else None
    else:
        kind = "full" if x < 0.15 else None
    if kind is None:
        return None
    return kind, min(r.randint(5, 40), max(0, age))


def pay_invoices(engine, t0: float) -> int:
    from sqlmodel import select

    from core.audit import record_many
    from core.auth import SYSTEM
    from core.db import session_scope
    from core.invoicing import settlement
    from core.invoicing.service import _bulk_insert, _in
    from core.ledger.accounts import chart
    from core.ledger.posting import Draft, post_many
    from core.models import Customer, Invoice, Payment, PaymentAllocation, utcnow
    from core.money import round_money

    with session_scope(engine) as s:
        ext = dict(s.exec(select(Customer.id, Customer.external_id)).all())
        invoices = list(s.exec(select(Invoice).where(Invoice.status == "approved").order_by(Invoice.id)))
        plan = []
        for inv in invoices:
            p = _pay_plan(inv.id, inv.issue_date)
            due = settlement.due(inv)
            if p is None or due <= 0:
                continue
            amount = due if p[0] == "full" else round_money(due / 2, inv.currency)
            if amount <= 0:
                continue
            plan.append((inv, amount, inv.issue_date + timedelta(days=p[1])))
        now = utcnow()
        methods = ("bank_transfer", "bank_transfer", "card", "cheque")
        _bulk_insert(s, Payment.__table__, columns={
            "entity_id": [inv.entity_id for inv, _, _ in plan],
            "customer_id": [inv.customer_id for inv, _, _ in plan],
            "currency": [inv.currency for inv, _, _ in plan],
            "amount": [a for _, a, _ in plan],
            "method": [methods[inv.id % 4] for inv, _, _ in plan],
            "reference": [f"BENCH-{inv.number}" for inv, _, _ in plan],
            "received_on": [d for _, _, d in plan],
            "status": ["succeeded"] * len(plan), "unallocated": [0] * len(plan), "refunded": [0] * len(plan),
            "provider": [""] * len(plan), "provider_id": [""] * len(plan), "failure": [""] * len(plan),
            "created_by": [SYSTEM.username] * len(plan), "created_at": [now] * len(plan)})
        refs = [f"BENCH-{inv.number}" for inv, _, _ in plan]
        pid = dict(s.exec(select(Payment.reference, Payment.id).where(_in(s, Payment.reference, refs))).all())
        _bulk_insert(s, PaymentAllocation.__table__, columns={
            "payment_id": [pid[r] for r in refs], "invoice_id": [inv.id for inv, _, _ in plan],
            "amount": [a for _, a, _ in plan], "created_at": [now] * len(plan)})
        for inv, amount, _ in plan:  # the ORM writes the changed invoices with one executemany per shape
            inv.amount_paid += amount
            inv.status = settlement.derive_status(inv)
            s.add(inv)
        s.flush()
        accounts = chart(s)
        cash, ar, wallet = (accounts.key("cash"), accounts.key("accounts_receivable"),
                            accounts.key("customer_wallet"))
        drafts = []
        for (inv, amount, when), ref in zip(plan, refs):
            p = pid[ref]
            d = Draft(entity_id=inv.entity_id, entry_date=when, memo=f"Payment #{p} ({ref})", source_type="payment",
                      source_id=p, source_key=f"payment:{p}")
            d.debit(cash, inv.currency, amount, description=f"{methods[inv.id % 4]} {ref}",
                    customer_id=inv.customer_id)
            d.credit(ar, inv.currency, amount, description=f"Paid on {inv.number}", customer_id=inv.customer_id,
                     invoice_id=inv.id)
            d.credit(wallet, inv.currency, 0, customer_id=inv.customer_id)
            drafts.append(d)
        for k in range(0, len(drafts), 20_000):
            post_many(s, drafts[k:k + 20_000], posted_by=SYSTEM.username, accounts=accounts)
        record_many(s, [{"actor": SYSTEM.username, "action": "payment.record", "entity_type": "payment",
                         "entity_id": pid[ref],
                         "details": {"customer": ext[inv.customer_id], "amount": amount, "currency": inv.currency,
                                     "method": methods[inv.id % 4], "reference": ref,
                                     "allocations": [{"invoice": inv.number, "amount": amount, "before": "approved",
                                                      "after": inv.status}], "to_wallet": 0}}
                        for (inv, amount, _), ref in zip(plan, refs)])
    _say(t0, f"{len(plan):,} payments recorded (bulk), journal posted")
    return len(plan)


def extras(engine, t0: float) -> None:
    """Credit notes, write-offs and failed card payments, through the services one by one."""
    from sqlmodel import select

    from core.auth import SYSTEM
    from core.db import session_scope
    from core.invoicing.credit_notes import issue_credit_note
    from core.invoicing.payments import record_failed_payment
    from core.invoicing.write_offs import write_off
    from core.models import Invoice

    with session_scope(engine) as s:
        paid = list(s.exec(select(Invoice.id).where(Invoice.status == "paid", Invoice.total > 10)
                           .order_by(Invoice.id)))
        open_ = list(s.exec(select(Invoice.id).where(Invoice.status == "approved", Invoice.total > 10,
                                                     Invoice.due_date < TODAY - timedelta(days=120))
                            .order_by(Invoice.id)))
        notes = paid[::max(1, len(paid) // 250)][:250]
        for k, inv_id in enumerate(notes):
            issue_credit_note(s, SYSTEM, inv_id, reason="Service credit for an outage" if k % 2 else "Billing error",
                              amount="10", excess="wallet" if k % 3 else "refund")
        offs = open_[::max(1, len(open_) // 100)][:100]
        for inv_id in offs:
            write_off(s, SYSTEM, inv_id, reason="Customer insolvent; claim filed")
        failed = list(s.exec(select(Invoice).where(Invoice.status == "approved").order_by(Invoice.id.desc())
                             .limit(300)))
        for inv in failed:
            record_failed_payment(s, SYSTEM, customer_id=inv.customer_id, invoice_id=inv.id,
                                  currency_code=inv.currency, amount=inv.total, method="card",
                                  failure="Your card was declined.", provider="stripe",
                                  provider_id=f"pi_bench_{inv.id}")
    _say(t0, f"{len(notes)} credit notes, {len(offs)} write-offs, {len(failed)} failed card payments")


# --------------------------------------------------------------------------------------------------------------


def build(customers: int = 10_000, events: int = 1_000_000, rebuild: bool = False) -> Path:
    """The SQLite database (built once, then found in the data dir)."""
    from core.db import make_engine

    target = path(customers, events)
    if target.exists() and not rebuild:
        return target
    print(f"building {target} ({customers:,} customers, {events:,} events, {MONTHS} months)", flush=True)
    work = target.with_suffix(".building")
    for p in (work, Path(f"{work}-wal"), Path(f"{work}-shm")):
        p.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{work}")
    fill(engine, customers, events)
    engine.dispose()  # checkpoints the WAL into the file
    work.replace(target)
    for old in data_dir().glob(f"large_*_{customers}_{events}.db"):  # earlier schemas' copies: 0.5 GiB each
        if old != target:
            old.unlink(missing_ok=True)
    print(f"done: {target} ({target.stat().st_size / 2**20:,.0f} MiB)", flush=True)
    return target


def build_postgres(url: str, customers: int = 10_000, events: int = 1_000_000) -> str:
    """The same data in a fresh PostgreSQL database ``bench_pages`` on the server of ``url`` (not cached:
    ``scripts/with_postgres.sh`` gives a throwaway server). Returns the database's URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from core.db import make_engine

    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text("DROP DATABASE IF EXISTS bench_pages WITH (FORCE)"))
        c.execute(text("CREATE DATABASE bench_pages"))
    admin.dispose()
    db_url = make_url(url).set(database="bench_pages").render_as_string(hide_password=False)
    print(f"building PostgreSQL database bench_pages ({customers:,} customers, {events:,} events)", flush=True)
    engine = make_engine(db_url)
    fill(engine, customers, events)
    engine.dispose()
    return db_url


def fill(engine, customers: int, events: int) -> None:  # noqa: ANN001
    import bill_run
    import gen_usage
    from sqlalchemy import text
    from sqlmodel import select

    from core.auth import SYSTEM
    from core.billing.contracts import create_contract
    from core.db import session_scope
    from core.importers.usage import import_usage
    from core.invoicing.service import approve_invoices, generate_drafts
    from core.models import Invoice

    t0 = time.perf_counter()
    # seller, customers, metrics, countries, tax, prepaid credit: as bench/bill_run.py seeds them
    gen_usage.seed_database(engine, customers)
    from core import tax, wallet
    from core.db import session_scope as scope
    from core.importers.customers import import_customers
    from core.models import Customer

    with scope(engine) as s:
        rep = import_customers(s, SYSTEM, bill_run._customer_update_csv(customers), "countries.csv")
        assert rep.ok, rep.errors[:3]
        for country, name, pct in bill_run.RATES:
            tax.set_rate(s, SYSTEM, country=country, name=name, percent=pct)
        ids = {e: cid for e, cid in s.exec(select(Customer.external_id, Customer.id))}
        for i in range(1, customers, 1000):
            tax.set_tax_exempt(s, SYSTEM, ids[gen_usage.customer_id(i)], True, reason=f"EXEMPT-{i}")
        for i in range(0, customers, 100):
            wallet.add_credit(s, SYSTEM, customer_id=ids[gen_usage.customer_id(i)], currency="USD", amount="50")
    _say(t0, "seller, customers, metrics, tax, credit")
    csv_path = usage_csv(events, customers)
    _say(t0, f"usage CSV {csv_path}")
    with session_scope(engine) as s:
        rep = import_usage(s, SYSTEM, csv_path.read_bytes(), csv_path.name)
        assert rep.ok and rep.inserted == events, rep.errors[:3]
    _say(t0, f"{events:,} usage events imported")
    with session_scope(engine) as s:
        for i in range(customers):
            start = _month((i * 7) % MONTHS)
            create_contract(s, SYSTEM, replace(bill_run.contract_spec(i), start_date=start))
    _say(t0, f"{customers:,} contracts")
    for k in range(MONTHS):
        start, end = _month(k), _month(k + 1)
        with session_scope(engine) as s:
            res = generate_drafts(s, SYSTEM, period_start=start, period_end=end)
        with session_scope(engine) as s:
            ids = [i for i in s.exec(select(Invoice.id).where(Invoice.status == "draft").order_by(Invoice.id))]
            if k == MONTHS - 1:
                ids = [i for i in ids if i % 10]  # a tenth of the last run left to approve
            approve_invoices(s, SYSTEM, ids)
        _say(t0, f"{start:%b %Y}: {len(res.created):,} drafts, {len(ids):,} approved")
    pay_invoices(engine, t0)
    extras(engine, t0)
    with engine.connect() as c:
        c.execute(text("ANALYZE"))
        c.commit()
    _say(t0, "filled")


def counts(db: Path) -> dict[str, int]:
    import sqlite3

    c = sqlite3.connect(db)
    out = {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608 - fixed table names
           for t in ("customer", "contract", "invoice", "invoice_line", "usage_event", "payment", "credit_note",
                     "journal_entry", "journal_line", "audit_log")}
    out.update({f"invoice {st}": n for st, n in c.execute("SELECT status, count(*) FROM invoice GROUP BY status")})
    c.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--rebuild", action="store_true")
    a = ap.parse_args()
    db = build(a.customers, a.events, a.rebuild)
    print(db)
    for k, v in counts(db).items():
        print(f"  {k}: {v:,}")


if __name__ == "__main__":
    main()
