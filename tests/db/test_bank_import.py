"""Bank-statement import, on SQLite and PostgreSQL: each matching rule, duplicates on re-import, a bad file named
by row and column with nothing recorded, one payment split over several invoices, a line matched by hand."""
from __future__ import annotations

import io
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import func, select

from core import wallet
from core.auth import SYSTEM, Actor
from core.billing.contracts import LineSpec
from core.errors import PermissionDenied, UserError
from core.invoicing.bank_import import (
    DUPLICATE,
    MATCHED,
    PARTIAL,
    UNMATCHED,
    Assignment,
    BankFileError,
    propose_matches,
    read_statement,
    record_statement,
)
from core.invoicing.payments import record_payment
from core.invoicing.service import approve_invoice, generate_drafts
from core.models import AuditLog, Invoice, Payment
from tests.db import factories as f

D = Decimal
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bank"
SEP = {"period_start": date(2026, 9, 1), "period_end": date(2026, 10, 1)}
OCT = {"period_start": date(2026, 10, 1), "period_end": date(2026, 11, 1)}
HEADER = "Date,Amount,Reference,Payer,Currency\n"


def _fee(session, ext: str, fee: str):
    return f.contract(session, ext, [LineSpec(f"Fee {fee}", "flat_fee", {"amount": fee})], start=date(2026, 1, 1))


def _book(session) -> dict[str, Invoice]:
    """Approved invoices: Acme Corp — September 300 (the oldest), October 1000 and 800; Globex — October 450;
    Initech — October 450 too. Keys: 'acme300', 'acme1000', 'acme800', 'globex450', 'initech450'."""
    f.seller(session)
    f.customer(session, "ACME-001", name="Acme Corp")
    f.customer(session, "GLOBEX", name="Globex Inc")
    f.customer(session, "INITECH", name="Initech")
    sep = _fee(session, "ACME-001", "300")
    wanted = [("acme1000", "ACME-001", "1000"), ("acme800", "ACME-001", "800"), ("globex450", "GLOBEX", "450"),
              ("initech450", "INITECH", "450")]
    contracts = {key: _fee(session, ext, fee) for key, ext, fee in wanted}
    [sep_draft] = generate_drafts(session, SYSTEM, **SEP, contract_ids=[sep.id]).created
    generate_drafts(session, SYSTEM, **OCT)
    by_contract = {inv.contract_id: inv for inv in session.exec(select(Invoice).where(
        Invoice.period_start == OCT["period_start"]))}
    out = {"acme300": approve_invoice(session, SYSTEM, sep_draft)}
    for key, c in contracts.items():
        out[key] = approve_invoice(session, SYSTEM, by_contract[c.id].id)
    session.commit()
    assert out["acme300"].due_date < out["acme1000"].due_date
    return out


def _csv(*rows: str, header: str = HEADER) -> bytes:
    return (header + "\n".join(rows) + "\n").encode()


def _statement(body: bytes, name: str = "statement.csv", **kw):
    return read_statement(body, name, **kw)


def _propose(session, body: bytes, **kw):
    st = _statement(body, **kw)
    return st, propose_matches(session, SYSTEM, st)


def _inv(session, inv: Invoice) -> Invoice:
    session.expire_all()
    return session.get(Invoice, inv.id)


def _payments(session) -> int:
    return session.exec(select(func.count()).select_from(Payment)).one()


# ---- rule (a): the reference names the invoice, the amount is what is due ---------------------------------


