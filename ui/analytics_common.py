"""What both analytics pages share: the filters row, the cache, and a chart's "download its data" buttons.

Caching: every figure is computed by a GROUP BY in core.analytics and kept by ``st.cache_data`` under the filters,
today's date and :func:`core.analytics.scope.data_version` (max ids of invoices, journal entries, payments, credit
notes and refunds, and the customers' and segments' last change — one cheap query per run). Anything the money
figures read changes one of them, so a cached figure is never stale; a rerun with the same filters costs only that
query. Usage events are not in the key (they arrive continuously): the usage reports are kept for a minute.
"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import streamlit as st

from core.analytics import finance, mrr, reports, revenue
from core.analytics.scope import Scope, currencies_in_use, data_version
from core.billing.periods import add_months
from core.db import database_url
from core.ledger import exports
from core.ledger.views import entities
from core.money import currency as currency_info
from core.money import format_money, format_number
from ui.state import session

PRESETS = ("Last 12 months", "Last 6 months", "Last 24 months", "This year", "Last year", "Custom months")


def preset_range(preset: str, today: date) -> tuple[date, date]:
    """(first day, last day) of whole months; the current month included in the "last N months"."""
    month = today.replace(day=1)
    last = add_months(month, 1) - timedelta(days=1)
    if preset == "Last 6 months":
        return add_months(month, -5), last
    if preset == "Last 24 months":
        return add_months(month, -23), last
    if preset == "This year":
        return date(today.year, 1, 1), date(today.year, 12, 31)
    if preset == "Last year":
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    return add_months(month, -11), last


@st.cache_data(ttl=600, max_entries=16, show_spinner=False)
def _choices(url: str, version: tuple) -> tuple[list[str], dict[int, str], dict[int, str]]:
    from core.receivables.segments import list_segments

    with session() as s:
        return (currencies_in_use(s), {e.id: e.name for e in entities(s)},
                {seg.id: seg.name for seg in list_segments(s)})


def version() -> tuple:
    with session() as s:
        return data_version(s)


def filters(prefix: str, ver: tuple) -> Scope | None:
    """The filters row: months, currency (most used first, never "all"), business entity (when there are several)
    and saved segment (when there are any). None when nothing has been invoiced in any currency yet."""
    codes, ents, segs = _choices(database_url(), ver)
    if not codes:
        st.info("Nothing has been invoiced yet: the dashboards fill in once invoices are approved.",
                icon=":material/info:")
        return None
    widths = [1.2, 1.6, 0.9] + ([1.3] if len(ents) > 1 else []) + ([1.3] if segs else [])
    cols = iter(st.columns(widths, vertical_alignment="bottom"))
    today = date.today()
    preset = next(cols).selectbox("Period", PRESETS, key=f"{prefix}_preset",
                                  help="Whole months are reported: every month the period touches.")
    start, end = preset_range(preset, today)
    box = next(cols)
    if preset == "Custom months":
        picked = box.date_input("From – to (whole months)", value=(start, end), format="YYYY-MM-DD",
                                key=f"{prefix}_dates")
        if isinstance(picked, (tuple, list)) and len(picked) == 2:
            start, end = picked
        elif isinstance(picked, (tuple, list)) and len(picked) == 1:
            start = end = picked[0]
        if end < start:
            start, end = end, start
        start, end = start.replace(day=1), add_months(end.replace(day=1), 1) - timedelta(days=1)
    else:
        box.markdown(f"**{start:%b %Y} – {end:%b %Y}**")
    code = next(cols).selectbox("Currency", codes, key=f"{prefix}_currency",
                                help="Amounts in different currencies are never added together: pick one. The "
                                     "first is the currency most invoices are in.")
    entity_id = next(cols).selectbox(
        "Business entity", [None, *ents], key=f"{prefix}_entity",
        format_func=lambda i: "All business entities" if i is None else ents[i]) if len(ents) > 1 else None
    segment_id = next(cols).selectbox(
        "Customer segment", [None, *segs], key=f"{prefix}_segment",
        format_func=lambda i: "All customers" if i is None else segs[i],
        help="A saved segment (Receivables → Segments): only its members' figures.") if segs else None
    return Scope(start, end, code, entity_id, segment_id)


# ---------------------------------------------------------------------------------------------------------------
# cached figures (arguments are the cache key; ``ver`` is the data version; ``today`` moves segment membership
# and what is overdue)


@st.cache_data(ttl=3600, max_entries=32, show_spinner="Adding up the figures…")
def finance_figures(url: str, ver: tuple, scope: Scope, today: date) -> dict:
    with session() as s:
        return {"cash": finance.billed_and_collected(s, scope), "now": finance.receivables_now(s, scope, today),
                "ar": finance.receivables_by_month(s, scope), "mrr": mrr.mrr_report(s, scope),
                "usage": mrr.usage_by_month(s, scope)}


@st.cache_data(ttl=3600, max_entries=32, show_spinner="Adding up the revenue…")
def revenue_figures(url: str, ver: tuple, scope: Scope, today: date) -> dict:
    with session() as s:
        return {"customers": revenue.revenue_by_customer(s, scope), "products": revenue.revenue_by_product(s, scope)}


@st.cache_data(ttl=60, max_entries=32, show_spinner="Reading the usage…")
def usage_figures(url: str, ver: tuple, scope: Scope, today: date, metric_id: int, top: int,
                  customer: str | None):
    with session() as s:
        return revenue.usage_report(s, scope, metric_id, top=top, customer=customer)


@st.cache_data(ttl=60, max_entries=8, show_spinner=False)
def usage_metric_choices(url: str, ver: tuple) -> dict[int, str]:
    with session() as s:
        return {m.id: f"{m.name} ({m.aggregation.replace('_', ' ')} of {m.event_name})"
                for m in revenue.usage_metrics(s)}


# ---------------------------------------------------------------------------------------------------------------
# downloads


def download(report: exports.Report, key: str, formats: dict[int, str] | None = None, *,
             label: str = "Download the data (.xlsx)") -> None:
    """The chart's data as a formatted Excel workbook (made when the button is pressed)."""
    st.download_button(label, lambda: reports.to_xlsx(report, formats), file_name=f"{report.name}.xlsx",
                       mime=exports.XLSX_MIME, icon=":material/download:", key=f"{key}_xlsx",
                       disabled=not report.rows, on_click="ignore")


