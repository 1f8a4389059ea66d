"""Background work (huey): documents and emails leave outside the user's transaction.

Approving, or pressing "email", only writes rows (``queued`` entries in the email log) and enqueues a job; a
worker renders the PDFs and talks to the mail server, one email at a time, each in its own transaction, and the
log's statuses are the progress the app shows. A failure is recorded on its email and never undoes an approval.

The queue is a SQLite file beside the database (``JOBS_PATH``, default ``data/jobs.sqlite3``), whatever the app's
database is. ``make run`` starts an in-process worker with the app (:func:`start_worker`, from ``ui.serve``);
``python -m cli worker`` runs one on its own. ``JOBS_IMMEDIATE=1`` runs jobs at once in the caller (tests, and a
one-off CLI use without a worker).
"""
from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from huey import MemoryHuey, SqliteHuey
from huey.consumer import Consumer

from core.db import DATA_DIR

log = logging.getLogger(__name__)


def _queue():  # noqa: ANN202
    if os.environ.get("JOBS_IMMEDIATE", "").strip().lower() in ("1", "true", "yes"):
        return MemoryHuey("countinghouse", immediate=True)
    path = Path(os.environ.get("JOBS_PATH") or DATA_DIR / "jobs.sqlite3")
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("countinghouse", filename=str(path), results=False)


huey = _queue()

MASK = "***"


def queued_url(database_url: str | None) -> str | None:
    """The database URL as it is written into the queue file: without its password (the queue is a plain file
    anyone with the folder can read). The worker takes the password back from DATABASE_URL (:func:`worker_url`)."""
    if not database_url:
        return database_url
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    return url.render_as_string(hide_password=True) if url.password else database_url


def worker_url(database_url: str | None) -> str | None:
    """The URL a job connects with: a masked password is taken from DATABASE_URL when that names the same
    server, database and user; otherwise the job cannot connect and says why (never which password)."""
    if not database_url:
        return database_url
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.password != MASK:
        return database_url
    env = os.environ.get("DATABASE_URL", "")
    known = make_url(env) if env else None
    same = known is not None and all(getattr(known, k) == getattr(url, k)
                                     for k in ("drivername", "host", "port", "database", "username"))
    if not same:
        raise RuntimeError(f"the job's database {url.render_as_string(hide_password=True)} is not DATABASE_URL's: "
                           "run the worker with DATABASE_URL set to it")
    return url.set(password=known.password).render_as_string(hide_password=False)


@huey.task(retries=2, retry_delay=30)
def deliver_emails(log_ids: list[int], database_url: str | None = None) -> None:
    """Send queued emails, each in its own transaction (one failing does not stop the others)."""
    from core.db import make_engine, session_scope
    from core.documents.delivery import deliver

    engine = make_engine(worker_url(database_url))
    try:
        for log_id in log_ids:
            try:
                with session_scope(engine) as s:
                    deliver(s, log_id)
            except Exception:  # noqa: BLE001 - recorded on the email where possible; the next one still goes
                log.exception("email %s could not be delivered", log_id)
    finally:
        engine.dispose()


def enqueue_emails(log_ids: list[int], database_url: str | None = None) -> None:
    if log_ids:
        deliver_emails(list(log_ids), queued_url(database_url))


_WEBHOOKS_FOLLOW_UP = "webhooks.follow_up_eta"


@huey.task()
def deliver_webhooks(database_url: str | None = None) -> None:
    """Send the webhook deliveries that are due (core.webhooks.delivery), then schedule this task again for the
    next retry that is waiting, unless one is already scheduled by then. Enqueued after every commit that wrote
    webhook events (core.webhooks.outbox); ``python -m cli deliver-webhooks`` from cron does the same pass."""
    from datetime import datetime, timedelta
    from hashlib import sha256

    from core.db import make_engine, session_scope
    from core.webhooks.delivery import deliver_due, next_due

    def hash_of(text: str) -> str:
        return sha256(text.encode()).hexdigest()[:16]

    engine = make_engine(worker_url(database_url))
    try:
        with session_scope(engine) as s:
            deliver_due(s)
            eta = next_due(s)
    finally:
        engine.dispose()
    if eta is None or huey.immediate:
        return
    eta = max(eta, datetime.utcnow().replace(microsecond=0)) + timedelta(seconds=1)  # noqa: DTZ003 - huey: naive UTC
    key = f"{_WEBHOOKS_FOLLOW_UP}:{hash_of(database_url or '')}"
    planned = huey.get(key, peek=True)
    if planned is not None and datetime.utcnow() < planned <= eta:  # noqa: DTZ003
        return
    huey.put(key, eta)
    deliver_webhooks.schedule((database_url,), eta=eta)


def enqueue_webhooks(database_url: str | None = None) -> None:
    deliver_webhooks(queued_url(database_url))


class _InProcessConsumer(Consumer):
    """A consumer living in the app's process: worker threads, no signal handlers (the app owns those)."""

    def _set_signal_handlers(self) -> None:  # noqa: D401 - huey's hook
        pass


_started: list[Consumer] = []
_lock = threading.Lock()


def start_worker(workers: int = 1) -> Consumer | None:
    """Start the in-process worker once (no-op in immediate mode)."""
    if huey.immediate:
        return None
    with _lock:
        if not _started:
            consumer = _InProcessConsumer(huey, workers=workers, worker_type="thread", periodic=False,
                                          check_worker_health=False)
            consumer.start()
            _started.append(consumer)
        return _started[0]


def stop_worker() -> None:
    with _lock:
        while _started:
            _started.pop().stop(graceful=True)
