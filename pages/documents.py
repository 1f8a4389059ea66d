"""Documents & email: what the seller's invoices look like and who sends them — details, logo, templates with a
live preview on a real invoice, and the log of every email sent."""
from __future__ import annotations

import base64

import pandas as pd
import streamlit as st
import streamlit.components.v1 as components
from sqlmodel import select

from core.catalog import update_entity
from core.documents.delivery import email_log
from core.documents.render import TemplateProblem, context_for, preview_choices, render_pdf
from core.documents.templates import KINDS, render_kind, reset_template, save_template, stored, template_for
from core.models import BusinessEntity
from core.receivables.templates import invoice_template
from ui.state import actor, page_header, run_action, session

me = actor()
ss = st.session_state
page_header("Documents & email", "What your invoices look like and who sends them: the seller's details and logo, "
            "the invoice and email templates (try changes on a real invoice before saving), and every email sent.")

with session() as s:
    entities = {e.id: e for e in s.exec(select(BusinessEntity).order_by(BusinessEntity.id))}
if not entities:
    st.info("No business entity yet: the first one is created with the demo data or the first customer import.")
    st.stop()
entity_id = st.selectbox("Seller", list(entities), format_func=lambda i: entities[i].name, key="docs_entity") \
    if len(entities) > 1 else next(iter(entities))
entity = entities[entity_id]
can_edit = me.can("invoices:write")

tab_details, tab_templates, tab_log = st.tabs(["Seller details", "Templates", "Email log"])

with tab_details:
    st.caption("Printed on every invoice of this seller. The sender is the From address of its emails (leave it "
               "empty to use the mail server's SMTP_FROM).")
    with st.form("docs_entity_form", border=False):
        a, b = st.columns(2)
        legal = a.text_input("Legal name", entity.legal_name, placeholder=entity.name)
        tax_id = b.text_input("Tax id", entity.tax_id)
        address = a.text_area("Address", entity.address, height=100)
        instructions = b.text_area("Payment instructions", entity.payment_instructions, height=100,
                                   placeholder="Bank: … IBAN: … — printed under the totals")
        email = a.text_input("Contact email", entity.email)
        sender = b.text_input("Send emails from", entity.email_from, placeholder="billing@yourcompany.example")
        logo = st.file_uploader("Logo (PNG, JPEG or SVG, up to 300 KB)", type=["png", "jpg", "jpeg", "svg"],
                                key="docs_logo")
        drop_logo = st.checkbox("Remove the logo", value=False, disabled=not entity.logo)
        if st.form_submit_button("Save the seller's details", type="primary", disabled=not me.can("catalog:write")):
            changes = {"legal_name": legal, "tax_id": tax_id, "address": address, "payment_instructions": instructions,
                       "email": email, "email_from": sender}
            if logo is not None:
                mime = {"svg": "image/svg+xml", "jpg": "image/jpeg", "jpeg": "image/jpeg"}.get(
                    logo.name.rsplit(".", 1)[-1].lower(), "image/png")
                changes["logo"] = f"data:{mime};base64,{base64.b64encode(logo.getvalue()).decode()}"
            elif drop_logo:
                changes["logo"] = ""
            if run_action(update_entity, me, entity_id, changes, success="Seller's details saved") is not None:
                st.rerun()
    if entity.logo:
        st.image(entity.logo, width=160, caption="The logo on documents")

with tab_templates:
    kind = st.segmented_control("Template", list(KINDS), format_func=lambda k: KINDS[k][0], default="invoice",
                                key="docs_kind") or "invoice"
    with session() as s:
        own = stored(s, entity_id, kind)
        current = template_for(s, entity_id, kind)
        overridden = invoice_template(s, entity_id) if kind.startswith("invoice_email") else None
    if overridden is not None:
        st.warning(f"Invoice emails of this seller use the email template **{overridden.name}** of the Email "
                   "templates page (Receivables), not this text. Change that template there, or delete it to send "
                   "this text again.", icon=":material/info:")
    st.caption(("This seller's own version, saved by " + own.updated_by + f" on {own.updated_at:%-d %b %Y}.")
               if own else "The built-in version. Change it below; the preview shows the result on a real invoice.")
    key = f"docs_body_{entity_id}_{kind}_{own.updated_at.timestamp() if own else 0}"
    body = st.text_area("Template (Jinja2)", current, height=160 if kind.startswith("invoice_email") else 380, key=key,
                        disabled=not can_edit,
                        help="Values: doc, seller, customer, lines, totals, payment — for example "
                             "{{ doc.number }}, {{ totals.amount_due }}, {% for line in lines %}…{% endfor %}. "
                             "Amounts arrive formatted; a template lays them out and cannot change them.")
    with session() as s:
        choices = preview_choices(s, entity_id, kind)
    if not choices:
        st.info({"credit_note": "Issue a credit note", "receipt": "Record a payment"}.get(kind, "Generate an invoice")
                + " for this seller to preview the template on it; it is saved once it renders on a real one.")
    else:
        ids = [i for i, _ in choices]
        labels = dict(choices)
        preview_id = st.selectbox("Preview on", ids, format_func=labels.get, key=f"docs_preview_{kind}")
        try:
            with session() as s:
                context = context_for(s, kind, preview_id)
            rendered = render_kind(kind, body, context)
        except TemplateProblem as exc:
            st.error(str(exc), icon=":material/error:")
            context = rendered = None
        if rendered is not None:
            if kind in ("invoice", "credit_note", "receipt"):
                components.html(rendered, height=900, scrolling=True)
                st.download_button("Download this preview as PDF", lambda: render_pdf(rendered),
                                   file_name="template-preview.pdf", mime="application/pdf",
                                   icon=":material/picture_as_pdf:", key="docs_preview_pdf")
            else:
                st.code(rendered, language=None, wrap_lines=True)
        if can_edit:
            with st.container(horizontal=True):
                if st.button("Save the template", type="primary", key="docs_save", disabled=context is None):
                    if run_action(save_template, me, entity_id, kind, body, context,
                                  success="Template saved: the next documents use it") is not None:
                        st.rerun()
                if own and st.button("Back to the built-in template", key="docs_reset"):
                    if run_action(reset_template, me, entity_id, kind, success="Built-in template restored") \
                            is not None:
                        st.rerun()

with tab_log:
    with session() as s:
        rows = [(e.created_at, e.requested_by, e.recipients, e.subject, e.attachment, e.status, e.error)
                for e in email_log(s) if e.entity_id == entity_id]
    if not rows:
        st.info("No email sent yet. Open an approved invoice on the Invoices page and email it to the customer.")
    else:
        st.dataframe(pd.DataFrame(rows, columns=["Queued (UTC)", "By", "To", "Subject", "Attachment", "Status",
                                                 "Problem"]), hide_index=True, width="stretch")
        st.caption("The most recent 200. A failed email stays failed here; send it again from the invoice.")
