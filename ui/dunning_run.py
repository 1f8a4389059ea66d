"""The "Today" tab of the Dunning page: what a run would send (any day, as a what-if), one reminder's email as the
customer will read it, and the run itself (today only) with its summary and the emails' progress."""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st
import streamlit.components.v1 as components

from core import jobs
from core.db import database_url
from core.documents.render import TemplateProblem
from core.models import EmailTemplate
from core.receivables.dunning import plan, run_dunning
from core.receivables.templates import email_context, record_preview, render_email
from ui.invoice_documents import email_progress
from ui.state import run_action, session

P = "dunning"
PREVIEW_ROWS = 1000


def _table(reminders) -> pd.DataFrame:  # noqa: ANN001
    return pd.DataFrame([{
        "Invoice": r.invoice, "Customer": r.customer, "Due": f"{r.due_date:%-d %b %Y}",
        "Days late": r.days_past_due, "Amount due": r.amount, "Step": f"{r.offset:+d} ({r.step})",
        "Template": r.template, "Policy": r.policy, "To": r.recipients or "—",
        "Card retry": "yes" if r.charge else "", "Problem": r.problem} for r in reminders[:PREVIEW_ROWS]])


def run_panel(me) -> None:  # noqa: ANN001 - Actor
    today = date.today()
    st.caption("The reminders due: for each open invoice, the latest step of its policy whose day has come and that "
               "has not gone out yet. Nothing is sent for paid, void or written-off invoices, and at most one "
               "reminder per invoice per day — running twice the same day sends nothing more. Cron runs it daily "
               "with `python -m cli dunning-run`.")
    on = st.date_input("Show what a run would send on", value=today, format="YYYY-MM-DD", key=f"{P}_on",
                       help="Another day is a what-if: the run itself is for today.")
    with session() as s:
        todo = plan(s, me, on)
    a, b, c = st.columns(3)
    a.metric("Reminders due", len(todo.reminders))
    b.metric("Already handled that day", todo.handled_today)
    c.metric("Open invoices under a policy", todo.open_invoices)
    if not todo.reminders:
        st.info("Nothing to send on that day." + (" Add a policy on the Policies tab first." if not todo.open_invoices
                                                  else ""), icon=":material/info:")
    else:
        st.dataframe(_table(todo.reminders), hide_index=True, width="stretch",
                     height=min(35 * (min(len(todo.reminders), PREVIEW_ROWS) + 1) + 3, 460),
                     column_config={"Days late": st.column_config.NumberColumn(width=70),
                                    "Amount due": st.column_config.TextColumn(alignment="right")})
        if len(todo.reminders) > PREVIEW_ROWS:
            st.caption(f"The first {PREVIEW_ROWS:,} of {len(todo.reminders):,} are shown; the run sends them all.")
        _one_email(todo, me)

    if me.can("receivables:write"):
        if on != today:
            st.caption(f"Runs are for today ({today:%-d %b %Y}); pick today above to run.")
        if st.button("Send today's reminders", type="primary", icon=":material/send:", key=f"{P}_run",
                     disabled=on != today or not todo.reminders):
            result = run_action(run_dunning, me, on=today)
            if result is not None:
                st.session_state[f"{P}_summary"] = (result.summary(), result.lines[:200])
                if result.queued:
                    jobs.enqueue_emails(result.queued, database_url())
                    st.session_state["email_watch"] = list(result.queued)
                st.rerun()
    else:
        st.caption("Your role can see what is due; sending reminders is for Finance.")
    if summary := st.session_state.get(f"{P}_summary"):
        text, lines = summary
        st.success(text[:1].upper() + text[1:] + ".", icon=":material/check_circle:")
        if lines:
            with st.expander("What the run did, invoice by invoice"):
                st.markdown("\n".join(f"- {line}" for line in lines))
    email_progress()


def _one_email(todo, me) -> None:  # noqa: ANN001 - Plan, Actor
    box = st.expander("Read one of these emails as the customer will", icon=":material/mail:", key=f"{P}_read",
                      on_change="rerun")  # its open state: an email read counts for the pilot's check
    with box:
        labels = {i: f"{r.invoice} — {r.customer} — {r.template}" for i, r in enumerate(todo.reminders[:PREVIEW_ROWS])}
        pick = st.selectbox("Reminder", list(labels), format_func=labels.get, key=f"{P}_pick")
        r = todo.reminders[pick]
        try:
            with session() as s:
                tpl = s.get(EmailTemplate, r.template_id)
                subject, body = render_email(tpl.subject, tpl.body, tpl.format,
                                             email_context(s, r.invoice_id, on=todo.on, offset=r.offset,
                                                           policy=r.policy))
                if box.open:
                    record_preview(s, me, template_id=tpl.id, invoice_id=r.invoice_id, on=todo.on)
        except TemplateProblem as exc:
            st.error(f"Template “{r.template}” cannot be rendered for this invoice: {exc}", icon=":material/error:")
            return
        st.markdown(f"**To:** {r.recipients or '—'}  \n**Subject:** {subject}")
        if tpl.format == "html":
            components.html(body, height=360, scrolling=True)
        else:
            st.code(body, language=None, wrap_lines=True)
