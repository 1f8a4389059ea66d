"""The audit log: who did what, when. Services call :func:`record` inside the caller's transaction,
so an action and its audit entry are written together or not at all."""
from __future__ import annotations

import json

from datetime import date, datetime
from decimal import Decimal

from sqlmodel import Session, select

from core.models import AuditLog, utcnow


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


def record_many(session: Session, entries: list[dict]) -> int:
    """Many entries at once (a bulk action: one per invoice approved), with one statement: each dict holds
    :func:`record`'s keyword arguments. Written in order, after anything the session still has pending."""
    if not entries:
        return 0
    from core.invoicing.service import _bulk_insert

    session.flush()
    at = utcnow()
    rows = [{"at": at, "actor": e["actor"], "action": e["action"], "entity_type": e["entity_type"],
             "entity_id": str(e.get("entity_id") or ""), "details": _jsonable(e.get("details") or {})}
            for e in entries]
    _bulk_insert(session, AuditLog.__table__, rows)
    return len(rows)


def recent(session: Session, *, limit: int = 200, action: str | None = None, actor: str | None = None,
           start=None, end=None, entity_type: str | None = None, entity_id: str | None = None,  # noqa: ANN001
           ) -> list[AuditLog]:
    """The newest entries matching every filter given: ``start``/``end`` are dates (UTC days, both included)."""
    from datetime import datetime, time, timedelta

    q = select(AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if action:
        q = q.where(AuditLog.action == action)
    if actor:
        q = q.where(AuditLog.actor == actor)
    if start:
        q = q.where(AuditLog.at >= datetime.combine(start, time(0)))
    if end:
        q = q.where(AuditLog.at < datetime.combine(end + timedelta(days=1), time(0)))
    if entity_type:
        q = q.where(AuditLog.entity_type == entity_type)
    if entity_id:
        q = q.where(AuditLog.entity_id == str(entity_id).strip())
    return list(session.exec(q))


def export(session: Session, actor, rows: list[AuditLog], *, filters: str):  # noqa: ANN001, ANN201 - Report
    """The entries shown, as a report for XLSX/CSV — itself audited (the log says who took a copy of it)."""
    from core.auth import require
    from core.ledger.exports import Column, Report

    require(actor, "audit:read")
    report = Report("Audit log", filters or "all entries",
                    [Column("When (UTC)", "text", 18), Column("Who", "text", 16), Column("Action", "text", 24),
                     Column("Record", "text", 16), Column("Record id", "text", 10), Column("Details", "text", 80)],
                    [[e.at.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.action, e.entity_type, e.entity_id,
                      json.dumps(e.details, ensure_ascii=False, sort_keys=True)] for e in rows],
                    ["USD"] * len(rows), "audit-log")
    record(session, actor=actor.username, action="audit.export", entity_type="audit_log",
           details={"entries": len(rows), "filters": filters})
    return report


def entity_types(session: Session) -> list[str]:
    return list(session.exec(select(AuditLog.entity_type).distinct().order_by(AuditLog.entity_type)))


def filter_choices(session: Session) -> tuple[list[str], list[str]]:
    """Every action and every actor in the log, for the audit page's filters."""
    actions = session.exec(select(AuditLog.action).distinct().order_by(AuditLog.action)).all()
    actors = session.exec(select(AuditLog.actor).distinct().order_by(AuditLog.actor)).all()
    return list(actions), list(actors)
