"""The monthly figures written at approval (billed_month, core/analytics/facts.py) give the same MRR and usage
charges as the invoice lines they come from: checked against a computation straight from the lines, written here
the plain way, after approvals over several months with monthly, quarterly and yearly charges, one-time fees,
usage, a discount, a void invoice, a write-off and payments; and ``rebuild`` (what the migration ran for invoices
approved before the table existed) writes exactly what the approvals wrote. Runs on SQLite and PostgreSQL."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlmodel import select

from core.analytics import facts, mrr
from core.analytics.scope import Scope
from core.auth import SYSTEM
from core.billing.contracts import LineSpec
from core.billing.periods import add_months
from core.invoicing import credit_notes, payments
from core.invoicing.service import approve_invoices, generate_drafts
from core.invoicing.write_offs import write_off
from core.models import BilledMonth, ContractLine, Customer, Invoice, InvoiceLine
from tests.db import factories as f

D = Decimal
BILLED = ("approved", "partially_paid", "paid", "written_off")


def month(d: date) -> int:
    return d.year * 12 + d.month - 1


def reference_mrr(session) -> dict[int, dict[int, Decimal]]:
    """customer → month → MRR, from the invoice lines: recurring (not metered, not one-time) fixed, adjustment
    and discount lines of billed invoices, each period's amount spread evenly over its months."""
    out: dict[int, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for ln, inv, cl in session.exec(select(InvoiceLine, Invoice, ContractLine)
                                    .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                                    .join(ContractLine, ContractLine.id == InvoiceLine.contract_line_id)):
        if inv.status not in BILLED or ln.kind not in ("fixed", "adjustment", "discount"):
            continue
        if cl.metric_id is not None or cl.cadence == "one_time":
            continue
        s = month(ln.period_start)
        n = max(1, month(ln.period_end) - s)
        for m in range(s, s + n):
            out[inv.customer_id][m] += ln.amount / n
    return {c: {m: v for m, v in ms.items() if v > 0} for c, ms in out.items()}


def reference_usage(session) -> dict[date, Decimal]:
    out: dict[date, Decimal] = defaultdict(Decimal)
    for ln, inv in session.exec(select(InvoiceLine, Invoice).join(Invoice, Invoice.id == InvoiceLine.invoice_id)):
        if inv.status in BILLED and ln.kind == "usage":
            out[ln.period_start.replace(day=1)] += ln.amount
    return {m: v for m, v in out.items() if v}


def rows(session) -> list[tuple]:
    return sorted(session.exec(select(BilledMonth.invoice_id, BilledMonth.customer_id, BilledMonth.entity_id,
                                      BilledMonth.currency, BilledMonth.kind, BilledMonth.month,
                                      BilledMonth.amount)).all())


@pytest.fixture
def billed(session):
    """Seven months of bill runs (Dec 2024 – Jun 2025), every one approved, over charges of every shape."""
    f.seller(session)
    f.metric(session, "calls", "api_call")
    for ext in ("MON", "QTR", "YEAR", "USE", "ONCE", "DISC", "VOID", "WOFF"):
        f.customer(session, ext)
    start = date(2025, 1, 1)
    fee = {"amount": "100"}
    f.contract(session, "MON", [LineSpec("Seat", "flat_fee", {"amount": "99.99"}, cadence="monthly",
                                         timing="arrears")], start=start)
    f.contract(session, "QTR", [LineSpec("Support", "flat_fee", {"amount": "300"}, cadence="quarterly",
                                         timing="advance")], start=start)
    f.contract(session, "YEAR", [LineSpec("Licence", "flat_fee", {"amount": "1000"}, cadence="yearly",
                                          timing="advance")], start=date(2025, 2, 1))
    f.contract(session, "USE", [LineSpec("Base", "flat_fee", fee, cadence="monthly", timing="arrears"),
                                LineSpec("Calls", "per_unit", {"unit_price": "0.25"}, metric_code="calls")],
               start=start)
    f.contract(session, "ONCE", [LineSpec("Setup", "flat_fee", {"amount": "500"}, cadence="one_time"),
                                 LineSpec("Base", "flat_fee", fee, cadence="monthly", timing="arrears")], start=start)
    f.contract(session, "DISC", [LineSpec("Base", "flat_fee", {"amount": "200"}, cadence="monthly",
                                          timing="arrears",
                                          modifiers={"discounts": [{"type": "percent", "value": "15"}]})],
               start=start)
    for ext in ("VOID", "WOFF"):
        f.contract(session, ext, [LineSpec("Base", "flat_fee", fee, cadence="monthly", timing="arrears")],
                   start=start)
    for k in range(6):
        f.events(session, "USE", "api_call", [10 * (k + 1), 7], when=datetime(2025, 1 + k, 12))
    for k in range(7):
        s = add_months(date(2024, 12, 1), k)
        created = generate_drafts(session, SYSTEM, period_start=s, period_end=add_months(s, 1)).created
        approve_invoices(session, SYSTEM, list(created))
    by = {c.external_id: c.id for c in session.exec(select(Customer))}
    march = {i.customer_id: i for i in session.exec(select(Invoice).where(Invoice.period_start == date(2025, 3, 1)))}
    void = march[by["VOID"]]
    credit_notes.issue_credit_note(session, SYSTEM, void.id, reason="Billed by mistake", amount=str(void.total))
    woff = march[by["WOFF"]]
    write_off(session, SYSTEM, woff.id, reason="Customer went bankrupt")
    mon = march[by["MON"]]
    payments.record_payment(session, SYSTEM, customer_id=mon.customer_id, currency_code="USD", amount="50",
                            method="bank_transfer", received_on=date(2025, 4, 20), allocations={mon.id: "50"})
    session.flush()
    return by


def test_mrr_and_usage_from_the_figures_written_at_approval_match_the_invoice_lines(session, billed):
    scope = Scope(date(2024, 12, 1), date(2026, 1, 31), "USD")
    through = mrr.complete_through(session, scope)
    assert through == month(date(2025, 6, 1))
    got = {c: {m: mrr._money(v) for m, v in ms.items()}
           for c, ms in mrr.customer_mrr(session, scope, through).items()}
    want = {c: {m: v for m, v in ms.items() if m <= through} for c, ms in reference_mrr(session).items()}
    assert got == {c: ms for c, ms in want.items() if ms}
    # what a reader would see: the void March invoice is gone from MRR, the written-off one still counts
    assert month(date(2025, 3, 1)) not in got[billed["VOID"]] and month(date(2025, 3, 1)) in got[billed["WOFF"]]
    assert got[billed["YEAR"]][month(date(2025, 5, 1))] == D(1000) / 12  # a yearly fee spread over 12 months
    assert got[billed["DISC"]][month(date(2025, 1, 1))] == D(170)  # after its 15 % line discount
    assert got[billed["ONCE"]][month(date(2025, 1, 1))] == D(100)  # the $500 setup fee is not MRR
    usage = mrr.usage_by_month(session, scope)
    assert usage == reference_usage(session)
    assert usage[date(2025, 2, 1)] == D("6.75")  # (20 + 7) calls × $0.25


def test_rebuild_writes_what_the_approvals_wrote(session, billed):
    written = rows(session)
    assert written and {r[4] for r in written} == {"mrr", "usage"}
    assert facts.rebuild(session) == len(written)
    assert rows(session) == written


def test_a_draft_writes_nothing_until_it_is_approved(session):
    f.seller(session)
    f.customer(session, "D")
    f.contract(session, "D", [LineSpec("Base", "flat_fee", {"amount": "10"}, cadence="monthly", timing="arrears")],
               start=date(2025, 1, 1))
    created = generate_drafts(session, SYSTEM, period_start=date(2025, 1, 1), period_end=date(2025, 2, 1)).created
    assert rows(session) == []
    approve_invoices(session, SYSTEM, list(created))
    assert [(r[4], r[5], mrr._money(r[6])) for r in rows(session)] == [("mrr", month(date(2025, 1, 1)), D(10))]
