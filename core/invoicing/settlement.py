"""Money against invoices: payments (allocated across invoices, the rest to the wallet), credit notes (reduce
what is due; on a paid invoice the excess goes to the wallet or is refunded) and the status that follows.

Spec section 5, the rules:

- Status is derived from the amounts, never set by hand: an approved invoice with nothing paid or credited is
  ``approved``; with part of it settled ``partially_paid``; with nothing left due ``paid``; and ``void`` only when
  credit notes cover its full amount. "Overdue" is derived on display (due date passed, amount due > 0).
- Amount due = total − prepaid credit applied at approval − payments allocated − credit notes − written off.
- Writing off what is left due (uncollectible) makes the invoice ``written_off`` (bad debt in the ledger).
- A payment may settle several invoices; each allocation is at most what the invoice still owes; unallocated
  money goes to the customer's wallet (kind ``payment``). $1,500 split $1,000 / $500 over invoices of $1,000 and
  $800 → paid, and partially paid with $300 due.
- A credit note reduces what is due; whatever it credits beyond that (the invoice was already paid) is taken
  back from the invoice's payments — latest first — and goes to the wallet (kind ``credit_note``) or is refunded
  (a Stripe payment back to the card, otherwise recorded as paid back by the method it came in).
  Invoice $1,000, paid $400, credit note $700 → $600 clears the due amount, $100 to the wallet or refunded, the
  invoice is paid.

Invoices are locked (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises writers) before their amounts
change, so two people settling the same invoice cannot both spend its amount due.
"""
from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session, select

from core.errors import UserError
from core.models import Invoice, Payment, PaymentAllocation, Refund
from core.money import ZERO

SETTLED_STATUSES = ("approved", "partially_paid", "paid")  # what payments and credit notes may touch
STATUS_LABELS = {"draft": "Draft", "approved": "Approved", "partially_paid": "Partially paid", "paid": "Paid",
                 "void": "Void", "written_off": "Written off"}


def due(inv: Invoice) -> Decimal:
    """What the customer still owes on ``inv`` (nothing once void)."""
    if inv.status == "void":
        return ZERO
    return (inv.total - inv.credits_applied - inv.amount_paid - (inv.amount_credited or ZERO)
            - (inv.amount_written_off or ZERO))


def derive_status(inv: Invoice) -> str:
    if inv.status == "draft":
        return "draft"
    if inv.total > 0 and (inv.amount_credited or ZERO) >= inv.total:
        return "void"
    if (inv.amount_written_off or ZERO) > 0 and due(inv) <= 0:
        return "written_off"
    if due(inv) <= 0:
        return "paid"
    if inv.amount_paid > 0 or (inv.amount_credited or ZERO) > 0 or inv.credits_applied > 0:
        return "partially_paid"
    return "approved"


def lock_invoices(session: Session, ids: list[int]) -> dict[int, Invoice]:
    """Load and lock the invoices (ordered by id, so two transactions lock in the same order)."""
    if not ids:
        return {}
    rows = session.exec(select(Invoice).where(Invoice.id.in_(sorted(set(ids)))).order_by(Invoice.id)
                        .with_for_update()).all()
    for inv in rows:
        session.refresh(inv)  # amounts as they are now, not as this session last saw them
    return {inv.id: inv for inv in rows}


def label(inv: Invoice) -> str:
    return inv.number or f"draft #{inv.id}"


def require_settleable(inv: Invoice, what: str) -> None:
    if inv.status not in SETTLED_STATUSES:
        state = "a draft: approve it first" if inv.status == "draft" else inv.status
        raise UserError(f"invoice {label(inv)} is {state}; {what} only applies to approved invoices")


def take_back(session: Session, inv: Invoice, amount: Decimal) -> list[tuple[Payment, Decimal]]:
    """Reduce the payments allocated to ``inv`` by ``amount``, latest allocation first; returns what was taken
    from which payment. The caller decides where that money goes (wallet or refund)."""
    left, taken = amount, []
    allocations = session.exec(select(PaymentAllocation).where(PaymentAllocation.invoice_id == inv.id)
                               .order_by(PaymentAllocation.id.desc())).all()
    for alloc in allocations:
        if left <= 0:
            break
        part = min(alloc.amount, left)
        if part <= 0:
            continue
        alloc.amount -= part
        session.add(alloc)
        taken.append((session.get(Payment, alloc.payment_id), part))
        left -= part
    if left > 0:  # paid with money we hold no allocation for: should not happen; refuse rather than invent it
        raise UserError(f"invoice {label(inv)}: payments of {amount} cannot be traced to allocations")
    inv.amount_paid -= amount
    return taken


def refunds_of(session: Session, customer_id: int) -> list[Refund]:
    return list(session.exec(select(Refund).where(Refund.customer_id == customer_id).order_by(Refund.id.desc())))