@pytest.mark.parametrize("written", ["INV-000002", "inv000002", "INV 000002", "Inv - 2", "PAYMENT REF:INV-2 THX"])
def test_invoice_number_and_exact_amount_match(session, written):
    book = _book(session)
    assert book["acme1000"].number == "INV-000002"
    st, [p] = _propose(session, _csv(f"2026-11-10,1000.00,{written},ACME CORP LTD,USD"))
    assert (p.status, p.customer_id, p.allocations, p.invoices) == \
        (MATCHED, book["acme1000"].customer_id, {book["acme1000"].id: D("1000")}, ["INV-000002"])
    assert p.customer == "Acme Corp (ACME-001)"
    result = record_statement(session, SYSTEM, st, [p])
    session.commit()
    assert (result.recorded, result.matched, result.left) == (1, 1, 0)
    assert _inv(session, book["acme1000"]).status == "paid"
    [pay] = session.exec(select(Payment)).all()
    assert (pay.method, pay.provider, pay.reference, pay.received_on, pay.amount, pay.unallocated) == \
        ("bank_transfer", "", written, date(2026, 11, 10), D("1000"), D("0"))


def test_an_invoice_number_is_not_found_inside_another_number(session):
    _book(session)
    _, [p] = _propose(session, _csv("2026-11-10,1000.00,INV-0000021,,USD"))
    assert p.status == UNMATCHED and not p.allocations


# ---- rule (b): the reference names the invoice, the amount differs ----------------------------------------


def test_less_than_due_is_a_partial_payment(session):
    book = _book(session)
    st, [p] = _propose(session, _csv("2026-11-10,400,INV-000002,,USD"))
    assert (p.status, p.allocations) == (PARTIAL, {book["acme1000"].id: D("400")})
    assert "Pays $400.00 of the $1,000.00 due on INV-000002; $600.00 stays due." == p.note
    record_statement(session, SYSTEM, st, [p])
    inv = _inv(session, book["acme1000"])
    assert (inv.status, inv.amount_paid) == ("partially_paid", D("400"))


def test_more_than_due_pays_the_invoice_and_the_rest_goes_to_the_wallet(session):
    book = _book(session)
    st, [p] = _propose(session, _csv("2026-11-10,1050,INV-000002,,USD"))
    assert p.status == PARTIAL and p.allocations == {book["acme1000"].id: D("1000")} and p.to_wallet == D("50")
    assert "$50.00 more than the $1,000.00 due on INV-000002" in p.note
    result = record_statement(session, SYSTEM, st, [p])
    assert result.to_wallet == {"USD": D("50")}
    assert _inv(session, book["acme1000"]).status == "paid"
    assert wallet.balance(session, book["acme1000"].customer_id, "USD") == D("50")


def test_two_lines_paying_the_same_invoice_see_each_other(session):
    book = _book(session)
    _, (first, second, third) = _propose(session, _csv("2026-11-10,600,INV-000002,,USD",
                                                        "2026-11-11,400,INV-000002,,USD",
                                                        "2026-11-12,400,INV-000002,,USD"))
    assert (first.status, second.status) == (PARTIAL, MATCHED)
    assert second.allocations == {book["acme1000"].id: D("400")}
    assert third.status == UNMATCHED and "INV-000002 is paid by row 3 of this statement" in third.note


def test_a_paid_or_foreign_currency_invoice_is_left_for_a_person(session):
    book = _book(session)
    record_payment(session, SYSTEM, customer_id=book["globex450"].customer_id, currency_code="USD", amount="450",
                   method="cheque", received_on=date(2026, 11, 2))
    _, (paid, euros) = _propose(session, _csv("2026-11-10,450,INV-000004,,USD", "2026-11-10,800,INV-000003,,EUR"))
    assert paid.status == UNMATCHED and "INV-000004 is paid" in paid.note
    assert euros.status == UNMATCHED and "INV-000003 is in USD, the payment in EUR" in euros.note


# ---- rule (c): no invoice number, the customer named and one invoice of that amount -----------------------


