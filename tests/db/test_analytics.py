"""The finance dashboard's numbers, as a finance lead checks them by hand: MRR and its movement on a small history
(a new customer, an expansion, a contraction, a churn, a reactivation), billed vs collected by month, outstanding
and overdue, NRR/GRR on a worked example, one currency at a time, the entity and segment filters, revenue per
customer and product, usage by month, and the Excel files. Everything goes through the real services (contracts,
bill runs, approvals, payments, credit notes). Runs on SQLite and PostgreSQL."""
from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from core.analytics import finance, mrr, reports, revenue
from core.analytics.scope import Scope, currencies_in_use, data_version
from core.auth import SYSTEM
from core.billing.contracts import LineSpec
from core.billing.periods import add_months
from core.catalog import create_product
from core.customers import create_customer
from core.invoicing import credit_notes, payments
from core.invoicing.service import approve_invoices, generate_drafts
from core.ledger import exports
from core.models import Customer, Invoice
from core.receivables.segments import create_segment, set_customer_attributes
from tests.db import factories as f

D = Decimal


def fee(amount: str, start: date | None = None, end: date | None = None, sku: str | None = "PLAT") -> LineSpec:
    return LineSpec("Platform fee", "flat_fee", {"amount": amount}, cadence="monthly", timing="arrears",
                    start_date=start, end_date=end, product_sku=sku)


def bill(session, first: date, months: int) -> list[int]:
    """Run and approve the monthly bill runs from ``first`` for ``months`` months; the approved invoice ids."""
    ids = []
    for k in range(months):
        start = add_months(first, k)
        created = generate_drafts(session, SYSTEM, period_start=start, period_end=add_months(start, 1)).created
        approve_invoices(session, SYSTEM, list(created))
        ids += created
    return ids


def cid(session, external_id: str) -> int:
    return session.exec(select(Customer).where(Customer.external_id == external_id)).one().id


def invoices(session, **where) -> dict[int, Invoice]:
    """customer id → invoice, for the invoices matching ``where`` (one per customer)."""
    rows = session.exec(select(Invoice).where(*[getattr(Invoice, k) == v for k, v in where.items()])).all()
    return {i.customer_id: i for i in rows}


@pytest.fixture
def history(session):
    """Jan–May 2025, monthly flat fees billed in arrears (USD unless said):
    NEW    $100 from March                                  → new +100 in March
    EXP    $200, $300 from April                            → expansion +100 in April
    CON    $500, $400 from March                            → contraction −100 in March
    CHURN  $250 January–March (the contract ends 1 April)   → churn −250 in April
    REACT  $80 in January only, then $90 from April         → churn −80 in February, reactivation +90 in April
    EURO   €1,000 (a EUR contract: never added to the dollars)
    """
    f.seller(session)
    create_product(session, SYSTEM, sku="PLAT", name="Platform", kind="time")
    for ext in ("NEW", "EXP", "CON", "CHURN", "REACT"):
        f.customer(session, ext)
    f.customer(session, "EURO", currency="EUR")
    jan, mar, apr = date(2025, 1, 1), date(2025, 3, 1), date(2025, 4, 1)
    f.contract(session, "NEW", [fee("100")], start=mar)
    f.contract(session, "EXP", [fee("200", end=apr), fee("300", start=apr)], start=jan)
    f.contract(session, "CON", [fee("500", end=mar), fee("400", start=mar)], start=jan)
    f.contract(session, "CHURN", [fee("250")], start=jan, end_date=apr)
    f.contract(session, "REACT", [fee("80")], start=jan, end_date=date(2025, 2, 1))
    f.contract(session, "REACT", [fee("90")], start=apr)
    f.contract(session, "EURO", [fee("1000")], start=jan, currency="EUR")
    return bill(session, jan, 5)


USD = Scope(date(2025, 1, 1), date(2025, 5, 31), "USD")


