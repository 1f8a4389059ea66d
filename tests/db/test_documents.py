"""Invoice documents and their email: the PDF carries the invoice's numbers, templates are sandboxed and checked
before they are saved, and the email leaves through a real SMTP server with the PDF attached and is logged."""
from datetime import date, datetime
from decimal import Decimal
from email.header import decode_header, make_header

import pytest
from sqlmodel import select

from core.auth import SYSTEM, Actor
from core.billing.contracts import LineSpec
from core.catalog import update_entity
from core.documents.delivery import deliver, queue_invoice_emails, send_invoice_email
from core.documents.render import TemplateProblem, invoice_context, invoice_html, invoice_pdf
from core.documents.templates import default_template, reset_template, save_template, template_for
from core.errors import PermissionDenied, UserError
from core.invoicing.service import approve_invoice, generate_drafts
from core.models import AuditLog, EmailLog, Invoice
from tests.db import factories as f
from tests.smtp import smtp  # noqa: F401, F811 - the fixture

OCT = {"period_start": date(2026, 10, 1), "period_end": date(2026, 11, 1)}


def _invoice(session, *, approve=True, email="ap@acme.example"):
    seller = f.seller(session)
    f.customer(session, "ACME", name="Acme <Analytics>", email=email, address_line1="100 Market St",
               city="San Francisco", region="CA", postal_code="94105", country="US")
    f.metric(session, "calls", "call")
    f.contract(session, "ACME", [LineSpec("Platform fee", "flat_fee", {"amount": "500"}),
                                 LineSpec("API calls", "per_unit", {"unit_price": "0.002"}, metric_code="calls",
                                          free_units="10000")], start=date(2026, 1, 1))
    f.events(session, "ACME", "call", [16291], when=datetime(2026, 10, 12))
    [inv_id] = generate_drafts(session, SYSTEM, **OCT).created
    if approve:
        approve_invoice(session, SYSTEM, inv_id)
    return seller, session.get(Invoice, inv_id)


def test_invoice_document_shows_the_engines_numbers_escaped(session):
    _, inv = _invoice(session)
    html = invoice_html(session, inv.id)
    assert inv.number in html and "$512.58" in html  # 500 + 6,291 × 0.002 = 12.582 → 12.58
    assert "6,291 used" not in html or "16,291" in html
    assert "Acme &lt;Analytics&gt;" in html and "<Analytics>" not in html  # escaped, never markup
    assert "San Francisco, CA 94105" in html
    pdf = invoice_pdf(session, inv.id)
    assert pdf.startswith(b"%PDF-") and len(pdf) > 5000


def test_a_saved_template_is_used_and_audited_and_can_be_reset(session):
    seller, inv = _invoice(session)
    ctx = invoice_context(session, inv.id)
    save_template(session, SYSTEM, seller.id, "invoice", "<p>Bill {{ doc.number }}: {{ totals.total }}</p>", ctx)
    assert invoice_html(session, inv.id) == f"<p>Bill {inv.number}: $512.58</p>"
    reset_template(session, SYSTEM, seller.id, "invoice")
    assert template_for(session, seller.id, "invoice") == default_template("invoice")
    actions = [a.action for a in session.exec(select(AuditLog).where(AuditLog.entity_type == "document_template"))]
    assert actions == ["template.save", "template.reset"]


@pytest.mark.parametrize(("body", "message"), [
    ("<p>{{ doc.number </p>", "template line 1"),
    ("<p>\n{{ doc.nmuber }}</p>", "template line 2"),  # a typo: named, not printed as blank
    ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "template"),  # the sandbox refuses Python internals
    ("{% for x in range(10**9) %}{% endfor %}", "template"),  # range is capped in the sandbox
])
def test_bad_templates_are_refused_with_the_line_and_nothing_is_saved(session, body, message):
    seller, inv = _invoice(session)
    with pytest.raises(TemplateProblem, match=message):
        save_template(session, SYSTEM, seller.id, "invoice", body, invoice_context(session, inv.id))
    assert template_for(session, seller.id, "invoice") == default_template("invoice")


def test_only_finance_and_admins_edit_templates(session):
    seller, inv = _invoice(session)
    with pytest.raises(PermissionDenied):
        save_template(session, Actor("olga", "ops"), seller.id, "invoice", "<p>x</p>", invoice_context(session, inv.id))


