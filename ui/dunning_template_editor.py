"""The editor of the Email templates page: name, kind, format, subject and body, a live preview on a real customer's
invoice (as of a chosen day, for the reminder values), the placeholders with their values there, save and delete.
A template that does not render is shown with the line and the placeholder at fault, and refused on save."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st
import streamlit.components.v1 as components
from sqlmodel import select

from core.documents.render import TemplateProblem
from core.models import Customer, EmailTemplate, Invoice
from core.receivables.templates import (
    FORMATS,
    KINDS,
    delete_template,
    placeholders,
    preview_context,
    record_preview,
    render_email,
    save_template,
    used_by,
)
from ui.confirm import confirm
from ui.state import run_action, session

P = "email_tpl"
STARTER = ("Hello {{ customer.name }},\n\nInvoice {{ invoice.number }} ({{ dunning.amount_due }}) was due on "
           "{{ invoice.due_date }}.\n\n{% if dunning.payment_link %}\nPay it online: {{ dunning.payment_link }}\n"
           "{% endif %}\n{{ seller.name }}\n")


def _invoices(entity_id: int) -> tuple[dict[int, str], dict[int, list[tuple[int, str]]]]:
    """Customers of the seller with issued invoices, and their invoices (newest first), for the preview."""
    with session() as s:
        rows = s.exec(select(Invoice.id, Invoice.number, Invoice.status, Customer.id, Customer.name)
                      .join(Customer, Customer.id == Invoice.customer_id)
                      .where(Invoice.entity_id == entity_id, Invoice.status != "draft")
                      .order_by(Customer.name, Invoice.id.desc()).limit(5000)).all()
    customers: dict[int, str] = {}
    invoices: dict[int, list[tuple[int, str]]] = {}
    for inv_id, number, status, cust_id, name in rows:
        customers[cust_id] = name
        invoices.setdefault(cust_id, []).append((inv_id, f"{number} ({status.replace('_', ' ')})"))
    return customers, invoices


def editor(me, entity_id: int, tpl: EmailTemplate | None) -> None:  # noqa: ANN001 - Actor
    can = me.can("receivables:write")
    v = f"{tpl.id if tpl else 'new'}_{tpl.updated_at.timestamp() if tpl else 0}_{st.session_state.get(f'{P}_v', 0)}"
    a, b, c = st.columns([2, 1.2, 1])
    name = a.text_input("Name", tpl.name if tpl else "", key=f"{P}_name_{v}", disabled=not can,
                        placeholder="e.g. Overdue — gentle nudge")
    kind = b.selectbox("Used as", list(KINDS), index=list(KINDS).index(tpl.kind) if tpl else 1, key=f"{P}_kind_{v}",
                       format_func=KINDS.get, disabled=not can,
                       help="The invoice email goes out with every invoice of the seller (one per seller); "
                            "reminders are chosen by the dunning policies' steps.")
    fmt = c.selectbox("Format", list(FORMATS), index=list(FORMATS).index(tpl.format) if tpl else 0,
                      key=f"{P}_fmt_{v}", format_func=FORMATS.get, disabled=not can)
    subject = st.text_input("Subject", tpl.subject if tpl else "Invoice {{ invoice.number }} is overdue",
                            key=f"{P}_subject_{v}", disabled=not can)
    body = st.text_area("Message (Jinja2)", tpl.body if tpl else STARTER, height=300, key=f"{P}_body_{v}",
                        disabled=not can, help="Placeholders: {{ customer.name }}, {{ invoice.number }}, "
                        "{{ dunning.amount_due }}, {{ dunning.payment_link }} … — the list is under the preview. "
                        "{% if … %}…{% endif %} and {% for line in lines %}…{% endfor %} work too.")

    customers, invoices = _invoices(entity_id)
    invoice_id = None
    x, y, z = st.columns([2, 2, 1])
    if customers:
        cust = x.selectbox("Preview for customer", list(customers), format_func=customers.get, key=f"{P}_cust")
        choices = dict(invoices[cust])
        invoice_id = y.selectbox("Invoice", list(choices), format_func=choices.get, key=f"{P}_inv_{cust}")
    else:
        x.caption("This seller has no approved invoice yet: the preview uses a sample.")
    on = z.date_input("As of", value=date.today(), format="YYYY-MM-DD", key=f"{P}_on",
                      help="The day the reminder values (days overdue …) are computed for.")
    rendered = None
    with session() as s:
        context, what = preview_context(s, entity_id, invoice_id, on=on)
    try:
        rendered = render_email(subject, body, fmt, context)
    except TemplateProblem as exc:
        st.error(f"This template cannot be used yet — {exc}", icon=":material/error:")
    if rendered is not None and tpl is not None and invoice_id is not None and (subject, body, fmt) == (
            tpl.subject, tpl.body, tpl.format):  # the saved template read on a real invoice: the pilot's check
        run_action(record_preview, me, template_id=tpl.id, invoice_id=invoice_id, on=on)
    if rendered is not None:
        with st.container(border=True):
            st.caption(f"Preview on {what}, to {context['customer']['email'] or '(no address)'}")
            st.markdown(f"**Subject:** {rendered[0]}")
            if fmt == "html":
                components.html(rendered[1], height=360, scrolling=True)
            else:
                st.code(rendered[1], language=None, wrap_lines=True)
    with st.expander("Placeholders you can use, with their values for this invoice", icon=":material/data_object:"):
        st.dataframe(pd.DataFrame(placeholders(context), columns=["Placeholder", "Value here"]), hide_index=True,
                     width="stretch")
    if not can:
        st.caption("Your role can read the templates; changing them is for Finance.")
        return
    with st.container(horizontal=True):
        if st.button("Save the template", type="primary", key=f"{P}_save_{v}"):
            saved = run_action(save_template, me, entity_id=entity_id, name=name, kind=kind, fmt=fmt, subject=subject,
                               body=body, template_id=tpl.id if tpl else None, preview_invoice_id=invoice_id)
            if saved is not None:
                st.session_state[f"{P}_flash"] = f"Template “{saved.name}” saved."
                st.session_state[f"{P}_pick"] = saved.id
                st.rerun()
        if tpl is not None and st.button("Delete", key=f"{P}_delete_{v}", icon=":material/delete:"):
            st.session_state[f"{P}_deleting"] = tpl.id
    if tpl is not None and st.session_state.get(f"{P}_deleting") == tpl.id:
        with session() as s:
            users = used_by(s, tpl.id)
        confirm("Delete this template?", f"{P}_deleting",
                f"“{tpl.name}” is deleted" + (f" — but dunning steps send it ({', '.join(users)}): choose another "
                                              "template for them first." if users else ".")
                + (" Invoices then go out with the built-in email of the Documents & email page."
                   if tpl.kind == "invoice" else ""),
                yes_label="Delete the template", flash_key=f"{P}_flash", done=f"Template “{tpl.name}” deleted.",
                action=lambda: _delete(me, tpl.id))


def _delete(me, template_id: int) -> bool:  # noqa: ANN001
    from core.errors import UserError

    try:
        with session() as s:
            delete_template(s, me, template_id)
    except UserError as exc:
        st.session_state[f"{P}_error"] = str(exc)  # shown after the dialog closes
        return False
    st.session_state.pop(f"{P}_pick", None)
    return True
