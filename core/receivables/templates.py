"""Email templates per seller: a subject and a body (plain text or HTML), Jinja2 in the documents' sandbox.

The values a template can use (:func:`email_context`) are the invoice document's — ``doc``, ``seller``,
``customer``, ``lines``, ``totals``, ``payment`` (see :mod:`core.documents.render`) — plus:

- ``invoice``: number, status, currency, issue_date, due_date, period, terms, total, amount_due, days_past_due
- ``dunning``: step ("7 days overdue"), offset_days, days_past_due, days_until_due, is_overdue, amount_due,
  payment_link (the invoice's signed pay page, :mod:`core.portal_links`), link_expires, policy

A template is checked before it is saved — it must compile, every placeholder must name a value (also in a branch
the sample does not take), and it must render against a real invoice of the seller (the one chosen for the preview,
else the newest, else a sample) — so a broken template is refused with the line and the placeholder at fault, never
found broken when a reminder leaves. ``kind`` "invoice" is the email an invoice goes out with (one per seller; the
built-in text of the Documents page applies while there is none); "reminder" templates are the dunning steps'.
"""
from __future__ import annotations

import copy
import hashlib
from datetime import date

from sqlmodel import Session, func, select

from core import audit
from core.auth import Actor, require
from core.documents.render import TemplateProblem, invoice_context, render_html, render_text
from core.errors import NotFound, UserError
from core.models import BusinessEntity, DunningStep, EmailTemplate, Invoice, utcnow

KINDS = {"invoice": "Invoice email", "reminder": "Reminder (dunning)"}
FORMATS = {"text": "Plain text", "html": "HTML"}
MAX_BODY_CHARS = 100_000
MAX_SUBJECT_CHARS = 250


def step_label(offset: int) -> str:
    """−3 → "3 days before due", 0 → "on the due date", 7 → "7 days overdue"."""
    if offset == 0:
        return "on the due date"
    n = abs(offset)
    return f"{n} day{'s' if n != 1 else ''} " + ("before due" if offset < 0 else "overdue")


# ---- the values a template sees -----------------------------------------------------------------------------


def email_context(session: Session, invoice_id: int, *, on: date | None = None, offset: int | None = None,
                  policy: str = "") -> dict:
    """The invoice's document values plus ``invoice`` and ``dunning`` (as of ``on``, default today)."""
    ctx = invoice_context(session, invoice_id)
    inv = session.get(Invoice, invoice_id)
    on = on or date.today()
    days = (on - inv.due_date).days
    ctx["invoice"] = {**ctx["doc"], "total": ctx["totals"]["total"], "amount_due": ctx["totals"]["amount_due"],
                      "days_past_due": max(days, 0)}
    ctx["dunning"] = {"step": step_label(offset if offset is not None else days),
                      "offset_days": offset if offset is not None else days,
                      "days_past_due": max(days, 0), "days_until_due": max(-days, 0), "is_overdue": days > 0,
                      "amount_due": ctx["totals"]["amount_due"], "payment_link": ctx["payment"]["link"],
                      "link_expires": ctx["payment"]["link_expires"], "policy": policy}
    return ctx


