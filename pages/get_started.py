"""First invoice guide: from an empty database to a first approved invoice, one explained step at a time.

Where the user stands comes from the database (core.guide), not from this session: the ticks are right on any
later visit, whoever did the work and on whichever page. Each step calls the service its page calls.
"""
from __future__ import annotations

import streamlit as st

from core.billing.periods import format_period
from core.guide import SHORT, STEP_KEYS, STEPS, TITLES, guide_state, refusal, step_permissions
from ui import guide_billing as billing
from ui import guide_setup as setup
from ui.contracts_ui import MODEL_LABELS
from ui.format import money
from ui.state import actor, page_header, session

me = actor()
ss = st.session_state
page_header("First invoice guide", "From an empty database to your first approved invoice in about five minutes. "
            "Each step says what it is for and comes with defaults that work; the ticks come from what is in the "
            "database, so you can stop at any point and pick up where you left off.")

with session() as s:
    state = guide_state(s)


def summary(key: str) -> str:
    """What a done step left in the database, in a sentence."""
    month = format_period(state.month_start, state.month_end)
    if key == "company":
        return f"Your company is **{state.company.name}**, billing in {state.company.currency}."
    if key == "product":
        return (f"You sell **{state.product.name}** ({state.product.code}); the metric **{state.metric.name}** "
                f"counts it from `{state.metric.extra}` events.")
    if key == "customer":
        c = state.customer
        return f"Your customer is **{c.name}** ({c.code}), billed in {c.currency}."
    if key == "contract":
        priced = (f"{state.contract_lines} lines" if state.contract_lines > 1 else
                  f"{MODEL_LABELS.get(state.contract.extra, state.contract.extra).lower()} pricing")
        return f"**{state.contract.name}** for {state.customer.name}: {priced}, from {state.contract_start:%-d %b %Y}."
    if key == "usage":
        return billing.usage_done(state)
    total = money(state.invoice_total, state.invoice.currency)
    if key == "invoice" and state.invoice.extra == "draft":
        return f"The draft for {month} comes to **{total}**. Check it and approve it in the next step."
    return f"Invoice **{state.invoice.code}** for {month} is approved: **{total}**."


def go(key: str) -> None:
    """A button's callback (it runs before the step picker is drawn again, so it may move it)."""
    ss["guide_step"] = key


RENDER = {"company": setup.company_step, "product": setup.product_step, "customer": setup.customer_step,
          "contract": setup.contract_step, "usage": billing.usage_step, "invoice": billing.invoice_step,
          "approve": billing.approve_step}

# A step that became done since the last run (here or on another page) moves the guide on to the next one.
done_now = {k for k in STEP_KEYS if state.done(k)}
if (was := ss.get("guide_step")) in done_now - ss.get("guide_done", done_now):
    ss["guide_step"] = state.current or "approve"
    ss.setdefault("guide_flash", summary(was))  # done on a shared panel (an upload): say what it left
ss["guide_done"] = done_now
if ss.get("guide_step") not in STEP_KEYS:
    ss["guide_step"] = state.current or "approve"

n = state.done_count
st.progress(n / len(STEPS), text=f"**{n} of {len(STEPS)} steps done**"
            + (f" — next: {TITLES[state.current]}" if state.current else " — your first invoice is approved."))
step = st.segmented_control(
    "Steps", STEP_KEYS, key="guide_step", required=True, label_visibility="collapsed", width="stretch",
    format_func=lambda k: (":material/check_circle: " if state.done(k) else f"{STEP_KEYS.index(k) + 1} · ")
    + SHORT[k], help="Steps with a tick are done. Choose any step to see it again.")
flash = ss.pop("guide_flash", None)
if flash:
    st.success(flash, icon=":material/check_circle:")

info = STEPS[STEP_KEYS.index(step)]
with st.container(border=True):
    st.subheader(f"Step {STEP_KEYS.index(step) + 1} of {len(STEPS)} · {info.title}")
    st.markdown(info.purpose)
    if state.done(step):
        if not (flash and step == "approve"):  # just approved: the message above says it already
            st.success(summary(step), icon=":material/task_alt:")
        if step == "approve":
            billing.finished(me, state)
        elif step == "invoice" and state.invoice.extra == "draft":
            billing.invoice_preview(state.invoice.id)
        if state.current:
            st.button(f"Go to the next step: {TITLES[state.current]}", icon=":material/arrow_forward:",
                      key="guide_next", on_click=go, args=(state.current,))
    elif first := state.blocked_by(step):
        st.info(f"This step needs step {STEP_KEYS.index(first) + 1}, **{TITLES[first]}**, done first.",
                icon=":material/low_priority:")
        st.button(f"Go to step {STEP_KEYS.index(first) + 1}: {TITLES[first]}", icon=":material/arrow_back:",
                  key="guide_back", on_click=go, args=(first,))
    elif why := refusal(me, step_permissions(step, state)):
        st.warning(why, icon=":material/lock:")
    else:
        RENDER[step](me, state)
