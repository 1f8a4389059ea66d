"""Email templates (and the document templates' checks) on SQLite and PostgreSQL: the built-in set is seeded, a
template with an unknown placeholder or that does not compile is refused with the part, the line and the
placeholder named — also when the placeholder sits in a branch the sample invoice does not take — nothing broken is
saved, the invoice email follows the seller's "Invoice" template, and only receivables writers change templates."""
from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from core.auth import SYSTEM, Actor
from core.billing.contracts import LineSpec
from core.documents.delivery import send_invoice_email
from core.documents.render import TemplateProblem, invoice_context
from core.documents.templates import save_template as save_document_template
from core.documents.templates import template_for
from core.errors import PermissionDenied, UserError
from core.invoicing.service import approve_invoices, generate_drafts
from core.models import AuditLog, EmailTemplate
from core.receivables.dunning import StepSpec, save_policy
from core.receivables.templates import (
    SAMPLE,
    delete_template,
    email_context,
    invoice_template,
    list_templates,
    placeholders,
    preview_context,
    render_email,
    save_template,
    seed_default_templates,
)
from tests.db import factories as f
from tests.smtp import smtp  # noqa: F401 - the fixture

OCT = {"period_start": date(2026, 10, 1), "period_end": date(2026, 11, 1)}


def _invoice(session, name: str = "Acme & Sons"):
    seller = f.seller(session)
    f.customer(session, "ACME", name=name, email="ap@acme.example")
    f.contract(session, "ACME", [LineSpec("Platform", "flat_fee", {"amount": "512.58"})], start=date(2026, 1, 1))
    [inv_id] = generate_drafts(session, SYSTEM, **OCT).created
    [inv] = approve_invoices(session, SYSTEM, [inv_id])
    return seller, inv


def _save(session, seller, **changes):
    fields = {"entity_id": seller.id, "name": "Mine", "kind": "reminder", "fmt": "text",
              "subject": "About {{ invoice.number }}", "body": "Hello {{ customer.name }}"}
    return save_template(session, SYSTEM, **{**fields, **changes})


