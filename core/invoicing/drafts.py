"""Editing a draft by hand, and one-off invoices outside any contract.

Only drafts change; an approved invoice is corrected with a credit note. A person can change a line's
description, quantity and unit price (or its amount), remove a line, and add one-off lines; every change is
audited with the values before and after, and the line remembers who changed it. After each change the draft's
totals are recomputed: subtotal = the lines before tax; tax = the customer's rate on that subtotal (from the tax
table; a tax quoted by a provider is scaled with the subtotal); prepaid credit applied never more than the total.
Discount, credit and minimum-commitment lines are amounts like any other: they are not recalculated from the
edited lines — edit them too, or regenerate the draft (which recomputes everything from the contract and the
usage and drops the manual changes).
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import func
from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.billing.periods import add_months
from core.errors import NotFound, UserError
from core.models import BusinessEntity, Customer, Invoice, InvoiceLine, utcnow
from core.money import HUNDRED, ZERO, MoneyError, currency, format_money, round_money, to_decimal

TOTAL_KINDS = ("tax", "wallet")
MAX_LINES = 500


def _draft(session: Session, invoice_id: int) -> Invoice:
    inv = session.exec(select(Invoice).where(Invoice.id == invoice_id).with_for_update()).first()
    if inv is None:
        raise NotFound(f"there is no invoice #{invoice_id}")
    if inv.status != "draft":
        raise UserError(f"invoice {inv.number} is {inv.status.replace('_', ' ')}: only drafts can be edited; "
                        "correct an approved invoice with a credit note")
    return inv


def _number(value, what: str, *, money_code: str | None = None, positive: bool = False):  # noqa: ANN001, ANN202
    try:
        d = to_decimal(value, field=what)
    except MoneyError as exc:
        raise UserError(str(exc)) from None
    if money_code and d != round_money(d, money_code):
        raise UserError(f"{what}: {value} has more decimals than {money_code} allows "
                        f"({currency(money_code).minor_units})")
    if positive and d < 0:
        raise UserError(f"{what}: cannot be negative")
    return d


def _recompute(session: Session, inv: Invoice) -> None:
    from core import tax as taxes

    lines = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == inv.id)).all()
    code = inv.currency
    subtotal = sum((ln.amount for ln in lines if ln.kind not in TOTAL_KINDS), ZERO)
    tax_lines = [ln for ln in lines if ln.kind == "tax"]
    tax = ZERO
    if tax_lines:
        cust = session.get(Customer, inv.customer_id)
        rule = taxes.rates_for(session, [cust]).get(cust.id)
        old_subtotal = inv.subtotal
        for ln in tax_lines:
            if rule is not None and rule.exempt:
                new = ZERO
            elif rule is not None and rule.percent is not None and len(tax_lines) == 1:
                new = round_money(subtotal * rule.percent / HUNDRED, code)
            else:  # a provider's quote, or several taxes: scale with the subtotal
                new = round_money(ln.amount * subtotal / old_subtotal, code) if old_subtotal else ZERO
            if new != ln.amount:
                ln.breakdown = f"{ln.breakdown} — recomputed on {format_money(subtotal, code)} after a manual edit" \
                    if "recomputed" not in ln.breakdown else ln.breakdown
                ln.amount = new
                session.add(ln)
            tax += new
    total = subtotal + tax
    credits = min(inv.credits_applied, max(total, ZERO))
    for ln in lines:
        if ln.kind == "wallet" and ln.amount != -credits:
            ln.amount = -credits
            session.add(ln)
    inv.subtotal, inv.tax, inv.total, inv.credits_applied = subtotal, tax, total, credits
    session.add(inv)
    session.flush()


def edit_draft_line(session: Session, actor: Actor, line_id: int, *, description: str | None = None,
                    quantity=None, unit_price=None, amount=None) -> InvoiceLine:
    """Change one line of a draft: its words, and either quantity × unit price or the amount itself."""
    require(actor, "invoices:write")
    ln = session.get(InvoiceLine, line_id)
    if ln is None:
        raise NotFound(f"there is no invoice line #{line_id}")
    inv = _draft(session, ln.invoice_id)
    if ln.kind in TOTAL_KINDS:
        raise UserError(f"“{ln.description}” is computed from the other lines; change those instead")
    code = inv.currency
    before = {"description": ln.description, "quantity": ln.quantity, "amount": ln.amount}
    if description is not None:
        text = description.strip()
        if not text:
            raise UserError("description: a line needs a description")
        if len(text) > 300:
            raise UserError("description: at most 300 characters")
        ln.description = text
    if unit_price is not None:
        qty = _number(quantity if quantity is not None else ln.quantity, "quantity", positive=True)
        price = _number(unit_price, "unit price")
        ln.quantity, ln.amount = qty, round_money(qty * price, code)
        ln.breakdown = f"{qty.normalize():,f} × {format_money(price, code, precise=True)} (edited by hand)"
    elif amount is not None:
        ln.amount = _number(amount, "amount", money_code=code)
        if quantity is not None:
            ln.quantity = _number(quantity, "quantity", positive=True)
        ln.breakdown = f"{format_money(ln.amount, code)} (edited by hand)"
    elif quantity is not None:
        raise UserError("unit price: give the unit price with the quantity (or set the amount)")
    ln.edited_by = actor.username
    session.add(ln)
    total_before = inv.total
    _recompute(session, inv)
    audit.record(session, actor=actor.username, action="invoice.line_edit", entity_type="invoice", entity_id=inv.id,
                 details={"line": ln.id, "before": before,
                          "after": {"description": ln.description, "quantity": ln.quantity, "amount": ln.amount},
                          "total_before": total_before, "total": inv.total})
    return ln


def add_draft_line(session: Session, actor: Actor, invoice_id: int, *, description: str, quantity="1",
                   unit_price) -> InvoiceLine:
    """A one-off line on a draft (a setup fee, a correction): quantity × unit price, before tax."""
    require(actor, "invoices:write")
    inv = _draft(session, invoice_id)
    text = (description or "").strip()
    if not text:
        raise UserError("description: a line needs a description")
    if len(text) > 300:
        raise UserError("description: at most 300 characters")
    qty = _number(quantity, "quantity", positive=True)
    price = _number(unit_price, "unit price")
    count = session.exec(select(func.count()).select_from(InvoiceLine)
                         .where(InvoiceLine.invoice_id == inv.id)).one()
    if count >= MAX_LINES:
        raise UserError(f"an invoice holds at most {MAX_LINES} lines")
    last = session.exec(select(func.max(InvoiceLine.sort_order)).where(
        InvoiceLine.invoice_id == inv.id, InvoiceLine.kind.not_in(TOTAL_KINDS))).one() or 0
    for ln in session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == inv.id,
                                                     InvoiceLine.kind.in_(TOTAL_KINDS))):
        ln.sort_order += 1  # tax and wallet stay last
        session.add(ln)
    ln = InvoiceLine(invoice_id=inv.id, kind="manual", description=text, quantity=qty,
                     amount=round_money(qty * price, inv.currency),
                     breakdown=f"{qty.normalize():,f} × {format_money(price, inv.currency, precise=True)} "
                               "(added by hand)",
                     period_start=inv.period_start, period_end=inv.period_end, sort_order=last + 1,
                     edited_by=actor.username)
    session.add(ln)
    session.flush()
    total_before = inv.total
    _recompute(session, inv)
    audit.record(session, actor=actor.username, action="invoice.line_add", entity_type="invoice", entity_id=inv.id,
                 details={"line": ln.id, "description": text, "quantity": qty, "amount": ln.amount,
                          "total_before": total_before, "total": inv.total})
    return ln


def delete_draft_line(session: Session, actor: Actor, line_id: int) -> None:
    require(actor, "invoices:write")
    ln = session.get(InvoiceLine, line_id)
    if ln is None:
        raise NotFound(f"there is no invoice line #{line_id}")
    inv = _draft(session, ln.invoice_id)
    if ln.kind in TOTAL_KINDS:
        raise UserError(f"“{ln.description}” is computed from the other lines; it cannot be removed")
    details = {"line": ln.id, "description": ln.description, "amount": ln.amount, "total_before": inv.total}
    session.delete(ln)
    session.flush()
    _recompute(session, inv)
    audit.record(session, actor=actor.username, action="invoice.line_delete", entity_type="invoice",
                 entity_id=inv.id, details={**details, "total": inv.total})


def create_one_off_invoice(session: Session, actor: Actor, *, customer_id: int, lines: list[dict],
                           currency_code: str | None = None, issue_date: date | None = None,
                           period_start: date | None = None, period_end: date | None = None) -> Invoice:
    """A draft invoice outside any contract (a setup fee, consulting days): ``lines`` of
    {description, quantity, unit_price}; tax from the customer's rate; due per the customer's payment terms."""
    require(actor, "invoices:write")
    from core import tax as taxes
    from core.billing.terms import due_date

    cust = session.get(Customer, customer_id)
    if cust is None:
        raise NotFound(f"there is no customer #{customer_id}")
    code = (currency_code or cust.currency).upper()
    try:
        currency(code)
    except MoneyError as exc:
        raise UserError(str(exc)) from None
    if not lines:
        raise UserError("lines: add at least one line")
    issued = issue_date or utcnow().date()
    start = period_start or issued.replace(day=1)
    end = period_end or add_months(start, 1)
    if end <= start:
        raise UserError("service period: the end must be after the start")
    priced = []
    for n, spec in enumerate(lines, start=1):
        text = str(spec.get("description") or "").strip()
        if not text:
            raise UserError(f"line {n}: a line needs a description")
        qty = _number(spec.get("quantity", "1"), f"line {n} quantity", positive=True)
        price = _number(spec.get("unit_price"), f"line {n} unit price")
        priced.append((text, qty, price, round_money(qty * price, code)))
    subtotal = sum((p[3] for p in priced), ZERO)
    rule = taxes.rates_for(session, [cust]).get(cust.id)
    tax = round_money(subtotal * rule.percent / HUNDRED, code) if rule is not None and rule.percent is not None \
        and not rule.exempt else ZERO
    entity = session.get(BusinessEntity, cust.entity_id)
    inv = Invoice(entity_id=entity.id, customer_id=cust.id, contract_id=None, run_key=None, currency=code,
                  period_start=start, period_end=end, issue_date=issued,
                  due_date=due_date(issued, cust.payment_terms_days or 0), subtotal=subtotal, tax=tax,
                  total=subtotal + tax)
    session.add(inv)
    session.flush()
    rows = [InvoiceLine(invoice_id=inv.id, kind="manual", description=text, quantity=qty, amount=amount,
                        breakdown=f"{qty.normalize():,f} × {format_money(price, code, precise=True)}",
                        period_start=start, period_end=end, sort_order=i, edited_by=actor.username)
            for i, (text, qty, price, amount) in enumerate(priced)]
    if rule is not None and (tax or rule.exempt):
        rows.append(InvoiceLine(invoice_id=inv.id, kind="tax", description=rule.name if not rule.exempt else
                                "Tax exempt", amount=tax, period_start=start, period_end=end,
                                sort_order=len(priced),
                                breakdown=f"{rule.percent.normalize():f}% of {format_money(subtotal, code)}"
                                if rule.percent is not None and not rule.exempt else rule.note))
    session.add_all(rows)
    session.flush()
    audit.record(session, actor=actor.username, action="invoice.one_off", entity_type="invoice", entity_id=inv.id,
                 details={"customer": cust.external_id, "lines": len(priced), "total": inv.total, "currency": code})
    return inv
