"""The Invoices page: every role can read it and sees only the actions it may take; the main path
(contract built in the builder → drafts generated → draft opened → approved → numbered) works as a user
drives it; bulk approval and deletion ask first; the Excel export is readable.

The demo has a past: July–September 2026 are approved (NW-000001 onwards), mostly paid, some overdue; October's
20 invoices are drafts. Expected counts, totals and the next invoice number are read straight from the tables
(not through the page's own queries), so these tests follow the demo data without trusting what they check."""
from __future__ import annotations

import importlib.util
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

# The builder steps live with the contracts page tests (pytest runs with --import-mode=importlib, so the
# sibling module is loaded by path rather than imported by name).
_spec = importlib.util.spec_from_file_location("_contract_steps", Path(__file__).with_name("test_contracts_page.py"))
_steps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_steps)
build_contract, no_exception, open_builder = _steps.build_contract, _steps.no_exception, _steps.open_builder
tables, texts = _steps.tables, _steps.texts

ROLES = ("admin", "finance", "ops", "sales", "viewer")
PAGE = "pages/invoices.py"
OCTOBER = date(2026, 10, 1)
DEMO_OCTOBER_TOTAL = "£588.62 and $16,705.96"  # the 20 demo drafts
SYMBOLS = {"GBP": "£", "USD": "$"}


def engine_for(db_url: str):
    from core.db import make_engine

    return make_engine(db_url)


def stored_invoices(db_url: str) -> list[dict]:
    """Every invoice as stored (the invoice table itself, not the page's list query), as plain dicts."""
    from core.db import session_scope
    from core.models import Invoice

    engine = engine_for(db_url)
    try:
        with session_scope(engine) as s:
            return [inv.model_dump() for inv in s.exec(select(Invoice).order_by(Invoice.id))]
    finally:
        engine.dispose()


def money_sums(invoices: list[dict], field: str = "total") -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for inv in invoices:
        sums[inv["currency"]] = sums.get(inv["currency"], Decimal(0)) + inv[field]
    return sums


def sums_text(sums: dict[str, Decimal]) -> str:
    """£588.62 and $16,705.96: a total per currency, in currency-code order, as the page writes them."""
    return " and ".join(f"{SYMBOLS[code]}{value:,.2f}" for code, value in sorted(sums.items()))


def open_past_due(invoices: list[dict], today: date) -> int:
    """Approved invoices not (fully) paid whose due date has passed: what the page flags as overdue."""
    return sum(inv["status"] in ("approved", "partially_paid") and inv["due_date"] < today for inv in invoices)


def next_number(db_url: str, ahead: int = 0) -> str:
    """The number the next approval gets: numbers are gapless per entity (the demo has one), so it follows the
    invoices already numbered (the demo's July–September are NW-000001 … NW-000055, then any one-off it approves)."""
    numbered = sum(inv["number"] is not None for inv in stored_invoices(db_url))
    return f"NW-{numbered + 1 + ahead:06d}"


def show_month(at: AppTest, month: date) -> AppTest:
    at.selectbox(key="invoices_f_month").set_value(month).run()
    no_exception(at)
    return at


@pytest.fixture
def pilot_customer(demo_db: str) -> int:
    """A new customer with 1,500 API requests in October 2026, created through the real services."""
    from core.auth import SYSTEM
    from core.customers import create_customer
    from core.db import session_scope
    from core.importers.usage import import_usage

    engine = engine_for(demo_db)
    try:
        with session_scope(engine) as s:
            cust = create_customer(s, SYSTEM, {"external_id": "PILOT-900", "name": "Pilot Test Co",
                                               "currency": "USD", "payment_terms_days": 30})
            csv = ("idempotency_key,customer_external_id,event_name,timestamp,quantity\n"
                   "t-1,PILOT-900,api_request,2026-10-10T09:00:00Z,1000\n"
                   "t-2,PILOT-900,api_request,2026-10-20T09:00:00Z,500\n").encode()
            assert import_usage(s, SYSTEM, csv, "usage.csv").ok
            return cust.id
    finally:
        engine.dispose()


def invoice_id(db_url: str, search: str = "", month: date | None = None) -> int:
    """The id of the first invoice the list shows for ``search`` and ``month`` (the page lists in the same order)."""
    from core.db import session_scope
    from core.invoicing.service import list_invoices

    engine = engine_for(db_url)
    try:
        with session_scope(engine) as s:
            return list_invoices(s, search=search, period_start=month)[0].id
    finally:
        engine.dispose()


def open_invoice(at: AppTest, inv_id: int) -> AppTest:
    picker = next(sb for sb in at.selectbox if sb.label == "Open an invoice")
    picker.set_value(inv_id).run()
    no_exception(at)
    return at


