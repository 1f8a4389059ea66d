"""The first-invoice guide's setup steps: the company, what you sell, a customer, a contract with one price.

Each step is a short form with defaults that work; pressing its button calls the service the matching page calls
(same checks, same audit entries). A refusal is shown as the service words it, and nothing is written.
"""
from __future__ import annotations

from datetime import date

import streamlit as st

from core.auth import Actor
from core.billing.contracts import ContractSpec, LineSpec, create_contract
from core.catalog import create_entity, create_product
from core.guide import GuideState
from core.importers.countries import COUNTRIES
from core.importers.customers import import_customers, preview_customers
from core.customers import create_customer
from core.metering.metrics import MetricSpec, create_metric
from core.money import CURRENCIES
from core.pricing import REGISTRY
from ui.contracts_ui import MODEL_LABELS, params_editor, preview
from ui.pickers import CustomerInfo, customer_picker
from ui.state import run_action
from ui.uploads import Upload, upload_panel

CURRENCY_CODES = list(CURRENCIES)
COUNTRY_CODES = [""] + sorted(COUNTRIES)


def saved(message: str) -> None:
    """After a step's service succeeded: say so on the next run (the guide moves on by itself)."""
    st.session_state["guide_flash"] = message
    st.rerun()


def _currency(label: str, key: str, default: str, help: str) -> str:  # noqa: A002
    return st.selectbox(label, CURRENCY_CODES, index=CURRENCY_CODES.index(default) if default in CURRENCIES else 0,
                        key=key, help=help, format_func=lambda c: f"{c} — {CURRENCIES[c][2]}")


# ---- 1. the company -----------------------------------------------------------------------------------------

def company_step(me: Actor, state: GuideState) -> None:
    with st.form("guide_company"):
        name = st.text_input("Company name (printed on your invoices)", placeholder="for example Northwind Cloud Ltd",
                             key="guide_company_name", max_chars=200)
        a, b = st.columns(2)
        with a:
            code = _currency("Currency you bill in", "guide_company_currency", "USD",
                             "New customers are billed in it unless you choose another for them.")
        country = b.selectbox("Country", COUNTRY_CODES, key="guide_company_country",
                              format_func=lambda k: f"{k} — {COUNTRIES[k]}" if k else "(not set)",
                              help="Where the company is registered; printed on the invoice.")
        st.caption("Approved invoices are numbered INV-000001, INV-000002… without gaps. The address, tax id, logo, "
                   "number prefix and payment instructions can be added later on the **Documents & email** page.")
        if st.form_submit_button("Save my company", type="primary", icon=":material/apartment:"):
            made = run_action(create_entity, me, name=(name or "").strip(), default_currency=code, country=country)
            if made is not None:
                saved(f"Your company **{made.name}** is set up, billing in {code}.")


# ---- 2. what you sell -------------------------------------------------------------------------------------------

COUNTING = {"sum": "Add up the quantity of every event (requests, GB, minutes…)",
            "count": "Count the events (each event is one unit)"}


def _product_and_metric(s, me: Actor, product: dict | None, metric: MetricSpec | None):  # noqa: ANN001, ANN202
    """One transaction: the product (create_product) and its billable metric (create_metric), or neither."""
    made = create_product(s, me, **product) if product else None
    if metric is not None:
        create_metric(s, me, metric)
    return made or True


def product_step(me: Actor, state: GuideState) -> None:
    need_product, need_metric = state.product is None, state.metric is None
    with st.form("guide_product"):
        product = None
        if need_product:
            a, b, c = st.columns([2, 1, 1])
            name = a.text_input("Product name (printed on the invoice)", value="API requests",
                                key="guide_product_name", max_chars=200)
            sku = b.text_input("SKU", value="API-CALLS", key="guide_product_sku", max_chars=64,
                               help="A short code for the product: letters, digits, - or _.")
            unit = c.text_input("Unit", value="request", key="guide_product_unit", max_chars=40,
                                help="What one unit is: request, GB, seat, minute…")
            product = dict(sku=sku, name=name, unit_name=unit, kind="usage")
        else:
            st.markdown(f"Product: **{state.product.name}** ({state.product.code}). It still needs a billable "
                        "metric that counts its usage.")
        metric = None
        if need_metric:
            d, e = st.columns([1, 2])
            event = d.text_input("Event name in your usage data", value="api_request", key="guide_product_event",
                                 max_chars=100,
                                 help="The value of the event_name column of your usage file for this product.")
            how = e.radio("How usage is counted", list(COUNTING), format_func=COUNTING.get, key="guide_product_how")
        if st.form_submit_button("Save the product", type="primary", icon=":material/inventory_2:"):
            base = product or {"sku": state.product.code, "name": state.product.name}
            if need_metric:
                metric = MetricSpec(code=(base["sku"] or "").strip().lower(), name=(base["name"] or "").strip(),
                                    event_name=(event or "").strip(), aggregation=how)
            if run_action(_product_and_metric, me, product, metric) is not None:
                saved(f"**{base['name']}** is in the catalog"
                      + (f", counted from `{metric.event_name}` events." if metric else "."))


# ---- 3. a customer ------------------------------------------------------------------------------------------

