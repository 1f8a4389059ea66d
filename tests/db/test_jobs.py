"""Emails leave through the background worker, not inside the action that queued them: queued rows first, then
the worker (real huey consumer threads) sends each one in its own transaction and the log shows the progress."""
import time
from datetime import date

from sqlmodel import Session

from core import jobs
from core.auth import SYSTEM
from core.billing.contracts import LineSpec
from core.documents.delivery import queue_invoice_emails
from core.invoicing.service import approve_invoices, generate_drafts
from core.models import EmailLog
from tests.db import factories as f
from tests.smtp import smtp  # noqa: F401 - the fixture

OCT = {"period_start": date(2026, 10, 1), "period_end": date(2026, 11, 1)}


def test_the_worker_sends_queued_emails_after_the_approval_committed(engine, db_url, smtp):  # noqa: F811
    with Session(engine, expire_on_commit=False) as s:
        f.seller(s)
        for i in range(3):
            f.customer(s, f"C{i}", email=f"ap{i}@example.com")
            f.contract(s, f"C{i}", [LineSpec("Fee", "flat_fee", {"amount": "100"})], start=date(2026, 1, 1))
        ids = generate_drafts(s, SYSTEM, **OCT).created
        approve_invoices(s, SYSTEM, ids)
        logs = [row.id for row in queue_invoice_emails(s, SYSTEM, ids)]
        s.commit()
    jobs.huey.immediate = False  # a real queue and worker threads for this test
    try:
        jobs.enqueue_emails(logs, db_url)
        with Session(engine) as s:
            assert {s.get(EmailLog, i).status for i in logs} == {"queued"}  # nothing sent by the caller
        jobs.start_worker()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with Session(engine) as s:
                statuses = [s.get(EmailLog, i).status for i in logs]
            if "queued" not in statuses:
                break
            time.sleep(0.2)
    finally:
        jobs.stop_worker()
        jobs.huey.immediate = True
    assert statuses == ["sent", "sent", "sent"]
    assert sorted(r[0][0] for r in smtp.messages) == ["ap0@example.com", "ap1@example.com", "ap2@example.com"]


def test_the_queue_file_never_holds_the_database_password(monkeypatch):
    """A job names its database without the password; the worker takes it back from DATABASE_URL, and only for
    that same server, database and user."""
    secret = "postgresql+psycopg://billing:s3cret-pw@db.internal:5433/billing"
    queued = jobs.queued_url(secret)
    assert "s3cret-pw" not in queued and queued.startswith("postgresql+psycopg://billing:***@db.internal:5433")
    monkeypatch.setenv("DATABASE_URL", secret)
    assert jobs.worker_url(queued) == secret
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://billing:other@db.internal:5433/another_db")
    try:
        jobs.worker_url(queued)
        raise AssertionError("a masked URL for another database must not get a password")
    except RuntimeError as exc:
        assert "run the worker with DATABASE_URL set to it" in str(exc) and "other" not in str(exc)
    assert jobs.worker_url("sqlite:///data/x.db") == "sqlite:///data/x.db"  # nothing to hide
    sent = []
    monkeypatch.setattr(jobs, "deliver_emails", lambda ids, url: sent.append(url))
    monkeypatch.setattr(jobs, "deliver_webhooks", lambda url: sent.append(url))
    jobs.enqueue_emails([1, 2], secret)
    jobs.enqueue_webhooks(secret)
    assert sent == [queued, queued]