SAMPLE: dict = {  # what a template is checked against when its seller has no invoice yet (same shape as real ones)
    "doc": {"title": "Invoice", "number": "INV-0001", "is_draft": False, "status": "approved", "currency": "USD",
            "issue_date": "1 October 2026", "due_date": "31 October 2026", "period": "1 Sep 2026 – 30 Sep 2026",
            "terms": "net 30 days", "notes": ""},
    "seller": {"name": "Your company", "legal_name": "Your company, Inc.", "address_lines": ["1 Main St"],
               "tax_id": "", "email": "billing@example.com", "logo": ""},
    "customer": {"name": "Sample customer", "external_id": "SAMPLE-1", "email": "ap@customer.example",
                 "address_lines": ["2 High St"], "tax_id": ""},
    "lines": [{"description": "Platform fee", "breakdown": "", "indent": 0, "period": "1 Sep 2026 – 30 Sep 2026",
               "kind": "fixed", "quantity": "", "amount": "$1,000.00"}],
    "totals": {"subtotal": "$1,000.00", "taxes": [{"label": "Tax", "amount": "$80.00"}], "total": "$1,080.00",
               "credits_applied": "", "paid": "", "credited": "", "amount_due": "$1,080.00"},
    "payment": {"link": "https://billing.example.com/pay?token=sample", "link_expires": "29 April 2027",
                "instructions": "Bank transfer to IBAN XX00 0000 0000"},
}
SAMPLE["invoice"] = {**SAMPLE["doc"], "total": "$1,080.00", "amount_due": "$1,080.00", "days_past_due": 7}
SAMPLE["dunning"] = {"step": "7 days overdue", "offset_days": 7, "days_past_due": 7, "days_until_due": 0,
                     "is_overdue": True, "amount_due": "$1,080.00", "payment_link": SAMPLE["payment"]["link"],
                     "link_expires": SAMPLE["payment"]["link_expires"], "policy": "Standard reminders"}


def sample_context() -> dict:
    return copy.deepcopy(SAMPLE)


def placeholders(context: dict) -> list[tuple[str, str]]:
    """Every placeholder of ``context`` with its value there, for the page's list: ("customer.name", "Acme")."""
    out: list[tuple[str, str]] = []
    for top, value in context.items():
        if isinstance(value, dict):
            out.extend((f"{{{{ {top}.{k} }}}}", _shown(v)) for k, v in value.items())
        elif isinstance(value, list):
            first = value[0] if value and isinstance(value[0], dict) else {}
            one = top.rstrip("s") or "item"
            out.append((f"{{% for {one} in {top} %}}…{{% endfor %}}", f"{len(value)} item(s)"))
            out.extend((f"{{{{ {one}.{k} }}}}", _shown(v)) for k, v in first.items())
        else:
            out.append((f"{{{{ {top} }}}}", _shown(value)))
    return out


def _shown(value) -> str:  # noqa: ANN001
    if isinstance(value, list):
        return "; ".join(map(str, value)) if all(not isinstance(v, dict) for v in value) else f"{len(value)} item(s)"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "…"


# ---- rendering ------------------------------------------------------------------------------------------------


def render_email(subject: str, body: str, fmt: str, context: dict) -> tuple[str, str]:
    """(subject, body) rendered; a problem names the part ("subject" / "body"), the line and the placeholder."""
    try:
        rendered_subject = " ".join(render_text(subject, context).split())
    except TemplateProblem as exc:
        raise TemplateProblem(f"subject: {exc}") from None
    try:
        rendered_body = (render_html if fmt == "html" else render_text)(body, context)
    except TemplateProblem as exc:
        raise TemplateProblem(f"body: {exc}") from None
    return rendered_subject, rendered_body


def for_sending(body: str, fmt: str) -> str:
    """An HTML body goes out as one line (its markup lays it out; connectors.email also makes its plain-text part
    from the markup); a text body as written."""
    return " ".join(body.splitlines()) if fmt == "html" else body


def invoice_email(session: Session, invoice_id: int) -> tuple[str, str] | None:
    """The subject and body of an invoice's email from its seller's "invoice" template, or None when the seller has
    none (the built-in text of the Documents page applies then)."""
    inv = session.get(Invoice, invoice_id)
    tpl = invoice_template(session, inv.entity_id) if inv is not None else None
    if tpl is None:
        return None
    subject, body = render_email(tpl.subject, tpl.body, tpl.format, email_context(session, invoice_id))
    return subject, for_sending(body, tpl.format)


# ---- reading ------------------------------------------------------------------------------------------------


