"""How long the webhook log is kept: events older than the retention whose deliveries are all finished
(succeeded, or failed after every retry) are deleted with their deliveries and attempts; anything still pending
stays whatever its age. Run daily from cron (``python -m cli webhooks-cleanup``); audited."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, select, update
from sqlmodel import Session

from core import audit
from core.auth import Actor, require
from core.errors import UserError
from core.models import utcnow
from core.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEvent

RETENTION_DAYS = 90


@dataclass
class Purged:
    events: int
    deliveries: int
    attempts: int
    older_than: datetime

    def summary(self) -> str:
        return (f"{self.events:,} webhook events from before {self.older_than:%-d %b %Y} deleted, with "
                f"{self.deliveries:,} deliveries and {self.attempts:,} attempts")


def purge(session: Session, actor: Actor, *, older_than_days: int = RETENTION_DAYS,
          now: datetime | None = None) -> Purged:
    require(actor, "webhooks:delete")
    if older_than_days < 7:
        raise UserError("days: keep at least 7 days of webhook history (deliveries are retried for about a day)")
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    ev, dl, at = WebhookEvent.__table__, WebhookDelivery.__table__, WebhookAttempt.__table__
    pending = exists().where(dl.c.event_id == ev.c.id, dl.c.status == "pending")
    old = select(ev.c.id).where(ev.c.created_at < cutoff, ev.c.dispatched_at.is_not(None), ~pending)
    deliveries = select(dl.c.id).where(dl.c.event_id.in_(old))
    conn = session.connection()
    attempts = conn.execute(delete(at).where(at.c.delivery_id.in_(deliveries))).rowcount
    conn.execute(update(dl).where(dl.c.replay_of.in_(deliveries)).values(replay_of=None))
    removed = conn.execute(delete(dl).where(dl.c.event_id.in_(old))).rowcount
    events = conn.execute(delete(ev).where(ev.c.id.in_(old))).rowcount
    result = Purged(max(events, 0), max(removed, 0), max(attempts, 0), cutoff)
    audit.record(session, actor=actor.username, action="webhook.purge", entity_type="webhook_event",
                 details={"older_than": cutoff.date(), "events": result.events, "deliveries": result.deliveries,
                          "attempts": result.attempts})
    return result
