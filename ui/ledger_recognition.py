"""The Revenue recognition tab: run the recognition up to a date, see every schedule and its periods, and spread
what is left of a schedule differently."""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from core.ledger import exports
from core.ledger.recognition import METHODS, REDISTRIBUTIONS, recognise, redistribute, schedule_rows
from core.ledger.views import due_for_recognition, schedules
from core.money import format_money, round_money
from ui.ledger_ui import done, downloads
from ui.state import run_action, session

P = "ledger"
STATUS = {"open": "Still recognising", "done": "Fully recognised", None: "All schedules"}


def _total(amounts: dict) -> str:
    return " and ".join(format_money(v, c) for c, v in sorted(amounts.items())) or "nothing"


def recognition_panel(me) -> None:  # noqa: ANN001 - Actor
    st.caption("Revenue billed ahead of the service (a yearly fee, a month paid in advance) waits in Deferred "
               "Revenue and is recognised period by period over the service, by its schedule; usage is recognised as "
               "it is delivered. The recognition run posts every period that has ended up to a date — safe to run "
               "again: what it posted before is never posted twice. The nightly run does the same "
               "(`python -m cli recognise-revenue`).")
    v = st.session_state.get(f"{P}_v", 0)
    if me.can("accounting:write"):
        with st.container(border=True):
            yesterday = date.today() - timedelta(days=1)
            a, b = st.columns([1, 2], vertical_alignment="bottom")
            through = a.date_input("Recognise through", value=yesterday, max_value=date.today(), format="YYYY-MM-DD",
                                   key=f"{P}_rec_through_{v}")
            with session() as s:
                periods, amounts = due_for_recognition(s, through=through)
            b.markdown(f"**{periods} schedule period{'s' if periods != 1 else ''}** due, {_total(amounts)}; "
                       "plus the usage of draft invoices whose service has ended." if periods else
                       "No schedule period is due up to that day; the run would only accrue the usage of draft "
                       "invoices whose service has ended.")
            if st.button(f"Recognise through {through:%-d %b %Y}", type="primary", key=f"{P}_rec_go_{v}",
                         icon=":material/playlist_add_check:"):
                run = run_action(recognise, me, through=through)
                if run is not None:
                    if run.entries or run.unbilled_accruals:
                        done(P, f"Recognised {_total(run.amounts)} from {run.rows} schedule period"
                                f"{'s' if run.rows != 1 else ''} in {run.entries} journal entr"
                                f"{'ies' if run.entries != 1 else 'y'}"
                                + (f"; {run.unbilled_accruals} usage accrual"
                                   f"{'s' if run.unbilled_accruals != 1 else ''} posted" if run.unbilled_accruals
                                   else "") + ".")
                    else:
                        done(P, f"Nothing was due through {through:%-d %b %Y}: everything is already recognised.")
    st.subheader("Schedules")
    status = st.segmented_control("Show", list(STATUS), format_func=STATUS.get, default="open", key=f"{P}_rec_status")
    with session() as s:
        rows = schedules(s, status=status or None)
    if not rows:
        st.info("No revenue schedule here yet. Approving an invoice with a deferred product (one whose revenue "
                "is recognised over its service period) creates one.", icon=":material/info:")
        return
    st.dataframe(pd.DataFrame([{
        "Invoice": r.invoice, "Customer": r.customer, "Product": r.product,
        "Service": f"{r.service_start:%-d %b %Y} – {r.service_end - timedelta(days=1):%-d %b %Y}",
        "Total": format_money(r.total, r.currency), "Recognised": format_money(r.recognised, r.currency),
        "Remaining": format_money(r.remaining, r.currency), "Periods": f"{r.periods_done} of {r.periods}",
        "Next period ends": f"{r.next_due:%-d %b %Y}" if r.next_due else "—",
    } for r in rows]), hide_index=True, width="stretch", height=min(35 * (len(rows) + 1) + 3, 600),
        column_config={k: st.column_config.TextColumn(alignment="right")
                       for k in ("Total", "Recognised", "Remaining", "Periods")})
    report = exports.schedules_report(rows, subtitle=STATUS[status or None])
    downloads(report, f"{P}_rec")
    labels = {r.id: f"{r.invoice} · {r.customer} · {r.product or 'no product'} · {format_money(r.total, r.currency)}"
              for r in rows}
    chosen = st.selectbox("Open a schedule", list(labels), index=None, format_func=labels.get,
                          key=f"{P}_rec_open", placeholder="Choose a schedule to see its periods")
    if chosen is None:
        return
    sched = next(r for r in rows if r.id == chosen)
    with session() as s:
        periods_ = schedule_rows(s, chosen)
    today = date.today()
    st.caption(f"Revenue account: {sched.account}. Spread {METHODS.get(sched.method, sched.method).lower()}; each "
               "period is rounded to the cent and the last one takes the remainder, so the periods add up to the "
               "total exactly.")
    st.dataframe(pd.DataFrame([{
        "Period": f"{p.period_start:%-d %b} – {p.period_end - timedelta(days=1):%-d %b %Y}",
        "Recognised on": f"{p.recognise_on:%-d %b %Y}", "Amount": format_money(p.amount, sched.currency),
        "Status": f"Recognised (entry #{p.entry_id})" if p.entry_id else ("Due" if p.recognise_on < today
                                                                          else "Upcoming")}
        for p in periods_]), hide_index=True, width="stretch", height=35 * (len(periods_) + 1) + 3,
        column_config={"Amount": st.column_config.TextColumn(alignment="right")})
    if me.can("accounting:write") and not sched.done:
        with st.expander("Spread the rest differently", icon=":material/tune:"):
            st.caption(f"{format_money(sched.remaining, sched.currency)} is not recognised yet. After a contract "
                       "change, spread it again over the periods still to come (recognised periods stay as they "
                       "are), or change the schedule's total — the difference goes to the periods still to come.")
            how = st.radio("How", list(REDISTRIBUTIONS), format_func=REDISTRIBUTIONS.get, key=f"{P}_rd_how_{chosen}")
            a, b = st.columns([1, 2])
            new_total = a.text_input(f"New total ({sched.currency}, optional)", key=f"{P}_rd_total_{chosen}",
                                     placeholder=f"{round_money(sched.total, sched.currency):f}")
            reason = b.text_input("Reason (kept in the audit log)", key=f"{P}_rd_reason_{chosen}")
            if st.button("Spread it", type="primary", key=f"{P}_rd_go_{chosen}"):
                total = None
                if new_total.strip():
                    from core.money import MoneyError, to_decimal

                    try:
                        total = to_decimal(new_total, field="new total")
                    except MoneyError as exc:
                        st.error(str(exc), icon=":material/error:")
                        return
                if run_action(redistribute, me, chosen, how=how, new_total=total, reason=reason) is not None:
                    done(P, f"Schedule of {sched.invoice} ({sched.customer}) spread again: "
                            f"{REDISTRIBUTIONS[how].split(':')[0].lower()}.")
