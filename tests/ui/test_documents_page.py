"""Documents & email, driven as a user would: edit the invoice template with a live preview on a real invoice
(a broken template names its line and is not saved), set the seller's sender, then email an approved invoice
from the Invoices page through a real SMTP server and find it in the email log."""
from __future__ import annotations

from sqlmodel import select

from core.auth import SYSTEM
from core.db import make_engine, session_scope
from core.invoicing.service import approve_invoice
from core.models import DocumentTemplate, Invoice
from tests.smtp import smtp  # noqa: F401 - the fixture
from tests.ui.conftest import texts


def _approve_first(url: str) -> tuple[int, str, str]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            inv = s.exec(select(Invoice).where(Invoice.currency == "USD", Invoice.status == "draft")
                         .order_by(Invoice.id)).first()  # an October draft: the demo's earlier months are approved
            approve_invoice(s, SYSTEM, inv.id)
            return inv.id, inv.number, inv.currency
    finally:
        engine.dispose()


def _templates(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            return [t.body for t in s.exec(select(DocumentTemplate))]
    finally:
        engine.dispose()


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def test_edit_the_invoice_template_with_a_live_preview(open_page, demo_db):
    at = open_page("pages/documents.py", role="finance")
    assert not at.exception
    area = next(t for t in at.text_area if t.label == "Template (Jinja2)")
    assert "{{ doc.title }}" in area.value  # the built-in template
    area.set_value("<h1>Invoice {{ doc.number }}</h1>\n<p>{{ totals.amout_due }}</p>").run()
    assert "template line 2" in " ".join(e.value for e in at.error)
    _button(at, "Save the template").click().run() if not _button(at, "Save the template").disabled else None
    assert _templates(demo_db) == []  # nothing saved
    area = next(t for t in at.text_area if t.label == "Template (Jinja2)")
    area.set_value("<h1>Invoice {{ doc.number }}</h1>\n<p>Due: {{ totals.amount_due }}</p>").run()
    assert not at.error
    _button(at, "Save the template").click().run()
    assert not at.exception
    assert _templates(demo_db) == ["<h1>Invoice {{ doc.number }}</h1>\n<p>Due: {{ totals.amount_due }}</p>"]
    assert "saved by finance-user" in texts(at)


def test_viewers_see_the_templates_but_cannot_change_them(open_page):
    at = open_page("pages/documents.py", role="viewer")
    assert not at.exception
    assert next(t for t in at.text_area if t.label == "Template (Jinja2)").disabled
    assert not [b for b in at.button if b.label == "Save the template"]


def test_email_an_approved_invoice_from_the_invoices_page(open_page, demo_db, smtp):  # noqa: F811
    inv_id, number, _ = _approve_first(demo_db)
    at = open_page("pages/documents.py", role="finance")
    sender = next(t for t in at.text_input if t.label == "Send emails from")
    sender.set_value("billing@northwind.example")
    next(b for b in at.button if b.label == "Save the seller's details").click().run()
    assert not at.exception
    at.switch_page("pages/invoices.py").run()
    picker = next(sb for sb in at.selectbox if sb.label == "Open an invoice")
    picker.set_value(inv_id).run()
    at.text_input(key=f"invoices_email_to_{inv_id}").set_value("ap@customer.example").run()
    at.button(key=f"invoices_email_send_{inv_id}").click().run()
    assert not at.exception
    assert "Sent to ap@customer.example." in " ".join(s.value for s in at.success)
    [(rcpts, msg)] = smtp.messages
    assert rcpts == ["ap@customer.example"] and "billing@northwind.example" in msg["From"]
    [pdf] = [p for p in msg.walk() if p.get_filename()]
    assert pdf.get_filename() == f"invoice-{number}.pdf" and pdf.get_payload(decode=True).startswith(b"%PDF-")
    at.switch_page("pages/documents.py").run()
    log = next(df.value for df in at.dataframe if "Attachment" in df.value.columns)
    assert list(log.iloc[0][["To", "Status", "Attachment"]]) == ["ap@customer.example", "sent", f"invoice-{number}.pdf"]


def test_email_every_listed_open_invoice_at_once(open_page, demo_db, smtp):  # noqa: F811
    engine = make_engine(demo_db)
    try:
        with session_scope(engine) as s:
            ids = [i.id for i in s.exec(select(Invoice).where(Invoice.status == "draft").order_by(Invoice.id).limit(3))]
            for i in ids:
                approve_invoice(s, SYSTEM, i)
            october = s.exec(select(Invoice.period_start).where(Invoice.id == ids[0])).one()
    finally:
        engine.dispose()
    at = open_page("pages/invoices.py", role="finance")
    # the list shows October only: the 3 just approved are its open invoices (earlier months have open ones too)
    at.selectbox(key="invoices_f_month").set_value(october).run()
    assert at.button(key="invoices_email_all").label == "Email the 3 listed open invoices"
    at.button(key="invoices_email_all").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Sent to " in " ".join(s.value for s in at.success) and "and" not in at.success[0].value
    assert len(smtp.messages) == 3
    assert all(m.get_content_type() == "multipart/mixed" for _, m in smtp.messages)


def test_the_email_text_says_when_an_email_template_replaces_it(open_page):
    """The demo seller has an "Invoice" template on the Email templates page: invoice emails use it, and the
    Documents page's email subject and message say so instead of letting someone edit text that is not sent."""
    at = open_page("pages/documents.py", role="finance")
    at.segmented_control(key="docs_kind").set_value("invoice_email_subject").run()
    assert not at.exception
    assert any("use the email template **Invoice** of the Email templates page" in w.value for w in at.warning)
    at.segmented_control(key="docs_kind").set_value("invoice").run()
    assert not any("Email templates page" in w.value for w in at.warning)  # the PDF's template is this page's
