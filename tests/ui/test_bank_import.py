"""The bank-statement import panel, driven as finance would on the demo database: upload the bank's export, read
the proposed matches, match the unknown line by hand, record — the invoice is paid, the rest is in the wallet;
the same statement again records nothing; a bad file names row and column; viewers do not see the panel."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlmodel import func, select
from streamlit.testing.v1 import AppTest

from core import wallet
from core.auth import SYSTEM, Actor
from core.db import make_engine, session_scope
from core.invoicing.service import approve_invoice
from core.models import AuditLog, Customer, Invoice, Payment
from tests.ui.conftest import ROOT, TIMEOUT, in_db, texts

FILE = "bank_import_file_{}"


def _panel():  # run by AppTest as a script of its own: imports inside
    from ui.bank_import import bank_import_panel
    from ui.state import actor

    bank_import_panel(actor())


def _open(role: str = "finance") -> AppTest:
    at = AppTest.from_function(_panel, default_timeout=TIMEOUT)
    at.session_state["actor"] = Actor(f"{role}-user", role)
    return at.run()


OPEN = ("approved", "partially_paid")


def _approved(url: str) -> tuple[int, str, Decimal, int, int]:
    """An approved USD invoice (id, number, total, customer id) and another customer's id; both customers owe
    nothing else (some of the demo's July–September invoices are still open, and money from a customer who owes
    them would settle those first)."""
    engine = make_engine(url)
    try:
        with session_scope(engine) as s:
            owing = select(Invoice.customer_id).where(Invoice.status.in_(OPEN))
            inv = s.exec(select(Invoice).where(Invoice.currency == "USD", Invoice.status == "draft",
                                               Invoice.customer_id.not_in(owing)).order_by(Invoice.id)).first()
            inv = approve_invoice(s, SYSTEM, inv.id)
            other = s.exec(select(Customer.id).where(Customer.id != inv.customer_id, Customer.currency == "USD",
                                                     Customer.id.not_in(owing)).order_by(Customer.id)).first()
            assert s.exec(select(Invoice.id).where(Invoice.customer_id == inv.customer_id,
                                                   Invoice.status.in_(OPEN))).all() == [inv.id]
            return inv.id, inv.number, inv.total, inv.customer_id, other
    finally:
        engine.dispose()


_db = in_db  # fn(session) on the page's database, in a transaction of its own


def _statuses(at: AppTest) -> list[str]:
    table = next(df.value for df in at.dataframe if "Status" in df.value.columns)
    return list(table["Status"])


def test_import_a_statement_confirm_the_match_and_match_the_rest_by_hand(demo_db):
    inv_id, number, total, _cust, other = _approved(demo_db)
    before = _db(demo_db, lambda s: wallet.balance(s, other, "USD"))
    body = (f"Booking date,Description,Payer name,Amount\n"
            f"2026-11-20,Payment {number.replace('-', ' ')},ACME,{total}\n"
            f"2026-11-21,WIRE 5512,SOMEONE,123.45\n"
            f"2026-11-21,BANK FEES,,-5.00\n").encode()
    at = _open()
    assert "Import a bank statement" in texts(at)
    at.file_uploader(key=FILE.format(0)).upload("statement.csv", body, "text/csv").run()
    assert not at.exception, [e.value for e in at.exception]
    assert _statuses(at) == ["Matched", "Unmatched"]
    assert "1 line of money out left out (row 4)" in texts(at)
    assert "2 payments received**: 1 matched, 0 partial, 1 to match by hand" in texts(at)
    assert at.button(key="bank_import_record_0").label == "Record 1 payment"

    at.selectbox(key="bank_import_customer_0_3").set_value(other).run()
    assert at.button(key="bank_import_record_0").label == "Record 2 payments"
    at.button(key="bank_import_record_0").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = " ".join(s.value for s in at.success)
    assert "2 payments recorded (1 matched, 0 partial, 1 matched by hand)" in shown

    def check(s):
        inv = s.get(Invoice, inv_id)
        refs = sorted(s.exec(select(Payment.reference)).all())
        audits = s.exec(select(func.count()).select_from(AuditLog)
                        .where(AuditLog.action == "payment.bank_import")).one()
        return inv.status, refs, audits, wallet.balance(s, other, "USD")
    status, refs, audits, balance = _db(demo_db, check)
    assert (status, audits) == ("paid", 1)
    assert f"Payment {number.replace('-', ' ')}" in refs and "WIRE 5512" in refs
    assert balance - before == Decimal("123.45")  # the other customer owes nothing approved: all to the wallet

    # the same statement again: nothing new to record
    at.file_uploader(key=FILE.format(1)).upload("statement.csv", body, "text/csv").run()
    assert _statuses(at) == ["Duplicate", "Duplicate"]
    assert at.button(key="bank_import_record_1").disabled
    assert _db(demo_db, lambda s: s.exec(select(func.count()).select_from(Payment)).one()) == len(refs)


def test_a_bad_statement_names_row_and_column_and_records_nothing(demo_db):
    payments = _db(demo_db, lambda s: s.exec(select(func.count()).select_from(Payment)).one())  # the demo's own
    at = _open()
    bad = b"Date,Amount,Reference\n2026-11-20,100,INV-000001\n31/10/2026,12x,INV-000002\n"
    at.file_uploader(key=FILE.format(0)).upload("statement.csv", bad, "text/csv").run()
    assert not at.exception
    assert "2 problems in the file; nothing was recorded" in " ".join(e.value for e in at.error)
    problems = at.dataframe[0].value
    assert [tuple(r) for r in problems[["Row", "Column"]].itertuples(index=False)] == [(3, "Amount"), (3, "Date")]
    assert not [b for b in at.button if b.key and b.key.startswith("bank_import_record")]
    assert _db(demo_db, lambda s: s.exec(select(func.count()).select_from(Payment)).one()) == payments


def test_viewers_do_not_see_the_panel(demo_db):
    at = _open("viewer")
    assert not at.exception
    assert "Import a bank statement" not in texts(at)
    assert not at.get("file_uploader")


@pytest.mark.skipif("bank_import_panel" not in (ROOT / "pages" / "payments.py").read_text(),
                    reason="pages/payments.py does not call bank_import_panel yet")
def test_the_payments_page_shows_the_panel(open_page):
    at = open_page("pages/payments.py", role="finance")
    assert not at.exception
    assert "Import a bank statement" in texts(at)
    assert "Import a bank statement" not in texts(open_page("pages/payments.py", role="viewer"))