def test_mrr_movement_by_hand(session, history):
    rep = mrr.mrr_report(session, USD)
    assert rep.through == date(2025, 5, 1)
    by = {m.month.month: m for m in rep.months}
    # MRR by month, added up by hand from the fixture's fees
    assert [by[m].mrr for m in range(1, 6)] == [D(1030), D(950), D(950), D(890), D(890)]
    assert [by[m].customers for m in range(1, 6)] == [4, 3, 4, 4, 4]
    assert by[1].movement == {"new": D(1030), "expansion": 0, "reactivation": 0, "contraction": 0, "churn": 0}
    assert by[2].movement == {"new": 0, "expansion": 0, "reactivation": 0, "contraction": 0, "churn": D(-80)}
    assert by[3].movement == {"new": D(100), "expansion": 0, "reactivation": 0, "contraction": D(-100), "churn": 0}
    assert by[4].movement == {"new": 0, "expansion": D(100), "reactivation": D(90), "contraction": 0,
                              "churn": D(-250)}
    assert by[5].net_new == 0
    assert by[4].moved == {"new": 0, "expansion": 1, "reactivation": 1, "contraction": 0, "churn": 1}
    for m in rep.months:  # the bridge: opening + movements = MRR
        assert m.opening + m.net_new == m.mrr
    assert by[4].arr == D(10680)


def test_mrr_never_mixes_currencies(session, history):
    eur = mrr.mrr_report(session, Scope(date(2025, 1, 1), date(2025, 5, 31), "EUR"))
    assert [m.mrr for m in eur.months] == [D(1000)] * 5
    assert eur.months[0].movement["new"] == D(1000)
    assert currencies_in_use(session) == ["USD", "EUR"]  # most invoices first: the pages' default
    usd = finance.billed_and_collected(session, USD)
    assert sum(m.invoiced for m in usd) == D(1030 + 950 + 950 + 890)  # issued Feb–May; no euro in it


def test_mrr_stops_at_the_last_complete_period_and_spreads_yearly_charges(session):
    f.seller(session)
    f.customer(session, "Y")
    f.customer(session, "M")
    f.contract(session, "Y", [LineSpec("Licence", "flat_fee", {"amount": "12000"}, cadence="yearly",
                                       timing="advance")], start=date(2025, 1, 1))
    f.contract(session, "M", [fee("100", sku=None)], start=date(2025, 1, 1))
    bill(session, date(2024, 12, 1), 3)  # the yearly fee is billed in advance, in December's run
    # March: drafts not yet approved — March is not complete, so nobody churns in it
    generate_drafts(session, SYSTEM, period_start=date(2025, 3, 1), period_end=date(2025, 4, 1))
    # a one-off invoice dated in May, approved: not a bill run — May does not become "billed" (MRR 0, all churned)
    from core.invoicing.drafts import create_one_off_invoice
    from core.invoicing.service import approve_invoice

    extra = create_one_off_invoice(session, SYSTEM, customer_id=cid(session, "M"), issue_date=date(2025, 5, 10),
                                   lines=[{"description": "Training day", "quantity": "1", "unit_price": "900"}])
    approve_invoice(session, SYSTEM, extra.id)
    rep = mrr.mrr_report(session, Scope(date(2025, 1, 1), date(2025, 6, 30), "USD"))
    assert rep.through == date(2025, 2, 1)
    assert [m.mrr for m in rep.months] == [D(1100), D(1100)]  # $12,000 a year is $1,000 a month
    assert rep.months[1].movement["churn"] == 0


def test_usage_charges_are_not_mrr(session):
    f.seller(session)
    f.customer(session, "U")
    f.metric(session, "calls", "api_call")
    f.contract(session, "U", [fee("100", sku=None),
                              LineSpec("Calls", "per_unit", {"unit_price": "0.5"}, metric_code="calls")],
               start=date(2025, 1, 1))
    f.events(session, "U", "api_call", [10, 30], when=datetime(2025, 1, 10))
    bill(session, date(2025, 1, 1), 1)
    scope = Scope(date(2025, 1, 1), date(2025, 1, 31), "USD")
    assert mrr.mrr_report(session, scope).months[0].mrr == D(100)
    assert mrr.usage_by_month(session, scope) == {date(2025, 1, 1): D(20)}


