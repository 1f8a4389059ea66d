"""Email templates: the invoice email and the dunning reminders of each seller — Jinja2 subject and message, a
preview on a real customer's invoice, and a clear refusal of a template that would not render."""
from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlmodel import select

from core.models import BusinessEntity
from core.receivables.templates import FORMATS, KINDS, list_templates, used_by
from ui.dunning_template_editor import P, editor
from ui.state import actor, page_header, session

me = actor()
page_header("Email templates", "The emails each seller sends: the invoice email and the dunning reminders. The "
            "subject and the message are templates with placeholders — {{ customer.name }}, {{ invoice.number }}, "
            "{{ dunning.amount_due }}, {{ dunning.payment_link }} … — filled in for each invoice. Try a change on a "
            "real customer's invoice before saving: a template with an unknown placeholder or a broken tag is "
            "refused, with the line at fault.")
if msg := st.session_state.pop(f"{P}_flash", None):
    st.success(msg, icon=":material/check_circle:")
if msg := st.session_state.pop(f"{P}_error", None):
    st.error(msg, icon=":material/error:")

with session() as s:
    entities = dict(s.exec(select(BusinessEntity.id, BusinessEntity.name).order_by(BusinessEntity.id)).all())
if not entities:
    st.info("No business entity yet: the first one is created with the demo data or the first customer import.")
    st.stop()
entity_id = st.selectbox("Seller", list(entities), format_func=entities.get, key=f"{P}_entity") \
    if len(entities) > 1 else next(iter(entities))

with session() as s:
    templates = {t.id: t for t in list_templates(s, entity_id)}
    senders = {i: ", ".join(used_by(s, i)) for i in templates}
if templates:
    st.dataframe(pd.DataFrame([{
        "Name": t.name, "Used as": KINDS.get(t.kind, t.kind), "Format": FORMATS.get(t.format, t.format),
        "Subject": t.subject, "Sent by dunning steps": senders[i] or ("every invoice" if t.kind == "invoice" else "—"),
        "Changed": f"{t.updated_at:%-d %b %Y} by {t.updated_by or '—'}"} for i, t in templates.items()]),
        hide_index=True, width="stretch")
else:
    st.info("This seller has no email template yet: invoices go out with the built-in email of the Documents & "
            "email page, and dunning steps need a reminder template — create one below.", icon=":material/info:")
if not any(t.kind == "invoice" for t in templates.values()):
    st.caption("No “Invoice email” template: invoices go out with the subject and message of the Documents & email "
               "page.")
else:
    st.caption("The “Invoice email” template replaces the email subject and message of the Documents & email page.")

options = (["new"] if me.can("receivables:write") else []) + list(templates)
if options:
    pick = st.session_state.get(f"{P}_pick")
    default = pick if pick in options else (next(iter(templates)) if templates else "new")
    chosen = st.selectbox("Template", options, index=options.index(default), key=f"{P}_choice_{default}",
                          format_func=lambda i: "+ New template" if i == "new" else templates[i].name)
    st.session_state[f"{P}_pick"] = chosen
    editor(me, entity_id, templates.get(chosen))
