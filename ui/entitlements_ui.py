"""Shared pieces of the Entitlements page: customer choices and a table of balances with progress bars."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from core.entitlements.balances import STATUS_LABELS, Balance
from core.entitlements.grants import KINDS
from core.money import format_number
from ui.state import session

def day(d: date | None) -> str:
    return f"{d:%-d %b %Y}" if d else "—"


def window(b: Balance) -> str:
    if not b.active:
        g = b.grant
        return f"{day(g.start_date)} – {day(g.end_date - timedelta(days=1)) if g.end_date else 'open-ended'}"
    if b.period_start is None:
        return "—"
    end = day(b.period_end - timedelta(days=1)) if b.period_end else "open-ended"
    return f"{day(b.period_start)} – {end}"


def status_text(b: Balance, near) -> str:  # noqa: ANN001
    return STATUS_LABELS[b.status(near)]


def percent(b: Balance) -> int | None:
    """Share of the limit used, whole percent, for a progress bar (display only; the numbers beside it are exact)."""
    return None if b.percent is None else int(b.percent)


def balance_frame(rows: list[Balance], near, contracts: dict[int, str] | None = None) -> pd.DataFrame:  # noqa: ANN001
    contracts = contracts or {}
    data = []
    for b in rows:
        g = b.grant
        limit = f" · {g.limit_type} limit" if g.kind != "feature" else ""
        what = (f"{b.show(g.units)} {b.unit} · {RESETS_SHORT[g.reset]}" if g.kind == "quantity"
                else f"{b.show(g.amount)} credit" if g.kind == "credit" else f"feature {'on' if g.enabled else 'off'}")
        data.append({"Customer": f"{b.customer_name} ({b.customer_external_id})", "Entitlement": g.name,
                     "Status": status_text(b, near), "Used %": percent(b), "Used": b.show(b.used),
                     "Remaining": b.show(b.remaining), "Grant of": what + limit, "Period": window(b),
                     "Key": g.key, "Granted by": contracts.get(g.contract_id, f"contract #{g.contract_id}")
                     if g.contract_id else "by hand", "Grant": g.id})
    return pd.DataFrame(data, columns=COLUMNS)


COLUMNS = ["Customer", "Entitlement", "Status", "Used %", "Used", "Remaining", "Grant of", "Period", "Key",
           "Granted by", "Grant"]
RESETS_SHORT = {"billing_period": "per billing period", "month": "per calendar month", "never": "no reset"}


BALANCE_COLUMNS = {
    "Used %": st.column_config.ProgressColumn("Used %", min_value=0, max_value=100, format="%d%%",
                                              help="Share of the limit used this period (full bar: limit reached)"),
    "Used": st.column_config.TextColumn(alignment="right"),
    "Remaining": st.column_config.TextColumn(alignment="right"),
    "Grant": st.column_config.NumberColumn("Grant #", format="%d", width="small"),
}


def kind_label(k: str | None) -> str:
    return "All kinds" if k is None else KINDS[k]


def pct_text(value) -> str:  # noqa: ANN001
    return f"{format_number(value)}%"