def download_later(make, name: str, key: str, *, label: str) -> None:  # noqa: ANN001
    """A workbook too long to prepare on every run (every customer): ``make()`` builds its report on the click."""
    st.download_button(label, lambda: reports.to_xlsx(make()), file_name=f"{name}.xlsx", mime=exports.XLSX_MIME,
                       icon=":material/download:", key=f"{key}_xlsx", on_click="ignore")


def compact(amount: Decimal, code: str) -> str:
    """A metric's figure that fits its box: $934,956.00 → $934,956; $11,219,472 → $11.22M (the exact amount goes
    in the metric's help)."""
    c = currency_info(code)
    sign, a = ("-" if amount < 0 else ""), abs(amount)
    if a >= 1_000_000_000:
        return f"{sign}{c.symbol}{a / 1_000_000_000:,.2f}B"
    if a >= 1_000_000:
        return f"{sign}{c.symbol}{a / 1_000_000:,.2f}M"
    if a >= 100_000:
        return f"{sign}{c.symbol}{a:,.0f}"
    return format_money(amount, code)


def _shown(value, kind: str, code: str, fmt: str | None) -> str:  # noqa: ANN001
    if value is None:
        return ""
    if fmt == reports.PCT_FORMAT:
        return f"{value * 100:.1f} %"
    if fmt == reports.QTY_FORMAT:
        return format_number(value)
    if kind == "money":
        return format_money(value, code)
    return str(value) if kind != "int" else f"{value:,}"


def report_table(report: exports.Report, key: str, formats: dict[int, str] | None = None) -> None:
    """The numbers behind a chart, in an expander: formatted as on screen, totals rows at the bottom."""
    formats = formats or {}
    cols = report.columns
    rows = [[_shown(v, c.kind, code, formats.get(i)) for i, (c, v) in enumerate(zip(cols, row))]
            for row, code in zip(report.rows, report.currencies)]
    for label, code, amounts in report.totals:
        total = [""] * len(cols)
        total[report.label_col()] = label
        for i, amount in amounts.items():
            total[i] = format_money(amount, code)
        rows.append(total)
    with st.expander("The numbers"):
        st.dataframe(pd.DataFrame(rows, columns=[c.header for c in cols]), hide_index=True, width="stretch",
                     key=f"{key}_table", column_config={c.header: st.column_config.TextColumn(alignment="right")
                                                        for c in cols if c.kind in ("money", "int")})
