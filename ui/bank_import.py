"""The bank-statement import of the Payments page: choose the bank's export -> see which open invoice each payment
received settles (matched / partial / unmatched / duplicate) -> match the rest by hand -> record them all in one
transaction, or none. The rules are in :mod:`core.invoicing.bank_import`; this module only draws.

Session state holds the checked statement and its proposals (plain data, no ORM objects) for the chosen file,
and the last import's summary.
"""
from __future__ import annotations

from collections import Counter

import pandas as pd
import streamlit as st
from sqlmodel import select

from core.auth import Actor
from core.errors import UserError
from core.importers.report import ImportReport
from core.invoicing.bank_import import (
    DATE_ORDERS,
    DUPLICATE,
    MATCHED,
    PARTIAL,
    UNMATCHED,
    Assignment,
    BankFileError,
    propose_matches,
    read_statement,
    record_statement,
)
from core.invoicing.payments import open_invoices
from core.models import BusinessEntity
from core.money import CURRENCIES
from ui.format import money
from ui.pickers import customer_picker
from ui.state import session
from ui.uploads import show_problems

KEY = "bank_import"
STATUS_LABELS = {MATCHED: "Matched", PARTIAL: "Partial", UNMATCHED: "Unmatched", DUPLICATE: "Duplicate"}
MAX_BY_HAND = 50  # unmatched lines offered for matching by hand at once


def _check(me: Actor, file, code: str, order: str | None):  # noqa: ANN001 - UploadedFile
    """(statement, proposals, "") or (None, the file's problems as a report, the message), once per file and
    options."""
    cache_key = f"{KEY}_checked"
    token = (file.file_id, code, order)
    cached = st.session_state.get(cache_key)
    if cached and cached[0] == token:
        return cached[1]
    try:
        statement = read_statement(file.getvalue(), file.name, currency_code=code, date_order=order)
    except BankFileError as exc:
        checked = (None, ImportReport(kind="bank statement", filename=file.name, errors=list(exc.problems),
                                      unreadable=True), str(exc))
    else:
        with session() as s:
            checked = (statement, propose_matches(s, me, statement), "")
    st.session_state[cache_key] = (token, checked)
    return checked


def _default_currency() -> str:
    with session() as s:
        code = s.exec(select(BusinessEntity.default_currency).order_by(BusinessEntity.id)).first()
    return code if code in CURRENCIES else "USD"


def _table(proposals) -> pd.DataFrame:  # noqa: ANN001
    return pd.DataFrame({
        "Row": [p.row for p in proposals],
        "Date": [p.line.received_on for p in proposals],
        "Amount": [money(p.line.amount, p.line.currency) for p in proposals],
        "Reference": [p.line.reference for p in proposals],
        "Payer": [p.line.payer for p in proposals],
        "Status": [STATUS_LABELS[p.status] for p in proposals],
        "Invoice": [", ".join(p.invoices) for p in proposals],
        "Customer": [p.customer for p in proposals],
        "To wallet": [money(p.to_wallet, p.line.currency) if p.to_wallet else "" for p in proposals],
        "Note": [p.note for p in proposals],
    })


