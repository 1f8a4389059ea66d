"""Webhook endpoints and the delivery log: what the Webhooks page calls. Changes need ``webhooks:write`` (finance,
admin) and are audited; reading needs ``webhooks:read``.

The signing secret of an endpoint is stored as it is, because every request is signed with it (a hash could not
sign). It is shown once, when the endpoint is created or its secret rotated; rotating replaces it at once."""
from __future__ import annotations

import os

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import delete, func
from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.models import utcnow
from core.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from core.webhooks import signing
from core.webhooks.delivery import envelope
from core.webhooks.outbox import EVENT_TYPES, forget_subscriptions, jsonable, new_event_id

SUBSCRIBABLE = [t for t in EVENT_TYPES if t != "webhook.test"]
STATUSES = ("pending", "succeeded", "failed")


def allow_private() -> bool:
    """WEBHOOKS_ALLOW_PRIVATE=1: endpoints may be on private or local addresses (inside the company's network on
    purpose; the tests' receivers on 127.0.0.1). Off by default, so an endpoint cannot be used to reach the
    machines around the app (cloud metadata at 169.254.169.254, an admin port on localhost …)."""
    return os.environ.get("WEBHOOKS_ALLOW_PRIVATE", "").strip().lower() in ("1", "true", "yes")


def private_address(host: str) -> str | None:
    """The first private, loopback, link-local or otherwise non-public address ``host`` resolves to; None when
    every address is public — or when the name does not resolve here (then nothing can be sent to it anyway)."""
    import ipaddress
    import socket

    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not ip.is_global or ip.is_multicast:
            return str(ip)
    return None


def refuse_private(url: str) -> str | None:
    """Why a request to ``url`` must not be made (its host is private), or None."""
    if allow_private():
        return None
    host = urlsplit(url).hostname or ""
    ip = private_address(host)
    if ip is None:
        return None
    return (f"{host} is a private or local address ({ip}): webhooks go to addresses on the internet. If this "
            "endpoint is inside your network on purpose, an admin sets WEBHOOKS_ALLOW_PRIVATE=1 for the app")


def validate_url(url: str) -> str:
    url = (url or "").strip()
    example = "for example https://example.com/hooks/billing"
    if not url:
        raise UserError(f"URL: give the address events are posted to ({example})")
    if len(url) > 500:
        raise UserError("URL: at most 500 characters")
    if any(ch.isspace() for ch in url):
        raise UserError(f"URL: '{url}' contains spaces; give a web address ({example})")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise UserError(f"URL: '{url}' must start with https:// or http:// — only web addresses can receive "
                        f"webhooks ({example})")
    if not parts.hostname:
        raise UserError(f"URL: '{url}' has no host name ({example})")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise UserError(f"URL: '{url}' has a port that is not a number ({example})") from None
    if parts.username or parts.password:
        raise UserError("URL: do not put a user name or password in the address; requests are signed instead")
    if why := refuse_private(url):
        raise UserError(f"URL: {why}")
    return url


def clean_event_types(event_types) -> list[str]:  # noqa: ANN001
    chosen = list(dict.fromkeys(t.strip() for t in (event_types or []) if t and t.strip()))
    if not chosen:
        raise UserError("event types: choose at least one event the endpoint receives")
    bad = [t for t in chosen if t not in SUBSCRIBABLE]
    if bad:
        raise UserError(f"event types: {', '.join(repr(t) for t in bad)} "
                        f"{'is not an event type' if len(bad) == 1 else 'are not event types'}; choose from "
                        f"{', '.join(SUBSCRIBABLE)}")
    return sorted(chosen, key=SUBSCRIBABLE.index)


def _description(text: str | None) -> str:
    text = (text or "").strip()
    if len(text) > 200:
        raise UserError("description: at most 200 characters")
    return text


def get_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    ep = session.get(WebhookEndpoint, endpoint_id)
    if ep is None:
        raise NotFound(f"there is no webhook endpoint #{endpoint_id}")
    return ep


@dataclass(frozen=True)
class Created:
    endpoint_id: int
    url: str
    secret: str  # shown once


def create_endpoint(session: Session, actor: Actor, *, url: str, event_types, description: str = "") -> Created:
    require(actor, "webhooks:write")
    problems = []
    for check, value in ((validate_url, url), (clean_event_types, event_types), (_description, description)):
        try:
            check(value)
        except UserError as exc:
            problems.append(str(exc))
    if problems:
        raise UserError("; ".join(problems))
    secret = signing.new_secret()
    ep = WebhookEndpoint(url=validate_url(url), description=_description(description),
                         event_types=clean_event_types(event_types), secret=secret, created_by=actor.username)
    session.add(ep)
    session.flush()
    forget_subscriptions(session)
    audit.record(session, actor=actor.username, action="webhook.endpoint_create", entity_type="webhook_endpoint",
                 entity_id=ep.id, details={"url": ep.url, "event_types": ep.event_types,
                                           "description": ep.description})
    return Created(ep.id, ep.url, secret)


