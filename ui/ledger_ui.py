"""Shared pieces of the accounting pages: the period, entity and currency filters, and one way to show any
ledger report (:class:`core.ledger.exports.Report`) — a table with its totals and notes, and its Excel and CSV
downloads."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from core.billing.periods import add_months
from core.ledger import exports
from core.ledger.views import entities, ledger_currencies
from core.money import format_money
from core.db import database_url
from ui.state import session

@st.cache_data(ttl=60, max_entries=8, show_spinner=False)
def _currencies(url: str) -> list[str]:
    """The ledger's currencies (a scan of the balance index: cached for a minute per database)."""
    with session() as s:
        return ledger_currencies(s)


PRESETS = ("This month", "Last month", "This quarter", "Last quarter", "Year to date", "Last year", "Custom dates")


def preset_range(preset: str, today: date) -> tuple[date, date]:
    month = today.replace(day=1)
    quarter = month.replace(month=(month.month - 1) // 3 * 3 + 1)
    if preset == "This month":
        return month, today
    if preset == "Last month":
        return add_months(month, -1), month - timedelta(days=1)
    if preset == "This quarter":
        return quarter, today
    if preset == "Last quarter":
        return add_months(quarter, -3), quarter - timedelta(days=1)
    if preset == "Last year":
        return date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)
    return date(today.year, 1, 1), today  # year to date


def filters(prefix: str, *, default: str = "Year to date", label: str = "Period", entity: bool = True,
            currency: bool = True, all_currencies: bool = True) -> tuple[date, date, int | None, str | None]:
    """One row of filters: a period (a preset such as "Last quarter", or custom dates), the business entity (only
    when there are several) and the currency. Returns (first day, last day, entity id or None for all, currency
    or None for all)."""
    with session() as s:
        listed = entities(s)
    codes = _currencies(database_url()) if currency else []
    ents = {e.id: e.name for e in listed}
    home = next((e.default_currency for e in listed if e.default_currency in codes), None)
    many = entity and len(ents) > 1
    widths = [1.1, 1.4] + ([1.3] if many else []) + ([1] if currency and codes else [])
    cols = st.columns(widths, vertical_alignment="bottom")
    today = date.today()
    preset = cols[0].selectbox(label, PRESETS, index=PRESETS.index(default), key=f"{prefix}_preset")
    start, end = preset_range(preset, today)
    if preset == "Custom dates":
        picked = cols[1].date_input("From – to (both days included)", value=(start, end), format="YYYY-MM-DD",
                                    key=f"{prefix}_dates")
        if isinstance(picked, (tuple, list)) and len(picked) == 2:
            start, end = picked
        elif isinstance(picked, (tuple, list)) and len(picked) == 1:
            start = end = picked[0]
    else:
        cols[1].markdown(f"**{start:%-d %b %Y} – {end:%-d %b %Y}**")
    entity_id = None if not many else cols[2].selectbox(
        "Business entity", [None, *ents], key=f"{prefix}_entity",
        format_func=lambda i: "All business entities" if i is None else ents[i])
    code = None
    if currency and codes:
        options = ([None] if all_currencies else []) + codes
        code = cols[-1].selectbox("Currency", options, key=f"{prefix}_currency",
                                  index=0 if all_currencies or home is None else options.index(home),
                                  format_func=lambda c: "All currencies" if c is None else c,
                                  help="Amounts are never added across currencies: each has its own totals.")
    return start, end, entity_id, code


def _cell(value, kind: str, code: str) -> str:  # noqa: ANN001
    if value is None:
        return ""
    if kind == "money":
        return format_money(value, code)
    if kind == "date":
        return f"{value:%-d %b %Y}"
    if kind == "int":
        return f"{value}"
    return str(value)


def report_frame(report: exports.Report) -> pd.DataFrame:
    """The report as the screen shows it: money formatted in its currency, the totals rows at the bottom."""
    cols = report.columns
    rows = [[_cell(v, c.kind, code) for c, v in zip(cols, row)] for row, code in zip(report.rows, report.currencies)]
    label_col = report.label_col()
    for label, code, amounts in report.totals:
        total = [""] * len(cols)
        total[label_col] = label
        for i, amount in amounts.items():
            total[i] = format_money(amount, code)
        rows.append(total)
    return pd.DataFrame(rows, columns=[c.header for c in cols])


def show_report(report: exports.Report, key: str, *, empty: str = "Nothing in this period.") -> None:
    """The table (totals in bold at the bottom), its notes, and the Excel and CSV downloads."""
    if not report.rows:
        st.info(empty, icon=":material/info:")
    else:
        frame = report_frame(report)
        n_totals = len(report.totals)
        styled = frame.style.apply(
            lambda r: ["font-weight: bold" if r.name >= len(frame) - n_totals else "" for _ in r], axis=1)
        st.dataframe(styled, hide_index=True, width="stretch", key=f"{key}_table",
                     height=min(35 * (len(frame) + 1) + 3, 640),
                     column_config={c.header: st.column_config.TextColumn(alignment="right")
                                    for c in report.columns if c.kind in ("money", "int")})
    for note in report.notes:
        st.caption(note)
    downloads(report, key)


def downloads(report: exports.Report, key: str) -> None:
    """The report's Excel and CSV download buttons (the file is made when the button is pressed)."""
    with st.container(horizontal=True):
        st.download_button("Excel (.xlsx)", lambda: exports.to_xlsx(report), file_name=f"{report.name}.xlsx",
                           mime=exports.XLSX_MIME, icon=":material/download:", key=f"{key}_xlsx",
                           disabled=not report.rows, on_click="ignore")
        st.download_button("CSV", lambda: exports.to_csv(report), file_name=f"{report.name}.csv",
                           mime=exports.CSV_MIME, icon=":material/download:", key=f"{key}_csv",
                           disabled=not report.rows, on_click="ignore")


def flash(prefix: str) -> None:
    """Show (once) the message an action left for the page."""
    if msg := st.session_state.pop(f"{prefix}_flash", None):
        st.success(msg, icon=":material/check_circle:")


def done(prefix: str, message: str) -> None:
    """After a change: remember the message, redraw the page with fresh widgets."""
    st.session_state[f"{prefix}_flash"] = message
    st.session_state[f"{prefix}_v"] = st.session_state.get(f"{prefix}_v", 0) + 1
    st.rerun()
