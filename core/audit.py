"""The audit log: who did what, when. Services call :func:`record` inside the caller's transaction,
so an action and its audit entry are written together or not at all."""
from __future__ import annotations

from decimal import Decimal
from datetime import date, datetime

from sqlmodel import Session, select

from core.models import AuditLog


def _jsonable(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def record(session: Session, *, actor: str, action: str, entity_type: str, entity_id: object = "",
           details: dict | None = None) -> AuditLog:
    entry = AuditLog(actor=actor, action=action, entity_type=entity_type, entity_id=str(entity_id or ""),
                     details=_jsonable(details or {}))
    session.add(entry)
    return entry


def recent(session: Session, *, limit: int = 200, action: str | None = None,
           actor: str | None = None) -> list[AuditLog]:
    q = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if action:
        q = q.where(AuditLog.action == action)
    if actor:
        q = q.where(AuditLog.actor == actor)
    return list(session.exec(q))


def filter_choices(session: Session) -> tuple[list[str], list[str]]:
    """Every action and every actor in the log, for the audit page's filters."""
    actions = session.exec(select(AuditLog.action).distinct().order_by(AuditLog.action)).all()
    actors = session.exec(select(AuditLog.actor).distinct().order_by(AuditLog.actor)).all()
    return list(actions), list(actors)
