"""The Monitor tab: every customer near (≥ a chosen percentage, default 80%) or past the limit of an entitlement,
downloadable as Excel or CSV, the limits recorded as exhausted, and the button that records new ones."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core.auth import Actor
from core.entitlements.monitor import monitor_report, near_percent, recent_exhaustions, record_exhaustions
from core.errors import UserError
from core.money import format_money, format_number
from ui.entitlements_ui import BALANCE_COLUMNS, balance_frame, day, kind_label
from ui.ledger_ui import done, downloads
from ui.state import run_action, session

MAX_ROWS = 10_000


def monitor_panel(me: Actor, on: date, near) -> None:  # noqa: ANN001
    from core.entitlements.monitor import monitor

    kind = st.selectbox("Kind", [None, "quantity", "credit"], format_func=kind_label, key="ent_mon_kind")
    with session() as s:
        rows = monitor(s, me, on=on, near=near, kind=kind)
        report = monitor_report(s, me, on=on, near=near, kind=kind)
        fired = recent_exhaustions(s, me)
    passed = sum(1 for b in rows if b.passed)
    if rows:
        st.markdown(f"**{len(rows):,}** grant{'s' if len(rows) != 1 else ''} at {format_number(near)}% of the "
                    f"limit or more on {day(on)}, **{passed:,}** past it.")
        st.dataframe(balance_frame(rows[:MAX_ROWS], near), hide_index=True, width="stretch", key="ent_mon_table",
                     column_config=BALANCE_COLUMNS)
        if len(rows) > MAX_ROWS:
            st.caption(f"The first {MAX_ROWS:,} are shown (most used first); the downloads hold all {len(rows):,}.")
    else:
        st.success(f"No customer is at {format_number(near)}% of a limit or more on {day(on)}.",
                   icon=":material/check_circle:")
    downloads(report, "ent_mon")
    st.subheader("Limits passed")
    st.caption("Recorded once per grant and period, the first time a check sees the limit passed; each record sends "
               "the “entitlement.exhausted” webhook event. Cron runs `python -m cli check-entitlements`.")
    if me.can("entitlements:write") and st.button("Record limits passed now", icon=":material/notification_important:",
                                                  key="ent_sweep"):
        result = run_action(record_exhaustions, me, on=on)
        if result is not None:
            done("ent", result.summary())
    st.dataframe(pd.DataFrame([{"Recorded (UTC)": x.recorded_at, "Customer": ext, "Entitlement": g.name, "Key": g.key,
                                "Period from": x.period_start, "Used": _amount(x.used, g),
                                "Limit": _amount(x.limit_value, g), "Limit type": x.limit_type}
                               for x, g, ext in fired],
                              columns=["Recorded (UTC)", "Customer", "Entitlement", "Key", "Period from", "Used",
                                       "Limit", "Limit type"]),
                 hide_index=True, width="stretch", key="ent_fired")


def _amount(value, grant) -> str:  # noqa: ANN001
    return format_money(value, grant.currency) if grant.kind == "credit" else format_number(value)


def near_input(key: str):  # noqa: ANN201
    """The monitor's percentage, validated (a bad value shows what to fix and falls back to 80)."""
    raw = st.session_state.get(key, "80")
    try:
        return near_percent(raw)
    except UserError as exc:
        st.error(str(exc), icon=":material/error:")
        return near_percent("80")