def update_endpoint(session: Session, actor: Actor, endpoint_id: int, *, url: str, event_types,
                    description: str = "") -> WebhookEndpoint:
    require(actor, "webhooks:write")
    ep = get_endpoint(session, endpoint_id)
    before = {"url": ep.url, "event_types": list(ep.event_types), "description": ep.description}
    ep.url = validate_url(url)
    ep.event_types = clean_event_types(event_types)
    ep.description = _description(description)
    ep.updated_at = utcnow()
    after = {"url": ep.url, "event_types": ep.event_types, "description": ep.description}
    session.add(ep)
    session.flush()
    forget_subscriptions(session)
    audit.record(session, actor=actor.username, action="webhook.endpoint_update", entity_type="webhook_endpoint",
                 entity_id=ep.id, details={"before": before, "after": after})
    return ep


def set_active(session: Session, actor: Actor, endpoint_id: int, active: bool) -> WebhookEndpoint:
    """Disable (nothing is sent; new events are not queued for it) or enable again (the failure count starts
    over and its pending deliveries are sent by the next pass)."""
    require(actor, "webhooks:write")
    ep = get_endpoint(session, endpoint_id)
    if ep.active == active:
        raise UserError(f"the endpoint {ep.url} is already {'enabled' if active else 'disabled'}")
    ep.active = active
    if active:
        ep.consecutive_failures = 0
        ep.disabled_reason = ""
    else:
        ep.disabled_reason = f"Disabled by {actor.username} on {utcnow():%-d %b %Y %H:%M} UTC."
    ep.updated_at = utcnow()
    session.add(ep)
    session.flush()
    forget_subscriptions(session)
    audit.record(session, actor=actor.username, action="webhook.endpoint_" + ("enable" if active else "disable"),
                 entity_type="webhook_endpoint", entity_id=ep.id,
                 details={"url": ep.url, "before": {"active": not active}, "after": {"active": active}})
    return ep


def rotate_secret(session: Session, actor: Actor, endpoint_id: int) -> str:
    """A new signing secret, used from the next request on (the old one stops working at once)."""
    require(actor, "webhooks:write")
    ep = get_endpoint(session, endpoint_id)
    secret = signing.new_secret()
    before = ep.secret_rotated_at or ep.created_at
    ep.secret = secret
    ep.secret_rotated_at = ep.updated_at = utcnow()
    session.add(ep)
    session.flush()
    audit.record(session, actor=actor.username, action="webhook.secret_rotate", entity_type="webhook_endpoint",
                 entity_id=ep.id, details={"url": ep.url, "before": {"secret_from": before},
                                           "after": {"secret_from": ep.secret_rotated_at}})  # never the secret
    return secret


def delete_endpoint(session: Session, actor: Actor, endpoint_id: int) -> None:
    """Delete the endpoint with its deliveries and their log (the events stay, for the other endpoints)."""
    require(actor, "webhooks:write")
    ep = get_endpoint(session, endpoint_id)
    ids = select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == ep.id)
    n = session.exec(select(func.count()).select_from(WebhookDelivery)
                     .where(WebhookDelivery.endpoint_id == ep.id)).one()
    session.exec(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(ids)))
    d = WebhookDelivery.__table__
    session.exec(d.update().where(d.c.replay_of.in_(ids)).values(replay_of=None))
    session.exec(delete(WebhookDelivery).where(WebhookDelivery.endpoint_id == ep.id))
    audit.record(session, actor=actor.username, action="webhook.endpoint_delete", entity_type="webhook_endpoint",
                 entity_id=ep.id, details={"url": ep.url, "event_types": ep.event_types, "deliveries_deleted": n})
    session.delete(ep)
    session.flush()
    forget_subscriptions(session)


def send_test_event(session: Session, actor: Actor, endpoint_id: int) -> int:
    """Queue a ``webhook.test`` event for this endpoint alone; returns the delivery id (send it with
    :func:`core.webhooks.delivery.deliver_due` ``only=[id]`` after the commit)."""
    require(actor, "webhooks:write")
    ep = get_endpoint(session, endpoint_id)
    if not ep.active:
        raise UserError(f"the endpoint {ep.url} is disabled; enable it before sending a test event")
    now = utcnow()
    event = WebhookEvent(public_id=new_event_id(), type="webhook.test", created_at=now, dispatched_at=now,
                         data=jsonable({"object": "test", "message": "A test event from Counting House.",
                                        "endpoint_id": ep.id, "sent_by": actor.username}))
    session.add(event)
    session.flush()
    delivery = WebhookDelivery(event_id=event.id, endpoint_id=ep.id, next_attempt_at=now, created_by=actor.username)
    session.add(delivery)
    session.flush()
    audit.record(session, actor=actor.username, action="webhook.test", entity_type="webhook_endpoint",
                 entity_id=ep.id, details={"url": ep.url, "event": event.public_id})
    return delivery.id