def test_no_number_customer_named_and_one_invoice_of_that_amount_matches(session):
    book = _book(session)
    st, (by_payer, by_id, nobody, ambiguous) = _propose(session, _csv(
        "2026-11-10,450,Transfer october,GLOBEX INC,USD",  # the payer column holds the name
        "2026-11-10,800,acme-001 services,,USD",  # the external id in the reference
        "2026-11-10,450,Transfer october,,USD",  # only Initech's 450 is left, but nobody is named: not a guess
        "2026-11-10,999,Acme Corp payment,,USD"))  # Acme named but owes no 999
    assert (by_payer.status, by_payer.allocations) == (MATCHED, {book["globex450"].id: D("450")})
    assert (by_id.status, by_id.allocations) == (MATCHED, {book["acme800"].id: D("800")})
    assert nobody.status == UNMATCHED and \
        "no customer named in it; 1 open invoice of exactly $450.00 (INV-000005)" in nobody.note
    assert ambiguous.status == UNMATCHED and "from Acme Corp (ACME-001)?" in ambiguous.note
    result = record_statement(session, SYSTEM, st, [by_payer, by_id, nobody, ambiguous])
    assert (result.recorded, result.matched, result.left) == (2, 2, 2)
    assert _inv(session, book["globex450"]).status == "paid" and _inv(session, book["acme800"]).status == "paid"


# ---- one payment for several invoices ----------------------------------------------------------------------


def test_one_payment_for_several_invoices_is_split_oldest_first(session):
    book = _book(session)
    # named newest first: the split still goes by due date
    st, [p] = _propose(session, _csv('2026-11-10,1300,"INV-000002, INV-000001",Acme,USD'))
    assert p.status == MATCHED and p.invoices == ["INV-000001", "INV-000002"]
    assert list(p.allocations.items()) == [(book["acme300"].id, D("300")), (book["acme1000"].id, D("1000"))]
    assert "One payment for 2 invoices" in p.note
    record_statement(session, SYSTEM, st, [p])
    assert [_inv(session, book[k]).status for k in ("acme300", "acme1000", "acme800")] == ["paid", "paid", "approved"]


def test_several_invoices_not_adding_up_or_of_several_customers_are_left_for_a_person(session):
    _book(session)
    _, (short, mixed) = _propose(session, _csv("2026-11-10,1200,INV-000001 INV-000002,,USD",
                                               "2026-11-10,1450,INV-000002 / INV-000004,,USD"))
    assert short.status == UNMATCHED and "($1,300.00 due together, Acme Corp (ACME-001)) but $1,200.00" in short.note
    assert mixed.status == UNMATCHED and "invoices of 2 customers" in mixed.note


# ---- duplicates --------------------------------------------------------------------------------------------


def test_re_importing_the_same_statement_records_nothing_twice(session):
    book = _book(session)
    body = _csv("2026-11-10,1000,INV-000002,,USD", "2026-11-10,1000,INV-000002,,USD", "2026-11-11,77,gift,,USD")
    st, props = _propose(session, body)
    assert [p.status for p in props] == [MATCHED, UNMATCHED, UNMATCHED]
    record_statement(session, SYSTEM, st, props,
                     assignments={4: Assignment(book["globex450"].customer_id)})
    session.commit()
    assert _payments(session) == 2
    st, props = _propose(session, body)
    assert [p.status for p in props] == [DUPLICATE, UNMATCHED, DUPLICATE]  # the second identical line is new
    assert "already recorded" in props[0].note
    with pytest.raises(UserError, match="there is no payment to record"):
        record_statement(session, SYSTEM, st, props)
    with pytest.raises(UserError, match=r"changed since the statement was checked \(row 4\)"):
        record_statement(session, SYSTEM, st, props, assignments={4: Assignment(book["globex450"].customer_id)})
    assert _payments(session) == 2


# ---- a bad file ----------------------------------------------------------------------------------------------