def _keys(value):
    if isinstance(value, dict):
        return {k: _keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def test_the_built_in_templates_are_seeded_once_and_render_on_a_real_invoice(session):
    seller, inv = _invoice(session)
    seed_default_templates(session, SYSTEM, seller.id)
    seed_default_templates(session, SYSTEM, seller.id)  # twice: nothing more
    names = [t.name for t in list_templates(session, seller.id)]
    assert sorted(names) == sorted(["Invoice", "Reminder before due", "Overdue — first notice",
                                    "Overdue — second notice", "Final notice"])
    assert invoice_template(session, seller.id).name == "Invoice"
    context = email_context(session, inv.id, on=inv.due_date, offset=0)
    for tpl in list_templates(session, seller.id):
        subject, body = render_email(tpl.subject, tpl.body, tpl.format, context)
        assert inv.number in subject and "Acme & Sons" in body  # plain text: not escaped
    # the sample a template is checked against without invoices has the real context's shape
    sample_keys, real_keys = _keys(SAMPLE), _keys(context)
    assert sample_keys == real_keys


@pytest.mark.parametrize(("changes", "message"), [
    ({"body": "Hello\n{{ customer.nmae }}"}, "body: template line 2: unknown placeholder “customer.nmae”"),
    ({"subject": "{{ invoce.number }}"}, "subject: template line 1: unknown placeholder “invoce”"),
    ({"body": "{% if invoice.is_draft %}\n\n{{ dunning.dayz }}{% endif %}"},  # a branch the invoice does not take
     "body: template line 3: unknown placeholder “dunning.dayz”"),
    ({"body": "{% for line in lines %}{{ line.amout }}{% endfor %}"}, "unknown placeholder “line.amout”"),
    ({"body": "Hi {{ customer.name }\nthere"}, "body: template line 1: it does not compile"),
    ({"body": "{% if dunning.is_overdue %}late"}, "body: template line 1: it does not compile"),
    ({"subject": "   "}, "subject: it is empty"),
    ({"name": ""}, "name: give the template a name"),
    ({"kind": "invoice"}, "“Invoice” is this seller's invoice email already"),
])
def test_a_broken_template_is_refused_with_what_to_fix_and_nothing_is_saved(session, changes, message):
    seller, inv = _invoice(session)
    seed_default_templates(session, SYSTEM, seller.id)
    before = len(list_templates(session, seller.id))
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        _save(session, seller, preview_invoice_id=inv.id, **changes)
    assert len(list_templates(session, seller.id)) == before
    # an existing template is not changed by a refused edit either
    final = next(t for t in list_templates(session, seller.id) if t.name == "Final notice")
    body = final.body
    with pytest.raises(TemplateProblem, match="unknown placeholder “seller.nme”"):
        save_template(session, SYSTEM, template_id=final.id, entity_id=seller.id, name=final.name, kind="reminder",
                      fmt="text", subject=final.subject, body="{{ seller.nme }}")
    session.refresh(final)
    assert final.body == body


def test_a_template_saves_renders_html_escaped_and_is_audited(session):
    seller, inv = _invoice(session)
    tpl = _save(session, seller, fmt="html", body="<p>Dear {{ customer.name }}, {{ dunning.amount_due }} is due "
                                                 "{% if dunning.payment_link %}<a href='{{ dunning.payment_link }}'>"
                                                 "pay</a>{% endif %}</p>")
    subject, body = render_email(tpl.subject, tpl.body, tpl.format, email_context(session, inv.id))
    assert subject == f"About {inv.number}"
    assert "Dear Acme &amp; Sons, $512.58 is due" in body and "/pay?token=" in body
    [entry] = session.exec(select(AuditLog).where(AuditLog.action == "email_template.save")).all()
    assert entry.details["name"] == "Mine" and entry.details["before"] == "new"
    with pytest.raises(UserError, match="already has a template called “Mine”"):
        _save(session, seller, name="mine")
    rows = dict(placeholders(email_context(session, inv.id)))
    assert rows["{{ customer.name }}"] == "Acme & Sons" and rows["{{ invoice.number }}"] == inv.number


def test_a_seller_without_invoices_checks_against_the_sample(session):
    seller = f.seller(session)
    context, what = preview_context(session, seller.id)
    assert "sample" in what
    seed_default_templates(session, SYSTEM, seller.id)
    assert len(list_templates(session, seller.id)) == 5
    with pytest.raises(TemplateProblem, match="unknown placeholder “customer.vat”"):
        _save(session, seller, body="{{ customer.vat }}")


def test_the_invoice_email_follows_the_sellers_invoice_template(session, smtp):  # noqa: F811
    seller, inv = _invoice(session)
    send_invoice_email(session, SYSTEM, inv.id)  # no template of its own: the Documents page's text
    seed_default_templates(session, SYSTEM, seller.id)
    send_invoice_email(session, SYSTEM, inv.id)  # the seeded "Invoice" is that same text
    own = invoice_template(session, seller.id)
    save_template(session, SYSTEM, template_id=own.id, entity_id=seller.id, name="Invoice", kind="invoice", fmt="text",
                  subject="Your bill {{ invoice.number }} ({{ invoice.amount_due }})",
                  body="Dear {{ customer.name }}, see the attached {{ invoice.number }}.")
    send_invoice_email(session, SYSTEM, inv.id)
    from email.header import decode_header, make_header

    subjects = [str(make_header(decode_header(m["Subject"]))) for _, m in smtp.messages]
    default = f"Invoice {inv.number} from {seller.name} — $512.58 due {inv.due_date:%-d %B %Y}"
    assert subjects == [default, default, f"Your bill {inv.number} ($512.58)"]
    text = next(p for p in smtp.messages[-1][1].walk() if p.get_content_type() == "text/plain")
    assert text.get_payload(decode=True).decode().startswith("Dear Acme & Sons, see the attached")
    assert any(p.get_filename() for p in smtp.messages[-1][1].walk())  # the PDF is still attached


def test_a_template_a_step_sends_cannot_be_deleted(session):
    seller, inv = _invoice(session)
    have = seed_default_templates(session, SYSTEM, seller.id)
    save_policy(session, SYSTEM, name="P", segment_id=None, priority=1, steps=[StepSpec(7, have["Final notice"].id)])
    with pytest.raises(UserError, match=r"sent by dunning steps \(P \(\+7\)\)"):
        delete_template(session, SYSTEM, have["Final notice"].id)
    delete_template(session, SYSTEM, have["Reminder before due"].id)
    assert session.get(EmailTemplate, have["Reminder before due"].id) is None
    assert "email_template.delete" in [a.action for a in session.exec(select(AuditLog))]


def test_only_receivables_writers_change_templates(session):
    seller, inv = _invoice(session)
    have = seed_default_templates(session, SYSTEM, seller.id)
    for role in ("viewer", "ops", "sales"):
        with pytest.raises(PermissionDenied, match="may not write receivables"):
            save_template(session, Actor("x", role), entity_id=seller.id, name="X", kind="reminder", fmt="text",
                          subject="s", body="b")
        with pytest.raises(PermissionDenied):
            delete_template(session, Actor("x", role), have["Final notice"].id)
        with pytest.raises(PermissionDenied):
            seed_default_templates(session, Actor("x", role), seller.id)


@pytest.mark.parametrize(("body", "message"), [
    ("<p>{% if doc.is_draft %}{{ doc.watermark }}{% endif %}</p>", "template line 1: unknown placeholder “doc.watermark”"),
    ("<p>\n{{ totals.amount_duee }}</p>", "template line 2: unknown placeholder “totals.amount_duee”"),
    ("<p>{% for l in lines %}{{ l.amount }}{% endfor %}</p>\n{% endif %}", "template line 2: it does not compile"),
])
def test_document_templates_name_the_unknown_placeholder_on_save(session, body, message):
    seller, inv = _invoice(session)
    with pytest.raises(TemplateProblem, match=message):
        save_document_template(session, SYSTEM, seller.id, "invoice", body, invoice_context(session, inv.id))
    assert "watermark" not in template_for(session, seller.id, "invoice")
    # a template asking whether a value exists is fine
    save_document_template(session, SYSTEM, seller.id, "invoice",
                           "<p>{{ doc.number }}{% if doc.watermark is defined %}!{% endif %}"
                           "{{ doc.footer | default('') }}</p>", invoice_context(session, inv.id))
