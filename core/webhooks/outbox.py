"""The webhook outbox: business services call :func:`emit` (or :func:`emit_many` for a bulk action) inside their
own transaction. It writes ``webhook_event`` rows only; nothing is sent inside a business transaction. A later
dispatch pass (``python -m cli deliver-webhooks`` or the huey task) creates one delivery per subscribed endpoint and
sends them, with retries.

When no active endpoint listens to an event type, emitting it writes nothing: one small query per transaction finds
the subscribed types (cached in ``session.info`` for the rest of that transaction)."""
from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from core.errors import UserError
from core.models import utcnow
from core.models.webhooks import WebhookEndpoint, WebhookEvent

# Every event type an endpoint can subscribe to, with what it means (shown on the page).
EVENT_TYPES: dict[str, str] = {
    "customer.created": "A customer was created.",
    "customer.updated": "A customer's details changed.",
    "customer.archived": "A customer was archived (no longer billed; its invoices and payments stay).",
    "customer.restored": "An archived customer was restored.",
    "contract.created": "A contract was created.",
    "contract.updated": "A contract was activated, a line's price or quantity changed, or it was ended early.",
    "invoice.approved": "An invoice was approved (numbered); one event per invoice, bulk approvals too.",
    "invoice.paid": "Nothing is left due on an invoice (payments, credit notes or prepaid credit).",
    "invoice.voided": "An invoice was voided (a credit note credited all of it).",
    "invoice.written_off": "What was left due on an invoice was written off as bad debt.",
    "credit_note.created": "A credit note was issued.",
    "payment.received": "A payment was recorded (bank, Stripe, manual).",
    "payment.failed": "A card charge was declined (Stripe or an automatic retry); the invoice stays open.",
    "usage.threshold_reached": "A usage alert fired: a customer's usage passed a threshold in a period.",
    "entitlement.exhausted": "A customer used up an entitlement.",
    "webhook.test": "A test event sent from the Webhooks page (never sent by the application itself).",
}

_CACHE_KEY = "webhooks.subscribed_types"
_EMITTED_KEY = "webhooks.emitted"
log = logging.getLogger(__name__)


def new_event_id() -> str:
    return "evt_" + uuid.uuid4().hex


def jsonable(value):
    """Data as JSON: Decimals as strings (money is never a float), dates and times in ISO 8601."""
    if value is None or type(value) in (str, int, bool):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds") + ("Z" if value.tzinfo is None else "")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        raise TypeError("a webhook payload holds no float: pass a Decimal or a string")
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    return value


def check_event_type(event_type: str) -> None:
    if event_type not in EVENT_TYPES:
        raise UserError(f"'{event_type}' is not a webhook event type; choose one of {', '.join(EVENT_TYPES)}")


def subscribed_types(session: Session) -> frozenset[str]:
    """The event types at least one active endpoint listens to: one query per transaction."""
    txn = session.get_transaction()
    cached = session.info.get(_CACHE_KEY)
    if cached is not None and txn is not None and cached[0] is txn:
        return cached[1]
    types: set[str] = set()
    for event_types in session.exec(select(WebhookEndpoint.event_types).where(WebhookEndpoint.active == True)):  # noqa: E712
        types.update(event_types or ())
    result = frozenset(types)
    session.info[_CACHE_KEY] = (session.get_transaction(), result)
    return result


def forget_subscriptions(session: Session) -> None:
    """Endpoints changed in this transaction: look again next time."""
    session.info.pop(_CACHE_KEY, None)


def emit(session: Session, event_type: str, data: dict | Callable[[], dict]) -> None:
    """Record one event in the caller's transaction (nothing when no active endpoint listens to ``event_type``).
    ``data`` may be a function returning the dict, so a payload nobody will receive is not even built."""
    check_event_type(event_type)
    if event_type not in subscribed_types(session):
        return
    payload = data() if callable(data) else data
    session.add(WebhookEvent(public_id=new_event_id(), type=event_type, data=jsonable(payload)))
    session.info[_EMITTED_KEY] = True


def emit_many(session: Session, event_type: str, datas: list[dict] | Callable[[], list[dict]]) -> int:
    """Many events of one type with one INSERT (a bulk action). Returns how many were recorded."""
    check_event_type(event_type)
    if event_type not in subscribed_types(session):
        return 0
    payloads = datas() if callable(datas) else datas
    if not payloads:
        return 0
    from core.invoicing.service import _bulk_insert

    session.flush()
    at = utcnow()
    _bulk_insert(session, WebhookEvent.__table__,
                 [{"public_id": new_event_id(), "type": event_type, "data": jsonable(p), "created_at": at,
                   "dispatched_at": None} for p in payloads])
    session.info[_EMITTED_KEY] = True
    return len(payloads)


def autodeliver() -> bool:
    """Whether a commit that wrote events enqueues the delivery job (``WEBHOOKS_AUTODELIVER=0``: only the CLI's
    ``deliver-webhooks`` pass, from cron, sends them)."""
    return os.environ.get("WEBHOOKS_AUTODELIVER", "1").strip().lower() not in ("0", "false", "no")


@event.listens_for(OrmSession, "after_commit")
def _after_commit(session) -> None:  # noqa: ANN001
    """Events were committed: enqueue the background delivery (never fails the commit that wrote them)."""
    if not session.info.pop(_EMITTED_KEY, False) or not autodeliver():
        return
    try:
        url = session.get_bind().url
        if url.database in (None, "", ":memory:"):
            return  # another connection could not see this database: the CLI pass delivers
        from core import jobs

        jobs.enqueue_webhooks(url.render_as_string(hide_password=False))
    except Exception:  # noqa: BLE001 - the events are safe in the outbox; the next pass sends them
        log.exception("could not enqueue the webhook deliveries")


@event.listens_for(OrmSession, "after_rollback")
def _after_rollback(session) -> None:  # noqa: ANN001
    session.info.pop(_EMITTED_KEY, None)