def test_billed_and_collected_by_month(session, history):
    inv = invoices(session, period_start=date(2025, 2, 1))
    exp, con = inv[cid(session, "EXP")], inv[cid(session, "CON")]  # February service, issued 1 March
    payments.record_payment(session, SYSTEM, customer_id=exp.customer_id, currency_code="USD", amount="200",
                            method="bank_transfer", received_on=date(2025, 3, 20), allocations={exp.id: "200"})
    payments.record_payment(session, SYSTEM, customer_id=con.customer_id, currency_code="USD", amount="150",
                            method="bank_transfer", received_on=date(2025, 4, 2), allocations={con.id: "150"})
    credit_notes.issue_credit_note(session, SYSTEM, con.id, reason="Goodwill", amount="50",
                                   issue_date=date(2025, 4, 3))
    months = {m.month.month: m for m in finance.billed_and_collected(session, USD)}
    # arrears: January's service is invoiced on 1 February, and so on; nothing is issued in January
    assert [months[m].invoiced for m in range(1, 6)] == [D(0), D(1030), D(950), D(950), D(890)]
    assert [months[m].invoices for m in range(1, 6)] == [0, 4, 3, 4, 4]
    assert months[4].credited == D(50) and months[4].net_billed == D(900)
    assert months[3].collected == D(200) and months[4].collected == D(150)
    assert months[3].payments == 1 and months[5].collected == 0


def test_outstanding_and_overdue(session, history):
    exp = invoices(session, period_start=date(2025, 4, 1))[cid(session, "EXP")]  # $300, issued 1 May, due 31 May
    payments.record_payment(session, SYSTEM, customer_id=exp.customer_id, currency_code="USD", amount="100",
                            method="bank_transfer", received_on=date(2025, 5, 5), allocations={exp.id: "100"})
    # every invoice is net 30 from its issue day: the one issued 1 May is due 31 May, 1 April's due 1 May, …
    billed = D(1030 + 950 + 950 + 890 + 890)
    now = finance.receivables_now(session, USD, date(2025, 5, 15))
    assert now.outstanding == billed - 100
    assert now.overdue == D(1030 + 950 + 950)  # due 3 March, 31 March, 1 May: past by 15 May
    assert now.overdue_invoices == 11 and now.overdue_customers == 5
    assert now.overdue_at_month_end == D(1030 + 950 + 950 + 890 - 100)  # due 31 May: past on 1 June
    june = finance.receivables_now(session, USD, date(2025, 6, 10))
    assert june.overdue == D(1030 + 950 + 950 + 890 - 100)  # May's service is due 1 July
    assert june.overdue_at_month_end == june.overdue
    # month-end history from the ledger's receivables (equal to open invoice balances)
    ar = {m.month.month: m for m in finance.receivables_by_month(session, Scope(date(2025, 1, 1),
                                                                              date(2025, 6, 30), "USD"))}
    assert ar[1].outstanding == 0
    assert ar[2].outstanding == D(1030) and ar[2].overdue == 0  # due 3 March
    assert ar[3].outstanding == D(1980) and ar[3].overdue == D(1980)  # due 31 March: late on 1 April
    assert ar[4].outstanding == D(2930) and ar[4].overdue == D(1980)
    assert ar[5].outstanding == D(3720) and ar[5].overdue == D(3720)  # the $100 paid on 5 May is off
    assert ar[6].outstanding == billed - 100 and ar[6].overdue == D(3720)
    assert ar[6].outstanding == finance.receivables_now(session, USD, date(2025, 6, 30)).outstanding


def test_nrr_and_grr_worked_example(session):
    """Cohort of January 2025: P $1,000 → $1,200 from July; Q $500 → $300 from June; R $200, gone after March.
    S starts in June ($400): not in the cohort. January 2026: NRR = (1,200 + 300 + 0) / 1,700 = 88.24 %;
    GRR = (1,000 + 300 + 0) / 1,700 = 76.47 %."""
    f.seller(session)
    for ext in "PQRS":
        f.customer(session, ext)
    jan, jun, jul = date(2025, 1, 1), date(2025, 6, 1), date(2025, 7, 1)
    f.contract(session, "P", [fee("1000", end=jul, sku=None), fee("1200", start=jul, sku=None)], start=jan)
    f.contract(session, "Q", [fee("500", end=jun, sku=None), fee("300", start=jun, sku=None)], start=jan)
    f.contract(session, "R", [fee("200", sku=None)], start=jan, end_date=date(2025, 4, 1))
    f.contract(session, "S", [fee("400", sku=None)], start=jun)
    bill(session, jan, 13)
    rep = mrr.mrr_report(session, Scope(date(2025, 12, 1), date(2026, 1, 31), "USD"))
    dec, jan26 = rep.retention
    assert jan26.month == date(2026, 1, 1) and jan26.cohort == 3
    assert (jan26.start_mrr, jan26.end_mrr, jan26.kept_mrr) == (D(1700), D(1500), D(1300))
    assert jan26.nrr == D(1500) / D(1700) and f"{jan26.nrr:.4f}" == "0.8824"
    assert jan26.grr == D(1300) / D(1700) and f"{jan26.grr:.4f}" == "0.7647"
    assert dec.start_mrr == 0 and dec.nrr is None  # nobody had MRR in December 2024