def test_a_bad_file_names_every_row_and_column_and_records_nothing(session):
    _book(session)
    body = _csv("2026-11-10,1000,INV-000002,,USD", "31/10/2026,300,INV-000001,,USD", "2026-11-11,12.5x,x,,USD",
                "2026-11-12,10.001,y,,USD", "2026-11-12,10,z,,XYZ", "2099-01-01,10,z,,USD",
                header="Booking date,Amount,Reference,Payer,Currency\n")
    with pytest.raises(BankFileError, match="5 problems in the file; nothing was recorded") as caught:
        read_statement(body, "statement.csv")
    found = [(p.row, p.column) for p in caught.value.problems]
    assert found == [(3, "Booking date"), (4, "Amount"), (5, "Amount"), (6, "Currency"), (7, "Booking date")]
    messages = [p.message for p in caught.value.problems]
    assert "ambiguous" in messages[0] and "or choose the statement's date order" in messages[0]
    assert "has more decimals than USD allows" in messages[2] and "in the future" in messages[4]
    assert _payments(session) == 0


def test_missing_columns_are_named(session):
    with pytest.raises(BankFileError) as caught:
        read_statement(b"When,Sum\n2026-11-10,5\n", "s.csv")
    assert [(p.row, p.column) for p in caught.value.problems] == [(1, "date"), (1, "amount"), (1, "reference"),
                                                                   (1, "currency")]


def test_a_statement_matched_by_hand_is_all_or_nothing(session):
    book = _book(session)
    st, props = _propose(session, _csv("2026-11-10,1000,INV-000002,,USD", "2026-11-10,77,gift,,USD"))
    with pytest.raises(UserError, match=re.escape("row 3: invoice INV-000004 belongs to another customer")):
        record_statement(session, SYSTEM, st, props, assignments={
            3: Assignment(book["acme800"].customer_id, (book["globex450"].id,))})
    assert _payments(session) == 0  # the matched line before it was not kept either
    assert _inv(session, book["acme1000"]).status == "approved"


# ---- matched by hand -------------------------------------------------------------------------------------------


def test_an_unmatched_line_assigned_by_hand(session):
    book = _book(session)
    acme = book["acme1000"].customer_id
    st, props = _propose(session, _csv("2026-11-10,1500,wire 8812,,USD", "2026-11-10,200,cheque 7,,USD",
                                       "2026-11-12,25,tip,,USD"))
    assert [p.status for p in props] == [UNMATCHED] * 3
    result = record_statement(session, SYSTEM, st, props, assignments={
        2: Assignment(acme, (book["acme800"].id, book["acme1000"].id)),  # same due date: the older invoice first
        3: Assignment(book["globex450"].customer_id),  # no invoice chosen: oldest open first
    })
    session.commit()
    assert (result.recorded, result.assigned, result.left) == (2, 2, 1)
    a1000, a800 = _inv(session, book["acme1000"]), _inv(session, book["acme800"])
    assert (a1000.status, a800.status, a800.amount_paid) == ("paid", "partially_paid", D("500"))
    assert _inv(session, book["acme300"]).status == "approved"  # not chosen, not touched
    assert _inv(session, book["globex450"]).amount_paid == D("200")
    assert result.summary() == "2 payments recorded (0 matched, 0 partial, 2 matched by hand); 1 line left to match"
    log = session.exec(select(AuditLog).where(AuditLog.action == "payment.bank_import")).one()
    assert log.details["by_hand"] == 2 and [d["row"] for d in log.details["payments"]] == [2, 3]
    assert session.exec(select(func.count()).select_from(AuditLog)
                        .where(AuditLog.action == "payment.record")).one() == 2


def test_matches_can_be_left_out_and_viewers_cannot_record(session):
    book = _book(session)
    st, props = _propose(session, _csv("2026-11-10,1000,INV-000002,,USD", "2026-11-10,800,INV-000003,,USD"))
    with pytest.raises(PermissionDenied):
        record_statement(session, Actor("v", "viewer"), st, props)
    result = record_statement(session, SYSTEM, st, props, accept=[3])
    assert (result.recorded, result.left) == (1, 1)
    assert _inv(session, book["acme800"]).status == "paid" and _inv(session, book["acme1000"]).status == "approved"


