"""Customers: find, add, edit, import from a CRM export, export to a spreadsheet."""
from __future__ import annotations

from zoneinfo import available_timezones

import pandas as pd
import streamlit as st

from core.customers import (
    count_matching,
    create_customer,
    customer_rows,
    get_customer,
    update_customer,
    validate_customer,
)
from core.db import session_scope
from core.errors import UserError
from core.importers.countries import COUNTRIES
from core.importers.customers import (
    FIELDS,
    PRESETS,
    export_customers,
    import_customers,
    preview_customers,
    unredactable,
)
from core.importers.files import write_csv
from core.money import CURRENCIES
from ui import customer_archive, portal_link, stripe_ui
from ui.pickers import customer_picker, page_picker
from ui.state import actor, engine, page_header, session
from ui.uploads import Upload, upload_panel

me = actor()
can_write = me.can("customers:write")
page_header("Customers", "Everyone you bill. Search the list, add or correct a customer, or bring many in at once "
            "from a CRM export (HubSpot, Salesforce or our template). The customer id is the id your other "
            "systems use — usage files and contracts refer to customers by it.")

LABELS = {
    "external_id": "Customer id", "name": "Name", "email": "Billing email", "address_line1": "Street address",
    "city": "City", "region": "State / region", "postal_code": "Postal code", "country": "Country",
    "currency": "Billing currency", "tax_id": "Tax id (VAT, GST…)", "timezone": "Time zone",
    "payment_terms_days": "Payment terms (days)",
}
HELP = {"external_id": "The id your CRM, ERP or usage data uses for this customer, for example ACME-001.",
        "payment_terms_days": "Days between the invoice date and the due date (30 = net 30)."}
ZONES = [""] + sorted(available_timezones())


def _choice(field: str, value: str):
    if field == "country":
        opts = [""] + sorted(COUNTRIES)
        return st.selectbox(LABELS[field], opts, index=opts.index(value) if value in opts else 0,
                            format_func=lambda c: f"{c} — {COUNTRIES[c]}" if c else "(not set)")
    if field == "currency":
        opts = list(CURRENCIES)
        return st.selectbox(LABELS[field], opts, index=opts.index(value) if value in opts else 0,
                            format_func=lambda c: f"{c} — {CURRENCIES[c][2]}")
    if field == "timezone":
        return st.selectbox(LABELS[field], ZONES, index=ZONES.index(value) if value in ZONES else 0,
                            format_func=lambda z: z or "(the company's time zone)")
    if field == "payment_terms_days":
        return st.number_input(LABELS[field], 0, 365, int(value or 30), step=1, help=HELP[field])
    return st.text_input(LABELS[field], value=value or "", help=HELP.get(field))


def customer_form(form_key: str, initial: dict, submit: str, save) -> None:  # noqa: ANN001 - save(s, data)
    """Fields in a grid; a problem is shown right under the field it is about."""
    with st.form(form_key):
        data, spots = {}, {}
        for row in (("external_id", "name", "email"), ("address_line1", "city", "region"),
                    ("postal_code", "country", "tax_id"), ("currency", "payment_terms_days", "timezone")):
            for col, field in zip(st.columns(3), row):
                with col:
                    data[field] = _choice(field, initial.get(field, ""))
                    spots[field] = st.empty()
        a, b = st.columns(2)
        data["consolidate_invoices"] = a.checkbox(
            "Consolidate invoices (one invoice per period across contracts)",
            value=bool(initial.get("consolidate_invoices")),
            help="Unticked: every contract gets its own invoice each period.")
        data["tax_exempt"] = b.checkbox("Tax exempt", value=bool(initial.get("tax_exempt")),
                                        help="No tax is charged on this customer's invoices; the invoice says so.")
        if not st.form_submit_button(submit, type="primary", disabled=not can_write):
            return
    problems = validate_customer(data)
    if not problems:
        try:
            with session() as s:
                name = save(s, data).name
            st.session_state["customers_flash"] = f"Saved {name}."
            st.session_state["customers_form_nonce"] = st.session_state.get("customers_form_nonce", 0) + 1
            st.rerun()
        except UserError as exc:  # e.g. "external_id: a customer with the id ... already exists"
            field, _, text = str(exc).partition(": ")
            problems = {field: text} if field in spots else {"": str(exc)}
    for field, text in problems.items():
        (spots[field] if field in spots else st).error(text[:1].upper() + text[1:], icon=":material/error:")
    st.error("Nothing was saved — correct the fields marked in red.", icon=":material/error:")


def describe(report) -> None:  # noqa: ANN001 - ImportReport
    if report.preset:
        st.info(f"Looks like a **{PRESETS.get(report.preset, report.preset)}** — its columns are matched to ours "
                "automatically.", icon=":material/auto_awesome:")
    if report.columns:
        used = ", ".join(f"{col} → {LABELS.get(fld, fld).lower()}" for col, fld in report.columns.items())
        st.caption(f"Columns used: {used}.")