def customer_step(me: Actor, state: GuideState) -> None:
    typed, upload = st.tabs(["Type one in", "Upload a file"], key="guide_customer_tabs", on_change="rerun")
    with typed, st.form("guide_customer"):
        a, b = st.columns(2)
        ext = a.text_input("Customer id", value="ACME-001", key="guide_customer_id", max_chars=100,
                           help="The id your CRM, ERP or usage data uses for this customer, for example ACME-001.")
        name = b.text_input("Name", value="Acme Corp", key="guide_customer_name", max_chars=200)
        c, d, e = st.columns(3)
        email = c.text_input("Billing email", value="billing@acme.example", key="guide_customer_email",
                             max_chars=200, help="Where invoices are sent (optional).")
        with d:
            code = _currency("Billing currency", "guide_customer_currency", state.company.currency,
                             "Your company's currency unless this customer pays in another.")
        terms = e.number_input("Payment terms (days)", 0, 365, 30, key="guide_customer_terms",
                               help="Days between the invoice date and the due date (30 = net 30).")
        if st.form_submit_button("Add the customer", type="primary", icon=":material/person_add:"):
            data = {"external_id": ext, "name": name, "email": email, "currency": code, "payment_terms_days": terms}
            made = run_action(create_customer, me, data)
            if made is not None:
                saved(f"**{made.name}** ({made.external_id}) is your customer.")
    with upload:
        st.caption("A CSV or Excel file with one customer per row: our template (Customers page → Import from a "
                   "file) or a HubSpot or Salesforce export. You see every problem before anything is saved.")
        upload_panel(Upload(key="guide_customers", noun=("customer", "customers"),
                            preview=lambda s, data, name: preview_customers(s, data, name),
                            commit=lambda s, data, name, progress: import_customers(s, me, data, name),
                            count=lambda r: r.created + r.updated), can_write=True)


# ---- 4. a contract with one price ------------------------------------------------------------------------

# The models a first contract is likely to use, in plain words with an example; every other model (percentages,
# matrices, step and two-dimensional prices, modifiers) is on the Contracts page.
GUIDE_MODELS = {
    "per_unit": "The same price for every unit. Example: 2,500 requests × $0.01 = $25.00.",
    "package": "Units sold in packs; every pack started is charged in full. Example: packs of 1,000 at $8 — "
               "2,500 requests are 3 packs, $24.00.",
    "tiered": "Each tier's units at that tier's price, added up (graduated). Example: the first 500 at $2, the "
              "next 1,500 at $1.50 — like tax brackets.",
    "volume": "All units at the price of the tier the month's total falls into. Example: 2,500 requests, all at "
              "the rate for 2,001 and more.",
    "flat_fee": "The same amount every month, whatever the usage. Example: a $500 platform fee.",
}
DEFAULT_PARAMS = {"per_unit": {"unit_price": "0.01"}, "package": {"package_size": "1000", "package_price": "8"},
                  "flat_fee": {"amount": "500"}}


def contract_step(me: Actor, state: GuideState) -> None:
    customers = CustomerInfo()
    who, _ = customer_picker("Customer", key="guide_contract_customer", default=state.customer.id)
    if who is None:
        st.caption("Choose the customer this contract is for.")
        return
    cust = customers[who]
    a, b, c = st.columns([2, 1, 1])
    name = a.text_input("Contract name", value=f"{cust['name']} — {state.product.name}",
                        key=f"guide_contract_name_{who}", max_chars=200)
    start = b.date_input("Starts on", value=state.month_start, format="YYYY-MM-DD", key="guide_contract_start",
                         help=f"The first day billed. The default, {state.month_start:%-d %B %Y}, lets the guide "
                              f"invoice {state.month_start:%B %Y}, the last complete month.")
    with c:
        code = _currency("Currency", f"guide_contract_currency_{who}", cust["currency"],
                         "The customer's billing currency unless this contract is billed in another.")
    model = st.radio("How is the price worked out?", list(GUIDE_MODELS), key="guide_contract_model", horizontal=True,
                     format_func=MODEL_LABELS.get,
                     help="Percentages, matrices, steps and other models are on the Contracts page.")
    st.caption(GUIDE_MODELS[model])
    fixed = model == "flat_fee"
    params, _ = params_editor(model, f"guide_contract_{model}",
                              DEFAULT_PARAMS.get(model) or REGISTRY[model].PARAMS_EXAMPLE)
    preview(model, params, code, free_units=None, fixed_quantity="1" if fixed else None, categories=[],
            key=f"guide_contract_{model}")
    line = LineSpec(description=state.product.name, pricing_model=model, params=params, product_sku=state.product.code,
                    metric_code=None if fixed else state.metric.code, fixed_quantity="1" if fixed else None)
    spec = ContractSpec(customer_external_id=cust["external_id"], name=name, currency=code,
                        start_date=start if isinstance(start, date) else state.month_start,
                        payment_terms_days=int(cust["payment_terms_days"]), lines=[line])
    st.caption(f"One line, **{state.product.name}**, billed monthly"
               + (" as a fixed fee." if fixed else f" on the usage the metric **{state.metric.name}** counts.")
               + f" Payment terms: net {cust['payment_terms_days']} days (the customer's).")
    if st.button("Create the contract", type="primary", icon=":material/contract:", key="guide_contract_create"):
        made = run_action(create_contract, me, spec)
        if made is not None:
            saved(f"Contract **{made.name}** is active from {made.start_date:%-d %b %Y}.")
