"""On an approved invoice: what was paid and credited, and the credit-note action (finance)."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.documents.render import document_pdf
from core.invoicing.credit_notes import EXCESS, credit_notes_of, issue_credit_note
from core.invoicing.payments import METHODS, allocations_of
from core.invoicing.service import invoice_lines
from core.models import Invoice
from ui import stripe_ui
from ui.format import money
from ui.state import run_action, session

CREDITABLE = ("usage", "fixed", "one_time", "true_up", "service_fee", "adjustment")


def history(inv: Invoice) -> None:
    """Payments allocated to the invoice and its credit notes, newest last."""
    with session() as s:
        paid = [(p.received_on, "Payment", METHODS.get(p.method, p.method) + (f" · {p.reference}" if p.reference else ""),
                 money(a.amount, inv.currency)) for a, p in allocations_of(s, inv.id)]
        notes = [(n.issue_date, f"Credit note {n.number}", n.reason, money(n.total, inv.currency)
                  + (f" ({money(n.to_wallet, inv.currency)} to wallet)" if n.to_wallet else "")
                  + (f" ({money(n.refunded, inv.currency)} refunded)" if n.refunded else ""))
                 for n in credit_notes_of(s, inv.id)]
        docs = [("credit_note", n.id, f"Credit note {n.number}") for n in credit_notes_of(s, inv.id)] + \
            [("receipt", p.id, f"Receipt R-{p.id:06d}") for a, p in allocations_of(s, inv.id)]
    rows = sorted(paid + notes, key=lambda r: r[0])
    if rows:
        st.dataframe(pd.DataFrame(rows, columns=["Date", "What", "Details", "Amount"]), hide_index=True,
                     width="stretch", column_config={"Amount": st.column_config.TextColumn(alignment="right")})
    if docs:
        with st.container(horizontal=True):
            for kind, object_id, label in docs:
                st.download_button(label, lambda k=kind, i=object_id: _pdf(k, i), icon=":material/picture_as_pdf:",
                                   file_name=f"{label.split()[-1].lower()}.pdf", mime="application/pdf",
                                   key=f"doc_{kind}_{object_id}_{inv.id}")


def _pdf(kind: str, object_id: int) -> bytes:
    with session() as s:
        return document_pdf(s, kind, object_id)


def credit_note_action(inv: Invoice, me) -> str | None:  # noqa: ANN001 - Actor
    """The 'Issue a credit note' popover; returns a message to flash when one was issued."""
    if inv.status not in ("approved", "partially_paid", "paid") or not me.can("invoices:approve"):
        return None
    code = inv.currency
    with st.popover("Issue a credit note", icon=":material/undo:"):
        st.caption("Takes money back from this invoice. It first lowers what is due; anything beyond that "
                   "(the invoice was already paid) goes to the customer's wallet or is refunded.")
        how = st.radio("Credit", ["An amount", "Chosen lines"], horizontal=True, key=f"cn_how_{inv.id}")
        lines = amount = None
        if how == "An amount":
            amount = st.text_input(f"Amount, tax included ({code})", key=f"cn_amount_{inv.id}", placeholder="100.00")
        else:
            with session() as s:
                chargeable = [ln for ln in invoice_lines(s, inv.id) if ln.kind in CREDITABLE and ln.amount > 0]
            frame = pd.DataFrame({"Line": [ln.description for ln in chargeable],
                                  "Amount": [money(ln.amount, code) for ln in chargeable],
                                  "Credit": ["" for _ in chargeable]})
            edited = st.data_editor(frame, hide_index=True, disabled=["Line", "Amount"], key=f"cn_lines_{inv.id}",
                                    column_config={"Credit": st.column_config.TextColumn(
                                        help="Before tax; the line's tax is credited with it")})
            lines = {ln.id: str(v).strip() for ln, v in zip(chargeable, edited["Credit"]) if str(v or "").strip()}
        reason = st.text_input("Reason (printed on the credit note)", key=f"cn_reason_{inv.id}")
        excess = st.radio("If the invoice is already paid, the excess goes", list(EXCESS), format_func=EXCESS.get,
                          key=f"cn_excess_{inv.id}")
        if st.button("Issue the credit note", type="primary", key=f"cn_issue_{inv.id}"):
            note = run_action(issue_credit_note, me, inv.id, reason=reason, lines=lines,
                              amount=amount if how == "An amount" else None, excess=excess)  # committed
            if note is not None:
                sent = stripe_ui.send_refunds(me, note.id) if note.refunded else None  # card refunds, after it
                return (f"Credit note {note.number} issued for {money(note.total, code)}"
                        + (f"; {money(note.to_wallet, code)} to the customer's wallet" if note.to_wallet else "")
                        + (f"; {money(note.refunded, code)} to refund" if note.refunded else "") + "."
                        + (f" {sent}" if sent else " Pay it back, then mark it paid out under Refunds on the "
                                                   "Payments page." if note.refunded else ""))
    return None


def write_off_action(inv: Invoice, me) -> str | None:  # noqa: ANN001 - Actor
    """The 'Write off' popover (bad debt); returns a message to flash when the invoice was written off."""
    from core.invoicing.settlement import due
    from core.invoicing.write_offs import write_off

    if inv.status not in ("approved", "partially_paid") or due(inv) <= 0 or not me.can("invoices:approve"):
        return None
    with st.popover("Write off", icon=":material/money_off:"):
        st.caption(f"When {money(due(inv), inv.currency)} still due will not be collected: the invoice is marked "
                   "written off, nothing is due on it any more, and the ledger books the amount as bad debt. "
                   "The customer is not credited — use a credit note for that.")
        reason = st.text_input("Reason", key=f"wo_reason_{inv.id}", placeholder="Customer insolvent")
        if st.button("Write off the amount due", type="primary", key=f"wo_do_{inv.id}"):
            done = run_action(write_off, me, inv.id, reason=reason)
            if done is not None:
                return f"Invoice {done.number}: {money(done.amount_written_off, done.currency)} written off as bad debt."
    return None
