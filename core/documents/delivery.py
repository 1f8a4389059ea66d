"""Emailing documents: the invoice as a PDF attachment, subject and message from the seller's templates, sent
from the seller's address, every attempt in the email log (who asked, to whom, what the server said).

Sending happens outside the approval transaction: :func:`queue_invoice_emails` writes one ``queued`` log row per
invoice (that is the progress the app shows) and the background worker (:mod:`core.jobs`) calls
:func:`deliver` for each; :func:`send_invoice_email` does both at once for a single invoice.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.documents.render import invoice_context, render_html, render_pdf, render_text
from core.documents.templates import template_for
from core.errors import NotFound, UserError
from core.models import BusinessEntity, Customer, EmailLog, Invoice, utcnow

EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
Sender = Callable[..., None]  # (to=[...], subject=, body=, attachments=[(name, bytes)], sender=) -> None


def _recipients(text: str) -> list[str]:
    import re

    emails = [e.strip() for e in (text or "").replace(";", ",").split(",") if e.strip()]
    bad = [e for e in emails if not re.match(EMAIL, e)]
    if bad:
        raise UserError(f"recipients: {', '.join(bad)} is not an email address")
    return emails


def pdf_name(inv: Invoice) -> str:
    return f"invoice-{inv.number or f'draft-{inv.id}'}.pdf".replace("/", "-")


def queue_invoice_emails(session: Session, actor: Actor, invoice_ids: list[int], *,
                         to: str | None = None) -> list[EmailLog]:
    """One ``queued`` email per invoice, to ``to`` or the customer's address. Drafts are refused (approve first:
    a customer only ever receives a numbered invoice); a customer without an address is named."""
    require(actor, "invoices:write")
    if not invoice_ids:
        raise UserError("choose at least one invoice to email")
    invoices = {i.id: i for i in session.exec(select(Invoice).where(Invoice.id.in_(invoice_ids)))}
    customers = {c.id: c for c in session.exec(select(Customer).where(
        Customer.id.in_({i.customer_id for i in invoices.values()})))}
    problems, rows = [], []
    for inv_id in invoice_ids:
        inv = invoices.get(inv_id)
        if inv is None:
            raise NotFound(f"there is no invoice #{inv_id}")
        cust = customers[inv.customer_id]
        if inv.status == "draft":
            problems.append(f"Draft #{inv.id} ({cust.name}) is not approved yet: approve it first")
            continue
        recipients = _recipients(to if to is not None else cust.email)
        if not recipients:
            problems.append(f"{inv.number} ({cust.name}): the customer has no email address; add one on the "
                            "Customers page or type one here")
            continue
        rows.append(EmailLog(entity_id=inv.entity_id, invoice_id=inv.id, document="invoice",
                             recipients=", ".join(recipients), attachment=pdf_name(inv), status="queued",
                             requested_by=actor.username))
    if problems:
        raise UserError("; ".join(problems))
    session.add_all(rows)
    session.flush()
    audit.record(session, actor=actor.username, action="invoice.email_queued", entity_type="invoice",
                 entity_id=",".join(str(r.invoice_id) for r in rows)[:60],
                 details={"invoices": [r.invoice_id for r in rows], "emails": [r.id for r in rows]})
    return rows


def resolve_sender(send: Sender | None = None) -> tuple[Sender | None, str, str]:
    """(how to send, the default From address, the problem): ``send`` when given, else the SMTP server of the
    environment — or no way to send, and why."""
    if send is not None:
        return send, "", ""
    from connectors.email import SmtpSettings
    from connectors.email import send as smtp_send

    settings = SmtpSettings.from_env()
    if settings is None:
        return None, "", "email is not set up: SMTP_HOST is not configured"
    return (lambda **kw: smtp_send(settings, **kw)), settings.sender, ""


def deliver(session: Session, log_id: int, *, send: Sender | None = None) -> EmailLog:
    """Render and send one queued email; record ``sent`` or ``failed`` with the server's answer. Never raises
    for a delivery problem (the log says it); a log row already sent is left alone (safe to run twice)."""
    log = session.get(EmailLog, log_id)
    if log is None:
        raise NotFound(f"there is no email #{log_id}")
    if log.status == "sent":
        return log
    if log.document == "reminder":  # a dunning reminder: its own message, no attachment
        from core.receivables.dunning import deliver_reminder

        return deliver_reminder(session, log, send=send)
    inv = session.get(Invoice, log.invoice_id)
    seller = session.get(BusinessEntity, inv.entity_id)
    if send is None:
        from connectors.email import SmtpSettings
        from connectors.email import send as smtp_send

        settings = SmtpSettings.from_env()
        if settings is None:
            log.status, log.error = "failed", "email is not set up: SMTP_HOST is not configured"
            session.add(log)
            session.flush()
            return log
        send = lambda **kw: smtp_send(settings, **kw)  # noqa: E731
        default_sender = settings.sender
    else:
        default_sender = ""
    try:
        context = invoice_context(session, inv.id)
        pdf = render_pdf(render_html(template_for(session, inv.entity_id, "invoice"), context))
        from core.receivables.templates import invoice_email

        own = invoice_email(session, inv.id)  # the seller's "invoice" email template (Email templates page)
        if own is not None:
            subject, body = own
        else:
            subject = " ".join(render_text(template_for(session, inv.entity_id, "invoice_email_subject"),
                                           context).split())
            body = render_text(template_for(session, inv.entity_id, "invoice_email_body"), context)
        log.sender = seller.email_from or default_sender
        log.subject, log.attachment_bytes = subject[:300], len(pdf)
        send(to=[e.strip() for e in log.recipients.split(",") if e.strip()], subject=subject, body=body,
             attachments=[(log.attachment, pdf)], sender=seller.email_from)
    except UserError as exc:
        log.status, log.error = "failed", str(exc)[:1000]
    else:
        log.status, log.error, log.sent_at = "sent", "", utcnow()
    session.add(log)
    audit.record(session, actor=log.requested_by or "system", action=f"invoice.email_{log.status}",
                 entity_type="invoice", entity_id=inv.id,
                 details={"email_id": log.id, "to": log.recipients, "error": log.error})
    session.flush()
    return log


def send_invoice_email(session: Session, actor: Actor, invoice_id: int, *, to: str | None = None,
                       send: Sender | None = None) -> EmailLog:
    """Queue and deliver one invoice's email now (the CLI and tests; the app queues and lets the worker send)."""
    [log] = queue_invoice_emails(session, actor, [invoice_id], to=to)
    return deliver(session, log.id, send=send)


def email_log(session: Session, *, invoice_id: int | None = None, limit: int = 200) -> list[EmailLog]:
    q = select(EmailLog).order_by(EmailLog.id.desc()).limit(limit)
    if invoice_id is not None:
        q = q.where(EmailLog.invoice_id == invoice_id)
    return list(session.exec(q))