def test_email_with_the_pdf_attached_through_a_real_smtp_server(session, smtp):
    seller, inv = _invoice(session)
    update_entity(session, SYSTEM, seller.id, {"email_from": "billing@northwind.example"})
    log = send_invoice_email(session, SYSTEM, inv.id)
    assert (log.status, log.error) == ("sent", "")
    [(rcpts, msg)] = smtp.messages
    assert rcpts == ["ap@acme.example"] and "billing@northwind.example" in msg["From"]
    subject = str(make_header(decode_header(msg["Subject"])))
    assert subject == f"Invoice {inv.number} from {seller.name} — $512.58 due 1 December 2026"
    [attachment] = [p for p in msg.walk() if p.get_filename()]
    data = attachment.get_payload(decode=True)
    assert attachment.get_filename() == f"invoice-{inv.number}.pdf"
    assert data.startswith(b"%PDF-") and len(data) == log.attachment_bytes
    body = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert "Amount due: $512.58" in body
    assert [a.action for a in session.exec(select(AuditLog).where(AuditLog.action.like("invoice.email%")))] == \
        ["invoice.email_queued", "invoice.email_sent"]


def test_drafts_and_customers_without_an_address_are_refused(session):
    _, inv = _invoice(session, approve=False)
    with pytest.raises(UserError, match="not approved yet: approve it first"):
        queue_invoice_emails(session, SYSTEM, [inv.id])
    approve_invoice(session, SYSTEM, inv.id)
    with pytest.raises(UserError, match="recipients: not-an-address is not an email address"):
        queue_invoice_emails(session, SYSTEM, [inv.id], to="not-an-address")
    assert session.exec(select(EmailLog)).all() == []


def test_a_customer_without_an_address_is_named(session):
    _, inv = _invoice(session, email="")
    with pytest.raises(UserError, match=r"\(Acme <Analytics>\): the customer has no email address"):
        queue_invoice_emails(session, SYSTEM, [inv.id])


def test_a_delivery_failure_is_logged_not_lost(session, monkeypatch):
    _, inv = _invoice(session)
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    from tests.smtp import free_port

    monkeypatch.setenv("SMTP_PORT", str(free_port()))  # nobody listens there
    monkeypatch.setenv("SMTP_TLS", "none")
    monkeypatch.delenv("SMTP_USER", raising=False)
    [log] = queue_invoice_emails(session, SYSTEM, [inv.id])
    log = deliver(session, log.id)
    assert log.status == "failed" and "could not be sent" in log.error
    monkeypatch.delenv("SMTP_HOST")
    log = deliver(session, log.id)
    assert log.status == "failed" and "SMTP_HOST is not configured" in log.error
    assert Decimal(str(session.get(Invoice, inv.id).total)) == Decimal("512.58")


def test_credit_note_and_receipt_documents(session):
    from core.documents.render import credit_note_context, document_pdf, receipt_context
    from core.invoicing.credit_notes import issue_credit_note
    from core.invoicing.payments import record_payment

    _, inv = _invoice(session)
    payment = record_payment(session, SYSTEM, customer_id=inv.customer_id, currency_code="USD", amount="600",
                             method="bank_transfer", received_on=date(2026, 11, 20), reference="WIRE 77")
    note = issue_credit_note(session, SYSTEM, inv.id, reason="Outage on 3 Oct", amount="12.58")
    ctx = credit_note_context(session, note.id)
    assert (ctx["doc"]["number"], ctx["doc"]["invoice_number"], ctx["totals"]["total"]) == \
        ("CN-000001", inv.number, "$12.58")
    assert ctx["totals"]["to_wallet"] == "$12.58"  # the invoice was already paid in full
    receipt = receipt_context(session, payment.id)
    # $600 paid $512.58 and left $87.42 in the wallet; the credit note took $12.58 of it back to the wallet
    assert receipt["allocations"] == [{"invoice": inv.number, "amount": "$500.00"}]
    assert receipt["totals"] == {"amount": "$600.00", "to_wallet": "$100.00"}
    for kind, object_id in (("credit_note", note.id), ("receipt", payment.id)):
        assert document_pdf(session, kind, object_id).startswith(b"%PDF-")