def test_entity_and_segment_filters_combine(session, history):
    other = f.seller(session, prefix="B-")
    create_customer(session, SYSTEM, {"external_id": "B1", "name": "Customer B1", "currency": "USD"},
                    entity_id=other.id)
    f.contract(session, "B1", [fee("700")], start=date(2025, 5, 1))
    generate_drafts(session, SYSTEM, period_start=date(2025, 5, 1), period_end=date(2025, 6, 1))
    approve_invoices(session, SYSTEM, [i.id for i in invoices(session, status="draft").values()])
    for ext in ("EXP", "CON", "B1"):
        c = cid(session, ext)
        set_customer_attributes(session, SYSTEM, c, {"tier": "enterprise"})
    seg = create_segment(session, SYSTEM, name="Enterprise", rules={"groups": [[
        {"field": "attribute", "key": "tier", "op": "eq", "value": "enterprise"}]]})
    session.flush()  # the figures are read straight from the connection
    first = invoices(session, period_start=date(2025, 1, 1))[cid(session, "EXP")]
    may = lambda **kw: mrr.mrr_report(session, Scope(date(2025, 5, 1), date(2025, 5, 31), "USD", **kw)).months[0]  # noqa: E731
    assert may().mrr == D(890 + 700)
    assert may(entity_id=first.entity_id).mrr == D(890)
    assert may(entity_id=other.id).mrr == D(700)
    assert may(segment_id=seg.id).mrr == D(300 + 400 + 700)
    assert may(segment_id=seg.id, entity_id=first.entity_id).mrr == D(300 + 400)
    scope = Scope(date(2025, 1, 1), date(2025, 5, 31), "USD", segment_id=seg.id, entity_id=first.entity_id)
    assert sum(m.invoiced for m in finance.billed_and_collected(session, scope)) == D(200 * 3 + 300 + 500 * 2 + 400 * 2)
    rows = revenue.revenue_by_customer(session, scope)
    assert [(r.detail, r.revenue) for r in rows] == [("CON", D(1800)), ("EXP", D(900))]


def test_revenue_by_customer_and_product(session, history):
    scope = Scope(date(2025, 1, 1), date(2025, 6, 30), "USD")
    inv = invoices(session, period_start=date(2025, 1, 1))[cid(session, "CON")]
    credit_notes.issue_credit_note(session, SYSTEM, inv.id, reason="Outage", amount="100",
                                   issue_date=date(2025, 3, 1))
    rows = revenue.revenue_by_customer(session, scope)
    # every invoice issued 1 Feb – 1 June (January to May service); the credit note taken off
    assert [(r.detail, r.revenue) for r in rows] == [("CON", D(500 + 500 + 400 + 400 + 400 - 100)),
                                                     ("EXP", D(200 * 3 + 300 * 2)), ("CHURN", D(750)),
                                                     ("NEW", D(300)), ("REACT", D(80 + 90 + 90))]
    top = revenue.top_and_others(rows, 2)
    assert [r.label for r in top][-1] == "Others (3 customers)" and top[-1].revenue == D(750 + 300 + 260)
    assert sum(r.revenue for r in top) == sum(r.revenue for r in rows)
    products = revenue.revenue_by_product(session, scope)
    # a credit note for an amount names no line: it is not put on a product
    assert [(r.label, r.revenue) for r in products] == [("Platform", D(1030 + 950 + 950 + 890 + 890)),
                                                        (revenue.NO_PRODUCT, D(-100))]
    eur = revenue.revenue_by_customer(session, Scope(date(2025, 1, 1), date(2025, 6, 30), "EUR"))
    assert [(r.detail, r.revenue) for r in eur] == [("EURO", D(5000))]