def open_invoices(at: AppTest) -> AppTest:
    at.switch_page(PAGE).run()
    no_exception(at)
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def labels(at: AppTest) -> list[str]:
    return [b.label for b in at.button]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_reads_invoices_and_sees_only_its_actions(open_page, demo_db, role):
    at = open_page(PAGE, role)
    no_exception(at)
    assert at.title[0].value == "Invoices"
    # unfiltered: every month's invoices (July–September's 55, October's 20 and any one-off the demo adds), their
    # total, and how many are overdue today (at least the 17 left unpaid of July–September)
    stored = stored_invoices(demo_db)
    overdue = open_past_due(stored, date.today())
    assert overdue > 0 and f"· **{overdue} overdue**" in texts(at)
    assert f"{len(stored)} invoices · total {sums_text(money_sums(stored))} · amount due" in texts(at)
    assert {"Draft", "Approved", "Paid", "Partially paid"} <= set(at.dataframe[0].value["Status"])
    show_month(at, OCTOBER)  # October 2026: the 20 drafts to review, none of them overdue
    assert f"20 invoices · total {DEMO_OCTOBER_TOTAL} · amount due {DEMO_OCTOBER_TOTAL}" in texts(at)
    assert "overdue**" not in texts(at)
    assert set(at.dataframe[0].value["Number"]) == {"Draft"}
    assert ("Generate drafts for" in " ".join(labels(at))) == (role in ("admin", "finance"))
    assert ("Approve the 20 listed drafts…" in labels(at)) == (role in ("admin", "finance"))
    open_invoice(at, invoice_id(demo_db, month=OCTOBER))
    no_exception(at)
    detail = texts(at)
    assert "Draft invoice for" in detail and "October 2026" in detail
    assert "1 Oct 2026 – 31 Oct 2026" in detail  # the period with its inclusive last day
    assert ("Approve" in labels(at)) == (role in ("admin", "finance"))
    assert ("Delete draft" in labels(at)) == (role in ("admin", "finance"))


def test_build_generate_open_approve(open_page, demo_db, pilot_customer):
    at = open_builder(open_page, "admin")
    at = build_contract(at, pilot_customer, "Pilot — Launch")
    assert "Pilot — Launch" in tables(at)

    at = open_invoices(at)
    at.selectbox(key="invoices_gen_month").set_value(OCTOBER)
    at.run()
    next(b for b in at.button if b.label.startswith("Generate drafts for October 2026")).click().run()
    no_exception(at)
    assert "1 draft invoice created ($3,000.00); 20 already existed" in at.success[0].value

    at.text_input(key="invoices_f_search").input("Pilot Test").run()
    assert "1 invoice · total $3,000.00" in texts(at)
    open_invoice(at, invoice_id(demo_db, "PILOT-900"))
    no_exception(at)
    assert "Draft invoice for Pilot Test Co" in texts(at)
    lines = tables(at)
    assert "20 × $25.00" in lines and "$500.00" in lines
    assert "500 × $2.00 + 1,000 × $1.50" in lines and "$2,500.00" in lines
    assert "**$3,000.00**" in texts(at)  # the total

    number = next_number(demo_db)  # the next after the demo's approved invoices (July–September's 55 and one-offs)
    button(at, "Approve").click().run()
    no_exception(at)
    shown = texts(at)
    assert f"Invoice approved and numbered {number} (Pilot Test Co, October 2026, $3,000.00)." in shown
    assert f"Invoice {number}" in shown
    assert "Approved" in shown and "Approve" not in labels(at)
    picker = next(sb for sb in at.selectbox if sb.label == "Open an invoice")
    assert picker.value is not None and any(o.startswith(f"{number} · Pilot Test Co") for o in picker.options)

    # running October again is safe: nothing new, and the user is told why
    next(b for b in at.button if b.label.startswith("Generate drafts for October 2026")).click().run()
    assert "All 21 active contracts already have an invoice for October 2026" in at.info[0].value


def test_bulk_approval_asks_with_count_and_total(open_page, demo_db):
    """All months listed: the button counts only the drafts among them (October's 20), and approves only them."""
    at = open_page(PAGE, "finance")
    before = at.dataframe[0].value
    first, last = next_number(demo_db), next_number(demo_db, ahead=19)  # 20 consecutive numbers after the demo's
    button(at, "Approve the 20 listed drafts…").click().run()
    no_exception(at)
    assert f"**Approve 20 invoices totalling {DEMO_OCTOBER_TOTAL}?**" in texts(at)
    button(at, "Approve").click().run()
    no_exception(at)
    assert f"20 invoices approved and numbered {first} to {last}." in at.success[0].value
    after = at.dataframe[0].value
    october = after["Period"] == "October 2026"
    assert october.sum() == 20 and set(after[october]["Status"]) == {"Approved"}
    assert sorted(after[october]["Number"]) == [f"NW-{n:06d}" for n in range(int(first[3:]), int(last[3:]) + 1)]
    earlier = before["Period"] != "October 2026"  # the other months as they were: same numbers, same statuses
    assert (list(after[~october][["Number", "Status"]].itertuples(index=False))
            == list(before[earlier][["Number", "Status"]].itertuples(index=False)))


