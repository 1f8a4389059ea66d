"""Receivables aging and DSO (spec section 7), on SQLite and PostgreSQL: bucket boundaries by the due date as of a
chosen date, amounts never added across currencies, partly paid invoices at what is still due, paid / void /
written-off / draft invoices left out, the per-customer table paginated, the exports' totals."""
from datetime import date, timedelta
from decimal import Decimal

import pytest

from core.auth import SYSTEM
from core.invoicing.credit_notes import issue_credit_note
from core.invoicing.drafts import create_one_off_invoice
from core.invoicing.payments import record_payment
from core.invoicing.service import approve_invoice
from core.invoicing.write_offs import write_off
from core.ledger.exports import to_csv, to_xlsx
from core.receivables import aging
from tests.db import factories as f

D = Decimal
ON = date(2026, 6, 30)


def _invoice(session, cust, amount: str, due: date, currency: str | None = None, approve: bool = True):
    """An invoice of ``amount`` due on ``due`` (the customer's payment terms: 30 days after it is issued)."""
    inv = create_one_off_invoice(session, SYSTEM, customer_id=cust.id, issue_date=due - timedelta(days=30),
                                 currency_code=currency,
                                 lines=[{"description": "Services", "quantity": "1", "unit_price": amount}])
    return approve_invoice(session, SYSTEM, inv.id) if approve else inv


@pytest.fixture
def cust(session):
    f.seller(session)
    return f.customer(session, "C1")


def _totals(session, on=ON, **kw):
    return {t.currency: t for t in aging.aging_totals(session, on=on, **kw)}


@pytest.mark.parametrize("days_late, bucket", [
    (0, "current"), (1, "d1_30"), (30, "d1_30"), (31, "d31_60"), (60, "d31_60"), (61, "d61_90"), (90, "d61_90"),
    (91, "d90_plus"), (400, "d90_plus")])
def test_bucket_boundaries_by_days_past_the_due_date(session, cust, days_late, bucket):
    _invoice(session, cust, "100", ON - timedelta(days=days_late))
    [usd] = aging.aging_totals(session, on=ON)
    assert usd.amounts[bucket] == D("100") and usd.counts[bucket] == 1
    assert usd.total == D("100") and usd.count == 1
    [row] = aging.aging_invoices(session, on=ON)[0]
    assert (row.bucket, row.days_past_due) == (bucket, days_late)
    assert aging.bucket_of(ON - timedelta(days=days_late), ON) == bucket


def test_not_yet_due_is_current_and_the_as_of_date_moves_the_clock(session, cust):
    _invoice(session, cust, "100", date(2026, 6, 1))  # issued 2 May
    assert _totals(session, on=date(2026, 5, 20))["USD"].amounts["current"] == D("100")
    assert _totals(session, on=date(2026, 6, 1))["USD"].amounts["current"] == D("100")
    assert _totals(session, on=date(2026, 7, 1))["USD"].amounts["d1_30"] == D("100")
    assert _totals(session, on=date(2026, 9, 30))["USD"].amounts["d90_plus"] == D("100")
    assert _totals(session, on=date(2026, 5, 1)) == {}  # not issued yet on that day


def test_currencies_are_never_added_together(session, cust):
    _invoice(session, cust, "100", ON - timedelta(days=5))
    _invoice(session, cust, "250.50", ON - timedelta(days=45), currency="EUR")
    _invoice(session, cust, "30", ON - timedelta(days=45), currency="EUR")
    t = _totals(session)
    assert set(t) == {"USD", "EUR"}
    assert (t["USD"].total, t["USD"].amounts["d1_30"]) == (D("100"), D("100"))
    assert (t["EUR"].total, t["EUR"].amounts["d31_60"], t["EUR"].counts["d31_60"]) == (D("280.50"), D("280.50"), 2)
    rows, n = aging.aging_by_customer(session, on=ON)
    assert n == 2 and {(r.currency, r.total) for r in rows} == {("USD", D("100")), ("EUR", D("280.50"))}
    assert _totals(session, currency="EUR").keys() == {"EUR"}


