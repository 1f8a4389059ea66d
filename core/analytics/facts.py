"""The analytics pages' monthly figures per approved invoice, written at approval (``billed_month``).

MRR and usage charges by month used to be summed from every invoice line of every approved invoice each time the
Finance dashboard was opened after a change — over a second on 100,000 invoices. Instead, when an invoice is
approved, its recurring charges are spread over their months of service and its usage charges put in their
month (the definitions are in core/analytics/mrr.py), one row per invoice, kind and month. An approved invoice's
lines never change, so the rows are written once; a void invoice keeps them and the queries leave it out by its
status. :func:`rebuild` recomputes everything from the invoice lines (the migration that created the table ran it
for the invoices approved before), and the tests compare the table with a computation straight from the lines.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import BigInteger, String, delete, func, select, type_coerce
from sqlmodel import Session

from core.models import BilledMonth, ContractLine, Invoice, InvoiceLine

SPREAD = 27_720  # divisible by every number of months from 1 to 12, and by 24 and 36
MAX_MONTHS = 36
RECURRING_KINDS = ("fixed", "adjustment", "discount")
BILLED_STATES = ("approved", "partially_paid", "paid", "written_off")


def month_index(day) -> int:  # noqa: ANN001 - 'YYYY-MM-DD…' (SQLite text) or a date (PostgreSQL)
    if isinstance(day, str):
        return int(day[:4]) * 12 + int(day[5:7]) - 1
    return day.year * 12 + day.month - 1


def _rows(session: Session, invoice_ids=None) -> list[dict]:  # noqa: ANN001 - an id list, or None for all billed
    """The billed_month rows of these invoices (all approved invoices when None), from their lines: one GROUP BY
    (invoice, kind, service period) in SQL, spread over months here."""
    from core.invoicing.service import _in

    ln, inv, cl = InvoiceLine.__table__.c, Invoice.__table__.c, ContractLine.__table__.c
    recurring = select(cl.id).where(cl.metric_id.is_(None), cl.cadence != "one_time")
    is_mrr = ln.kind.in_(RECURRING_KINDS) & ln.contract_line_id.in_(recurring)
    which = (_in(session, inv.id, invoice_ids) if invoice_ids is not None
             else inv.status.in_((*BILLED_STATES, "void")) & inv.approved_at.is_not(None))
    stmt = (select(inv.id, inv.customer_id, inv.entity_id, inv.currency, ln.kind,
                   type_coerce(ln.period_start, String), type_coerce(ln.period_end, String),
                   func.sum(type_coerce(ln.amount, BigInteger)))
            .select_from(InvoiceLine.__table__.join(Invoice.__table__, inv.id == ln.invoice_id))
            .where(which, (ln.kind == "usage") | is_mrr)
            .group_by(inv.id, inv.customer_id, inv.entity_id, inv.currency, ln.kind, ln.period_start,
                      ln.period_end))
    sums: dict[tuple, int] = defaultdict(int)
    for inv_id, cust, ent, cur, kind, ps, pe, x in session.connection().execute(stmt):
        x = int(x or 0)
        s = month_index(ps)
        if kind == "usage":
            sums[(inv_id, cust, ent, cur, "usage", s)] += x
            continue
        # the recurring kinds of one period are summed first, then spread (as a whole, like the invoice shows it)
        sums[(inv_id, cust, ent, cur, "mrr", s, month_index(pe) - s)] += x
    out: dict[tuple, int] = defaultdict(int)
    for key, x in sums.items():
        if key[4] == "usage":
            out[key] += x
            continue
        *head, s, n = key
        head = tuple(head)
        if n <= 1:
            out[(*head, s)] += x * SPREAD
            continue
        n = min(n, MAX_MONTHS)
        share = x * SPREAD // n
        for m in range(s, s + n):
            out[(*head, m)] += share
    return [{"invoice_id": k[0], "customer_id": k[1], "entity_id": k[2], "currency": k[3], "kind": k[4],
             "month": k[5], "amount": v} for k, v in out.items() if v]


def record_billed(session: Session, invoice_ids: list[int]) -> int:
    """Write the rows of invoices being approved (in the approval's transaction). Returns how many."""
    if not invoice_ids:
        return 0
    from core.invoicing.service import _bulk_insert

    rows = _rows(session, invoice_ids)
    _bulk_insert(session, BilledMonth.__table__, rows)
    return len(rows)


def rebuild(session: Session) -> int:
    """Recompute the whole table from the invoice lines of every approved invoice."""
    from core.invoicing.service import _bulk_insert

    session.connection().execute(delete(BilledMonth.__table__))
    rows = _rows(session)
    for k in range(0, len(rows), 50_000):
        _bulk_insert(session, BilledMonth.__table__, rows[k:k + 50_000])
    return len(rows)
