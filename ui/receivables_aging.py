"""The Receivables page's panels: totals per currency with DSO, the aging by customer (paginated in SQL), and the
invoices behind a bucket or a customer. Every rule lives in core.receivables.aging."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import streamlit as st

from core.money import format_money
from core.receivables import aging
from core.receivables.segments import customer_ids_select, list_segments
from core.db import session_scope
from core.ledger import exports
from ui.state import engine, session

PAGE_SIZE = 50
INVOICE_LIMIT = 500
DSO_PERIODS = {30: "30 days", 90: "90 days", 180: "180 days", 365: "365 days"}
ss = st.session_state


@dataclass
class Scope:
    on: date
    currency: str | None
    segment_id: int | None
    segment_name: str
    dso_days: int

    def ids(self, s):  # noqa: ANN001, ANN201 - the members' SELECT, or None for every customer
        return customer_ids_select(s, self.segment_id, self.on) if self.segment_id else None

    def words(self) -> str:
        return f"segment {self.segment_name}" if self.segment_id else ""


def lazy_downloads(build, name: str, key: str, *, disabled: bool = False) -> None:  # noqa: ANN001
    """Excel and CSV buttons whose report (``build(session)``) is made only when a button is pressed."""
    eng = engine()

    def make(writer):  # noqa: ANN001, ANN202
        def _bytes() -> bytes:
            with session_scope(eng) as xs:
                return writer(build(xs))
        return _bytes

    with st.container(horizontal=True):
        st.download_button("Excel (.xlsx)", make(exports.to_xlsx), file_name=f"{name}.xlsx", mime=exports.XLSX_MIME,
                           icon=":material/download:", key=f"{key}_xlsx", disabled=disabled, on_click="ignore")
        st.download_button("CSV", make(exports.to_csv), file_name=f"{name}.csv", mime=exports.CSV_MIME,
                           icon=":material/download:", key=f"{key}_csv", disabled=disabled, on_click="ignore")


def filters() -> Scope:
    with session() as s:
        segments = {g.id: g.name for g in list_segments(s)}
        codes = aging.open_currencies(s)
    a, b, c, d = st.columns([1, 1, 1.6, 1], vertical_alignment="bottom")
    on = a.date_input("As of", value=date.today(), key="recv_on", format="YYYY-MM-DD",
                      help="Days past due are counted to this date (today by default). For a past date the amounts "
                           "are what was due that day, from the ledger — payments, credit notes and write-offs after "
                           "it are not taken off — and invoices issued after it are left out: the aging at a "
                           "month-end, as an auditor asks for it.")
    currency = b.selectbox("Currency", [None, *codes], key="recv_currency",
                           format_func=lambda v: "All currencies" if v is None else v,
                           help="Amounts are never added across currencies: each has its own totals.")
    segment_id = c.selectbox("Customers", [None, *segments], key="recv_segment",
                             format_func=lambda v: "All customers" if v is None else f"Segment: {segments[v]}",
                             help="Limit the report to the members of a saved segment (Segments page).")
    days = d.selectbox("DSO period", list(DSO_PERIODS), index=1, key="recv_dso_days", format_func=DSO_PERIODS.get)
    return Scope(on, currency, segment_id, segments.get(segment_id, ""), days)


def totals_panel(scope: Scope) -> list[aging.CurrencyAging]:
    with session() as s:
        ids = scope.ids(s)
        totals = aging.aging_totals(s, on=scope.on, currency=scope.currency, customer_ids=ids)
        dsos = {d.currency: d for d in aging.dso(s, on=scope.on, days=scope.dso_days, currency=scope.currency,
                                                  customer_ids=ids, totals=totals)}
    if not totals:
        st.info(f"Nothing is open on {scope.on:%-d %b %Y}: every approved invoice in this selection is paid.",
                icon=":material/celebration:")
    for t in totals:
        code = t.currency
        with st.container(border=True):
            st.markdown(f"**{code}** · {t.count} open invoice{'s' if t.count != 1 else ''}")
            m1, m2, m3 = st.columns(3)
            m1.metric("Receivables", format_money(t.total, code))
            m2.metric("Overdue", format_money(t.overdue, code),
                      help=f"{t.overdue_count} invoice{'s' if t.overdue_count != 1 else ''} past their due date")
            if t.total:
                m2.caption(f"{t.overdue / t.total:.0%} of receivables · {t.overdue_count} invoice"
                           f"{'s' if t.overdue_count != 1 else ''}")
            d = dsos.get(code)
            value = d.value if d else None
            m3.metric(f"DSO ({scope.dso_days} days)", "—" if value is None else f"{value} days",
                      help=aging.DSO_FORMULA)
            frame = pd.DataFrame([["Amount due", *[format_money(t.amounts[b], code) for b in aging.BUCKETS],
                                   format_money(t.total, code)],
                                  ["Invoices", *[str(t.counts[b]) for b in aging.BUCKETS], str(t.count)]],
                                 columns=["", *aging.BUCKETS.values(), "Total"])
            st.dataframe(frame, hide_index=True, width="stretch",
                         column_config={h: st.column_config.TextColumn(alignment="right")
                                        for h in [*aging.BUCKETS.values(), "Total"]})
            if d is not None and value is None:
                st.caption(f"{aging.DSO_FORMULA}. Nothing was invoiced in {code} from {d.start:%-d %b} to "
                           f"{d.end:%-d %b %Y}, so there is no DSO for this period.")
            elif d is not None:
                st.caption(f"{aging.DSO_FORMULA}: {format_money(d.receivables, code)} ÷ "
                           f"{format_money(d.credit_sales, code)} (invoiced {d.start:%-d %b} – {d.end:%-d %b %Y}) × "
                           f"{d.days} = **{value} days**")
    return totals


def customers_panel(scope: Scope) -> list[aging.CustomerAging]:
    st.subheader("By customer")
    a, b, c = st.columns([2, 1.2, 1], vertical_alignment="bottom")
    search = a.text_input("Find a customer", key="recv_search", placeholder="name or customer id")
    sort = b.selectbox("Order", list(aging.SORTS), key="recv_sort", format_func=aging.SORTS.get)
    overdue_only = c.toggle("Overdue only", key="recv_overdue_only")
    page = ss.get("recv_page", 1)
    with session() as s:
        rows, n = aging.aging_by_customer(s, on=scope.on, currency=scope.currency, customer_ids=scope.ids(s),
                                          search=search, overdue_only=overdue_only, sort=sort, limit=PAGE_SIZE,
                                          offset=(page - 1) * PAGE_SIZE)
    pages = max(1, -(-n // PAGE_SIZE))
    if page > pages:
        ss["recv_page"] = page = 1
    if not rows:
        st.info("No customer in this selection owes anything." if not search else
                f"No customer matching '{search}' owes anything.", icon=":material/info:")
    else:
        right = st.column_config.TextColumn(alignment="right")
        st.dataframe(pd.DataFrame([{
            "Customer": r.name, "Customer id": r.external_id, "Currency": r.currency,
            **{label: format_money(r.amounts[b], r.currency) if r.amounts[b] else "" for b, label in
               aging.BUCKETS.items()},
            "Total due": format_money(r.total, r.currency), "Invoices": r.count} for r in rows]),
            hide_index=True, width="stretch",
            column_config={**{h: right for h in [*aging.BUCKETS.values(), "Total due"]}})
    with st.container(horizontal=True, vertical_alignment="center"):
        st.caption(f"{n:,} customer row{'s' if n != 1 else ''} (one per customer and currency)"
                   + (f" · showing {(page - 1) * PAGE_SIZE + 1:,}–{(page - 1) * PAGE_SIZE + len(rows):,}"
                      if rows else ""))
        if pages > 1:
            st.number_input("Page", min_value=1, max_value=pages, step=1, key="recv_page", width=140,
                            help=f"{pages} pages of {PAGE_SIZE}")
    lazy_downloads(lambda xs: aging.aging_report(xs, on=scope.on, currency=scope.currency,
                                                 customer_ids=scope.ids(xs), scope=scope.words()),
                   f"receivables-aging-{scope.on.isoformat()}" + (f"-{scope.currency}" if scope.currency else ""),
                   "recv_aging", disabled=not rows)
    return rows


def invoices_panel(scope: Scope, listed: list[aging.CustomerAging]) -> None:
    st.subheader("The invoices behind the numbers")
    st.caption("Choose a bucket and a customer to list the open invoices behind an amount above, oldest due date "
               "first.")
    buckets = {"overdue": "Every overdue bucket", "all": "Every open invoice", **aging.BUCKETS}
    customers = {r.customer_id: f"{r.name} ({r.external_id})" for r in listed}
    if (picked := ss.get("recv_inv_customer")) is not None and picked not in customers:
        ss["recv_inv_customer"] = None
    a, b = st.columns([1, 2])
    bucket = a.selectbox("Bucket", list(buckets), key="recv_inv_bucket", format_func=buckets.get)
    cust = b.selectbox("Customer", [None, *customers], key="recv_inv_customer",
                       format_func=lambda v: "Every customer" if v is None else customers[v],
                       help="The customers listed in the table above (this page of it).")
    args = dict(on=scope.on, bucket=bucket if bucket in aging.BUCKETS else None, customer_id=cust,
                currency=scope.currency, overdue_only=bucket == "overdue")
    with session() as s:
        rows, n = aging.aging_invoices(s, customer_ids=scope.ids(s), limit=INVOICE_LIMIT, **args)
    if not rows:
        st.info("No open invoice in this bucket.", icon=":material/info:")
    else:
        right = st.column_config.TextColumn(alignment="right")
        day = st.column_config.DateColumn(format="D MMM YYYY")
        st.dataframe(pd.DataFrame([{
            "Invoice": r.number or f"#{r.id}", "Customer": r.customer, "Issued": r.issue_date, "Due": r.due_date,
            "Days past due": r.days_past_due, "Bucket": aging.BUCKETS[r.bucket],
            "Total": format_money(r.total, r.currency), "Amount due": format_money(r.amount_due, r.currency),
            "Status": "Partially paid" if r.status == "partially_paid" else "Approved"} for r in rows]),
            hide_index=True, width="stretch", column_config={"Issued": day, "Due": day, "Total": right,
                                                              "Amount due": right})
        sums: dict[str, object] = {}
        for r in rows:
            sums[r.currency] = sums.get(r.currency, 0) + r.amount_due
        st.caption(f"{n:,} open invoice{'s' if n != 1 else ''}"
                   + (f" (the first {INVOICE_LIMIT} shown; the download has them all)" if n > len(rows) else "")
                   + " · amount due " + " and ".join(format_money(v, c) for c, v in sorted(sums.items())))
    with st.container(horizontal=True):
        lazy_downloads(lambda xs: aging.aging_invoices_report(xs, customer_ids=scope.ids(xs), scope=scope.words(),
                                                              **args),
                       f"open-invoices-{scope.on.isoformat()}-{bucket}", "recv_inv", disabled=not rows)
        if cust is not None and st.button("Open this customer on the Invoices page", key="recv_to_invoices",
                                          icon=":material/open_in_new:"):
            ext = next(r.external_id for r in listed if r.customer_id == cust)
            ss["invoices_f_search"], ss["invoices_f_status"], ss["invoices_f_month"] = ext, None, None
            st.switch_page("pages/invoices.py")
