"""The journal entry each business event posts (spec section 6's table). The services call these inside their
own transaction, so an event and its entry are written together or not at all.

| event | debit | credit |
|---|---|---|
| invoice approved | Accounts Receivable (total) | revenue by product policy — immediate/unbilled: the product's revenue account, deferred: Deferred Revenue (and a recognition schedule) — and Sales Tax Payable |
| wallet applied at approval | Customer Wallet | Accounts Receivable |
| payment received | Cash (manual) or Payment Gateway Clearing (Stripe) | Accounts Receivable per invoice; Customer Wallet for what is not allocated |
| credit note | Sales Returns and Allowances, or Deferred Revenue for what is not yet recognised; Sales Tax Payable for its tax | Accounts Receivable (what it clears); Customer Wallet (kept as credit); Refunds Payable (to refund) |
| refund paid out | Refunds Payable | Cash or Payment Gateway Clearing |
| wallet credit added by hand | Cash (prepaid: money received) or Promotional Credits (a grant) | Customer Wallet |

Every Accounts Receivable line carries its invoice and customer, so AR by customer and by invoice come from the
ledger alone and equal the invoices' amounts due.
"""
from __future__ import annotations

from collections import defaultdict
from uuid import uuid4
from datetime import date
from decimal import Decimal

from sqlmodel import Session, select

from core.ledger.accounts import Chart, chart
from core.ledger.posting import Draft, post, post_many
from core.ledger.recognition import new_schedules
from core.models import (
    CreditNote, CreditNoteLine, Invoice, InvoiceLine, JournalEntry, Payment, Product, Refund, RevenueSchedule,
    WalletEntry,
)
from core.money import ZERO, round_money

#: invoice line kinds that are not revenue
_NOT_REVENUE = {"tax", "wallet"}


def _label(inv: Invoice) -> str:
    return inv.number or f"draft #{inv.id}"