def test_a_match_that_changed_since_it_was_checked_is_not_recorded(session):
    book = _book(session)
    st, props = _propose(session, _csv("2026-11-10,1000,INV-000002,,USD"))
    record_payment(session, SYSTEM, customer_id=book["acme1000"].customer_id, currency_code="USD", amount="100",
                   method="cash", received_on=date(2026, 11, 9), allocations={book["acme1000"].id: "100"})
    with pytest.raises(UserError, match=r"changed since the statement was checked \(row 2\)"):
        record_statement(session, SYSTEM, st, props)
    assert _payments(session) == 1


# ---- reading bank exports ----------------------------------------------------------------------------------------


def test_a_typical_bank_export_credit_and_debit_columns(session):
    st = read_statement((FIXTURES / "paid_in_paid_out.csv").read_bytes(), "paid_in_paid_out.csv",
                        currency_code="GBP", date_order="DMY")
    assert [(ln.row, ln.received_on, ln.amount, ln.currency, ln.reference, ln.payer) for ln in st.lines] == [
        (2, date(2026, 11, 3), D("1200.00"), "GBP", "INV-000001 THANK YOU", "ACME CORP"),
        (4, date(2026, 11, 5), D("450.00"), "GBP", "GLOBEX OCT", "GLOBEX INC"),
    ]
    assert any("1 line of money out left out (row 3)" in n for n in st.notes)
    assert any("'Balance'" in n for n in st.notes)


def test_a_signed_amount_column_xlsx_and_a_currency_column(session):
    book = _book(session)
    from openpyxl import Workbook

    wb = Workbook()  # as a bank's workbook holds them: real dates and numbers
    wb.active.append(["Transaction Date", "Transaction Amount", "Narrative", "Counterparty", "CCY"])
    wb.active.append([datetime(2026, 11, 10), -250, "Office rent", "LANDLORD", "USD"])
    wb.active.append([datetime(2026, 11, 10), 1000.0, f"Invoice {book['acme1000'].number}", "Acme Corp", "USD"])
    wb.active.append([datetime(2026, 11, 10), 0, "fee reversal", None, "USD"])
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    st, [p] = _propose(session, data, name="export.xlsx")
    assert (p.line.row, p.status, p.line.reference) == (3, MATCHED, "Invoice INV-000002")
    assert [(i.row, i.why) for i in st.ignored] == [(2, "money out"), (4, "nothing received (zero)")]


def test_the_sample_statement(session):
    book = _book(session)
    data = (FIXTURES / "statement.csv").read_bytes()
    st, props = _propose(session, data)
    assert [(p.row, p.status, p.invoices) for p in props] == [
        (2, MATCHED, ["INV-000002"]), (3, PARTIAL, ["INV-000003"]), (4, MATCHED, ["INV-000004"]),
        (6, UNMATCHED, []), (7, UNMATCHED, [])]
    assert "invoices of 2 customers" in props[4].note
    assert any("money out left out (row 5)" in n for n in st.notes)
    assert any("'Value Date' is not imported" in n for n in st.notes)
    result = record_statement(session, SYSTEM, st, props)
    session.commit()
    assert (result.matched, result.partial, result.left) == (2, 1, 2)
    assert [_inv(session, book[k]).status for k in ("acme1000", "acme800", "globex450", "initech450")] == \
        ["paid", "partially_paid", "paid", "approved"]
    st, again = _propose(session, data)
    assert [p.status for p in again] == [DUPLICATE, DUPLICATE, DUPLICATE, UNMATCHED, UNMATCHED]


def test_a_line_without_a_currency_takes_the_accounts_and_money_out_is_not_checked(session):
    body = b"Date,Amount,Reference,Currency\n2026-11-10,5,x,\n2026-11-10,-1.005,fx fee,XXX\n"
    with pytest.raises(BankFileError) as caught:
        read_statement(body, "s.csv")
    assert [(p.row, p.column) for p in caught.value.problems] == [(2, "Currency")]
    st = read_statement(body, "s.csv", currency_code="EUR")
    assert [(ln.currency, ln.amount) for ln in st.lines] == [("EUR", D("5"))]
    assert [i.row for i in st.ignored] == [3]