def _template() -> bytes:
    example = ["ACME-001", "Acme Analytics", "billing@acme.example", "100 Market St", "San Francisco", "CA",
               "94105", "US", "USD", "", "America/Los_Angeles", 30]
    return write_csv(FIELDS, [example])


def _export(fmt: str, eng=engine(), who=me) -> bytes:  # noqa: B008 - runs later, outside the script run
    with session_scope(eng) as s:
        return export_customers(s, who, fmt)


nonce = st.session_state.setdefault("customers_form_nonce", 0)
if flash := st.session_state.pop("customers_flash", None):
    st.success(flash, icon=":material/check_circle:")
customer_archive.messages()
tab_list, tab_add, tab_edit, tab_import, tab_archived = st.tabs(["Customers", "Add a customer", "Edit a customer",
                                                                 "Import from a file", "Archived"])

with tab_list:
    search = st.text_input("Search", key="customers_search", placeholder="Search by name, customer id or email",
                           label_visibility="collapsed", icon=":material/search:")
    PAGE = 500  # customers listed at once; the exports hold all of them
    with session() as s:
        total = count_matching(s, search=search)
    page_no = page_picker(total, PAGE, key="customers_page", noun="customers")
    pages = max(1, (total + PAGE - 1) // PAGE)
    with session() as s:
        rows = [(c.external_id, c.name, c.email, c.country, c.currency, f"net {c.payment_terms_days}")
                for c in customer_rows(s, search=search, limit=PAGE, offset=(page_no - 1) * PAGE)]
    table = pd.DataFrame(rows, columns=["Customer id", "Name", "Email", "Country", "Currency", "Terms"])
    matching = f" matching “{search}”" if search else ""
    st.caption(f"{total:,} customer{'s' if total != 1 else ''}{matching}"
               + (f" (showing {(page_no - 1) * PAGE + 1:,}–{(page_no - 1) * PAGE + len(rows):,})" if pages > 1
                  else "") + ". Open the other tabs to add or edit one; archived customers are on the Archived tab.")
    if rows:
        st.dataframe(table, hide_index=True, width="stretch", height=35 * min(len(rows), 20) + 38)
    else:
        st.info("No customers match. Clear the search, or add customers in the next tabs.")
    buttons = st.container(horizontal=True)
    buttons.download_button("Export as CSV", lambda: _export("csv"), file_name="customers.csv", mime="text/csv",
                            icon=":material/download:")
    buttons.download_button("Export as Excel", lambda: _export("xlsx"), file_name="customers.xlsx",
                            icon=":material/download:",
                            mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

with tab_add:
    if not can_write:
        st.info("Your role can look at customers but not add them.")
    else:
        st.caption("Fill in at least the customer id and name; everything else can be added later.")
        customer_form(f"customers_add_{nonce}", {"currency": "USD", "payment_terms_days": 30}, "Add the customer",
                      lambda s, data: create_customer(s, me, data))

with tab_edit:
    customer_archive.forget_archived_pick("customers_edit_id")
    picked, _ = customer_picker("Customer to edit", key="customers_edit_id", placeholder="Choose a customer")
    if picked is not None:
        with session() as s:
            current = get_customer(s, picked).model_dump(include={*LABELS, "consolidate_invoices", "tax_exempt"})
        if not can_write:
            st.info("Your role can look at customers but not change them.")
        customer_form(f"customers_edit_{picked}_{nonce}", current, "Save changes",
                      lambda s, data: update_customer(s, me, picked, data))
        portal_link.panel(picked, me)
        if msg := stripe_ui.customer_panel(picked, me):
            st.session_state["customers_flash"] = msg
            st.rerun()
        customer_archive.panel(picked, me)

with tab_import:
    st.caption("Upload a CSV or Excel file with one customer per row. Existing customer ids are updated, new ones "
               "are created; a blank cell never erases what is stored. You see every problem before anything is "
               "saved, and the import saves all rows or none.")
    st.download_button("Download the template (CSV)", _template, file_name="customers-template.csv",
                       mime="text/csv", icon=":material/description:",
                       help="Our columns with one example row: replace it with your customers. An export from "
                            "the first tab has the same columns.")
    upload_panel(Upload(key="customers_import", noun=("customer", "customers"),
                        preview=lambda s, data, name, **kw: preview_customers(s, data, name, **kw),
                        commit=lambda s, data, name, progress, **kw: import_customers(s, me, data, name, **kw),
                        count=lambda r: r.created + r.updated, describe=describe, unredactable=unredactable),
                 can_write=can_write)

with tab_archived:
    customer_archive.archived_tab(me)