def test_partly_paid_counts_what_is_still_due_and_settled_invoices_are_left_out(session, cust):
    partly = _invoice(session, cust, "1000", ON - timedelta(days=10))
    record_payment(session, SYSTEM, customer_id=cust.id, currency_code="USD", amount="400", method="bank_transfer",
                   received_on=ON - timedelta(days=2), allocations={partly.id: "400"})
    paid = _invoice(session, cust, "200", ON - timedelta(days=40))
    record_payment(session, SYSTEM, customer_id=cust.id, currency_code="USD", amount="200", method="bank_transfer",
                   received_on=ON - timedelta(days=2), allocations={paid.id: "200"})
    voided = _invoice(session, cust, "300", ON - timedelta(days=70))
    issue_credit_note(session, SYSTEM, voided.id, reason="Cancelled order", amount="300",
                      issue_date=ON - timedelta(days=1))
    lost = _invoice(session, cust, "500", ON - timedelta(days=100))
    write_off(session, SYSTEM, lost.id, reason="Customer went bankrupt", on=ON - timedelta(days=1))
    _invoice(session, cust, "700", ON - timedelta(days=20), approve=False)  # a draft is not owed yet
    for on in (ON, date.today()):  # as it stood on ON (from the ledger), and as it stands today
        t = _totals(session, on=on)["USD"]
        assert (t.total, t.count) == (D("600"), 1)
    t = _totals(session)["USD"]
    assert (t.total, t.count, t.amounts["d1_30"]) == (D("600"), 1, D("600"))
    assert t.amounts["d31_60"] == t.amounts["d61_90"] == t.amounts["d90_plus"] == D("0")
    [row] = aging.aging_invoices(session, on=ON)[0]
    assert (row.id, row.amount_due, row.total, row.status) == (partly.id, D("600"), D("1000"), "partially_paid")


def test_a_past_date_shows_what_was_owed_then(session, cust):
    """Aging at a month-end, looked at later: payments, credit notes and write-offs after that day are not taken
    off; those before it are. Today's aging takes everything off."""
    month_end = ON
    a = _invoice(session, cust, "1000", month_end - timedelta(days=10))
    b = _invoice(session, cust, "400", month_end - timedelta(days=45))
    c = _invoice(session, cust, "250", month_end - timedelta(days=5))
    record_payment(session, SYSTEM, customer_id=cust.id, currency_code="USD", amount="300", method="bank_transfer",
                   received_on=month_end - timedelta(days=3), allocations={a.id: "300"})  # before: counts
    record_payment(session, SYSTEM, customer_id=cust.id, currency_code="USD", amount="700", method="bank_transfer",
                   received_on=month_end + timedelta(days=4), allocations={a.id: "700"})  # after: still owed then
    issue_credit_note(session, SYSTEM, b.id, reason="Price error", amount="400",
                      issue_date=month_end + timedelta(days=10))
    write_off(session, SYSTEM, c.id, reason="Gone", on=month_end + timedelta(days=20))
    then = _totals(session, on=month_end)["USD"]
    assert (then.total, then.count) == (D("1350"), 3)
    assert (then.amounts["d1_30"], then.amounts["d31_60"]) == (D("950"), D("400"))
    rows, n = aging.aging_invoices(session, on=month_end)
    assert n == 3 and {r.id: r.amount_due for r in rows} == {a.id: D("700"), b.id: D("400"), c.id: D("250")}
    [cust_row], _ = aging.aging_by_customer(session, on=month_end)
    assert cust_row.total == D("1350")
    assert _totals(session, on=date.today()) == {}  # everything settled since
    [dso] = aging.dso(session, on=month_end, days=90)
    assert dso.receivables == D("1350")


