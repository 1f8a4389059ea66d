"""Editing a draft on the Invoices page (change, add, remove lines) and creating a one-off invoice."""
from __future__ import annotations

from datetime import date

import streamlit as st

from core.invoicing.drafts import (
    TOTAL_KINDS,
    add_draft_line,
    create_one_off_invoice,
    delete_draft_line,
    edit_draft_line,
)
from core.money import format_number
from ui.format import money
from ui.pickers import customer_picker
from ui.state import run_action


def edit_lines(inv, lines, me) -> str | None:  # noqa: ANN001
    """Popovers to change, add and remove lines of a draft; returns a message to flash after a change."""
    if inv.status != "draft" or not me.can("invoices:write"):
        return None
    code = inv.currency
    editable = [ln for ln in lines if ln.kind not in TOTAL_KINDS]
    done = None
    with st.container(horizontal=True):
        if editable:
            with st.popover("Change a line", icon=":material/edit:"):
                labels = {ln.id: f"{ln.description} — {money(ln.amount, code)}" for ln in editable}
                line_id = st.selectbox("Line", list(labels), format_func=labels.get, key=f"de_line_{inv.id}")
                ln = next(x for x in editable if x.id == line_id)
                desc = st.text_input("Description", ln.description, key=f"de_desc_{inv.id}_{line_id}")
                how = st.radio("Set", ["Quantity × unit price", "Amount"], horizontal=True,
                               key=f"de_how_{inv.id}_{line_id}")
                qty = price = amount = None
                if how == "Amount":
                    amount = st.text_input(f"Amount ({code})", str(ln.amount), key=f"de_amount_{inv.id}_{line_id}")
                else:
                    a, b = st.columns(2)
                    qty = a.text_input("Quantity", format_number(ln.quantity).replace(",", ""),
                                       key=f"de_qty_{inv.id}_{line_id}")
                    price = b.text_input(f"Unit price ({code})", key=f"de_price_{inv.id}_{line_id}")
                st.caption("Tax and the total are recomputed. Discount and minimum-commitment lines are not: "
                           "change them too, or regenerate the draft (which drops manual changes).")
                if st.button("Save the line", type="primary", key=f"de_save_{inv.id}"):
                    kwargs = {"description": desc}
                    if how == "Amount":
                        kwargs["amount"] = amount
                    elif price:
                        kwargs.update(quantity=qty, unit_price=price)
                    if run_action(edit_draft_line, me, line_id, **kwargs) is not None:
                        done = f"Line “{desc.strip()}” changed; the draft's totals were recomputed."
                if st.button("Remove this line", key=f"de_remove_{inv.id}"):
                    if run_action(delete_draft_line, me, line_id) is None:
                        pass
                    else:
                        done = f"Line “{ln.description}” removed from the draft."
        with st.popover("Add a line", icon=":material/add:"):
            desc = st.text_input("Description", key=f"da_desc_{inv.id}", placeholder="Onboarding workshop")
            a, b = st.columns(2)
            qty = a.text_input("Quantity", "1", key=f"da_qty_{inv.id}")
            price = b.text_input(f"Unit price ({code})", key=f"da_price_{inv.id}", placeholder="250.00")
            if st.button("Add to the draft", type="primary", key=f"da_add_{inv.id}"):
                if run_action(add_draft_line, me, inv.id, description=desc, quantity=qty, unit_price=price) is not None:
                    done = f"Line “{desc.strip()}” added to the draft."
    return done


def one_off_form(me) -> str | None:  # noqa: ANN001
    """A draft invoice outside any contract; returns a message to flash when one was created."""
    if not me.can("invoices:write"):
        return None
    with st.popover("New one-off invoice", icon=":material/note_add:"):
        who, customers = customer_picker("Customer", key="oneoff_customer", placeholder="Choose a customer")
        desc = st.text_input("What for", key="oneoff_desc", placeholder="Data migration")
        a, b, c = st.columns(3)
        qty = a.text_input("Quantity", "1", key="oneoff_qty")
        price = b.text_input("Unit price", key="oneoff_price", placeholder="400.00")
        issued = c.date_input("Issue date", value=date.today(), format="YYYY-MM-DD", key="oneoff_date")
        st.caption("Created as a draft in the customer's currency, taxed at their rate, due per their payment "
                   "terms; add more lines on the draft, then approve it.")
        if st.button("Create the draft", type="primary", key="oneoff_create", disabled=who is None):
            inv = run_action(create_one_off_invoice, me, customer_id=who, issue_date=issued,
                             lines=[{"description": desc, "quantity": qty, "unit_price": price}])
            if inv is not None:
                st.session_state["invoices_open_id"] = inv.id
                return f"One-off draft for {customers[who].name} created: {money(inv.total, inv.currency)}."
    return None