def test_usage_by_customer_and_month(session):
    f.seller(session)
    for ext in ("A", "B", "C"):
        f.customer(session, ext)
    m = f.metric(session, "gb", "storage")
    cnt = f.metric(session, "n", "storage", aggregation="count")
    f.events(session, "A", "storage", ["1.5", "2"], when=datetime(2025, 1, 5))
    f.events(session, "A", "storage", ["10"], when=datetime(2025, 3, 31, 23, 59))
    f.events(session, "B", "storage", ["4"], when=datetime(2025, 2, 1))
    f.events(session, "C", "storage", ["0.25"], when=datetime(2025, 2, 2))
    f.events(session, "C", "storage", ["100"], when=datetime(2025, 4, 1))  # outside the range
    scope = Scope(date(2025, 1, 1), date(2025, 3, 31), "USD")
    rep = revenue.usage_report(session, scope, m.id, top=2)
    assert rep.months == [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)]
    assert rep.totals == [D("3.5"), D("4.25"), D(10)]
    assert rep.customers == 3
    assert list(rep.series) == ["A", "B"]  # the two largest over the range
    assert rep.series["A"] == [D("3.5"), 0, D(10)] and rep.range_totals["A"] == D("13.5")  # no events: 0
    one = revenue.usage_report(session, scope, cnt.id, customer="C")
    assert one.series == {"C": [0, D(1), 0]} and one.totals == [0, 1, 0]
    biggest = revenue.usage_report(session, scope, f.metric(session, "peak", "storage", aggregation="max").id)
    assert biggest.totals is None  # maxima do not add up across customers
    assert biggest.series["A"] == [D(2), None, D(10)]  # no events: no maximum
    table, fmt = reports.usage_report_table(session, scope, rep)
    ws = load_workbook(io.BytesIO(reports.to_xlsx(table, fmt))).active
    first = exports.HEADER_ROW + 1
    assert [c.value for c in ws[exports.HEADER_ROW]][:5] == ["Customer", "Customer id", "2025-01", "2025-02",
                                                              "2025-03"]
    assert [ws.cell(row=first, column=c).value for c in range(3, 7)] == [3.5, 4.25, 10, 17.75]
    assert ws.cell(row=first + 1, column=3).number_format == reports.QTY_FORMAT


def test_every_chart_downloads_as_a_valid_workbook(session, history):
    rep = mrr.mrr_report(session, USD)
    usage = mrr.usage_by_month(session, USD)
    files = [reports.billed_collected_report(session, USD, finance.billed_and_collected(session, USD)),
             reports.receivables_report(session, USD, finance.receivables_by_month(session, USD)),
             reports.mrr_movement_report(session, USD, rep, usage),
             reports.revenue_report(session, USD, revenue.revenue_by_customer(session, USD), "customer"),
             reports.revenue_report(session, USD, revenue.revenue_by_product(session, USD), "product")]
    for report in files:
        ws = load_workbook(io.BytesIO(reports.to_xlsx(report))).active
        assert ws.cell(row=1, column=1).value == report.title
        assert "USD" in ws.cell(row=2, column=1).value and "Jan 2025 – May 2025" in ws.cell(row=2, column=1).value
        assert len(list(ws.iter_rows(min_row=exports.HEADER_ROW + 1, max_row=exports.HEADER_ROW + len(report.rows)))) \
            == len(report.rows)
    mrr_ws = load_workbook(io.BytesIO(reports.to_xlsx(files[2]))).active
    header = [c.value for c in mrr_ws[exports.HEADER_ROW]]
    april = [c.value for c in mrr_ws[exports.HEADER_ROW + 4]]
    assert april[0] == "2025-04" and april[header.index("MRR")] == 890
    assert april[header.index("Churn")] == -250 and april[header.index("Reactivation")] == 90
    ret, fmt = reports.retention_report(session, USD, rep)
    ws = load_workbook(io.BytesIO(reports.to_xlsx(ret, fmt))).active
    assert ws.cell(row=exports.HEADER_ROW, column=7).value == "NRR"


def test_data_version_changes_with_what_the_dashboards_read(session, history):
    before = data_version(session)
    assert data_version(session) == before
    inv = next(iter(invoices(session, period_start=date(2025, 5, 1), status="approved").values()))
    payments.record_payment(session, SYSTEM, customer_id=inv.customer_id, currency_code="USD", amount="10",
                            method="bank_transfer", received_on=date(2025, 5, 5), allocations={inv.id: "10"})
    after_payment = data_version(session)
    assert after_payment != before
    set_customer_attributes(session, SYSTEM, inv.customer_id, {"tier": "smb"})
    session.flush()
    assert data_version(session) != after_payment
