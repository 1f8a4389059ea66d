"""Invoices, credit notes and payments in the API. Money travels as strings, exact ("1200.50"), never floats."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from api.common import Amount, Day, In, MAX_ID, UtcTime, money

Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class GenerateIn(In):
    period_start: Day = Field(description="The billing run's month: its first day (2026-01-01).")
    period_end: Day = Field(description="Exclusive: the first day of the next month (2026-02-01).")
    contract_ids: list[Id] | None = Field(default=None, max_length=10_000, description="Only these contracts.")
    issue_date: Day | None = None


class GenerateOut(BaseModel):
    created: list[int] = Field(description="Ids of the draft invoices created.")
    skipped_existing: int = Field(description="Contracts whose invoice for the period already existed (kept).")
    contracts_considered: int
    totals: dict[str, str] = Field(description="currency -> total of the drafts created.")
    summary: str


class InvoiceLineOut(BaseModel):
    id: int
    kind: str
    description: str
    quantity: str
    amount: str
    period_start: date
    period_end: date
    contract_id: int | None
    contract_line_id: int | None
    product_id: int | None
    indent: int


class InvoiceOut(BaseModel):
    id: int
    number: str | None = Field(description="Given at approval; null on a draft.")
    status: str = Field(description="draft, approved, partially_paid, paid, void or written_off.")
    customer_id: int
    customer_external_id: str
    contract_id: int | None
    currency: str
    period_start: date
    period_end: date
    issue_date: date
    due_date: date
    subtotal: str
    tax: str
    total: str
    credits_applied: str
    amount_paid: str
    amount_credited: str
    amount_written_off: str
    amount_due: str
    approved_at: UtcTime | None
    created_at: UtcTime
    lines: list[InvoiceLineOut] | None = Field(default=None, description="On a single invoice; null in lists.")


class CreditLineIn(In):
    invoice_line_id: Id
    amount: Amount = Field(description="Pre-tax amount credited on the line; its share of tax is added.")


class CreditNoteIn(In):
    reason: str = Field(min_length=1, max_length=500, description="Printed on the credit note.")
    lines: list[CreditLineIn] | None = Field(default=None, max_length=1000, description="Credit these lines …")
    amount: Amount | None = Field(default=None, description="… or this much of the invoice, tax included.")
    excess: Literal["wallet", "refund"] = Field(default="wallet", description="Beyond what is due (the invoice was "
                                                "paid): to the customer's wallet or refunded.")
    issue_date: Day | None = None


class VoidIn(In):
    reason: str = Field(min_length=1, max_length=500, description="Printed on the credit note.")
    excess: Literal["wallet", "refund"] = "wallet"


class CreditNoteLineOut(BaseModel):
    id: int
    invoice_line_id: int | None
    description: str
    quantity: str
    amount: str


class CreditNoteOut(BaseModel):
    id: int
    number: str
    invoice_id: int
    customer_id: int
    currency: str
    reason: str
    total: str
    applied: str = Field(description="Taken off the amount due.")
    to_wallet: str
    refunded: str
    issue_date: date
    created_at: UtcTime
    lines: list[CreditNoteLineOut] | None = None


class AllocationIn(In):
    invoice_id: Id
    amount: Amount


class PaymentIn(In):
    customer_id: Id
    currency: str = Field(min_length=3, max_length=3, examples=["USD"])
    amount: Amount
    method: Literal["bank_transfer", "cheque", "cash", "other"]
    received_on: Day
    reference: str = Field(default="", max_length=200)
    allocations: list[AllocationIn] | None = Field(default=None, max_length=1000, description="Which invoices it "
                                                   "pays; left out: the customer's open invoices, oldest due first. "
                                                   "What is not allocated goes to the customer's wallet.")


class AllocationOut(BaseModel):
    invoice_id: int
    amount: str


class PaymentOut(BaseModel):
    id: int
    customer_id: int
    currency: str
    amount: str
    method: str
    reference: str
    received_on: date
    status: str
    unallocated: str
    refunded: str
    created_at: UtcTime
    allocations: list[AllocationOut] | None = None


def invoice_out(inv, external_id: str, lines=None) -> InvoiceOut:  # noqa: ANN001
    from core.invoicing.service import amount_due

    code = inv.currency
    return InvoiceOut(
        id=inv.id, number=inv.number, status=inv.status, customer_id=inv.customer_id,
        customer_external_id=external_id, contract_id=inv.contract_id, currency=code,
        period_start=inv.period_start, period_end=inv.period_end, issue_date=inv.issue_date, due_date=inv.due_date,
        subtotal=money(inv.subtotal, code), tax=money(inv.tax, code), total=money(inv.total, code),
        credits_applied=money(inv.credits_applied, code), amount_paid=money(inv.amount_paid, code),
        amount_credited=money(inv.amount_credited, code), amount_written_off=money(inv.amount_written_off, code),
        amount_due=money(amount_due(inv), code), approved_at=inv.approved_at, created_at=inv.created_at,
        lines=None if lines is None else [
            InvoiceLineOut(id=ln.id, kind=ln.kind, description=ln.description, quantity=money(ln.quantity),
                           amount=money(ln.amount, code), period_start=ln.period_start, period_end=ln.period_end,
                           contract_id=ln.contract_id, contract_line_id=ln.contract_line_id,
                           product_id=ln.product_id, indent=ln.indent) for ln in lines])


def credit_note_out(cn, lines=None) -> CreditNoteOut:  # noqa: ANN001
    code = cn.currency
    return CreditNoteOut(
        id=cn.id, number=cn.number, invoice_id=cn.invoice_id, customer_id=cn.customer_id, currency=code,
        reason=cn.reason, total=money(cn.total, code), applied=money(cn.applied, code),
        to_wallet=money(cn.to_wallet, code), refunded=money(cn.refunded, code), issue_date=cn.issue_date,
        created_at=cn.created_at,
        lines=None if lines is None else [CreditNoteLineOut(id=ln.id, invoice_line_id=ln.invoice_line_id,
                                                            description=ln.description, quantity=money(ln.quantity),
                                                            amount=money(ln.amount, code)) for ln in lines])


def payment_out(p, allocations=None) -> PaymentOut:  # noqa: ANN001
    code = p.currency
    return PaymentOut(id=p.id, customer_id=p.customer_id, currency=code, amount=money(p.amount, code),
                      method=p.method, reference=p.reference or "", received_on=p.received_on, status=p.status,
                      unallocated=money(p.unallocated, code), refunded=money(p.refunded, code),
                      created_at=p.created_at,
                      allocations=None if allocations is None else [
                          AllocationOut(invoice_id=a.invoice_id, amount=money(a.amount, code)) for a in allocations])
