"""Invoice documents and their email: the PDF carries the invoice's numbers, templates are sandboxed and checked
before they are saved, and the email leaves through a real SMTP server with the PDF attached and is logged."""
from datetime import date, datetime, timedelta
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
    assert "<br>" not in body and "\nAmount due: $512.58" in body  # plain text, one line each — not HTML breaks
    html = next(p for p in msg.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()
    assert "Amount due: $512.58" in html and "<br>" in html and "&lt;Analytics&gt;" in html  # escaped
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


# ---------------------------------------------------------------------------------------------------------------
# the payment link (core.portal_links) on the invoice and its email

SECRET = "test-secret-of-the-payment-links-0123456789"


@pytest.fixture
def links(monkeypatch):
    monkeypatch.setenv("PORTAL_SECRET", SECRET)
    monkeypatch.setenv("APP_BASE_URL", "https://billing.northwind.example/")


def _token_of(link: str) -> str:
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "billing.northwind.example", "/pay")
    return parse_qs(parts.query)["token"][0]


def test_the_invoice_pdf_and_email_carry_a_signed_link_to_the_invoice(session, links, smtp):
    from core import portal_links

    seller, inv = _invoice(session)
    ctx = invoice_context(session, inv.id)
    link = ctx["payment"]["link"]
    token = _token_of(link)
    assert portal_links.verify(session, token).id == inv.id
    claims = portal_links.read_token(token)
    assert (claims.invoice_id, claims.customer_id) == (inv.id, inv.customer_id)
    # valid 180 days after the due date (1 Dec 2026), to the end of that day — or 30 days from today, if later
    assert claims.expires == portal_links.expiry_for(inv)
    assert portal_links.expiry_for(inv, today=date(2026, 11, 28)) == datetime(2027, 5, 31, tzinfo=portal_links.UTC)
    last_day = f"{claims.expires - timedelta(days=1):%-d %B %Y}"  # 30 May 2027, when run before May 2027
    assert ctx["payment"]["link_expires"] == last_day
    assert invoice_context(session, inv.id)["payment"]["link"] == link  # the same link all day
    html = invoice_html(session, inv.id)
    assert f'href="{link}"' in html and f"link valid until {last_day}" in html
    assert invoice_pdf(session, inv.id).startswith(b"%PDF-")

    update_entity(session, SYSTEM, seller.id, {"email_from": "billing@northwind.example"})
    send_invoice_email(session, SYSTEM, inv.id)
    [(_, msg)] = smtp.messages
    body = next(p for p in msg.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    assert f"See and pay this invoice online: {link}" in body and f"(the link works until {last_day})" in body


def test_no_link_on_a_draft_a_paid_invoice_or_without_an_app_address(session, links, monkeypatch):
    from core.invoicing.payments import record_payment

    _, draft = _invoice(session, approve=False)
    assert invoice_context(session, draft.id)["payment"] == {"link": "", "link_expires": "", "instructions": ""}
    approve_invoice(session, SYSTEM, draft.id)
    assert invoice_context(session, draft.id)["payment"]["link"]
    monkeypatch.setenv("APP_BASE_URL", "")
    assert invoice_context(session, draft.id)["payment"]["link"] == ""
    monkeypatch.setenv("APP_BASE_URL", "https://billing.northwind.example")
    record_payment(session, SYSTEM, customer_id=draft.customer_id, currency_code="USD", amount="512.58",
                   method="bank_transfer", received_on=date(2026, 11, 20), allocations={draft.id: "512.58"})
    assert invoice_context(session, draft.id)["payment"]["link"] == ""  # nothing left to pay
    assert "Pay online" not in invoice_html(session, draft.id)


def test_a_link_opens_its_invoice_only_and_refuses_anything_changed(session, links, monkeypatch):
    from core import portal_links
    from core.portal_links import NOT_VALID, LinkInvalid, make_token

    _, inv = _invoice(session)
    token = portal_links.invoice_token(session, inv.id)
    inv_id, cust_id, stamp, sig = token.split(".")
    assert portal_links.verify(session, token).id == inv.id

    other = f.customer(session, "OTHER")
    refused = {
        "another invoice's id": f"{int(inv_id) + 1}.{cust_id}.{stamp}.{sig}",
        "another customer": f"{inv_id}.{other.id}.{stamp}.{sig}",
        "a later expiry": f"{inv_id}.{cust_id}.{int(stamp) + 86400}.{sig}",
        "a changed signature": f"{inv_id}.{cust_id}.{stamp}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}",
        "a cut link": token[:-5],
        "rubbish": "not-a-token",
        "signed for a customer the invoice is not of": make_token(inv.id, other.id, int(stamp)),
        "signed for no invoice": make_token(999999, inv.customer_id, int(stamp)),
    }
    for what, bad in refused.items():
        with pytest.raises(LinkInvalid) as caught:
            portal_links.verify(session, bad)
        assert str(caught.value) == NOT_VALID, what
    with pytest.raises(LinkInvalid, match="opens from the payment link on an invoice"):
        portal_links.verify(session, "")

    monkeypatch.setenv("PORTAL_SECRET", SECRET[::-1])  # another server's secret: its links are not ours
    with pytest.raises(LinkInvalid, match="not valid"):
        portal_links.verify(session, token)
    monkeypatch.setenv("PORTAL_SECRET", "short")
    with pytest.raises(UserError, match="PORTAL_SECRET is 5 characters long: use at least 32"):
        portal_links.verify(session, token)


def test_an_expired_link_says_so(session, links):
    from core import portal_links
    from core.portal_links import LinkInvalid, make_token

    _, inv = _invoice(session)
    expires = datetime(2027, 1, 1, tzinfo=portal_links.UTC)
    token = make_token(inv.id, inv.customer_id, expires)
    assert portal_links.verify(session, token, now=datetime(2026, 12, 31, 23, 59, tzinfo=portal_links.UTC))
    with pytest.raises(LinkInvalid, match="This payment link expired on 31 December 2026. Ask the sender"):
        portal_links.verify(session, token, now=expires)
    # a link made long after the due date still works for a month
    late = portal_links.expiry_for(inv, today=date(2028, 3, 1))
    assert late.date() == date(2028, 4, 1)


def test_without_portal_secret_one_is_made_once_and_kept_private(tmp_path, monkeypatch):
    import stat

    from core import portal_links

    monkeypatch.delenv("PORTAL_SECRET", raising=False)
    monkeypatch.setattr(portal_links, "_secret_file", lambda: tmp_path / "data" / "portal_secret")
    first = portal_links.secret()
    assert len(first) >= 40 and portal_links.secret() == first  # made once, then read
    path = tmp_path / "data" / "portal_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and list(path.parent.iterdir()) == [path]
    token = portal_links.make_token(1, 2, 4_000_000_000)
    path.write_text("another-secret-after-a-reinstall-0123456789\n")
    assert portal_links.read_token(portal_links.make_token(1, 2, 4_000_000_000)).invoice_id == 1
    with pytest.raises(portal_links.LinkInvalid):
        portal_links.read_token(token)  # links signed with the old secret no longer open
