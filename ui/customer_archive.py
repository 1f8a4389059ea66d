"""The Customers page's archive parts: archive the customer being edited (with a confirmation), and the list of
archived customers with a way to restore one. The rules live in core.customers (archive_check,
archive_customer, restore_customer)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.customers import archive_check, archive_customer, archived_customers, get_customer, restore_customer
from core.errors import UserError
from ui.confirm import confirm
from ui.state import run_action, session

P = "customers_archive"  # session-state prefix
FLASH, ERROR, RESET = "customers_flash", "customers_error", "customers_edit_reset"


def messages() -> None:
    """What the last archive attempt left to say (a refusal found only when the dialog's "yes" ran)."""
    if err := st.session_state.pop(ERROR, None):
        st.error(err, icon=":material/error:")


def forget_archived_pick(key: str) -> None:
    """Call before the edit tab's customer picker: after an archive, nothing is picked any more."""
    if st.session_state.pop(RESET, False):
        st.session_state.pop(key, None)


def panel(customer_id: int, me) -> None:  # noqa: ANN001 - Actor
    """Under the edit form: why this customer cannot be archived yet, or an Archive button and its dialog."""
    if not me.can("customers:delete"):
        return
    with session() as s:
        cust = get_customer(s, customer_id)
        name, ext, archived = cust.name, cust.external_id, cust.archived
        check = archive_check(s, customer_id)
    if archived:
        st.info(f"{name} is archived: restore it on the Archived tab to bill it again.", icon=":material/archive:")
        return
    with st.expander("Archive this customer", icon=":material/archive:"):
        st.caption("For a customer you no longer bill: it leaves the customer list, the pickers, segments and the "
                   "customer portal. Nothing is deleted — its invoices, payments and credit notes stay on their "
                   "pages, and you can restore it from the Archived tab at any time.")
        if check.blockers:
            st.warning(f"{name} cannot be archived yet:\n\n" + "\n".join(f"- {b}" for b in check.blockers),
                       icon=":material/block:")
        for note in check.notes:
            st.caption(f"Note: {note}.")
        reason = st.text_input("Reason (kept in the audit log)", key=f"{P}_reason_{customer_id}", max_chars=500,
                               placeholder="e.g. contract ended, company closed",
                               disabled=bool(check.blockers))
        if st.button("Archive…", icon=":material/archive:", key=f"{P}_btn_{customer_id}",
                     disabled=bool(check.blockers),
                     help="Settle what is named above first." if check.blockers else None):
            st.session_state[P] = customer_id
    if st.session_state.get(P) == customer_id:
        def _archive() -> bool:
            try:
                with session() as s:
                    archive_customer(s, me, customer_id, reason=reason)
            except UserError as exc:
                st.session_state[ERROR] = str(exc)
                return False
            st.session_state[RESET] = True
            return True

        confirm("Archive this customer?", P,
                f"**{name}** ({ext}) leaves the customer list and the pickers; its portal link stops working. Its "
                "invoices, payments and credit notes stay readable. You can restore it from the Archived tab.",
                yes_label="Archive the customer", action=_archive, flash_key=FLASH,
                done=f"{name} is archived. Restore it from the Archived tab if you need it again.")


def archived_tab(me) -> None:  # noqa: ANN001 - Actor
    """The archived customers, searchable, and a restore button."""
    st.caption("Customers you no longer bill. They are hidden from the customer list and the pickers; their "
               "invoices, payments and credit notes stay on those pages. Restore one to bill it again.")
    search = st.text_input("Search archived customers", key=f"{P}_search", label_visibility="collapsed",
                           placeholder="Search archived customers by name, customer id or email",
                           icon=":material/search:")
    with session() as s:
        rows = archived_customers(s, search=search)
    if not rows:
        st.info("No archived customers" + (f" match “{search}”." if search else "."), icon=":material/inventory_2:")
        return
    table = pd.DataFrame([{"Customer id": r["external_id"], "Name": r["name"], "Email": r["email"],
                           "Country": r["country"], "Currency": r["currency"],
                           "Archived on": f"{r['archived_at']:%-d %b %Y}" if r["archived_at"] else "",
                           "By": r["archived_by"]} for r in rows])
    st.dataframe(table, hide_index=True, width="stretch", height=35 * min(len(rows), 15) + 38)
    if not me.can("customers:write"):
        st.caption("Your role can look at archived customers but not restore them.")
        return
    names = {r["id"]: f"{r['name']} ({r['external_id']})" for r in rows}
    col, button = st.columns([3, 1], vertical_alignment="bottom")
    pick = col.selectbox("Customer to restore", list(names), format_func=names.__getitem__, key=f"{P}_restore_pick",
                         index=None, placeholder="Choose an archived customer")
    if button.button("Restore", icon=":material/unarchive:", key=f"{P}_restore", disabled=pick is None,
                     help="It comes back into the customer list and the pickers, as it was."):
        if run_action(restore_customer, me, pick) is not None:
            st.session_state[FLASH] = f"{names[pick]} is restored and back in the customer list."
            st.rerun()