def bank_import_panel(me: Actor) -> None:
    """Draw the panel (nothing for a role that cannot record payments)."""
    if not me.can("invoices:write"):
        return
    ss = st.session_state
    nonce = ss.setdefault(f"{KEY}_nonce", 0)
    st.subheader("Import a bank statement")
    st.caption("Upload your bank's export (CSV or Excel): each payment received is matched to the open invoice its "
               "reference names — or, without an invoice number, to the one open invoice of that exact amount of "
               "the customer it names. You confirm the matches and match the rest by hand; lines already "
               "imported are skipped, so importing an overlapping statement records nothing twice.")
    if done := ss.get(f"{KEY}_result"):
        st.success(f"**{done['filename']}**: {done['summary']}.", icon=":material/account_balance:")

    a, b = st.columns(2)
    codes = list(CURRENCIES)
    default = ss.get(f"{KEY}_currency") or _default_currency()
    code = a.selectbox("Account currency", codes, index=codes.index(default), key=f"{KEY}_currency",
                       format_func=lambda c: f"{c} — {CURRENCIES[c][2]}",
                       help="Used for the lines when the file has no currency column.")
    order = b.selectbox("Dates like 03/04/2026 are", [None, *DATE_ORDERS], key=f"{KEY}_date_order",
                        format_func=lambda o: "not in the file (dates are 2026-04-03)" if o is None
                        else DATE_ORDERS[o])
    file = st.file_uploader("Choose a bank statement (CSV or Excel .xlsx)", type=["csv", "xlsx"],
                            key=f"{KEY}_file_{nonce}",
                            help="Nothing is recorded until you press Record; then every payment is recorded "
                                 "together, or none is.")
    if file is None:
        return
    statement, checked, error = _check(me, file, code, order)
    if statement is None:
        st.error(f"This statement cannot be imported: {error}", icon=":material/error:")
        show_problems(checked, KEY)
        return
    proposals = checked
    for note in statement.notes:
        st.info(note[:1].upper() + note[1:], icon=":material/info:")
    if not proposals:
        return
    n = Counter(p.status for p in proposals)
    st.markdown(f"**{len(proposals)} payment{'s' if len(proposals) != 1 else ''} received**: "
                f"{n[MATCHED]} matched, {n[PARTIAL]} partial, {n[UNMATCHED]} to match by hand"
                + (f", {n[DUPLICATE]} already imported (skipped)" if n[DUPLICATE] else ""))
    st.dataframe(_table(proposals), hide_index=True, width="stretch",
                 column_config={"Row": st.column_config.NumberColumn(width="small", format="%d"),
                                "Amount": st.column_config.TextColumn(alignment="right"),
                                "To wallet": st.column_config.TextColumn(alignment="right"),
                                "Note": st.column_config.TextColumn(width="large")})

    proposed = [p for p in proposals if p.recordable]
    left_out: list[int] = []
    if proposed:
        left_out = st.multiselect(
            "Leave these matches out", [p.row for p in proposed], key=f"{KEY}_leave_out_{nonce}",
            format_func=lambda r: next(f"Row {p.row}: {money(p.line.amount, p.line.currency)} → "
                                       f"{', '.join(p.invoices)}" for p in proposed if p.row == r),
            placeholder="Record every match shown", help="A match left out is not recorded; match it by hand "
                                                         "below, or in a later import.")
    assignments = _by_hand([p for p in proposals if p.status == UNMATCHED] +
                           [p for p in proposed if p.row in left_out], nonce)
    accepted = [p.row for p in proposed if p.row not in left_out and p.row not in assignments]
    count = len(accepted) + len(assignments)
    label = f"Record {count} payment{'s' if count != 1 else ''}"
    if st.button(label, type="primary", disabled=count == 0, key=f"{KEY}_record_{nonce}",
                 icon=":material/account_balance:",
                 help="There is nothing to record." if count == 0 else "All are recorded together, or none."):
        try:
            with session() as s:
                result = record_statement(s, me, statement, proposals, accept=accepted, assignments=assignments)
        except UserError as exc:
            ss.pop(f"{KEY}_checked", None)  # check the statement again against the invoices as they are now
            msg = str(exc)
            st.error(msg[:1].upper() + msg[1:], icon=":material/error:")
            return
        ss[f"{KEY}_result"] = {"filename": file.name, "summary": result.summary()}
        ss[f"{KEY}_nonce"] += 1  # a fresh, empty uploader
        ss.pop(f"{KEY}_checked", None)
        st.rerun()


def _by_hand(lines, nonce: int) -> dict[int, Assignment]:  # noqa: ANN001
    """A customer (and invoice) picker per line to match by hand; returns the lines given a customer."""
    if not lines:
        return {}
    lines = sorted(lines, key=lambda p: p.row)
    st.markdown("**Match by hand** — choose who paid (and, if you know, which invoices); leave a line without a "
                "customer to deal with it later.")
    out: dict[int, Assignment] = {}
    for p in lines[:MAX_BY_HAND]:
        line = p.line
        with st.container(border=True):
            st.markdown(f"**Row {p.row}** · {line.received_on:%-d %b %Y} · **{money(line.amount, line.currency)}**"
                        + (f" · {line.reference}" if line.reference else "")
                        + (f" · from {line.payer}" if line.payer else ""))
            if p.note:
                st.caption(p.note)
            a, b = st.columns([1, 2])
            cust_id, customers = customer_picker("Customer", key=f"{KEY}_customer_{nonce}_{p.row}", container=a,
                                                 placeholder="Leave it for now")
            if cust_id is None:
                continue
            with session() as s:
                invoices = open_invoices(s, cust_id, line.currency)
            if not invoices:
                b.caption(f"{customers[cust_id].name} has no open {line.currency} invoice: the payment goes to "
                          "their wallet.")
                chosen = []
            else:
                by_id = {oi.id: oi for oi in invoices}
                chosen = b.multiselect(
                    "Invoices it pays", list(by_id), key=f"{KEY}_invoices_{nonce}_{p.row}_{cust_id}",
                    format_func=lambda i, by_id=by_id: f"{by_id[i].number} — {money(by_id[i].due, by_id[i].currency)} due "
                                          f"{by_id[i].due_date:%-d %b %Y}",
                    placeholder="Their open invoices, oldest due first",
                    help="Settled oldest due first; none chosen: their open invoices oldest due first. What is "
                         "left goes to their wallet.")
            out[p.row] = Assignment(cust_id, tuple(chosen))
    if len(lines) > MAX_BY_HAND:
        st.caption(f"Showing the first {MAX_BY_HAND} of {len(lines)} lines to match: record these, then import the "
                   "statement again — what was recorded comes back as already imported.")
    return out
