"""The Accounting and Financial reports pages on the demo pilot with its October invoices approved, a payment, a
credit note and a yearly deferred contract from 2025: every tab renders for finance and a viewer; a manual entry
that does not balance is refused with the reason and writes nothing, a balanced one posts; the recognition button
posts what is due, once; an entry is reversed with a reason; the books close; a viewer has no button that changes
anything, and the core refuses the viewer anyway."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import func, select

from core.auth import SYSTEM, Actor
from core.billing.contracts import LineSpec
from core.catalog import create_product
from core.db import make_engine, session_scope
from core.errors import PermissionDenied
from core.invoicing.credit_notes import issue_credit_note
from core.invoicing.payments import record_payment
from core.invoicing.service import approve_invoice, approve_invoices, generate_drafts, list_invoices
from core.ledger import posting, recognition
from core.models import Account, BusinessEntity, JournalEntry, JournalLine
from tests.db import factories as f
from tests.ui.conftest import in_db, texts

LEDGER, REPORTS = "pages/ledger.py", "pages/accounting_reports.py"
LEDGER_TABS = ["Journal", "Chart of accounts", "Revenue recognition", "Close books", "ERP export"]
REPORT_TABS = ["Trial balance", "Income statement", "Balance sheet", "Sub-ledgers", "Charts"]
WRITE_BUTTONS = ("Post the entry", "Post the reversal", "Recognise through", "Close through", "Add the account",
                 "Save the mapping", "Spread it", "Reopen")


@pytest.fixture
def books(demo_db: str) -> str:
    """The demo's drafts approved, a payment, a credit note, and a $12,000 yearly deferred fee from 15 Jan 2025."""
    engine = make_engine(demo_db)
    try:
        with session_scope(engine) as s:
            done = approve_invoices(s, SYSTEM, [r.id for r in list_invoices(s, status="draft")])
            usd = next(i for i in done if i.currency == "USD")
            record_payment(s, SYSTEM, customer_id=usd.customer_id, currency_code="USD", amount=str(usd.total),
                           method="bank_transfer", received_on=date(2026, 11, 10), allocations={usd.id: str(usd.total)})
            other = next(i for i in done if i.currency == "USD" and i.id != usd.id)
            issue_credit_note(s, SYSTEM, other.id, reason="Outage credit", amount="25")
            create_product(s, SYSTEM, sku="ANNUAL", name="Annual platform", kind="time", revenue_policy="deferred")
            f.customer(s, "YEARLY-1")
            f.contract(s, "YEARLY-1", [LineSpec("Annual platform fee", "flat_fee", {"amount": "12000"},
                                                product_sku="ANNUAL", cadence="yearly", timing="advance")],
                       start=date(2025, 1, 15), billing_anchor_day=15)
            [inv_id] = generate_drafts(s, SYSTEM, period_start=date(2024, 12, 1), period_end=date(2025, 1, 1)).created
            approve_invoice(s, SYSTEM, inv_id)
    finally:
        engine.dispose()
    return demo_db


_read = in_db  # fn(session) on the page's database, in a transaction of its own


def _count(url: str, *where) -> int:
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            return s.exec(select(func.count()).select_from(JournalEntry).where(*where)).one()
    finally:
        engine.dispose()


def _open(open_page, page: str, tab: str | None = None, role: str = "finance"):
    at = open_page(page, role=role)
    if tab:
        at.session_state["ledger_tab" if page == LEDGER else "reports_tab"] = tab
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("role", ["finance", "viewer"])
def test_every_tab_renders_and_explains_itself(open_page, books, role):
    for page, tabs in ((LEDGER, LEDGER_TABS), (REPORTS, REPORT_TABS)):
        for tab in tabs:
            at = _open(open_page, page, tab, role)
            assert at.title[0].value in ("Accounting", "Financial reports")
            assert len(at.caption) >= 2 and all(len(c.value) > 20 for c in at.caption[:2]), (page, tab)
            assert not at.error, (page, tab, [e.value for e in at.error])


def test_trial_balance_on_screen_balances_and_shows_the_approvals(open_page, books):
    at = _open(open_page, REPORTS, "Trial balance")
    table = at.dataframe[0].value
    usd = table[table["Account"] == "Total USD"].iloc[0]
    assert usd["Debits"] == usd["Credits"] and usd["Closing debit"] == usd["Closing credit"]
    assert "1200" in set(table["Code"]) and "2100" in set(table["Code"])  # receivable and deferred revenue
    assert [b.label for b in at.get("download_button")] == ["Excel (.xlsx)", "CSV"]


