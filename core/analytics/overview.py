"""The pilot at a glance: the counts the Overview page shows, and what to do next.

A handful of COUNT/SUM queries (money sums run on the scaled-integer columns, so they are exact).
The billing month is the last complete calendar month — the month the Invoices page generates by default.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import or_
from sqlmodel import Session, func, select

from core.billing.periods import add_months, format_period, month_period
from core.models import BusinessEntity, Contract, ContractLine, Customer, Invoice, UsageEvent

APPROVED_STATES = ("approved", "partially_paid", "paid", "written_off")


def billing_month(today: date | None = None) -> tuple[date, date]:
    """The last complete calendar month: [first day, first day of the next month)."""
    first = add_months((today or date.today()).replace(day=1), -1)
    return month_period(first.year, first.month)


@dataclass(frozen=True)
class NextStep:
    """One piece of guidance: what to do, and which page does it (a page file name such as 'invoices')."""

    text: str
    page: str
    link_label: str


@dataclass
class Overview:
    period_start: date
    period_end: date
    sellers: int = 0  # business entities
    customers: int = 0
    customers_without_contract: int = 0
    active_contracts: int = 0
    contracts_not_invoiced: int = 0  # active in the billing month, no invoice for it yet
    usage_events: int = 0  # in the billing month
    drafts: int = 0
    drafts_in_period: int = 0
    draft_totals: dict[str, Decimal] = field(default_factory=dict)  # currency -> total
    approved: int = 0
    approved_totals: dict[str, Decimal] = field(default_factory=dict)
    overdue: int = 0

    @property
    def period_label(self) -> str:
        return format_period(self.period_start, self.period_end)

    def next_steps(self) -> list[NextStep]:
        month = self.period_label
        steps: list[NextStep] = []
        if self.sellers == 0:  # customers, contracts and invoices all belong to a seller: nothing works before it
            return [NextStep("Nothing is set up yet: start with your company (the seller on the invoices) — the first "
                             "invoice guide walks you from there to a first approved invoice.", "get_started",
                             "First invoice guide")]
        if self.customers == 0:
            steps.append(NextStep("No customers yet: add them one by one or import a spreadsheet.",
                                  "customers", "Customers"))
        elif self.customers_without_contract:
            n = self.customers_without_contract
            steps.append(NextStep(f"{_n(n, 'customer has', 'customers have')} no active contract yet: "
                                  "set up what they pay.", "contracts", "Contracts"))
        if self.active_contracts and self.usage_events == 0:
            steps.append(NextStep(f"No usage has been recorded for {month}: upload the usage file before "
                                  "generating invoices.", "usage", "Usage"))
        if self.contracts_not_invoiced:
            n = self.contracts_not_invoiced
            steps.append(NextStep(f"{_n(n, 'contract has', 'contracts have')} no invoice for {month} yet: "
                                  "generate the drafts.", "invoices", "Invoices"))
        if self.drafts_in_period:
            n = self.drafts_in_period
            verb = "is" if n == 1 else "are"
            steps.append(NextStep(f"{_n(n, 'draft invoice', 'draft invoices')} for {month} {verb} waiting for "
                                  "review and approval.", "invoices", "Invoices"))
        older = self.drafts - self.drafts_in_period
        if older > 0:
            steps.append(NextStep(f"{_n(older, 'older draft invoice', 'older draft invoices')} from other months "
                                  f"{'is' if older == 1 else 'are'} still not approved.", "invoices", "Invoices"))
        if self.overdue:
            steps.append(NextStep(f"{_n(self.overdue, 'approved invoice is', 'approved invoices are')} past the due "
                                  "date and not fully paid.", "invoices", "Invoices"))
        return steps


def _n(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def _totals(session: Session, *statuses: str) -> tuple[int, dict[str, Decimal]]:
    rows = session.exec(select(Invoice.currency, func.count(), func.sum(Invoice.total))
                        .where(Invoice.status.in_(statuses)).group_by(Invoice.currency)).all()
    count = sum(int(n) for _, n, _ in rows)
    return count, {cur: Decimal(total or 0) for cur, _, total in rows}


def pilot_overview(session: Session, *, today: date | None = None) -> Overview:
    today = today or date.today()
    start, end = billing_month(today)
    ov = Overview(period_start=start, period_end=end)
    ov.sellers = session.exec(select(func.count()).select_from(BusinessEntity)).one()
    ov.customers = session.exec(select(func.count()).select_from(Customer)
                                .where(Customer.archived == False)).one()  # noqa: E712
    active_now = (Contract.status == "active", Contract.start_date <= today,
                  or_(Contract.end_date.is_(None), Contract.end_date > today))
    ov.active_contracts = session.exec(select(func.count()).select_from(Contract).where(*active_now)).one()
    with_contract = select(Contract.customer_id).where(*active_now)
    ov.customers_without_contract = session.exec(
        select(func.count()).select_from(Customer).where(Customer.archived == False,  # noqa: E712
                                                         Customer.id.not_in(with_contract))).one()
    invoiced = select(Invoice.contract_id).where(Invoice.period_start == start, Invoice.period_end == end,
                                                 Invoice.contract_id.is_not(None))
    ov.contracts_not_invoiced = session.exec(
        select(func.count()).select_from(Contract).where(
            Contract.status == "active", Contract.start_date < end,
            or_(Contract.end_date.is_(None), Contract.end_date > start), Contract.id.not_in(invoiced))).one()
    ov.usage_events = session.exec(
        select(func.count()).select_from(UsageEvent).where(
            UsageEvent.timestamp >= datetime.combine(start, time.min),
            UsageEvent.timestamp < datetime.combine(end, time.min))).one()
    ov.drafts, ov.draft_totals = _totals(session, "draft")
    ov.drafts_in_period = session.exec(
        select(func.count()).select_from(Invoice).where(Invoice.status == "draft", Invoice.period_start == start,
                                                         Invoice.period_end == end)).one()
    ov.approved, ov.approved_totals = _totals(session, *APPROVED_STATES)
    ov.overdue = session.exec(
        select(func.count()).select_from(Invoice).where(Invoice.status.in_(("approved", "partially_paid")),
                                                         Invoice.due_date < today,
                                                         Invoice.total > Invoice.amount_paid)).one()
    return ov


def contract_line_counts(session: Session) -> dict[int, int]:
    """contract id -> number of lines, in one query (for the contracts list)."""
    return dict(session.exec(select(ContractLine.contract_id, func.count())
                             .group_by(ContractLine.contract_id)).all())


def invoice_months(session: Session) -> list[date]:
    """First days of the periods that have invoices, newest first (for month pickers)."""
    return sorted(set(session.exec(select(Invoice.period_start).distinct()).all()), reverse=True)


def contract_rows(session: Session, *, customer_id: int | None = None, contract_id: int | None = None,
                  limit: int = 500, offset: int = 0):  # noqa: ANN201
    """One page of the contracts list as light rows (id, customer_id, customer, name, currency, start_date,
    end_date, status), in contract id order, each with its number of lines — three queries, however many
    contracts there are. Returns ([(row, lines)], how many contracts match)."""
    where = [] if customer_id is None else [Contract.customer_id == customer_id]
    if contract_id is not None:
        where.append(Contract.id == contract_id)
    total = session.exec(select(func.count()).select_from(Contract).where(*where)).one()
    page = (select(Contract.id, Contract.customer_id, Customer.name.label("customer"), Contract.name,
                   Contract.currency, Contract.start_date, Contract.end_date, Contract.status)
            .join(Customer, Customer.id == Contract.customer_id).where(*where)
            .order_by(Contract.id).limit(limit).offset(offset))
    rows = list(session.connection().execute(page))
    ids = [r.id for r in rows]
    counts = dict(session.exec(select(ContractLine.contract_id, func.count()).where(
        ContractLine.contract_id.in_(ids)).group_by(ContractLine.contract_id)).all()) if ids else {}
    return [(r, counts.get(r.id, 0)) for r in rows], int(total)


def usage_fingerprint(session: Session) -> int:
    """The highest stored event id: it grows with every event stored (events are only ever added — nothing in
    the app changes or deletes one), so a page may keep an aggregation of stored events under it and never
    show one the events no longer give. One index lookup."""
    return int(session.exec(select(func.max(UsageEvent.id))).one() or 0)
