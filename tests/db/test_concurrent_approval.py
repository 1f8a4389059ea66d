"""Two people approving at the same moment: every invoice is approved once, and the numbers stay gapless and
unique per business entity — on PostgreSQL (row locks) and SQLite (one writer at a time)."""
from __future__ import annotations

import threading
from datetime import date

from sqlmodel import Session, select

from core.auth import Actor
from core.billing.contracts import LineSpec
from core.db import make_engine
from core.errors import UserError
from core.invoicing.service import approve_invoices, generate_drafts
from core.models import Invoice
from tests.db import factories as f

OCT = {"period_start": date(2026, 10, 1), "period_end": date(2026, 11, 1)}
FINANCE = (Actor("ana", "finance"), Actor("ben", "finance"))


def _drafts(db_url: str, n: int) -> list[int]:
    from core.auth import SYSTEM

    engine = make_engine(db_url)
    try:
        with Session(engine, expire_on_commit=False) as s:
            f.seller(s)
            for i in range(n):
                f.customer(s, f"C{i:02d}")
                f.contract(s, f"C{i:02d}", [LineSpec("Fee", "flat_fee", {"amount": str(100 + i)})],
                           start=date(2026, 1, 1))
            ids = generate_drafts(s, SYSTEM, **OCT).created
            s.commit()
            return sorted(ids)
    finally:
        engine.dispose()


def _race(db_url: str, batches: list[list[int]]) -> list[object]:
    """Each batch approved by its own person, in its own connection, released at the same instant."""
    start = threading.Barrier(len(batches))
    outcomes: list[object] = [None] * len(batches)

    def work(k: int) -> None:
        engine = make_engine(db_url)
        try:
            with Session(engine, expire_on_commit=False) as s:
                start.wait()
                try:
                    approve_invoices(s, FINANCE[k], batches[k])
                    s.commit()
                    outcomes[k] = "ok"
                except UserError as exc:
                    s.rollback()
                    outcomes[k] = exc
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            outcomes[k] = exc
        finally:
            engine.dispose()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


def _numbers(db_url: str) -> list[str]:
    engine = make_engine(db_url)
    try:
        with Session(engine) as s:
            return sorted(n for n in s.exec(select(Invoice.number).where(Invoice.number.is_not(None))))
    finally:
        engine.dispose()


def test_two_approvals_of_different_invoices_at_once_share_one_gapless_sequence(db_url):
    ids = _drafts(db_url, 12)
    outcomes = _race(db_url, [ids[::2], ids[1::2]])
    assert outcomes == ["ok", "ok"], outcomes
    assert _numbers(db_url) == [f"INV-{n:06d}" for n in range(1, 13)]


def test_two_approvals_of_the_same_invoices_approve_each_once_without_a_gap(db_url):
    ids = _drafts(db_url, 10)
    outcomes = _race(db_url, [ids, ids[3:]])
    assert sorted(map(str, outcomes)).count("ok") >= 1, outcomes
    losers = [o for o in outcomes if o != "ok"]
    assert all(isinstance(o, UserError) and ("already" in str(o) or "someone else" in str(o)) for o in losers), \
        outcomes
    winner = ids if outcomes[0] == "ok" else ids[3:]
    # the winner's invoices are numbered 1..n without a gap: the loser's numbers went back with its rollback
    assert _numbers(db_url) == [f"INV-{n:06d}" for n in range(1, len(winner) + 1)]