def test_an_entry_that_does_not_balance_is_refused_and_nothing_is_written(open_page, books):
    before = _count(books)
    at = _open(open_page, LEDGER)
    at.text_input(key="ledger_me_memo_0").set_value("Hosting accrual")
    at.session_state["ledger_me_lines_0"] = {"edited_rows": {
        0: {"Account": "5200 Payment Gateway Fees", "Debit": "100.00"},
        1: {"Account": "1100 Cash", "Credit": "90.00"}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert "out of balance by $10.00" in texts(at)
    at.button(key="ledger_me_post_0").click().run()
    assert not at.exception
    assert "debits $100.00 and credits $90.00 differ by $10.00" in " ".join(e.value for e in at.error)
    assert _count(books) == before


def test_a_balanced_entry_posts(open_page, books):
    at = _open(open_page, LEDGER)
    at.text_input(key="ledger_me_memo_0").set_value("Gateway fees for November")
    at.session_state["ledger_me_lines_0"] = {"edited_rows": {
        0: {"Account": "5200 Payment Gateway Fees", "Debit": "42.50", "Description": "Stripe fees"},
        1: {"Account": "1100 Cash", "Credit": "42.50"}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert "USD: debits $42.50, credits $42.50 — balanced" in texts(at)
    at.button(key="ledger_me_post_0").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Manual entry #" in texts(at) and "posted" in texts(at)
    engine = make_engine(books)
    try:
        with session_scope(engine) as s:
            entry = s.exec(select(JournalEntry).where(JournalEntry.memo == "Gateway fees for November")).one()
            amounts = sorted(ln.amount for ln in posting.entry_lines(s, entry.id))
            assert (entry.source_type, entry.posted_by, amounts) == ("manual", "finance-user",
                                                                     [Decimal("-42.50"), Decimal("42.50")])
    finally:
        engine.dispose()
    # the journal tab lists it at once, with its lines
    rows = at.dataframe[0].value
    assert "Gateway fees for November" in set(rows["Memo"])


def test_the_recognition_button_posts_what_is_due_once(open_page, books):
    already = _count(books, JournalEntry.source_type == "recognition")  # the demo's, through 30 Sep 2026
    at = _open(open_page, LEDGER, "Revenue recognition")
    # $12,000 from 15 Jan 2025 by days: January (17 days) $558.90, February $920.55, March $1,019.18
    at.date_input(key="ledger_rec_through_0").set_value(date(2025, 3, 31)).run()
    assert "3 schedule periods** due, $2,498.63" in texts(at)
    at.button(key="ledger_rec_go_0").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Recognised $2,498.63 from 3 schedule periods in 3 journal entries" in texts(at)
    assert _count(books, JournalEntry.source_type == "recognition") == already + 3
    at.date_input(key="ledger_rec_through_1").set_value(date(2025, 3, 31)).run()
    at.button(key="ledger_rec_go_1").click().run()
    assert "Nothing was due through 31 Mar 2025" in texts(at)
    assert _count(books, JournalEntry.source_type == "recognition") == already + 3
    table = next(df.value for df in at.dataframe if "Remaining" in df.value.columns)
    row = table[table["Product"] == "Annual platform"].iloc[0]
    assert (row["Recognised"], row["Remaining"], row["Periods"]) == ("$2,498.63", "$9,501.37", "3 of 13")


def test_reverse_an_entry_with_a_reason(open_page, books):
    at = _open(open_page, LEDGER)
    target = _read(books, lambda s: s.exec(select(JournalEntry.id)
                                           .where(JournalEntry.source_type == "payment")).first())
    at.selectbox(key="ledger_rev_entry_0").set_value(target).run()
    at.button(key="ledger_rev_go_0").click().run()
    assert "reason: say why" in " ".join(e.value for e in at.error)
    at.text_input(key="ledger_rev_reason_0").set_value("Payment bounced").run()
    at.button(key="ledger_rev_go_0").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"Entry #{target} reversed by entry #" in texts(at)
    assert _count(books, JournalEntry.reverses_id == target) == 1


def test_close_the_books_and_a_manual_entry_in_the_closed_period_is_refused(open_page, books):
    at = _open(open_page, LEDGER, "Close books")
    entity_id = 1
    at.date_input(key=f"ledger_close_date_{entity_id}_0").set_value(date(2026, 10, 31)).run()
    at.button(key=f"ledger_close_go_{entity_id}_0").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "books closed through 31 Oct 2026" in texts(at)
    assert _read(books, lambda s: s.get(BusinessEntity, entity_id).books_closed_through) == date(2026, 10, 31)
    at.session_state["ledger_tab"] = "Journal"
    at.run()
    at.date_input(key="ledger_me_date_1").set_value(date(2026, 10, 15))
    at.text_input(key="ledger_me_memo_1").set_value("Late accrual")
    at.session_state["ledger_me_lines_1"] = {"edited_rows": {
        0: {"Account": "5200 Payment Gateway Fees", "Debit": "5"}, 1: {"Account": "1100 Cash", "Credit": "5"}},
        "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="ledger_me_post_1").click().run()
    assert "the books are closed through 31 Oct 2026" in " ".join(e.value for e in at.error)
    assert _count(books, JournalEntry.memo == "Late accrual") == 0


def test_a_viewer_has_no_button_that_changes_the_books_and_the_core_refuses_anyway(open_page, books):
    for tab in LEDGER_TABS:
        at = _open(open_page, LEDGER, tab, role="viewer")
        labels = [b.label for b in at.button]
        assert not [b for b in labels if b.startswith(WRITE_BUTTONS)], (tab, labels)
        assert not at.data_editor or all(
            ed.key is None or not ed.key.startswith("ledger_me_lines") for ed in at.data_editor)
    viewer = Actor("viewer-user", "viewer")
    engine = make_engine(books)
    try:
        with session_scope(engine) as s:
            lines = [{"account_id": 2, "debit": "1", "currency": "USD"}, {"account_id": 17, "credit": "1",
                                                                          "currency": "USD"}]
            with pytest.raises(PermissionDenied):
                posting.manual_entry(s, viewer, entity_id=1, entry_date=date(2026, 11, 20), memo="x", lines=lines)
            with pytest.raises(PermissionDenied):
                recognition.recognise(s, viewer, through=date(2025, 3, 31))
            with pytest.raises(PermissionDenied):
                posting.close_books(s, viewer, 1, date(2026, 10, 31))
            assert s.exec(select(func.count()).select_from(JournalLine)
                          .where(JournalLine.description == "x")).one() == 0
    finally:
        engine.dispose()


def test_product_revenue_account_is_changed_from_the_chart(open_page, books):
    at = _open(open_page, LEDGER, "Chart of accounts")
    at.text_input(key="ledger_add_code_0").set_value("4110")
    at.text_input(key="ledger_add_name_0").set_value("Subscription revenue")
    income = _read(books, lambda s: s.exec(select(Account.id).where(Account.code == "4000")).one())
    at.selectbox(key="ledger_add_parent_0").set_value(income)
    next(b for b in at.button if b.label == "Add the account").click().run()
    assert "Account 4110 Subscription revenue added." in texts(at), [e.value for e in at.error]
    products = at.data_editor(key="ledger_prod_1").value
    row = int(products.index[products["SKU"] == "ANNUAL"][0])
    at.session_state["ledger_prod_1"] = {"edited_rows": {row: {"Revenue account": "4110 Subscription revenue"}},
                                         "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="ledger_prod_save_1").click().run()
    assert "Revenue account changed for 1 product." in texts(at), [e.value for e in at.error]


def test_map_the_accounts_and_download_the_erp_journal(open_page, books):
    at = _open(open_page, LEDGER, "ERP export")
    at.selectbox(key="ledger_erp_name").set_value("zoho").run()
    at.selectbox(key="ledger_erp_zoho_preset").set_value("Custom dates").run()
    at.date_input(key="ledger_erp_zoho_dates").set_value((date(2026, 10, 1), date(2026, 11, 30))).run()
    assert "have no Zoho Books account yet" in " ".join(w.value for w in at.warning)
    assert at.button(key="ledger_erp_go").disabled  # nothing to export while accounts are unmapped
    table = at.data_editor(key="ledger_erp_map_zoho_0").value
    at.session_state["ledger_erp_map_zoho_0"] = {
        "edited_rows": {i: {"Zoho Books account": name} for i, name in enumerate(table["Our account"])},
        "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="ledger_erp_save_0").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"{len(table)} account mappings for Zoho Books saved." in texts(at), [e.value for e in at.error]
    at.button(key="ledger_erp_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    files = [b.label for b in at.get("download_button") if b.label.startswith("zoho-journal-")]
    assert files == ["zoho-journal-2026-10-01-2026-11-30.csv"]
