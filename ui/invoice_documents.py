"""The invoice's document actions on the Invoices page: the PDF, and email to the customer (logged)."""
from __future__ import annotations

import streamlit as st

from core import jobs
from core.db import database_url
from core.documents.delivery import email_log, pdf_name, queue_invoice_emails
from core.documents.render import invoice_pdf
from core.models import Customer, Invoice
from ui.state import run_action, session


def _pdf(inv_id: int) -> bytes:
    with session() as s:
        return invoice_pdf(s, inv_id)


def _send(s, who, inv_id: int, to: str):  # noqa: ANN001, ANN202
    [log] = queue_invoice_emails(s, who, [inv_id], to=to)
    return log.id


def queue_addressed(s, who, invoice_ids: list[int]) -> tuple[list[int], list[str]]:  # noqa: ANN001
    """Queue the invoices whose customers have an email address; name the others (invoice numbers)."""
    from sqlmodel import select

    from core.models import Customer as C
    from core.models import Invoice as I

    rows = s.exec(select(I.id, I.number, C.email).join(C, C.id == I.customer_id).where(I.id.in_(invoice_ids))).all()
    addressed = [i for i, _, email in rows if (email or "").strip()]
    skipped = [n or f"#{i}" for i, n, email in rows if not (email or "").strip()]
    logs = queue_invoice_emails(s, who, addressed) if addressed else []
    return [row.id for row in logs], skipped


def watch(log_ids: list[int]) -> None:
    """Hand queued emails to the background worker and follow them on this page."""
    jobs.enqueue_emails(log_ids, database_url())
    st.session_state["email_watch"] = list(log_ids)
    st.rerun()  # the page shows their progress from the next run on


@st.fragment(run_every=2)
def email_progress() -> None:
    """Where the emails this person sent last are: queued, sent, failed — refreshed while any is queued."""
    ids = st.session_state.get("email_watch")
    if not ids:
        return
    with session() as s:
        rows = [r for r in email_log(s, limit=len(ids) + 200) if r.id in set(ids)]
    sent = [r for r in rows if r.status == "sent"]
    failed = [r for r in rows if r.status == "failed"]
    waiting = len(ids) - len(sent) - len(failed)
    if waiting:
        st.progress((len(sent) + len(failed)) / len(ids), text=f"Sending emails: {len(sent)} of {len(ids)} sent"
                    + (f", {len(failed)} failed" if failed else "") + " — you can keep working meanwhile.")
        return
    if sent:
        st.success(f"Sent to {', '.join(r.recipients for r in sent[:3])}"
                   + (f" and {len(sent) - 3} more" if len(sent) > 3 else "") + ".",
                   icon=":material/mark_email_read:")
    for r in failed:
        st.error(f"Not sent to {r.recipients}: {r.error}", icon=":material/error:")


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
                log_id = run_action(_send, me, inv.id, to)  # queued in its own transaction
                if log_id is not None:
                    watch([log_id])
    with session() as s:
        sent = [(e.created_at, e.recipients, e.status, e.error) for e in email_log(s, invoice_id=inv.id, limit=5)]
    if sent:
        st.caption("Emails: " + "; ".join(f"{when:%-d %b %Y %H:%M} UTC to {to} — {status}"
                                          + (f" ({err})" if err else "") for when, to, status, err in sent))