def approval_entries(session: Session, invoices: list[Invoice], *, posted_by: str,
                     accounts: Chart | None = None) -> list[int]:
    """Post the approval of ``invoices`` (already numbered): one entry each, one more for the wallet credit it
    used, and the recognition schedules of deferred lines. A fixed number of statements however many."""
    if not invoices:
        return []
    from core.invoicing.service import _in

    accounts = accounts or chart(session)
    ar, tax_acc = accounts.key("accounts_receivable"), accounts.key("sales_tax")
    deferred, wallet_acc = accounts.key("deferred_revenue"), accounts.key("customer_wallet")
    ids = [inv.id for inv in invoices]
    lines_of: dict[int, list] = defaultdict(list)
    t = InvoiceLine.__table__.c
    for row in session.connection().execute(
            select(t.id, t.invoice_id, t.kind, t.amount, t.product_id, t.period_start, t.period_end, t.indent)
            .where(_in(session, t.invoice_id, ids)).order_by(t.invoice_id, t.sort_order, t.id)):
        lines_of[row.invoice_id].append(row)
    product_ids = sorted({ln.product_id for rows in lines_of.values() for ln in rows if ln.product_id})
    products = {p.id: p for p in session.exec(select(Product).where(_in(session, Product.id, product_ids)))} \
        if product_ids else {}
    drafts: list[Draft] = []
    schedules: list[dict] = []
    unbilled = accounts.key("unbilled_revenue")
    unbilled_of: dict[int, dict[int | None, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for inv in invoices:
        code = inv.currency
        when = inv.issue_date
        d = Draft(entity_id=inv.entity_id, entry_date=when, memo=f"Invoice {_label(inv)} approved",
                  source_type="invoice", source_id=inv.id, source_key=f"invoice:{inv.id}:approval")
        who = {"customer_id": inv.customer_id, "invoice_id": inv.id}
        d.debit(ar, code, inv.total, description=f"Invoice {_label(inv)}", **who)
        # revenue: grouped by (account, product) — and for deferred lines by service period, one schedule each
        credits: dict[tuple[int, int | None], Decimal] = defaultdict(lambda: ZERO)
        deferred_groups: dict[tuple, list] = defaultdict(list)
        for ln in lines_of.get(inv.id, []):
            if ln.kind in _NOT_REVENUE:
                continue
            amount = ln.amount
            product = products.get(ln.product_id)
            policy = product.revenue_policy if product else "immediate"
            if policy == "deferred":
                deferred_groups[(ln.product_id, ln.period_start, ln.period_end)].append((ln, amount))
            elif policy == "unbilled":  # recognised as delivered (accrued at the service period's end)
                credits[(unbilled, ln.product_id)] += amount
                unbilled_of[inv.id][ln.product_id] += amount
            else:
                credits[(accounts.revenue_account(product), ln.product_id)] += amount
        for (account_id, product_id), amount in credits.items():
            d.credit(account_id, code, amount, description=f"Invoice {_label(inv)}", product_id=product_id, **who)
        for (product_id, start, end), items in deferred_groups.items():
            amount = sum((a for _, a in items), ZERO)
            d.credit(deferred, code, amount, description=f"Invoice {_label(inv)}, deferred", product_id=product_id,
                     **who)
            if amount:
                product = products.get(product_id)
                schedules.append({"entity_id": inv.entity_id, "invoice_id": inv.id, "invoice_line_id": items[0][0].id,
                                  "customer_id": inv.customer_id, "product_id": product_id,
                                  "account_id": accounts.revenue_account(product), "currency": code, "total": amount,
                                  "method": (product.recognition_method if product else "days") or "days",
                                  "service_start": start, "service_end": end})
        d.credit(tax_acc, code, inv.tax, description=f"Tax on invoice {_label(inv)}", **who)
        drafts.append(d)
        if inv.credits_applied:
            w = Draft(entity_id=inv.entity_id, entry_date=when, memo=f"Wallet credit applied to {_label(inv)}",
                      source_type="wallet", source_id=inv.id, source_key=f"invoice:{inv.id}:wallet")
            w.debit(wallet_acc, code, inv.credits_applied, description=f"Applied to {_label(inv)}", **who)
            w.credit(ar, code, inv.credits_applied, description=f"Wallet credit on {_label(inv)}", **who)
            drafts.append(w)
    # usage delivered: revenue on the service period's last day, as Unbilled Revenue until this approval clears
    # it (what a recognition run accrued for the draft already is trued up to the approved amounts)
    accruals = accrual_drafts(session, [inv for inv in invoices], unbilled_of, accounts)
    posted = post_many(session, accruals + drafts, posted_by=posted_by, accounts=accounts)
    new_schedules(session, schedules)
    return posted


def unbilled_by_invoice(session: Session, invoice_ids: list[int]) -> dict[int, dict[int | None, Decimal]]:
    """Invoice → product → the amount of its lines whose product recognises revenue as usage is delivered."""
    from core.invoicing.service import _in

    out: dict[int, dict[int | None, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    if not invoice_ids:
        return out
    t, p = InvoiceLine.__table__.c, Product.__table__.c
    for inv_id, product_id, amount in session.connection().execute(
            select(t.invoice_id, t.product_id, t.amount).join(Product.__table__, p.id == t.product_id)
            .where(_in(session, t.invoice_id, invoice_ids), p.revenue_policy == "unbilled",
                   t.kind.not_in(list(_NOT_REVENUE)))):
        out[inv_id][product_id] += amount
    return out


def accrued_by_invoice(session: Session, invoice_ids: list[int], accounts: Chart
                       ) -> dict[int, dict[int | None, Decimal]]:
    """Invoice → product → Unbilled Revenue accrued for it so far (accrual entries carry the invoice as their
    source, not on their lines, so a draft stays deletable)."""
    from core.invoicing.service import _in
    from core.models import JournalEntry, JournalLine

    out: dict[int, dict[int | None, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    if not invoice_ids:
        return out
    e, ln = JournalEntry.__table__.c, JournalLine.__table__.c
    for inv_id, product_id, amount in session.connection().execute(
            select(e.source_id, ln.product_id, ln.amount).join(JournalLine.__table__, ln.entry_id == e.id)
            .where(e.source_type == "unbilled", _in(session, e.source_id, invoice_ids),
                   ln.account_id == accounts.key("unbilled_revenue"))):
        out[inv_id][product_id] += amount
    return out


def accrual_drafts(session: Session, invoices: list[Invoice], targets: dict[int, dict[int | None, Decimal]],
                   accounts: Chart, *, when: date | None = None) -> list[Draft]:
    """Entries bringing each invoice's accrued Unbilled Revenue to ``targets`` (Dr Unbilled, Cr revenue — or
    back), dated the last day of the invoice's service period (``when`` overrides)."""
    from datetime import timedelta

    wanted = {inv.id: targets.get(inv.id, {}) for inv in invoices}
    have = accrued_by_invoice(session, list(wanted), accounts)
    products = {}
    ids = sorted({pid for t in list(wanted.values()) + list(have.values()) for pid in t if pid})
    if ids:
        products = {p.id: p for p in session.exec(select(Product).where(Product.id.in_(ids)))}
    out = []
    unbilled = accounts.key("unbilled_revenue")
    for inv in invoices:
        deltas = {pid: wanted[inv.id].get(pid, ZERO) - have.get(inv.id, {}).get(pid, ZERO)
                  for pid in set(wanted[inv.id]) | set(have.get(inv.id, {}))}
        deltas = {pid: v for pid, v in deltas.items() if v}
        if not deltas:
            continue
        day = when or (inv.period_end - timedelta(days=1))
        d = Draft(entity_id=inv.entity_id, entry_date=day, memo=f"Usage delivered, not yet invoiced: {_label(inv)}",
                  source_type="unbilled", source_id=inv.id,
                  source_key=f"unbilled:{inv.id}:{uuid4().hex[:12]}")
        for pid, v in sorted(deltas.items(), key=lambda kv: kv[0] or 0):
            d.debit(unbilled, inv.currency, v, description=f"{_label(inv)} usage", customer_id=inv.customer_id,
                    product_id=pid)
            d.credit(accounts.revenue_account(products.get(pid)), inv.currency, v,
                     description=f"{_label(inv)} usage", customer_id=inv.customer_id, product_id=pid)
        out.append(d)
    return out


def payment_entry(session: Session, payment: Payment, allocations: dict[int, Decimal], *, posted_by: str) -> None:
    """Money received: Cash (or the gateway's clearing account) against AR per invoice and the wallet."""
    accounts = chart(session)
    code = payment.currency
    cash = accounts.key("gateway_clearing" if payment.provider else "cash")
    d = Draft(entity_id=payment.entity_id, entry_date=payment.received_on,
              memo=f"Payment #{payment.id}" + (f" ({payment.reference})" if payment.reference else ""),
              source_type="payment", source_id=payment.id, source_key=f"payment:{payment.id}")
    d.debit(cash, code, payment.amount, description=f"{payment.method} {payment.reference}".strip(),
            customer_id=payment.customer_id)
    numbers = dict(session.exec(select(Invoice.id, Invoice.number).where(Invoice.id.in_(list(allocations)))).all()) \
        if allocations else {}
    for inv_id, part in allocations.items():
        d.credit(accounts.key("accounts_receivable"), code, part, description=f"Paid on {numbers.get(inv_id) or inv_id}",
                 customer_id=payment.customer_id, invoice_id=inv_id)
    d.credit(accounts.key("customer_wallet"), code, payment.unallocated, description="Not allocated: to the wallet",
             customer_id=payment.customer_id)
    post(session, d, posted_by=posted_by)


def credit_note_entry(session: Session, note: CreditNote, inv: Invoice, *, posted_by: str) -> None:
    """A credit note: what it credits comes off revenue (Sales Returns) or, for deferred lines not yet
    recognised, off Deferred Revenue (and their schedules); its tax off Sales Tax Payable. It clears what was
    due (AR), and the excess goes where the note sent it: the wallet or a refund to pay out."""
    from core.ledger.recognition import reduce_for_credit

    accounts = chart(session)
    code = note.currency
    returns, deferred = accounts.key("sales_returns"), accounts.key("deferred_revenue")
    who = {"customer_id": note.customer_id, "invoice_id": inv.id}
    d = Draft(entity_id=note.entity_id, entry_date=note.issue_date, memo=f"Credit note {note.number} on {_label(inv)}",
              source_type="credit_note", source_id=note.id, source_key=f"credit_note:{note.id}")
    lines = list(session.exec(select(CreditNoteLine, InvoiceLine)
                              .join(InvoiceLine, InvoiceLine.id == CreditNoteLine.invoice_line_id, isouter=True)
                              .where(CreditNoteLine.credit_note_id == note.id).order_by(CreditNoteLine.id)))
    schedules = {s.invoice_line_id: s for s in session.exec(
        select(RevenueSchedule).where(RevenueSchedule.invoice_id == inv.id))}
    for cn_line, inv_line in lines:
        if inv_line is not None and inv_line.kind == "tax" or inv_line is None and cn_line.description == "Tax":
            d.debit(accounts.key("sales_tax"), code, cn_line.amount, description=cn_line.description, **who)
            continue
        amount = cn_line.amount
        if inv_line is None:  # a credit by amount: deferred lines take their share of it
            taken = ZERO
            for sched in schedules.values():
                if inv.subtotal > 0 and sched.total > 0:
                    share = min(round_money(amount * sched.total / inv.subtotal, code), amount - taken)
                    part = reduce_for_credit(session, sched.id, share)
                    d.debit(deferred, code, part, description=cn_line.description, product_id=sched.product_id,
                            **who)
                    taken += part
            d.debit(returns, code, amount - taken, description=cn_line.description, **who)
            continue
        sched = schedules.get(inv_line.id)
        if sched is None and inv_line.product_id:
            # a discounted deferred line's schedule hangs on the group's first line: same product and period
            sched = next((s for s in schedules.values() if s.product_id == inv_line.product_id
                          and s.service_start == inv_line.period_start), None)
        taken = reduce_for_credit(session, sched.id, amount) if sched is not None else ZERO
        d.debit(deferred, code, taken, description=cn_line.description, product_id=inv_line.product_id, **who)
        d.debit(returns, code, amount - taken, description=cn_line.description, product_id=inv_line.product_id,
                **who)
    d.credit(accounts.key("accounts_receivable"), code, note.applied, description=f"Credit note {note.number}", **who)
    d.credit(accounts.key("customer_wallet"), code, note.to_wallet, description=f"Credit note {note.number}: kept as "
             "credit", customer_id=note.customer_id)
    d.credit(accounts.key("refunds_payable"), code, note.refunded, description=f"Credit note {note.number}: to refund",
             customer_id=note.customer_id)
    post(session, d, posted_by=posted_by)


def refund_entry(session: Session, refund: Refund, *, posted_by: str, entity_id: int | None = None,
                 provider: str = "", undo: bool = False, on: date | None = None) -> None:
    """A refund paid out (on the day ``on``, default today): Refunds Payable against Cash (or the gateway's
    clearing account) — or, ``undo``, a refund that had succeeded and then failed at the provider: the money is
    owed to the customer again."""
    from core.models import Customer, utcnow

    accounts = chart(session)
    if entity_id is None:
        entity_id = session.get(Customer, refund.customer_id).entity_id
    n = len(session.exec(select(JournalEntry.id).where(JournalEntry.source_type == "refund",
                                                       JournalEntry.source_id == refund.id)).all())
    d = Draft(entity_id=entity_id, entry_date=on or utcnow().date(),
              memo=f"Refund #{refund.id} " + ("failed after it was paid out" if undo else "paid out"),
              source_type="refund", source_id=refund.id, source_key=f"refund:{refund.id}:{n}")
    paid = accounts.key("gateway_clearing" if provider else "cash")
    owed = accounts.key("refunds_payable")
    debit, credit = (paid, owed) if undo else (owed, paid)
    d.debit(debit, refund.currency, refund.amount, description=f"Refund #{refund.id} ({refund.method})",
            customer_id=refund.customer_id)
    d.credit(credit, refund.currency, refund.amount, description=f"Refund #{refund.id} ({refund.method})",
             customer_id=refund.customer_id)
    post(session, d, posted_by=posted_by)


def wallet_credit_entry(session: Session, entry: WalletEntry, *, entity_id: int, posted_by: str) -> None:
    """Credit put in a wallet by hand: prepaid credit is money received (Cash); a grant is a cost (Promotional
    Credits). Wallet credit from payments and credit notes is posted by those events."""
    accounts = chart(session)
    source = accounts.key("cash" if entry.kind == "prepaid" else "promotional_credits")
    d = Draft(entity_id=entity_id, entry_date=entry.effective_date,
              memo=f"Wallet credit ({entry.kind})" + (f": {entry.note}" if entry.note else ""),
              source_type="wallet", source_id=entry.id, source_key=f"wallet:{entry.id}")
    d.debit(source, entry.currency, entry.amount, description=entry.note, customer_id=entry.customer_id)
    d.credit(accounts.key("customer_wallet"), entry.currency, entry.amount, description=entry.note,
             customer_id=entry.customer_id)
    post(session, d, posted_by=posted_by)


def accrue_drafts(session: Session, *, through: date, posted_by: str, accounts: Chart | None = None) -> int:
    """Usage delivered but not invoiced yet: for every draft whose service period ended on or before
    ``through``, accrue its usage revenue (unbilled-policy products) — or true up what was accrued before the
    draft was regenerated. Returns the number of entries posted."""
    from datetime import timedelta

    accounts = accounts or chart(session)
    drafts = list(session.exec(select(Invoice).where(Invoice.status == "draft",
                                                     Invoice.period_end <= through + timedelta(days=1))))
    entries = accrual_drafts(session, drafts, unbilled_by_invoice(session, [i.id for i in drafts]), accounts)
    return len(post_many(session, entries, posted_by=posted_by, accounts=accounts))


def release_draft(session: Session, inv: Invoice, *, posted_by: str) -> None:
    """A draft is deleted: take back what was accrued for it (dated today)."""
    from core.models import utcnow

    accounts = chart(session)
    post_many(session, accrual_drafts(session, [inv], {}, accounts, when=utcnow().date()), posted_by=posted_by,
              accounts=accounts)