def list_templates(session: Session, entity_id: int | None = None) -> list[EmailTemplate]:
    q = select(EmailTemplate).order_by(EmailTemplate.entity_id, EmailTemplate.kind, EmailTemplate.name)
    if entity_id is not None:
        q = q.where(EmailTemplate.entity_id == entity_id)
    return list(session.exec(q))


def get_template(session: Session, template_id: int) -> EmailTemplate:
    tpl = session.get(EmailTemplate, template_id)
    if tpl is None:
        raise NotFound(f"there is no email template #{template_id}")
    return tpl


def invoice_template(session: Session, entity_id: int) -> EmailTemplate | None:
    return session.exec(select(EmailTemplate).where(EmailTemplate.entity_id == entity_id,
                                                    EmailTemplate.kind == "invoice")
                        .order_by(EmailTemplate.id)).first()


def used_by(session: Session, template_id: int) -> list[str]:
    """The policies whose steps send this template ("Standard reminders (+7)")."""
    from core.models import DunningPolicy

    rows = session.exec(select(DunningPolicy.name, DunningStep.offset_days)
                        .join(DunningPolicy, DunningPolicy.id == DunningStep.policy_id)
                        .where(DunningStep.template_id == template_id)
                        .order_by(DunningPolicy.name, DunningStep.offset_days)).all()
    return [f"{name} ({offset:+d})" for name, offset in rows]


def preview_context(session: Session, entity_id: int, invoice_id: int | None = None, *,
                    on: date | None = None) -> tuple[dict, str]:
    """The context a template is checked and previewed against, and what it is: the chosen invoice, else the
    seller's newest issued one, else the sample."""
    if invoice_id is None:
        invoice_id = session.exec(select(Invoice.id).where(Invoice.entity_id == entity_id,
                                                           Invoice.status != "draft")
                                  .order_by(Invoice.id.desc()).limit(1)).first()
    if invoice_id is None:
        return sample_context(), "a sample invoice (this seller has no approved invoice yet)"
    inv = session.get(Invoice, invoice_id)
    if inv is None:
        raise NotFound(f"there is no invoice #{invoice_id}")
    return email_context(session, invoice_id, on=on), f"invoice {inv.number or f'draft #{inv.id}'}"


def record_preview(session: Session, actor: Actor, *, template_id: int, invoice_id: int,
                   on: date | None = None) -> bool:
    """Note in the audit log ("email.preview") that ``actor`` read a template rendered on a real invoice — what the
    pilot's "dunning emails previewed" criterion reads. Once per person, template, invoice and day; True when noted
    now."""
    require(actor, "receivables:read")
    from datetime import datetime, time

    from core.models import AuditLog

    tpl, inv = get_template(session, template_id), session.get(Invoice, invoice_id)
    if inv is None:
        raise NotFound(f"there is no invoice #{invoice_id}")
    today = datetime.combine(utcnow().date(), time(0))
    for details in session.exec(select(AuditLog.details).where(
            AuditLog.action == "email.preview", AuditLog.actor == actor.username, AuditLog.entity_type == "invoice",
            AuditLog.entity_id == str(inv.id), AuditLog.at >= today)):
        if (details or {}).get("template_id") == tpl.id:
            return False
    audit.record(session, actor=actor.username, action="email.preview", entity_type="invoice", entity_id=inv.id,
                 details={"template_id": tpl.id, "template": tpl.name, "kind": tpl.kind,
                          "invoice": inv.number or f"Draft #{inv.id}", "as_of": on or date.today()})
    return True


# ---- writing ------------------------------------------------------------------------------------------------


def _fingerprint(tpl: EmailTemplate) -> str:
    return hashlib.sha256(f"{tpl.subject}\n{tpl.format}\n{tpl.body}".encode()).hexdigest()[:12]


