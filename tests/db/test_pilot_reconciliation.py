"""Pilot reconciliation: the prospect's invoices against ours — matched, differing (by how much, on which line),
missing on either side, a match rate, and an XLSX a finance user can open. Bad files are refused cell by cell."""
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO

import pytest
from openpyxl import load_workbook

from core.auth import SYSTEM
from core.billing.contracts import LineSpec
from core.invoicing.service import generate_drafts
from core.pilot_reconciliation import (
    DIFFERS,
    MATCHED,
    ONLY_OURS,
    ONLY_THEIRS,
    ReconciliationFileError,
    read_their_invoices,
    reconcile,
    reconciliation_xlsx,
)
from tests.db import factories as f

OCT = {"period_start": date(2026, 10, 1), "period_end": date(2026, 11, 1)}


def _pilot(session):
    """Three customers billed for October 2026: a $100 platform fee in arrears and API calls at $0.50."""
    f.seller(session)
    for ext, name in (("ACME", "Acme Analytics"), ("BETA", "Beta Bank"), ("GAMMA", "Gamma Games")):
        f.customer(session, ext, name=name)
    f.metric(session, "calls", "call")
    for ext, calls in (("ACME", 1000), ("BETA", 400), ("GAMMA", 10)):
        f.contract(session, ext, [LineSpec("Platform fee", "flat_fee", {"amount": "100"}),
                                  LineSpec("API calls", "per_unit", {"unit_price": "0.50"}, metric_code="calls")],
                   start=date(2026, 1, 1))
        f.events(session, ext, "call", [calls], when=datetime(2026, 10, 12))
    assert len(generate_drafts(session, SYSTEM, **OCT).created) == 3


def _csv(rows: list[str]) -> bytes:
    return ("Customer,Invoice Date,Invoice Number,Description,Amount\n" + "\n".join(rows) + "\n").encode()


def test_side_by_side_report(session):
    _pilot(session)
    theirs, notes = read_their_invoices(_csv([
        "ACME,2026-11-01,T-1,Platform Fee,100.00",  # case and spacing differ: still the same line
        "ACME,2026-11-01,T-1,API calls,$500.00",
        "Beta Bank,1 Nov 2026,T-2,Platform fee,100",  # by name; their API calls are $10 short
        "Beta Bank,1 Nov 2026,T-2,API calls,190.00",
        "DELTA,2026-11-01,T-3,Platform fee,100",  # a customer we do not bill
    ]), "their-invoices.csv")
    rec = reconcile(session, SYSTEM, theirs, run_month=date(2026, 10, 1))
    by = {c.label: c for c in rec.customers}
    assert by["Acme Analytics"].status == MATCHED and by["Acme Analytics"].difference == 0
    beta = by["Beta Bank"]
    assert beta.status == DIFFERS and beta.difference == Decimal("10.00")
    [calls] = [ln for ln in beta.lines if ln.status == DIFFERS]
    assert (calls.ours, calls.their_amount, calls.difference, calls.their_row) == \
        ("API calls", Decimal("190.00"), Decimal("10.00"), 5)
    assert by["Gamma Games"].status == ONLY_OURS and by["Gamma Games"].our_total == Decimal("105.00")
    assert by["DELTA"].status == ONLY_THEIRS and "no customer with this id or name" in by["DELTA"].note
    assert (rec.count(MATCHED), len(rec.customers), rec.match_rate) == (1, 4, Decimal("25.0"))
    assert rec.customers[0].label == "Beta Bank"  # differences first, largest first
    assert rec.their_dates == (date(2026, 11, 1), date(2026, 11, 1))
    assert any("Invoice Number" in n or "not used" in n for n in notes) or notes == []


def test_tolerance_and_reworded_lines(session):
    _pilot(session)
    theirs, _ = read_their_invoices(_csv([
        "ACME,2026-11-01,T-1,Monthly platform subscription,100.00",  # same amount, other words: matched
        "ACME,2026-11-01,T-1,API usage (calls),500.004",  # rounds to 500.00
        "BETA,2026-11-01,T-2,Platform fee,100.00",
        "BETA,2026-11-01,T-2,API calls,199.99",
    ]), "x.csv")
    strict = reconcile(session, SYSTEM, theirs, run_month=date(2026, 10, 15))
    by = {c.external_id: c for c in strict.customers}
    assert by["ACME"].status == MATCHED
    assert {ln.note for ln in by["ACME"].lines} >= {"same amount, described differently"}
    assert by["BETA"].status == DIFFERS
    loose = reconcile(session, SYSTEM, theirs, run_month=date(2026, 10, 1), tolerance="0.01")
    assert {c.external_id: c.status for c in loose.customers}["BETA"] == MATCHED


def test_xlsx_export_has_every_customer_and_line_with_exact_amounts(session):
    _pilot(session)
    theirs, _ = read_their_invoices(_csv(["BETA,2026-11-01,T-2,Platform fee,100", "BETA,2026-11-01,T-2,API calls,190"]),
                                    "x.csv")
    rec = reconcile(session, SYSTEM, theirs, run_month=date(2026, 10, 1))
    wb = load_workbook(BytesIO(reconciliation_xlsx(rec)))
    assert wb.sheetnames == ["Summary", "Customers", "Lines"]
    summary = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True)}
    assert summary["Customers compared"] == 3 and summary["Match rate"] == "0.0%"
    rows = list(wb["Customers"].iter_rows(min_row=2, values_only=True))
    beta = next(r for r in rows if r[1] == "BETA")
    assert (beta[2], beta[4], beta[5], beta[6]) == (DIFFERS, 300, 290, 10)
    assert len(list(wb["Lines"].iter_rows(min_row=2))) == sum(len(c.lines) for c in rec.customers)


@pytest.mark.parametrize(("content", "expected"), [
    (b"Customer,Description,Amount\nACME,Fee,1\n", "no 'invoice_date' column"),
    (_csv(["ACME,03/04/2026,T,Fee,1"]), "row 2, column Invoice Date: '03/04/2026' is ambiguous"),
    (_csv(["ACME,2026-11-01,T,Fee,12,5"]), None),  # an extra cell: reported by the reader, whatever its words
    (_csv(["ACME,2026-11-01,T,Fee,twelve"]), "row 2, column Amount: 'twelve' is not an amount"),
    (_csv(["ACME,2026-11-01,T,Fee,1", ",2026-11-01,T,Fee,1"]), "row 3, column Customer: customer is required"),
    (b"Customer,Invoice Date,Description,Amount\n", "no rows"),
])
def test_bad_files_name_the_cell_and_compare_nothing(content, expected):
    with pytest.raises(ReconciliationFileError) as err:
        read_their_invoices(content, "theirs.csv")
    text = "; ".join(str(p) for p in err.value.problems) + " " + str(err.value)
    if expected:
        assert expected in text


def test_currency_mismatch_is_a_difference_not_a_match(session):
    _pilot(session)
    content = ("Customer,Invoice Date,Description,Amount,Currency\n"
               "ACME,2026-11-01,Platform fee,100,EUR\nACME,2026-11-01,API calls,500,EUR\n").encode()
    theirs, _ = read_their_invoices(content, "x.csv")
    acme = next(c for c in reconcile(session, SYSTEM, theirs, run_month=date(2026, 10, 1)).customers
                if c.external_id == "ACME")
    assert acme.status == DIFFERS and "different currencies (EUR, USD)" in acme.note