def replay_delivery(session: Session, actor: Actor, delivery_id: int) -> int:
    """Send the same event (same id, same body; signed anew) to the same endpoint again, as a new delivery."""
    require(actor, "webhooks:write")
    original = session.get(WebhookDelivery, delivery_id)
    if original is None:
        raise NotFound(f"there is no webhook delivery #{delivery_id}")
    ep = get_endpoint(session, original.endpoint_id)
    event = session.get(WebhookEvent, original.event_id)
    if not ep.active:
        raise UserError(f"the endpoint {ep.url} is disabled; enable it before replaying a delivery")
    if original.status == "pending":
        raise UserError(f"delivery #{original.id} is still pending (next attempt "
                        f"{original.next_attempt_at:%-d %b %H:%M} UTC); wait for it, or replay it once it succeeded "
                        "or failed")
    now = utcnow()
    new = WebhookDelivery(event_id=original.event_id, endpoint_id=ep.id, next_attempt_at=now, replay_of=original.id,
                          created_by=actor.username)
    session.add(new)
    session.flush()
    audit.record(session, actor=actor.username, action="webhook.replay", entity_type="webhook_delivery",
                 entity_id=new.id, details={"replay_of": original.id, "event": event.public_id, "type": event.type,
                                            "url": ep.url})
    return new.id


# --- reading ---------------------------------------------------------------------------------------------------


@dataclass
class EndpointRow:
    id: int
    url: str
    description: str
    event_types: list[str]
    active: bool
    disabled_reason: str
    consecutive_failures: int
    created_by: str
    created_at: datetime
    secret_rotated_at: datetime | None
    pending: int = 0
    succeeded: int = 0
    failed: int = 0


def list_endpoints(session: Session, actor: Actor) -> list[EndpointRow]:
    require(actor, "webhooks:read")
    counts: dict[tuple[int, str], int] = {
        (ep_id, status): n for ep_id, status, n in session.exec(
            select(WebhookDelivery.endpoint_id, WebhookDelivery.status, func.count())
            .group_by(WebhookDelivery.endpoint_id, WebhookDelivery.status)).all()}
    rows = []
    for ep in session.exec(select(WebhookEndpoint).order_by(WebhookEndpoint.id)):
        rows.append(EndpointRow(ep.id, ep.url, ep.description, list(ep.event_types), ep.active, ep.disabled_reason,
                                ep.consecutive_failures, ep.created_by, ep.created_at, ep.secret_rotated_at,
                                pending=counts.get((ep.id, "pending"), 0),
                                succeeded=counts.get((ep.id, "succeeded"), 0),
                                failed=counts.get((ep.id, "failed"), 0)))
    return rows


@dataclass
class DeliveryRow:
    id: int
    event_id: str
    event_type: str
    endpoint_id: int
    url: str
    status: str
    attempts: int
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_duration_ms: int | None
    last_error: str
    next_attempt_at: datetime | None
    replay_of: int | None
    created_at: datetime
    endpoint_active: bool


def list_deliveries(session: Session, actor: Actor, *, endpoint_id: int | None = None, status: str | None = None,
                    event_type: str | None = None, page: int = 1, page_size: int = 50) -> tuple[list[DeliveryRow], int]:
    """One page of the delivery log, newest first, and how many deliveries match the filters."""
    require(actor, "webhooks:read")
    if status and status not in STATUSES:
        raise UserError(f"status: choose one of {', '.join(STATUSES)}")
    page_size = max(1, min(int(page_size), 500))
    d, e, ep = WebhookDelivery, WebhookEvent, WebhookEndpoint
    conditions = []
    if endpoint_id:
        conditions.append(d.endpoint_id == endpoint_id)
    if status:
        conditions.append(d.status == status)
    if event_type:
        conditions.append(e.type == event_type)
    total = session.exec(select(func.count()).select_from(d).join(e, e.id == d.event_id).where(*conditions)).one()
    q = (select(d.id, e.public_id, e.type, d.endpoint_id, ep.url, d.status, d.attempts, d.last_attempt_at,
                d.last_status_code, d.last_duration_ms, d.last_error, d.next_attempt_at, d.replay_of, d.created_at,
                ep.active)
         .join(e, e.id == d.event_id).join(ep, ep.id == d.endpoint_id).where(*conditions)
         .order_by(d.id.desc()).offset((max(int(page), 1) - 1) * page_size).limit(page_size))
    return [DeliveryRow(*row) for row in session.exec(q).all()], int(total)


def attempts_of(session: Session, actor: Actor, delivery_id: int) -> list[WebhookAttempt]:
    require(actor, "webhooks:read")
    return list(session.exec(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id)
                             .order_by(WebhookAttempt.attempt, WebhookAttempt.id)))


def payload_of(session: Session, actor: Actor, delivery_id: int) -> dict:
    """The envelope the delivery sends."""
    require(actor, "webhooks:read")
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFound(f"there is no webhook delivery #{delivery_id}")
    return envelope(session.get(WebhookEvent, delivery.event_id))