def save_template(session: Session, actor: Actor, *, entity_id: int, name: str, kind: str, fmt: str, subject: str,
                  body: str, template_id: int | None = None, preview_invoice_id: int | None = None) -> EmailTemplate:
    """Create (``template_id`` None) or change an email template, after checking that it renders."""
    require(actor, "receivables:write")
    if session.get(BusinessEntity, entity_id) is None:
        raise NotFound(f"there is no business entity #{entity_id}")
    name = (name or "").strip()
    if not name:
        raise UserError("name: give the template a name, e.g. “Overdue — first notice”")
    if len(name) > 100:
        raise UserError(f"name: {len(name)} characters is too long (at most 100)")
    if kind not in KINDS:
        raise UserError(f"kind: '{kind}' is not one; choose {' or '.join(KINDS)}")
    if fmt not in FORMATS:
        raise UserError(f"format: '{fmt}' is not one; choose {' or '.join(FORMATS)}")
    subject, body = (subject or "").strip(), (body or "")
    if not subject:
        raise UserError("subject: it is empty; write the email's subject line")
    if not body.strip():
        raise UserError("body: it is empty; write the email's message")
    if len(body) > MAX_BODY_CHARS:
        raise UserError(f"body: {len(body):,} characters is too long (at most {MAX_BODY_CHARS:,})")
    tpl = get_template(session, template_id) if template_id is not None else None
    if tpl is not None and tpl.entity_id != entity_id:
        raise UserError(f"template “{tpl.name}” belongs to another seller")
    clash = session.exec(select(EmailTemplate).where(EmailTemplate.entity_id == entity_id,
                                                     func.lower(EmailTemplate.name) == name.lower())).first()
    if clash is not None and (tpl is None or clash.id != tpl.id):
        raise UserError(f"name: this seller already has a template called “{clash.name}”; choose another name")
    if kind == "invoice":
        other = invoice_template(session, entity_id)
        if other is not None and (tpl is None or other.id != tpl.id):
            raise UserError(f"kind: “{other.name}” is this seller's invoice email already; edit it, or make this "
                            "one a reminder")
    if tpl is not None and kind == "invoice" and tpl.kind != "invoice" and used_by(session, tpl.id):
        raise UserError(f"kind: “{tpl.name}” is sent by dunning steps ({', '.join(used_by(session, tpl.id))}); "
                        "it stays a reminder")
    context, _ = preview_context(session, entity_id, preview_invoice_id)
    rendered_subject, _ = render_email(subject, body, fmt, context)
    if len(rendered_subject) > MAX_SUBJECT_CHARS:
        raise TemplateProblem(f"subject: it renders to {len(rendered_subject)} characters; keep it under "
                              f"{MAX_SUBJECT_CHARS}")
    before = _fingerprint(tpl) if tpl is not None else None
    if tpl is None:
        tpl = EmailTemplate(entity_id=entity_id, name=name)
    tpl.name, tpl.kind, tpl.format, tpl.subject, tpl.body = name, kind, fmt, subject, body
    tpl.updated_by, tpl.updated_at = actor.username, utcnow()
    session.add(tpl)
    session.flush()
    audit.record(session, actor=actor.username, action="email_template.save", entity_type="email_template",
                 entity_id=tpl.id, details={"entity_id": entity_id, "name": name, "kind": kind, "format": fmt,
                                            "before": before or "new", "after": _fingerprint(tpl)})
    return tpl


def delete_template(session: Session, actor: Actor, template_id: int) -> None:
    """Delete a template no dunning step sends (the log keeps its name)."""
    require(actor, "receivables:write")
    tpl = get_template(session, template_id)
    users = used_by(session, tpl.id)
    if users:
        raise UserError(f"“{tpl.name}” is sent by dunning steps ({', '.join(users)}): choose another template "
                        "for those steps first")
    from sqlalchemy import update

    from core.models import DunningLog

    session.exec(update(DunningLog).where(DunningLog.template_id == tpl.id).values(template_id=None))
    audit.record(session, actor=actor.username, action="email_template.delete", entity_type="email_template",
                 entity_id=tpl.id, details={"entity_id": tpl.entity_id, "name": tpl.name, "kind": tpl.kind,
                                            "fingerprint": _fingerprint(tpl)})
    session.delete(tpl)
    session.flush()


