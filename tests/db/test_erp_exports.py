"""Journal exports in the import formats of Xero, QuickBooks Online, NetSuite and Zoho Books
(../shared/design/real-components.md, "ERP import formats"), and the account mapping behind them.

A small fixed ledger (an invoice approval with AR, revenue and tax; a payment; a credit note; a manual entry with
a customer and formula-like text; a manual entry in EUR; two entries just outside the range) is exported in each
format and compared byte for byte with hand-written golden files under tests/fixtures/erp/. The tests also check
the format rules themselves on the output (headers, date formats, signs, grouping, balance), so a golden file
that drifted from the rules would not pass either. Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlmodel import select

from core import tax
from core.auth import SYSTEM, Actor
from core.billing.contracts import LineSpec
from core.catalog import create_entity, create_product
from core.errors import PermissionDenied, UserError
from core.invoicing import credit_notes, payments
from core.invoicing.service import approve_invoice, generate_drafts
from core.ledger import erp, posting
from core.ledger.accounts import chart
from core.models import AuditLog, ErpAccountMap
from tests.db import factories as f

D = Decimal
GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "erp"
FEB = {"start": date(2025, 2, 1), "end": date(2025, 2, 28)}
FINANCE = Actor("fiona", "finance")
VIEWER = Actor("vic", "viewer")

# the headers exactly as the design gives them (not read from the module under test)
SPEC_HEADERS = {
    "xero": "*Narration,*Date,Description,*AccountCode,*TaxRate,*Amount,TrackingName1,TrackingOption1,"
            "TrackingName2,TrackingOption2",
    "quickbooks": "Journal No.,Journal Date,Account Name,Debits,Credits,Description,Name",
    "netsuite": "External ID,Subsidiary,Currency,Date,Memo,Account,Debit,Credit,Line Memo,Name",
    "zoho": "Journal Date,Reference Number,Journal Number Prefix,Journal Number Suffix,Notes,Journal Type,Currency,"
            "Account,Description,Contact Name,Debit,Credit",
}
DATE_FORMAT = {"xero": r"\d\d/\d\d/\d{4}", "quickbooks": r"\d\d/\d\d/\d{4}", "netsuite": r"\d\d/\d\d/\d{4}",
               "zoho": r"\d{4}-\d\d-\d\d"}

# system key → (ERP account, Xero tax rate)
MAPS = {
    "xero": {"cash": ("090", "Tax Exempt"), "accounts_receivable": ("611", "Tax Exempt"),
             "customer_wallet": ("835", "Tax Exempt"), "sales_tax": ("820", "Tax Exempt"),
             "revenue": ("200", "Exempt Income"), "sales_returns": ("260", "Tax Exempt"),
             "promotional_credits": ("400", "Tax Exempt")},
    "quickbooks": {"cash": ("Checking", ""), "accounts_receivable": ("Accounts Receivable (A/R)", ""),
                   "customer_wallet": ("Customer Deposits", ""), "sales_tax": ("Sales Tax Liability", ""),
                   "revenue": ("Income : Subscriptions", ""),  # the screen's sub-account path, spaces dropped
                   "sales_returns": ("Discounts given", ""),
                   "promotional_credits": ("Advertising & Marketing:Promotions", "")},
    "netsuite": {"cash": ("1010", ""), "accounts_receivable": ("1200", ""), "customer_wallet": ("2210", ""),
                 "sales_tax": ("2300", ""), "revenue": ("Revenue : Subscriptions", ""),
                 "sales_returns": ("4910", ""), "promotional_credits": ("Marketing : Promotions", "")},
    "zoho": {"cash": ("Undeposited Funds", ""), "accounts_receivable": ("Accounts Receivable", ""),
             "customer_wallet": ("Customer Credits", ""), "sales_tax": ("Tax Payable", ""),
             "revenue": ("Sales", ""), "sales_returns": ("Discount", ""),
             "promotional_credits": ("Advertising And Marketing", "")},
}


def _ledger(session) -> dict:
    """The fixed ledger: entries CH-1 … CH-5 in February 2025, CH-6 (31 Jan) and CH-7 (1 Mar) outside it."""
    ent = create_entity(session, SYSTEM, name="Counting House Ltd", invoice_prefix="INV-")
    tax.set_rate(session, SYSTEM, country="IN", name="GST", percent="18")
    acme = f.customer(session, "C1", country="IN", name='Acme, "The" Co')
    buro = f.customer(session, "C2", name="Büro GmbH", currency="EUR")
    create_product(session, SYSTEM, sku="PLAT", name="Platform", kind="time")
    f.contract(session, "C1", [LineSpec("Platform fee", "flat_fee", {"amount": "1000"}, product_sku="PLAT",
                                        cadence="monthly", timing="arrears")])
    [inv_id] = generate_drafts(session, SYSTEM, period_start=date(2025, 1, 1), period_end=date(2025, 2, 1)).created
    inv = approve_invoice(session, SYSTEM, inv_id)  # CH-1, dated 1 Feb
    payments.record_payment(session, SYSTEM, customer_id=acme.id, currency_code="USD", amount="500",
                            method="bank_transfer", received_on=date(2025, 2, 10), reference="BT-1",
                            allocations={inv.id: "500"})  # CH-2
    credit_notes.issue_credit_note(session, SYSTEM, inv.id, reason="Outage", amount="118",
                                   issue_date=date(2025, 2, 12))  # CH-3
    c = chart(session)
    posting.manual_entry(session, SYSTEM, entity_id=ent.id, entry_date=date(2025, 2, 20), memo="=Goodwill adjustment",
                         lines=[{"account_id": c.key("promotional_credits"), "debit": "25", "currency": "USD",
                                 "description": "+bonus", "customer_id": acme.id},
                                {"account_id": c.key("customer_wallet"), "credit": "25", "currency": "USD",
                                 "description": "@wallet", "customer_id": acme.id}])  # CH-4
    posting.manual_entry(session, SYSTEM, entity_id=ent.id, entry_date=date(2025, 2, 28), memo="Cash sale, Berlin",
                         lines=[{"account_id": c.key("cash"), "debit": "250", "currency": "EUR",
                                 "description": "-card fee waived", "customer_id": buro.id},
                                {"account_id": c.key("revenue"), "credit": "250", "currency": "EUR",
                                 "description": "Cash sale", "customer_id": buro.id}])  # CH-5
    for day in (date(2025, 1, 31), date(2025, 3, 1)):  # CH-6, CH-7: outside the range
        posting.manual_entry(session, SYSTEM, entity_id=ent.id, entry_date=day, memo="Outside the range",
                             lines=[{"account_id": c.key("cash"), "debit": "1", "currency": "USD"},
                                    {"account_id": c.key("gateway_fees"), "credit": "1", "currency": "USD"}])
    return {"entity": ent, "acme": acme, "buro": buro, "invoice": inv, "chart": c}


def _map(session, which: str, actor: Actor = SYSTEM) -> None:
    c = chart(session)
    for key, (account, rate) in MAPS[which].items():
        erp.set_mapping(session, actor, which, c.key(key), account, rate)


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def _check_format(which: str, data: bytes) -> list[list[str]]:
    """The format rules, checked on a file independently of the golden files."""
    assert not data.startswith(b"\xef\xbb\xbf"), "no byte-order mark"
    text = data.decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", ""), "every line ends with \\r\\n"
    assert text.split("\r\n", 1)[0] == SPEC_HEADERS[which]
    rows = _rows(data)
    header, body = rows[0], rows[1:]
    assert body and all(len(r) == len(header) for r in body)
    col = {h: i for i, h in enumerate(header)}
    groups: dict[tuple, list[list[str]]] = defaultdict(list)
    amount = re.compile(r"^-?\d+(\.\d+)?$")
    for r in body:
        when = r[col[{"xero": "*Date", "quickbooks": "Journal Date", "netsuite": "Date", "zoho": "Journal Date"}
                     [which]]]
        assert re.fullmatch(DATE_FORMAT[which], when), when
        if which == "xero":
            assert amount.match(r[col["*Amount"]]) and D(r[col["*Amount"]]) != 0
            assert r[col["*Narration"]] and r[col["*AccountCode"]] and r[col["*TaxRate"]]
            assert r[col["TrackingName1"]] == r[col["TrackingOption1"]] == r[col["TrackingName2"]] == ""
            groups[(r[col["*Narration"]], when)].append(r)
            continue
        debit, credit = {"quickbooks": ("Debits", "Credits")}.get(which, ("Debit", "Credit"))
        d, c = r[col[debit]], r[col[credit]]
        assert (d == "") != (c == ""), "one of debit and credit per line"
        assert all(v == "" or (amount.match(v) and not v.startswith("-") and D(v) > 0) for v in (d, c))
        key = {"quickbooks": "Journal No.", "netsuite": "External ID", "zoho": "Reference Number"}[which]
        assert r[col[key]], "every row carries its journal's key"
        groups[(r[col[key]],)].append(r)
    for key, lines in groups.items():
        assert len(lines) >= 2, key
        if which == "xero":
            assert sum(D(r[col["*Amount"]]) for r in lines) == 0, key
        else:
            debit, credit = {"quickbooks": ("Debits", "Credits")}.get(which, ("Debit", "Credit"))
            assert sum(D(r[col[debit]] or 0) for r in lines) == sum(D(r[col[credit]] or 0) for r in lines), key
            dates = {r[col[{"quickbooks": "Journal Date", "netsuite": "Date", "zoho": "Journal Date"}[which]]]
                     for r in lines}
            assert len(dates) == 1, "one date per journal"
        if which in ("netsuite", "zoho"):
            assert len({r[col["Currency"]] for r in lines}) == 1
    # text cells never start with a formula character; amounts are never apostrophed
    for r in body:
        for h, v in zip(header, r):
            assert not v.startswith(("=", "+", "@")), (h, v)
            if v.startswith("-"):
                assert h == "*Amount", (h, v)
    return rows


GOLDEN_ARGS = {"xero": {"currency": "USD"}, "quickbooks": {"currency": "USD"}, "netsuite": {}, "zoho": {}}


@pytest.mark.parametrize("which", list(erp.ERPS))
def test_each_format_matches_its_golden_file(session, which):
    led = _ledger(session)
    _map(session, which)
    files = erp.export_journal(session, FINANCE, which, **FEB, **GOLDEN_ARGS[which])
    assert len(files) == 1
    rows = _check_format(which, files[0].data)
    golden = (GOLDEN / f"{which}.csv").read_bytes()
    assert files[0].data == golden, files[0].data.decode()
    suffix = "-USD" if which in ("xero", "quickbooks") else ""
    assert files[0].name == f"{which}-journal-2025-02-01-2025-02-28{suffix}.csv"
    body = rows[1:]
    col = {h: i for i, h in enumerate(rows[0])}
    if which == "xero":
        # rows sharing narration and date are one journal: each entry's narration starts with its reference
        assert [r[col["*Narration"]].split(" ", 1)[0] for r in body] == ["CH-1"] * 3 + ["CH-2"] * 2 + \
            ["CH-3"] * 3 + ["CH-4"] * 2
        assert body[0][col["*Date"]] == "01/02/2025"  # dd/mm/yyyy: 1 February
        assert [r[col["*Amount"]] for r in body[:3]] == ["1180.00", "-1000.00", "-180.00"]  # debit +, credit −
        assert body[1][col["*TaxRate"]] == "Exempt Income"
    if which == "quickbooks":
        assert body[0][col["Journal Date"]] == "02/01/2025"  # MM/DD/YYYY
        assert body[1][col["Account Name"]] == "Income:Subscriptions"
        assert "Advertising & Marketing:Promotions" in {r[col["Account Name"]] for r in body}
        ar = [r for r in body if r[col["Account Name"]] == "Accounts Receivable (A/R)"]
        assert len(ar) == 3 and all(r[col["Name"]] == led["acme"].name for r in ar)
    if which == "netsuite":
        assert {r[col["Subsidiary"]] for r in body} == {"Counting House Ltd"}
        assert [r for r in body if r[col["External ID"]] == "CH-5"][0][col["Currency"]] == "EUR"
    if which == "zoho":
        assert {r[col["Journal Type"]] for r in body} == {"Both"}
        assert [(r[col["Journal Number Prefix"]], r[col["Journal Number Suffix"]]) for r in body][0] == ("CH-", "1")
    # formula injection: the memo "=Goodwill adjustment" and descriptions "+bonus", "@wallet", "-card fee waived"
    cells = {v for r in body for v in r}
    assert "'+bonus" in cells and "'@wallet" in cells
    if which in ("netsuite", "zoho"):
        assert "'=Goodwill adjustment" in cells and "'-card fee waived" in cells
    # the entries outside the range are not there
    assert "Outside the range" not in files[0].data.decode()
    [log] = session.exec(select(AuditLog).where(AuditLog.action == "ledger.export")).all()
    assert log.actor == "fiona"
    assert log.details["erp"] == which and log.details["start"] == "2025-02-01" and log.details["end"] == "2025-02-28"
    assert log.details["entries"] == (4 if which in ("xero", "quickbooks") else 5) and log.details["files"] == 1


def test_xero_and_quickbooks_export_one_currency_at_a_time(session):
    _ledger(session)
    for which in ("xero", "quickbooks"):
        _map(session, which)
        with pytest.raises(UserError, match=r"home currency.*EUR \(1 entry\), USD \(4 entries\).*one currency at a"):
            erp.export_journal(session, FINANCE, which, **FEB)
        [eur] = erp.export_journal(session, FINANCE, which, **FEB, currency="eur")
        assert eur.name.endswith("-EUR.csv")
        rows = _check_format(which, eur.data)
        assert len(rows) == 3
        if which == "xero":  # no name column: the customer is not in the file
            assert "Büro GmbH" not in eur.data.decode()
    [qbo] = erp.export_journal(session, FINANCE, "quickbooks", **FEB, currency="EUR")
    assert [r[-1] for r in _rows(qbo.data)[1:]] == ["Büro GmbH", "Büro GmbH"]
    assert _rows(qbo.data)[1][:5] == ["CH-5", "02/28/2025", "Checking", "250.00", ""]


def test_an_entry_in_several_currencies_is_one_journal_per_currency(session):
    led = _ledger(session)
    c = led["chart"]
    entry = posting.manual_entry(session, SYSTEM, entity_id=led["entity"].id, entry_date=date(2025, 2, 27),
                                 memo="Two currencies", lines=[
                                     {"account_id": c.key("cash"), "debit": "10", "currency": "USD"},
                                     {"account_id": c.key("revenue"), "credit": "10", "currency": "USD"},
                                     {"account_id": c.key("cash"), "debit": "1500", "currency": "JPY"},
                                     {"account_id": c.key("revenue"), "credit": "1500", "currency": "JPY"}])
    for which in ("netsuite", "xero"):
        _map(session, which)
    [ns] = erp.export_journal(session, FINANCE, "netsuite", **FEB)
    rows = _check_format("netsuite", ns.data)
    mine = [r for r in rows[1:] if r[0].startswith(f"CH-{entry.id}")]
    assert [(r[0], r[2], r[6], r[7]) for r in mine] == [
        (f"CH-{entry.id}-USD", "USD", "10.00", ""), (f"CH-{entry.id}-USD", "USD", "", "10.00"),
        (f"CH-{entry.id}-JPY", "JPY", "1500", ""), (f"CH-{entry.id}-JPY", "JPY", "", "1500")]  # yen: no decimals
    # filtered by currency, the reference keeps its suffix: the same journal has the same key in every export
    [xero] = erp.export_journal(session, FINANCE, "xero", **FEB, currency="JPY")
    assert [r[0] for r in _rows(xero.data)[1:]] == [f"CH-{entry.id}-JPY Two currencies"] * 2
    assert [r[5] for r in _rows(xero.data)[1:]] == ["1500", "-1500"]


def _post_entries(session, sizes: list[int], *, day: date = date(2025, 4, 10)) -> None:
    """Entries of the given numbers of lines (each balanced: n − 1 debits of 1.00 against one credit)."""
    ent = create_entity(session, SYSTEM, name="Bulk Ltd")
    c = chart(session)
    drafts = []
    for n, size in enumerate(sizes, start=1):
        d = posting.Draft(entity_id=ent.id, entry_date=day, memo=f"Bulk {n}", source_type="manual",
                          source_key=f"test:bulk:{n}")
        for _ in range(size - 1):
            d.debit(c.key("cash"), "USD", D("1.00"))
        d.credit(c.key("revenue"), "USD", D(size - 1))
        drafts.append(d)
    posting.post_many(session, drafts, posted_by="test")
    erp.set_mapping(session, SYSTEM, "xero", c.key("cash"), "090", "Tax Exempt")
    erp.set_mapping(session, SYSTEM, "xero", c.key("revenue"), "200", "Tax Exempt")


def test_xero_files_hold_at_most_300_lines_and_never_split_a_journal(session):
    sizes = [7, 2, 5] * 30 + [300, 1 + 1]  # 420 + 302 lines: several files, a full one among them
    _post_entries(session, sizes)
    files = erp.export_journal(session, FINANCE, "xero", start=date(2025, 4, 1), end=date(2025, 4, 30))
    assert len(files) >= 3
    assert [fl.name for fl in files] == [f"xero-journal-2025-04-01-2025-04-30-USD-{n}of{len(files)}.csv"
                                         for n in range(1, len(files) + 1)]
    seen: dict[str, int] = {}
    total = 0
    for n, fl in enumerate(files):
        rows = _check_format("xero", fl.data)  # each file: the header, then balanced journals
        assert 1 < len(rows) <= 300 + 1
        total += len(rows) - 1
        for narration in {r[0] for r in rows[1:]}:
            assert narration not in seen, f"{narration} is split between files {seen[narration]} and {n}"
            seen[narration] = n
    assert total == sum(sizes) and len(seen) == len(sizes)
    # the 300-line journal fills a file of its own
    assert any(len(_rows(fl.data)) == 301 for fl in files)
    # greedy: a file is only closed when the next journal would not fit
    for a, b in zip(files, files[1:]):
        nxt = _rows(b.data)[1][0]
        nxt_size = sum(1 for r in _rows(b.data)[1:] if r[0] == nxt)
        assert len(_rows(a.data)) - 1 + nxt_size > 300


def test_xero_refuses_a_journal_longer_than_a_file(session):
    _post_entries(session, [301])
    with pytest.raises(UserError, match=r"CH-1 \(Bulk 1\) has 301 lines; Xero imports at most 300"):
        erp.export_journal(session, FINANCE, "xero", start=date(2025, 4, 1), end=date(2025, 4, 30))


def test_unmapped_accounts_are_listed_and_refused(session):
    led = _ledger(session)
    c = led["chart"]
    assert [a.code for a in erp.unmapped(session, "zoho", **FEB)] == ["1100", "1200", "2200", "2300", "4100", "5100",
                                                                      "5400"]
    _map(session, "zoho")
    assert erp.unmapped(session, "zoho", **FEB) == []
    # 5200 Payment Gateway Fees has postings only outside the range (31 Jan, 1 Mar)
    assert [a.code for a in erp.unmapped(session, "zoho", start=date(2025, 1, 1), end=date(2025, 3, 31))] == ["5200"]
    assert erp.unmapped(session, "zoho", **FEB, entity_id=led["entity"].id + 1) == []
    removed = erp.set_mapping(session, FINANCE, "zoho", c.key("accounts_receivable"), "  ")
    assert removed.erp_account == "Accounts Receivable"
    assert session.exec(select(ErpAccountMap).where(ErpAccountMap.erp == "zoho",
                                                    ErpAccountMap.account_id == removed.account_id)).first() is None
    log = session.exec(select(AuditLog).where(AuditLog.action == "erp.mapping").order_by(AuditLog.id.desc())).first()
    assert log.actor == "fiona" and log.details["removed"] is True
    assert log.details["before"] == {"erp_account": "Accounts Receivable", "tax_rate": ""}
    assert log.details["after"] is None
    erp.set_mapping(session, FINANCE, "zoho", c.key("revenue"), "")
    assert [a.code for a in erp.unmapped(session, "zoho", **FEB)] == ["1200", "4100"]
    with pytest.raises(UserError, match=r"map these accounts to Zoho Books accounts first.*: 1200 Accounts Receivable, "
                                        r"4100 Sales and Services Revenue$"):
        erp.export_journal(session, FINANCE, "zoho", **FEB)
    assert session.exec(select(AuditLog).where(AuditLog.action == "ledger.export")).first() is None
    # removing what is not mapped changes nothing and records nothing
    n = len(session.exec(select(AuditLog)).all())
    assert erp.set_mapping(session, FINANCE, "zoho", c.key("revenue"), "").id is None
    assert len(session.exec(select(AuditLog)).all()) == n


def test_netsuite_refuses_amounts_too_large_for_it(session):
    ent = create_entity(session, SYSTEM, name="Big Ltd")
    c = chart(session)
    for n, amount in enumerate(("9999999999.99", "10000000000.00"), start=1):
        posting.manual_entry(session, SYSTEM, entity_id=ent.id, entry_date=date(2025, 5, n), memo=f"Big {n}",
                             lines=[{"account_id": c.key("cash"), "debit": amount, "currency": "USD"},
                                    {"account_id": c.key("revenue"), "credit": amount, "currency": "USD"}])
    _map(session, "netsuite")
    [ok] = erp.export_journal(session, FINANCE, "netsuite", start=date(2025, 5, 1), end=date(2025, 5, 1))
    assert _check_format("netsuite", ok.data)[1][6] == "9999999999.99"
    with pytest.raises(UserError, match=r"CH-2 \(Big 2\), line 1 \(1100 Cash\): \$10,000,000,000.00 has more than 10 "
                                        r"digits before the point.*line 2 \(4100 Sales and Services Revenue\)"):
        erp.export_journal(session, FINANCE, "netsuite", start=date(2025, 5, 1), end=date(2025, 5, 31))
    _map(session, "zoho")  # the other formats have no such limit
    erp.export_journal(session, FINANCE, "zoho", start=date(2025, 5, 1), end=date(2025, 5, 31))


def test_amounts_are_written_with_the_currencys_minor_units_and_never_rounded(session):
    ent = create_entity(session, SYSTEM, name="Minor Ltd")
    c = chart(session)
    for n, (amount, code) in enumerate((("1.250", "BHD"), ("1500", "JPY"), ("10.005", "USD")), start=1):
        posting.manual_entry(session, SYSTEM, entity_id=ent.id, entry_date=date(2025, 6, n), memo=f"Minor {n}",
                             lines=[{"account_id": c.key("cash"), "debit": amount, "currency": code},
                                    {"account_id": c.key("revenue"), "credit": amount, "currency": code}])
    for which in erp.ERPS:
        _map(session, which)
    june = {"start": date(2025, 6, 1), "end": date(2025, 6, 30)}
    [zoho] = erp.export_journal(session, FINANCE, "zoho", start=date(2025, 6, 1), end=date(2025, 6, 2))
    assert [(r[6], r[10], r[11]) for r in _check_format("zoho", zoho.data)[1:]] == [
        ("BHD", "1.250", ""), ("BHD", "", "1.250"), ("JPY", "1500", ""), ("JPY", "", "1500")]
    # NetSuite takes 2 decimals: 1.250 fits as 1.25; 1.255 would not
    [ns] = erp.export_journal(session, FINANCE, "netsuite", start=date(2025, 6, 1), end=date(2025, 6, 1))
    assert [r[6] or r[7] for r in _rows(ns.data)[1:]] == ["1.25", "1.25"]
    for which in erp.ERPS:
        with pytest.raises(UserError, match=r"CH-3 \(Minor 3\), line 1 \(1100 Cash\): \$10.005 has more decimals than "
                                            r"USD has \(2\)"):
            erp.export_journal(session, FINANCE, which, **june, currency="USD")
    posting.manual_entry(session, SYSTEM, entity_id=ent.id, entry_date=date(2025, 7, 1), memo="Dinar",
                         lines=[{"account_id": c.key("cash"), "debit": "1.255", "currency": "BHD"},
                                {"account_id": c.key("revenue"), "credit": "1.255", "currency": "BHD"}])
    with pytest.raises(UserError, match=r"BHD 1.255 has more than 2 decimals, which NetSuite does not take"):
        erp.export_journal(session, FINANCE, "netsuite", start=date(2025, 7, 1), end=date(2025, 7, 1))
    [z] = erp.export_journal(session, FINANCE, "zoho", start=date(2025, 7, 1), end=date(2025, 7, 1))
    assert _rows(z.data)[1][10] == "1.255"


def test_receivable_lines_need_a_customer_for_quickbooks(session):
    ent = create_entity(session, SYSTEM, name="AR Ltd")
    c = chart(session)
    posting.manual_entry(session, SYSTEM, entity_id=ent.id, entry_date=date(2025, 8, 1), memo="Opening AR",
                         lines=[{"account_id": c.key("accounts_receivable"), "debit": "40", "currency": "USD"},
                                {"account_id": c.key("retained_earnings"), "credit": "40", "currency": "USD"}])
    for which in erp.ERPS:
        erp.set_mapping(session, SYSTEM, which, c.key("accounts_receivable"), "AR1", "Tax Exempt" if which == "xero"
                        else "")
        erp.set_mapping(session, SYSTEM, which, c.key("retained_earnings"), "RE1", "Tax Exempt" if which == "xero"
                        else "")
    aug = {"start": date(2025, 8, 1), "end": date(2025, 8, 31)}
    with pytest.raises(UserError, match=r"CH-1 \(Opening AR\), line 1: QuickBooks Online needs a customer on every "
                                        r"Accounts Receivable line"):
        erp.export_journal(session, FINANCE, "quickbooks", **aug)
    erp.export_journal(session, FINANCE, "xero", **aug)  # Xero has no name column


def test_one_organisation_per_entity_except_netsuite(session):
    led = _ledger(session)
    other = create_entity(session, SYSTEM, name="Second Co")
    c = led["chart"]
    posting.manual_entry(session, SYSTEM, entity_id=other.id, entry_date=date(2025, 2, 15), memo="Other company",
                         lines=[{"account_id": c.key("cash"), "debit": "5", "currency": "EUR"},
                                {"account_id": c.key("revenue"), "credit": "5", "currency": "EUR"}])
    for which in ("zoho", "netsuite"):
        _map(session, which)
    with pytest.raises(UserError, match=r"belong to 2 business entities \(Counting House Ltd, Second Co\); Zoho Books "
                                        r"keeps one organisation per company"):
        erp.export_journal(session, FINANCE, "zoho", **FEB)
    [mine] = erp.export_journal(session, FINANCE, "zoho", **FEB, entity_id=led["entity"].id)
    assert mine.data == (GOLDEN / "zoho.csv").read_bytes()
    [ns] = erp.export_journal(session, FINANCE, "netsuite", **FEB)
    assert {r[1] for r in _rows(ns.data)[1:]} == {"Counting House Ltd", "Second Co"}


def test_nothing_to_export_and_bad_arguments(session):
    _ledger(session)
    _map(session, "netsuite")
    with pytest.raises(UserError, match="there are no journal entries from 1 Apr 2025 to 30 Apr 2025: nothing to "
                                        "export"):
        erp.export_journal(session, FINANCE, "netsuite", start=date(2025, 4, 1), end=date(2025, 4, 30))
    with pytest.raises(UserError, match="no journal entries from 1 Feb 2025 to 28 Feb 2025 in GBP"):
        erp.export_journal(session, FINANCE, "netsuite", **FEB, currency="GBP")
    with pytest.raises(UserError, match="ends .* before it starts"):
        erp.export_journal(session, FINANCE, "netsuite", start=date(2025, 2, 2), end=date(2025, 2, 1))
    with pytest.raises(UserError, match="'sage' is not one we export to"):
        erp.export_journal(session, FINANCE, "sage", **FEB)
    with pytest.raises(UserError, match="not a supported currency"):
        erp.export_journal(session, FINANCE, "netsuite", **FEB, currency="XXX")
    with pytest.raises(UserError, match="no business entity #999"):
        erp.export_journal(session, FINANCE, "netsuite", **FEB, entity_id=999)


def test_mapping_rules_and_permissions(session):
    c = chart(session)
    cash, rev = c.key("cash"), c.key("revenue")
    with pytest.raises(PermissionDenied):
        erp.set_mapping(session, VIEWER, "xero", cash, "090", "Tax Exempt")
    assert erp.mappings(session, "xero") == {}
    m = erp.set_mapping(session, FINANCE, "quickbooks", rev, "  Income :  Subscriptions : Monthly ")
    assert m.erp_account == "Income:Subscriptions:Monthly" and m.updated_by == "fiona"
    assert erp.mappings(session, "quickbooks")[rev].erp_account == "Income:Subscriptions:Monthly"
    assert erp.mappings(session, "netsuite") == {}
    # NetSuite keeps the value as given: its full names have spaces around the colons
    assert erp.set_mapping(session, FINANCE, "netsuite", rev, "Revenue : Subs").erp_account == "Revenue : Subs"
    changed = erp.set_mapping(session, FINANCE, "quickbooks", rev, "Sales")
    assert changed.id == m.id and changed.erp_account == "Sales"
    log = session.exec(select(AuditLog).where(AuditLog.action == "erp.mapping").order_by(AuditLog.id.desc())).first()
    assert log.entity_id == str(rev) and log.details["erp"] == "quickbooks"
    assert log.details["before"] == {"erp_account": "Income:Subscriptions:Monthly", "tax_rate": ""}
    assert log.details["after"] == {"erp_account": "Sales", "tax_rate": ""}
    bad = [
        (("sage", cash, "1"), "'sage' is not one we export to"),
        (("xero", 9999, "090", "Tax Exempt"), "there is no account #9999"),
        (("xero", cash, "090"), "Xero needs a tax rate"),
        (("xero", cash, "090 - Cash at bank", "Tax Exempt"), "at most 10 characters"),
        (("zoho", cash, "Petty Cash", "Tax Exempt"), "only Xero journals carry a tax rate"),
        (("zoho", cash, "x" * 121), "at most 120 characters"),
        (("zoho", cash, "=HYPERLINK(\"http://x\")"), "cannot start with =, \\+, - or @"),
        (("zoho", cash, "-1"), "cannot start with"),
        (("quickbooks", cash, "Income::Sub"), "has an empty level"),
        (("quickbooks", cash, "Cash\nBank"), "no line breaks"),
        (("xero", cash, "090", "@rate"), "tax rate: no line breaks, and it cannot start with"),
    ]
    for args, message in bad:
        with pytest.raises(UserError, match=message):
            erp.set_mapping(session, FINANCE, *args)
    assert set(erp.mappings(session, "zoho")) == set() and set(erp.mappings(session, "xero")) == set()
    # the export is a read: a viewer may export (audited under their name)
    led = _ledger(session)
    _map(session, "netsuite")
    erp.export_journal(session, VIEWER, "netsuite", **FEB, entity_id=led["entity"].id)
    assert session.exec(select(AuditLog).where(AuditLog.action == "ledger.export")).one().actor == "vic"
