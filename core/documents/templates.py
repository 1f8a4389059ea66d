"""Document and email templates per business entity: the built-in version until someone saves their own.

A template is checked before it is saved: it must compile, and it must render against a real context (an
invoice of that seller, or a sample when it has none) — a template that would fail at the moment an invoice
goes out is refused at the moment it is written, with the line at fault. Every save and reset is audited.
"""
from __future__ import annotations

import hashlib

from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.documents.render import DEFAULTS, TemplateProblem, render_html, render_text
from core.errors import NotFound, UserError
from core.models import BusinessEntity, DocumentTemplate, utcnow

KINDS: dict[str, tuple[str, str]] = {  # kind -> (label, file of the built-in version)
    "invoice": ("Invoice document (HTML → PDF)", "invoice.html"),
    "invoice_email_subject": ("Invoice email — subject", "invoice_email_subject.txt"),
    "invoice_email_body": ("Invoice email — message", "invoice_email_body.txt"),
    "credit_note": ("Credit note (HTML → PDF)", "credit_note.html"),
    "receipt": ("Payment receipt (HTML → PDF)", "receipt.html"),
}
MAX_TEMPLATE_CHARS = 200_000


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise UserError(f"'{kind}' is not a template; choose one of {', '.join(KINDS)}")
    return kind


def default_template(kind: str) -> str:
    return (DEFAULTS / KINDS[_kind(kind)][1]).read_text(encoding="utf-8")


def stored(session: Session, entity_id: int, kind: str) -> DocumentTemplate | None:
    return session.exec(select(DocumentTemplate).where(DocumentTemplate.entity_id == entity_id,
                                                       DocumentTemplate.kind == _kind(kind))).first()


def template_for(session: Session, entity_id: int, kind: str) -> str:
    row = stored(session, entity_id, kind)
    return row.body if row is not None else default_template(kind)


def render_kind(kind: str, source: str, context: dict) -> str:
    """HTML templates are autoescaped; the email subject and message are plain text."""
    return render_html(source, context) if KINDS[_kind(kind)][1].endswith(".html") else render_text(source, context)


def save_template(session: Session, actor: Actor, entity_id: int, kind: str, body: str,
                  context: dict) -> DocumentTemplate:
    """Store an entity's own version after rendering it against ``context`` (a real invoice's, normally)."""
    require(actor, "invoices:write")
    if session.get(BusinessEntity, entity_id) is None:
        raise NotFound(f"there is no business entity #{entity_id}")
    body = body or ""
    if not body.strip():
        raise UserError("template: it is empty; write one, or use “Back to the built-in template”")
    if len(body) > MAX_TEMPLATE_CHARS:
        raise UserError(f"template: {len(body):,} characters is too long (at most {MAX_TEMPLATE_CHARS:,})")
    rendered = render_kind(kind, body, context)
    if kind == "invoice_email_subject" and ("\n" in rendered.strip() or len(rendered.strip()) > 250):
        raise TemplateProblem("subject: it must render to one line of at most 250 characters")
    row = stored(session, entity_id, kind) or DocumentTemplate(entity_id=entity_id, kind=kind)
    before = hashlib.sha256(row.body.encode()).hexdigest()[:12] if row.id else "built-in"
    row.body, row.updated_by, row.updated_at = body, actor.username, utcnow()
    session.add(row)
    session.flush()
    audit.record(session, actor=actor.username, action="template.save", entity_type="document_template",
                 entity_id=row.id, details={"entity_id": entity_id, "kind": kind, "before": before,
                                            "after": hashlib.sha256(body.encode()).hexdigest()[:12],
                                            "chars": len(body)})
    return row


def reset_template(session: Session, actor: Actor, entity_id: int, kind: str) -> None:
    """Go back to the built-in version (the entity's own is deleted; the audit log keeps its fingerprint)."""
    require(actor, "invoices:write")
    row = stored(session, entity_id, kind)
    if row is None:
        return
    audit.record(session, actor=actor.username, action="template.reset", entity_type="document_template",
                 entity_id=row.id, details={"entity_id": entity_id, "kind": kind,
                                            "before": hashlib.sha256(row.body.encode()).hexdigest()[:12]})
    session.delete(row)
    session.flush()