# ---- the built-in set -----------------------------------------------------------------------------------------

_SIGN_OFF = """
{% if dunning.payment_link %}
Pay it online: {{ dunning.payment_link }}
{% endif %}
{% if payment.instructions %}
{{ payment.instructions }}
{% endif %}
If you have paid already, thank you, and please ignore this email. If something is wrong with this invoice, reply to
this email and we will sort it out.

{{ seller.legal_name or seller.name }}
"""

DEFAULTS: dict[str, tuple[str, str, str]] = {  # name -> (kind, subject, body); "Invoice" is the Documents text
    "Reminder before due": (
        "reminder", "Reminder: invoice {{ invoice.number }} is due on {{ invoice.due_date }}",
        "Hello {{ customer.name }},\n\nA friendly reminder: invoice {{ invoice.number }} for {{ invoice.period }} is "
        "due on {{ invoice.due_date }}{% if dunning.days_until_due %}, in {{ dunning.days_until_due }} "
        "day{{ 's' if dunning.days_until_due != 1 }}{% endif %}.\n\nAmount due: {{ dunning.amount_due }}\n" + _SIGN_OFF),
    "Overdue — first notice": (
        "reminder", "Invoice {{ invoice.number }} is overdue — {{ dunning.amount_due }} due",
        "Hello {{ customer.name }},\n\nInvoice {{ invoice.number }} for {{ invoice.period }} was due on "
        "{{ invoice.due_date }} and is now {{ dunning.days_past_due }} day{{ 's' if dunning.days_past_due != 1 }} "
        "overdue.\n\nAmount due: {{ dunning.amount_due }}\n" + _SIGN_OFF),
    "Overdue — second notice": (
        "reminder", "Second notice: invoice {{ invoice.number }} is {{ dunning.days_past_due }} days overdue",
        "Hello {{ customer.name }},\n\nWe have not received payment of invoice {{ invoice.number }}, due on "
        "{{ invoice.due_date }} — it is {{ dunning.days_past_due }} days overdue.\n\nAmount due: "
        "{{ dunning.amount_due }}\n\nPlease pay it now, or tell us when you will.\n" + _SIGN_OFF),
    "Final notice": (
        "reminder", "Final notice: invoice {{ invoice.number }} — {{ dunning.amount_due }} overdue",
        "Hello {{ customer.name }},\n\nInvoice {{ invoice.number }}, due on {{ invoice.due_date }}, is "
        "{{ dunning.days_past_due }} days overdue and {{ dunning.amount_due }} is still unpaid.\n\nThis is our final "
        "notice: please pay within 7 days, or contact us, so that we do not have to suspend the service.\n"
        + _SIGN_OFF),
}


def default_templates() -> dict[str, tuple[str, str, str]]:
    """The built-in set: "Invoice" (the invoice email's current text) and the four reminders."""
    from core.documents.templates import default_template

    return {"Invoice": ("invoice", default_template("invoice_email_subject").strip(),
                        default_template("invoice_email_body")), **DEFAULTS}


def seed_default_templates(session: Session, actor: Actor, entity_id: int) -> dict[str, EmailTemplate]:
    """Add the built-in templates the seller does not have yet (by name); returns every template by name."""
    require(actor, "receivables:write")
    have = {t.name: t for t in list_templates(session, entity_id)}
    for name, (kind, subject, body) in default_templates().items():
        if name in have or (kind == "invoice" and invoice_template(session, entity_id) is not None):
            continue
        have[name] = save_template(session, actor, entity_id=entity_id, name=name, kind=kind, fmt="text",
                                   subject=subject, body=body)
    return have
