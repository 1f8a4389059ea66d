"""The Pilot plan page's samples (weeks two and three): which contracts and invoices the pilot is judged on, their
status, and where each invoice stands against the prospect's."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.pilot.plan import sample_ids, set_samples
from core.pilot.samples import contract_choices, invoice_choices, invoice_months, invoices_of, sample_contracts, \
    sample_invoices
from ui.pilot_plan import P, link
from ui.state import run_action, session

RECON = {"matches": "matches", "differs": "DIFFERS", "changed since": "changed since reconciled",
         "not reconciled": "not reconciled yet"}


def _save(me, pilot_id: int, kind: str, ids: list[int], what: str) -> None:  # noqa: ANN001
    if run_action(set_samples, me, pilot_id, kind, ids) is not None:
        st.session_state[f"{P}_flash"] = what
        st.rerun()


def samples_view(me, pilot, tolerance) -> None:  # noqa: ANN001 - Actor, Pilot, Decimal
    st.caption("Weeks two and three: the prospect shares sample contracts, usage and the invoices its current system "
               "produced; we configure the contracts, generate ours and compare. Mark here which contracts and "
               "invoices are the pilot's samples — the success criteria and the sign-off report are about them.")
    can = me.can("pilot:write")
    with session() as s:
        contracts = sample_contracts(s, me, pilot.id)
        invoices = sample_invoices(s, me, pilot.id, tolerance)
    st.subheader("Sample contracts")
    if contracts:
        st.dataframe(pd.DataFrame([(c.customer, c.external_id, c.name, c.status, f"{c.start:%-d %b %Y}", c.models,
                                    c.invoices) for c in contracts],
                                  columns=["Customer", "Customer id", "Contract", "Status", "Start", "Pricing models",
                                           "Invoices so far"]), hide_index=True, width="stretch")
    else:
        st.info("No sample contracts yet." + (" Choose them below." if can else ""), icon=":material/info:")
    if can:
        with st.expander("Choose the sample contracts", icon=":material/edit:"):
            with session() as s:
                chosen = sample_ids(s, pilot.id, "contract")
                options = contract_choices(s, chosen)
            picked = st.multiselect("Sample contracts", list(options), default=[c for c in chosen if c in options],
                                    format_func=options.get, key=f"{P}_contracts",
                                    help="The contracts the prospect shared, configured here.")
            if st.button("Save the sample contracts", key=f"{P}_contracts_save", type="primary"):
                _save(me, pilot.id, "contract", picked, f"{len(picked)} sample contract(s) saved.")
    link(me, "contracts", "Open Contracts")

    st.subheader("Sample invoices")
    if invoices:
        st.dataframe(pd.DataFrame([(i.number, i.customer, i.period, i.status, i.total, i.amount_due,
                                    RECON.get(i.reconciliation, i.reconciliation), i.detail) for i in invoices],
                                  columns=["Invoice", "Customer", "Period", "Status", "Total", "Amount due",
                                           "Against the prospect's", "Detail"]),
                     hide_index=True, width="stretch",
                     column_config={"Total": st.column_config.TextColumn(alignment="right"),
                                    "Amount due": st.column_config.TextColumn(alignment="right")})
        st.caption("“Against the prospect's” reads the newest saved pilot reconciliation that compared the invoice "
                   "(save one on the Pilot reconciliation page). An invoice regenerated since must be reconciled "
                   "again.")
    else:
        st.info("No sample invoices yet." + (" Choose them below, or add those of the sample contracts." if can
                                             else ""), icon=":material/info:")
    if can:
        with st.expander("Choose the sample invoices", icon=":material/edit:"):
            with session() as s:
                months = invoice_months(s)
                chosen = sample_ids(s, pilot.id, "invoice")
            if months:
                _pick_invoices(me, pilot, months, chosen)
            else:
                st.caption("There are no invoices yet: generate them on the Invoices page.")
    link(me, "pilot", "Open the pilot reconciliation")


def _pick_invoices(me, pilot, months, chosen: list[int]) -> None:  # noqa: ANN001
    default = pilot.usage_month if pilot.usage_month in months else months[0]
    month = st.selectbox("Invoices of", months, index=months.index(default),
                         format_func=lambda d: d.strftime("%B %Y"), key=f"{P}_inv_month",
                         help="Invoices whose billing period starts in this month are offered; the samples "
                              "already chosen stay listed.")
    with session() as s:
        options = invoice_choices(s, month, chosen)
        of_contracts = invoices_of(s, sample_ids(s, pilot.id, "contract"), month)
    picked = st.multiselect("Sample invoices", list(options), default=[i for i in chosen if i in options],
                            format_func=options.get, key=f"{P}_invoices_{month:%Y%m}")
    a, b = st.columns(2)
    if a.button("Save the sample invoices", key=f"{P}_invoices_save", type="primary"):
        _save(me, pilot.id, "invoice", picked, f"{len(picked)} sample invoice(s) saved.")
    missing = [i for i in of_contracts if i not in chosen]
    if b.button(f"Add the {month:%B %Y} invoices of the sample contracts ({len(missing)})",
                key=f"{P}_invoices_add", disabled=not missing):
        _save(me, pilot.id, "invoice", chosen + missing, f"{len(missing)} invoice(s) added to the samples.")