def test_customers_table_is_one_query_paginated_and_sorted(session, cust):
    others = [f.customer(session, f"C{i}") for i in range(2, 7)]
    for i, c in enumerate([cust, *others], start=1):
        _invoice(session, c, str(100 * i), ON - timedelta(days=10 * i))
    first, n = aging.aging_by_customer(session, on=ON, limit=4)
    second, _ = aging.aging_by_customer(session, on=ON, limit=4, offset=4)
    assert n == 6 and len(first) == 4 and len(second) == 2
    assert [r.total for r in first + second] == [D(str(100 * i)) for i in range(6, 0, -1)]
    oldest, _ = aging.aging_by_customer(session, on=ON, sort="oldest", limit=1)
    assert oldest[0].external_id == "C6" and oldest[0].amounts["d31_60"] == D("600")
    found, n = aging.aging_by_customer(session, on=ON, search="c3")
    assert n == 1 and found[0].external_id == "C3"
    rows, n = aging.aging_invoices(session, on=ON, bucket="d31_60")
    assert n == 3 and {r.customer for r in rows} == {"Customer C4", "Customer C5", "Customer C6"}
    rows, n = aging.aging_invoices(session, on=ON, customer_id=others[0].id)
    assert n == 1 and rows[0].amount_due == D("200")


def test_dso_is_receivables_over_credit_sales_times_days(session, cust):
    # 90 days to 30 Jun 2026: 2 Apr – 30 Jun. Invoiced 3,000 in it (issued 15 Apr and 20 Jun); 1,500 of it still
    # due, plus 500 invoiced before it.
    a = _invoice(session, cust, "2000", date(2026, 5, 15))
    _invoice(session, cust, "1000", date(2026, 7, 20))
    _invoice(session, cust, "500", date(2026, 2, 10))
    record_payment(session, SYSTEM, customer_id=cust.id, currency_code="USD", amount="1500", method="bank_transfer",
                   received_on=date(2026, 5, 1), allocations={a.id: "1500"})
    [d] = aging.dso(session, on=ON, days=90)
    assert (d.receivables, d.credit_sales, d.start) == (D("2000"), D("3000"), date(2026, 4, 2))
    assert d.value == D("60.0")  # 2,000 / 3,000 × 90


def test_exports_hold_every_customer_and_totals_per_currency(session, cust):
    _invoice(session, cust, "100", ON - timedelta(days=5))
    _invoice(session, cust, "40", ON - timedelta(days=95), currency="EUR")
    report = aging.aging_report(session, on=ON)
    assert [r[2] for r in report.rows] == ["USD", "EUR"]
    assert {label: amounts[8] for label, _, amounts in report.totals} == {"Total EUR": D("40.00"),
                                                                           "Total USD": D("100.00")}
    assert to_xlsx(report)[:2] == b"PK"
    csv = to_csv(report).decode("utf-8-sig").splitlines()
    assert csv[0].startswith("Customer,Customer id,Currency,Current,1–30 days")
    assert csv[1] == "Customer C1,C1,USD,0.00,100.00,0.00,0.00,0.00,100.00,1,1"
    inv_report = aging.aging_invoices_report(session, on=ON, overdue_only=True)
    assert len(inv_report.rows) == 2 and {t[0] for t in inv_report.totals} == {"Total EUR", "Total USD"}


def test_cli_writes_the_aging_for_cron(session, cust, db_url, tmp_path, monkeypatch):
    import cli

    _invoice(session, cust, "100", date.today() - timedelta(days=40))
    session.commit()
    monkeypatch.setenv("DATABASE_URL", db_url)
    out = tmp_path / "aging.csv"
    assert cli.main(["aging-report", "--out", str(out)]) == 0
    lines = out.read_bytes().decode("utf-8-sig").splitlines()
    assert lines[1] == "Customer C1,C1,USD,0.00,0.00,100.00,0.00,0.00,100.00,1,1"
    assert cli.main(["aging-report", "--segment", "nope"]) == 1
