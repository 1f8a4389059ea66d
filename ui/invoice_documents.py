"""The invoice's document actions on the Invoices page: the PDF, and email to the customer (logged)."""
from __future__ import annotations

import streamlit as st

from core.documents.delivery import deliver, email_log, pdf_name, queue_invoice_emails
from core.documents.render import invoice_pdf
from core.models import Customer, Invoice
from ui.state import run_action, session


def _pdf(inv_id: int) -> bytes:
    with session() as s:
        return invoice_pdf(s, inv_id)


def _send(s, who, inv_id: int, to: str):  # noqa: ANN001, ANN202
    [log] = queue_invoice_emails(s, who, [inv_id], to=to)
    return log.id


def document_actions(inv: Invoice, cust: Customer, me) -> None:  # noqa: ANN001 - Actor
    """PDF download for everyone who can read invoices; email for approved invoices to those who may write."""
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.download_button("PDF", lambda: _pdf(inv.id), file_name=pdf_name(inv), mime="application/pdf",
                           icon=":material/picture_as_pdf:", key=f"invoices_pdf_{inv.id}",
                           help="The invoice as the customer receives it, in your seller's template "
                                "(Documents & email page)." if inv.status != "draft" else
                                "A preview marked DRAFT: the customer only ever receives approved invoices.")
        if inv.status == "draft" or not me.can("invoices:write"):
            return
        with st.popover("Email to the customer", icon=":material/forward_to_inbox:"):
            to = st.text_input("To", value=cust.email, key=f"invoices_email_to_{inv.id}",
                               help="One or more addresses, separated by commas.")
            if st.button("Send with the PDF attached", type="primary", key=f"invoices_email_send_{inv.id}"):
                log_id = run_action(_send, me, inv.id, to)  # queued in its own transaction, then sent
                if log_id is not None:
                    with st.spinner("Sending…"), session() as s:
                        log = deliver(s, log_id)
                        status, error, recipients = log.status, log.error, log.recipients
                    if status == "sent":
                        st.success(f"Sent to {recipients}.", icon=":material/mark_email_read:")
                    else:
                        st.error(f"Not sent: {error}", icon=":material/error:")
    with session() as s:
        sent = [(e.created_at, e.recipients, e.status, e.error) for e in email_log(s, invoice_id=inv.id, limit=5)]
    if sent:
        st.caption("Emails: " + "; ".join(f"{when:%-d %b %Y %H:%M} UTC to {to} — {status}"
                                          + (f" ({err})" if err else "") for when, to, status, err in sent))