def test_deleting_a_draft_asks_first(open_page, demo_db):
    at = open_page(PAGE, "finance")
    show_month(at, OCTOBER)  # Acme's October draft (its other invoices are approved: not deletable)
    at.text_input(key="invoices_f_search").input("ACME-001").run()
    draft_id = invoice_id(demo_db, "ACME-001", month=OCTOBER)
    acme = next(inv["customer_id"] for inv in stored_invoices(demo_db) if inv["id"] == draft_id)
    open_invoice(at, draft_id)
    button(at, "Delete draft").click().run()
    assert "The draft for **Acme Analytics, October 2026" in texts(at)
    button(at, "Keep it").click().run()
    assert "1 invoice ·" in texts(at)
    button(at, "Delete draft").click().run()
    button(at, "Delete the draft").click().run()
    no_exception(at)
    assert "The draft for Acme Analytics, October 2026" in at.success[0].value
    assert "No invoices match these filters." in texts(at)
    # only the draft went: Acme's approved invoices (July–September's, and any one-off) are still listed
    left = [inv for inv in stored_invoices(demo_db) if inv["customer_id"] == acme]
    assert left and draft_id not in {inv["id"] for inv in left} and "draft" not in {inv["status"] for inv in left}
    show_month(at, None)
    assert f"{len(left)} invoice{'s' if len(left) != 1 else ''} ·" in texts(at)


def test_a_user_who_may_not_approve_is_told_so(open_page, demo_db):
    """Services enforce permissions even if a button slipped through: the message says what to do."""
    from core.auth import Actor
    from core.db import session_scope
    from core.errors import PermissionDenied
    from core.invoicing.service import approve_invoice, list_invoices
    from core.models import Invoice

    engine = engine_for(demo_db)
    try:
        with session_scope(engine) as s:
            inv = list_invoices(s, status="draft")[0]  # a draft (the demo's earlier months are approved)
            with pytest.raises(PermissionDenied, match="ask an admin for access"):
                approve_invoice(s, Actor("sam", "sales"), inv.id)
            assert s.get(Invoice, inv.id).status == "draft"
    finally:
        engine.dispose()


def test_excel_export_has_money_formats_and_totals(demo_db):
    from openpyxl import load_workbook

    from core.db import session_scope
    from core.invoicing.export import export_invoices_xlsx
    from core.invoicing.service import list_invoices
    from core.models import Invoice, PaymentAllocation

    engine = engine_for(demo_db)
    try:
        with session_scope(engine) as s:
            rows = list_invoices(s)  # every month: July–September approved (most paid), October's drafts
            data = export_invoices_xlsx(s, rows, today=date(2026, 11, 27))
            paid_usd = sum(s.exec(select(PaymentAllocation.amount)
                                  .join(Invoice, Invoice.id == PaymentAllocation.invoice_id)
                                  .where(Invoice.currency == "USD")).all(), Decimal(0))
    finally:
        engine.dispose()
    stored = stored_invoices(demo_db)
    wb = load_workbook(io.BytesIO(data))
    inv, lines = wb["Invoices"], wb["Lines"]
    header = [c.value for c in inv[1]]
    assert header[:3] == ["Number", "Status", "Customer"] and "Amount due" in header
    assert all(c.font.bold for c in inv[1]) and inv.freeze_panes == "A2" and lines.freeze_panes == "A2"
    total_col = header.index("Total") + 1
    assert inv.cell(row=2, column=total_col).number_format.startswith('"$"#,##0.00')
    last = inv.max_row
    assert inv.cell(row=last, column=1).value == "Total USD"
    # the USD invoices as stored: October's $16,705.96 of drafts, July–September's $18,689.03, and any one-off
    usd = money_sums(stored)["USD"]
    assert usd > Decimal("16705.96") and Decimal(str(inv.cell(row=last, column=total_col).value)) == usd
    # what was paid: the payments allocated to USD invoices (the demo's, for July–September)
    paid_col = header.index("Paid") + 1
    assert paid_usd > 0 and Decimal(str(inv.cell(row=last, column=paid_col).value)) == paid_usd
    assert inv.cell(row=last - 1, column=1).value == "Total GBP"  # a totals row per currency, never mixed
    assert inv.max_row == len(rows) + 3
    # on 27 Nov 2026 the approved, unpaid invoices past their due date say so (at least July–September's 17)
    overdue_col = header.index("Overdue") + 1
    flagged = sum(inv.cell(row=r, column=overdue_col).value == "Yes" for r in range(2, last - 1))
    assert flagged == open_past_due(stored, date(2026, 11, 27)) > 0
    assert inv.column_dimensions["C"].width >= 20
    line_header = [c.value for c in lines[1]]
    assert "How it was calculated" in line_header
    breakdowns = [r[line_header.index("How it was calculated")] for r in lines.iter_rows(min_row=2, values_only=True)]
    assert any(b and "×" in b for b in breakdowns)
    assert lines.cell(row=lines.max_row, column=1).value == "Total USD"
