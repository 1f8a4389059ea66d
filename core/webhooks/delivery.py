"""Sending webhook events: the dispatch pass turns new outbox events into deliveries (one per active endpoint
subscribed to the type), the delivery pass sends the deliveries that are due, with retries.

No database transaction is held open during an HTTP request: a delivery is claimed (its next attempt moved past
the request's timeout, so a second worker skips it) and committed, the request is sent, then the outcome is written
in a transaction of its own. A request that gets no 2xx answer within the timeout is retried after 1, 2, 4, 8 …
minutes (doubling, at most 12 hours apart), up to :data:`MAX_ATTEMPTS` attempts; after that the delivery has
failed (it can still be replayed by hand). After :data:`DISABLE_AFTER` failed attempts in a row (any deliveries)
an endpoint is disabled, says why on the page, and receives nothing until someone enables it again."""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, select

from core import audit
from core.models import utcnow
from core.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from core.webhooks import signing

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
BACKOFF_FIRST = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=12)
DISABLE_AFTER = 15
TIMEOUT_SECONDS = 10.0
BATCH = 500
USER_AGENT = "CountingHouse-Webhooks/1"
SYSTEM_ACTOR = "system"


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 1 min, 2 min, 4 min … capped at 12 hours."""
    return min(BACKOFF_FIRST * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


def envelope(event: WebhookEvent) -> dict:
    return {"id": event.public_id, "type": event.type,
            "created_at": event.created_at.isoformat(timespec="seconds") + "Z", "data": event.data}


def body_of(event: WebhookEvent) -> bytes:
    """The exact bytes sent (the same on every attempt and replay of the event)."""
    return json.dumps(envelope(event), ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class Response:
    status_code: int | None  # None: no answer (timeout, refused connection …)
    error: str = ""
    excerpt: str = ""


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    import httpx

    from core.webhooks.endpoints import refuse_private

    if why := refuse_private(url):  # checked again at each send: the name may point elsewhere since it was saved
        return Response(None, f"not sent: {why}"[:500])
    try:
        r = httpx.post(url, content=body, headers=headers, timeout=timeout, follow_redirects=False)
    except httpx.TimeoutException:
        return Response(None, f"no answer within {timeout:g} s (timed out)")
    except httpx.HTTPError as exc:
        return Response(None, f"could not connect: {exc}"[:500])
    excerpt = r.text[:500] if r.content else ""
    error = "" if 200 <= r.status_code < 300 else f"the endpoint answered HTTP {r.status_code}"
    return Response(r.status_code, error, excerpt)


Sender = Callable[[str, bytes, dict, float], Response]


@dataclass
class PassResult:
    dispatched: int = 0  # events turned into deliveries
    deliveries_created: int = 0
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0
    disabled: list[str] = field(default_factory=list)  # endpoints disabled by this pass

    @property
    def attempted(self) -> int:
        return self.succeeded + self.retrying + self.failed

    def summary(self) -> str:
        text = (f"{self.attempted} webhook deliver{'ies' if self.attempted != 1 else 'y'} attempted: "
                f"{self.succeeded} succeeded, {self.retrying} to retry later, {self.failed} failed for good")
        if self.dispatched:
            text = f"{self.dispatched} new event{'s' if self.dispatched != 1 else ''} dispatched; " + text
        if self.disabled:
            text += f"; endpoint{'s' if len(self.disabled) != 1 else ''} disabled after repeated failures: " \
                    + ", ".join(self.disabled)
        return text


def dispatch(session: Session, *, now: datetime | None = None) -> tuple[int, int]:
    """Create the deliveries of the outbox events not yet dispatched (for the endpoints active and subscribed
    now) and mark the events dispatched. Commits each batch. Returns (events, deliveries)."""
    from core.invoicing.service import _bulk_insert

    now = now or utcnow()
    events_done = deliveries = 0
    while True:
        batch = session.exec(select(WebhookEvent.id, WebhookEvent.type).where(WebhookEvent.dispatched_at == None)  # noqa: E711
                             .order_by(WebhookEvent.id).limit(BATCH).with_for_update(skip_locked=True)).all()
        if not batch:
            break
        endpoints = session.exec(select(WebhookEndpoint.id, WebhookEndpoint.event_types)
                                 .where(WebhookEndpoint.active == True)).all()  # noqa: E712
        rows = [{"event_id": event_id, "endpoint_id": ep_id, "status": "pending", "attempts": 0,
                 "next_attempt_at": now, "last_attempt_at": None, "last_status_code": None,
                 "last_duration_ms": None, "last_error": "", "replay_of": None, "created_by": SYSTEM_ACTOR,
                 "created_at": now}
                for event_id, event_type in batch for ep_id, types in endpoints if event_type in (types or ())]
        _bulk_insert(session, WebhookDelivery.__table__, rows)
        t = WebhookEvent.__table__
        session.connection().execute(update(t).where(t.c.id.in_([i for i, _ in batch])).values(dispatched_at=now))
        session.commit()
        events_done += len(batch)
        deliveries += len(rows)
    return events_done, deliveries


def _due_ids(session: Session, now: datetime, only: list[int] | None, limit: int) -> list[tuple[int, datetime]]:
    d, e = WebhookDelivery, WebhookEndpoint
    q = (select(d.id, d.next_attempt_at).join(e, e.id == d.endpoint_id)
         .where(d.status == "pending", d.next_attempt_at <= now, e.active == True)  # noqa: E712
         .order_by(d.next_attempt_at, d.id).limit(limit))
    if only is not None:
        q = q.where(d.id.in_(only))
    return list(session.exec(q).all())


def _claim(session: Session, delivery_id: int, seen: datetime, lease_until: datetime) -> bool:
    """Take the delivery for this worker: its next attempt is moved past the request (a second worker reading
    the old value changes nothing)."""
    t = WebhookDelivery.__table__
    n = session.connection().execute(update(t).where(t.c.id == delivery_id, t.c.status == "pending",
                                                     t.c.next_attempt_at == seen)
                                     .values(next_attempt_at=lease_until)).rowcount
    session.commit()
    return n == 1


def deliver_due(session: Session, *, now: datetime | None = None, sender: Sender | None = None,
                timeout: float = TIMEOUT_SECONDS, only: list[int] | None = None, limit: int = 1000,
                max_attempts: int = MAX_ATTEMPTS, disable_after: int = DISABLE_AFTER) -> PassResult:
    """Dispatch new events, then send every delivery due at ``now`` (``only``: just these deliveries). Commits
    as it goes: each delivery's outcome is written on its own. ``now`` is a parameter so the retries can be
    tested without waiting."""
    now = now or utcnow()
    sender = sender or http_post
    result = PassResult()
    session.commit()
    if only is None:
        result.dispatched, result.deliveries_created = dispatch(session, now=now)
    lease = timedelta(seconds=timeout + 60)
    for delivery_id, seen in _due_ids(session, now, only, limit):
        if not _claim(session, delivery_id, seen, now + lease):
            continue
        delivery = session.get(WebhookDelivery, delivery_id, populate_existing=True)
        event = session.get(WebhookEvent, delivery.event_id)
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id, populate_existing=True)
        if not endpoint.active:  # disabled meanwhile (by this pass, after its failures): leave it for later
            delivery.next_attempt_at = seen
            session.add(delivery)
            session.commit()
            continue
        body = body_of(event)
        stamp = int(now.timestamp()) if now.tzinfo else int((now - datetime(1970, 1, 1)).total_seconds())
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   signing.SIGNATURE_HEADER: signing.header_value(endpoint.secret, stamp, body),
                   signing.EVENT_ID_HEADER: event.public_id, signing.EVENT_TYPE_HEADER: event.type,
                   signing.DELIVERY_HEADER: str(delivery.id)}
        url = endpoint.url
        session.commit()  # no transaction is open while we wait for the receiver
        started = time.monotonic()
        try:
            response = sender(url, body, headers, timeout)
        except Exception as exc:  # noqa: BLE001 - a broken sender is recorded as a failed attempt
            response = Response(None, f"could not send: {exc}"[:500])
        duration_ms = int((time.monotonic() - started) * 1000)
        outcome = _record(session, delivery_id, response, duration_ms, now, max_attempts, disable_after)
        if outcome == "succeeded":
            result.succeeded += 1
        elif outcome == "failed":
            result.failed += 1
        else:
            result.retrying += 1
        if session.info.pop("webhooks.just_disabled", None):
            result.disabled.append(url)
    return result


def _record(session: Session, delivery_id: int, response: Response, duration_ms: int, now: datetime,
            max_attempts: int, disable_after: int) -> str:
    ok = response.status_code is not None and 200 <= response.status_code < 300
    delivery = session.get(WebhookDelivery, delivery_id, populate_existing=True, with_for_update=True)
    endpoint = session.get(WebhookEndpoint, delivery.endpoint_id, populate_existing=True, with_for_update=True)
    delivery.attempts += 1
    session.add(WebhookAttempt(delivery_id=delivery.id, attempt=delivery.attempts, attempted_at=now,
                               status_code=response.status_code, duration_ms=duration_ms, succeeded=ok,
                               error="" if ok else (response.error or "failed")[:500],
                               response_excerpt=(response.excerpt or "")[:500]))
    delivery.last_attempt_at = now
    delivery.last_status_code = response.status_code
    delivery.last_duration_ms = duration_ms
    delivery.last_error = "" if ok else (response.error or "failed")[:500]
    if ok:
        delivery.status = "succeeded"
        delivery.next_attempt_at = None
        endpoint.consecutive_failures = 0
        outcome = "succeeded"
    else:
        if delivery.attempts >= max_attempts:
            delivery.status = "failed"
            delivery.next_attempt_at = None
            outcome = "failed"
        else:
            delivery.next_attempt_at = now + backoff(delivery.attempts)
            outcome = "retrying"
        endpoint.consecutive_failures += 1
        if endpoint.active and endpoint.consecutive_failures >= disable_after:
            endpoint.active = False
            endpoint.disabled_reason = (f"Disabled automatically on {now:%-d %b %Y %H:%M} UTC after "
                                        f"{endpoint.consecutive_failures} failed attempts in a row (last: "
                                        f"{delivery.last_error}). Fix the receiver, then enable it again: its "
                                        "pending deliveries are sent then.")[:300]
            endpoint.updated_at = now
            audit.record(session, actor=SYSTEM_ACTOR, action="webhook.endpoint_disabled",
                         entity_type="webhook_endpoint", entity_id=endpoint.id,
                         details={"url": endpoint.url, "failures": endpoint.consecutive_failures,
                                  "last_error": delivery.last_error, "before": {"active": True},
                                  "after": {"active": False}})
            session.info["webhooks.just_disabled"] = True
    session.add_all([delivery, endpoint])
    session.commit()
    return outcome


def next_due(session: Session) -> datetime | None:
    """When the next pending delivery (of an active endpoint) is due: for scheduling the next pass."""
    d, e = WebhookDelivery, WebhookEndpoint
    return session.exec(select(func.min(d.next_attempt_at)).join(e, e.id == d.endpoint_id)
                        .where(d.status == "pending", e.active == True)).one()  # noqa: E712
