"""The contract builder's terms and adjustments: billing day, payment terms, term and renewal, pauses, line and
contract modifiers (credit grants, discounts, minimum commitment, service fees), a line's phase — and the
sentences that read them back ("10% off, at most $50.00 a period").

Money and percentages are typed as text and read with ``core.money.to_decimal``; what is handed to core keeps
them as strings, as they are stored. Each editor returns (value, problems) where a problem says what to fix.
"""
from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from core.billing.contracts import RENEWAL_POLICIES
from core.money import MoneyError, format_money, format_number, to_decimal
from ui.contracts_ui import _cell, _editor, _rows

DISCOUNT_TYPES = {"percent": "% off", "fixed": "Amount off"}
FEE_TYPES = {"percent": "% of the contract total", "fixed": "Fixed amount"}
PER = {"monthly": "a month", "quarterly": "a quarter", "yearly": "a year", "one_time": "once", None: "a period"}
BASIS_LABELS = {"creation": "from the day the invoice is created", "approval": "from the day it is approved"}


# ---------------------------------------------------------------- reading values

def _amount(raw, label: str, problems: list[str], *, required: bool = False, percent: bool = False) -> str | None:
    """Text -> a canonical number string (None when empty); problems explain what to type instead."""
    text = _cell(raw)
    if text is None:
        if required:
            problems.append(f"{label}: type an amount")
        return None
    try:
        value = to_decimal(text.replace(",", "").removesuffix("%").strip().lstrip("$"), field=label.lower())
    except MoneyError:
        problems.append(f"{label}: '{text}' is not a number — type it like 50 or 12.5")
        return None
    if value < 0:
        problems.append(f"{label}: cannot be negative")
    elif percent and value > 100:
        problems.append(f"{label}: a percentage is at most 100")
    return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)


def _money(value, code: str) -> str:
    try:
        return format_money(to_decimal(value), code)
    except (MoneyError, TypeError):
        return str(value)


def _pct(value) -> str:
    try:
        return f"{format_number(to_decimal(value))}%"
    except (MoneyError, TypeError):
        return f"{value}%"


def _day(d) -> str:
    if isinstance(d, str):
        d = date.fromisoformat(d)
    return f"{d:%-d %b %Y}"


# ---------------------------------------------------------------- readable sentences

def describe_discount(d: dict, code: str, per: str = "a period") -> str:
    """'10% off, at most $50.00 a period' / '$10.00 off, at most $500.00 in total'."""
    text = f"{_pct(d.get('value'))} off" if d.get("type") == "percent" else f"{_money(d.get('value'), code)} off"
    caps = []
    if d.get("per_period_cap") not in (None, ""):
        caps.append(f"at most {_money(d['per_period_cap'], code)} {per}")
    if d.get("lifetime_cap") not in (None, ""):
        caps.append(f"at most {_money(d['lifetime_cap'], code)} in total")
    desc = f" ({d['description']})" if d.get("description") else ""
    return ", ".join([text, *caps]) + desc


def describe_minimum(m: dict, code: str, per: str = "a period") -> str:
    """'minimum $250.00 a month (prorated for partial months)'."""
    unit = per.removeprefix("a ").removeprefix("an ")
    how = "charged in full even for a partial " + unit if m.get("charge_full") else f"prorated for partial {unit}s"
    return f"minimum {_money(m.get('amount'), code)} {per} ({how})"


def describe_line_modifiers(mods: dict, code: str, cadence: str | None = None) -> list[str]:
    per = PER.get(cadence, "a period")
    out = []
    for g in mods.get("credit_grants") or []:
        desc = f" ({g['description']})" if g.get("description") else ""
        out.append(f"credit {_money(g.get('amount'), code)} "
                   f"{per if g.get('recurring') else 'in total, used up over the periods'}{desc}")
    out += [describe_discount(d, code, per) for d in mods.get("discounts") or []]
    if mods.get("minimum_commitment"):
        out.append(describe_minimum(mods["minimum_commitment"], code, per))
    return out


def describe_contract_modifiers(mods: dict, code: str) -> list[str]:
    out = [f"Contract discount: {describe_discount(d, code)}" for d in mods.get("discounts") or []]
    if mods.get("minimum_commitment"):
        m = describe_minimum(mods["minimum_commitment"], code, "a month")
        out.append(f"Contract {m}")
    for f in mods.get("service_fees") or []:
        amount = (f"{_pct(f.get('value'))} of the contract total" if f.get("type") == "percent"
                  else _money(f.get("value"), code))
        desc = (f.get("description") or "").strip()
        out.append(f"Service fee: {amount}" + (f" ({desc})" if desc and desc.lower() != "service fee" else ""))
    return out


def describe_phase(phase: str | None, start, end) -> str:
    """'Trial: 1 Jan 2026 – 31 Mar 2026' (``end`` is exclusive, the last day shown is the day before)."""
    if isinstance(start, str):
        start = date.fromisoformat(start)
    if isinstance(end, str):
        end = date.fromisoformat(end)
    if not (phase or start or end):
        return ""
    if start and end:
        when = f"{_day(start)} – {_day(end - timedelta(days=1))}"
    elif start:
        when = f"from {_day(start)}"
    elif end:
        when = f"until {_day(end - timedelta(days=1))}"
    else:
        when = "the whole contract"
    return f"{phase}: {when}" if phase else when


def describe_plan_phase(row: dict) -> str:
    """A plan line's window in months from the contract start: 'Trial: months 1–3', 'Paid: from month 4'."""
    a, b = row.get("start_offset_months"), row.get("end_offset_months")
    if not (row.get("phase") or a or b):
        return ""
    when = (f"months {int(a or 0) + 1}–{int(b)}" if b else f"from month {int(a) + 1}" if a else "the whole contract")
    return f"{row['phase']}: {when}" if row.get("phase") else when


def describe_terms(t: dict) -> list[str]:
    """Billing day, payment terms, term and renewal, pauses as sentences (``t`` has the ContractSpec fields)."""
    day = int(t.get("billing_anchor_day") or 1)
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    out = [f"Billing periods start on the {day}{suffix} of the month",
           f"Invoices due {t.get('payment_terms_days', 30)} days {BASIS_LABELS.get(t.get('payment_terms_basis'), '')}"
           + (", moved to the end of that month" if t.get("payment_terms_eom") else "")]
    if t.get("term_months"):
        out.append(f"Term: {t['term_months']} months · {RENEWAL_POLICIES.get(t.get('renewal_policy'), '')}")
    else:
        out.append("No fixed term (runs until it is ended)")
    for p in t.get("pauses") or []:
        out.append(f"Paused {_day(p['start'])} – {_day(date.fromisoformat(str(p['end'])) - timedelta(days=1))}")
    return out


# ---------------------------------------------------------------- editors

def _discounts_editor(key: str, initial: list | None, label: str) -> tuple[list, list[str]]:
    rows = [{"type": d.get("type", "percent"), "value": d.get("value"), "per_period_cap": d.get("per_period_cap"),
             "lifetime_cap": d.get("lifetime_cap"), "description": d.get("description", "")} for d in initial or []]
    base = pd.DataFrame(rows or [], columns=["type", "value", "per_period_cap", "lifetime_cap", "description"],
                        dtype=object)
    st.markdown(f"**{label}**")
    st.caption("One row per discount. *% off* takes 10 as 10%; *Amount off* is money and never takes the "
               "amount below zero. Caps are optional limits in money.")
    df = _editor(key, base, {
        "type": st.column_config.SelectboxColumn("Kind", options=list(DISCOUNT_TYPES), format_func=DISCOUNT_TYPES.get,
                                                 default="percent", required=True),
        "value": st.column_config.TextColumn("% or amount", help="10 means 10% (or $10.00 for an amount off)."),
        "per_period_cap": st.column_config.TextColumn("At most per period", help="Optional, in money."),
        "lifetime_cap": st.column_config.TextColumn("At most in total", help="Optional, over the whole contract."),
        "description": st.column_config.TextColumn("Shown on the invoice as"),
    })
    out, problems = [], []
    for i, r in enumerate(_rows(df), start=1):
        kind = r.get("type") or "percent"
        d = {"type": kind, "value": _amount(r.get("value"), f"Discount {i}", problems, required=True,
                                            percent=kind == "percent")}
        for f, lab in (("per_period_cap", "at most per period"), ("lifetime_cap", "at most in total")):
            if (v := _amount(r.get(f), f"Discount {i} {lab}", problems)) is not None:
                d[f] = v
        if r.get("description"):
            d["description"] = r["description"]
        out.append(d)
    return out, problems


def _minimum_editor(key: str, initial: dict | None, per: str) -> tuple[dict | None, list[str]]:
    init = initial or {}
    a, b = st.columns([1, 2], vertical_alignment="bottom")
    problems: list[str] = []
    with a:
        raw = st.text_input(f"Minimum commitment ({per})", value=str(init.get("amount") or ""), key=f"{key}_amount",
                            placeholder="optional, for example 250.00",
                            help="If the amount after discounts is below this, a true-up line brings it up to it.")
    with b:
        full = st.checkbox("Charge the full minimum even for a partial period", value=bool(init.get("charge_full")),
                           key=f"{key}_full", help="Otherwise the minimum is prorated by days for a partial period.")
    amount = _amount(raw, "Minimum commitment", problems)
    return ({"amount": amount, "charge_full": full} if amount else None), problems


def line_modifiers_editor(key: str, code: str, cadence: str | None, initial: dict | None) -> tuple[dict, list[str]]:
    """Credit grant, discounts and minimum commitment for one line, in an expander."""
    init = initial or {}
    per = PER.get(cadence, "a period")
    with st.expander("Discounts, credits and minimum", expanded=bool(init), icon=":material/sell:"):
        st.caption("Applied in this order to the line's amount: credits first, then discounts, then the minimum.")
        grant = (init.get("credit_grants") or [{}])[0]
        a, b, c = st.columns([1, 2, 1], vertical_alignment="bottom")
        with a:
            raw = st.text_input("Credit grant", value=str(grant.get("amount") or ""), key=f"{key}_credit",
                                placeholder="optional, for example 100.00",
                                help="Money taken off this line's amount (never below zero).")
        with b:
            gdesc = st.text_input("Credit shown on the invoice as", value=grant.get("description", ""),
                                  key=f"{key}_credit_desc", placeholder="for example Launch credit")
        with c:
            recurring = st.checkbox(f"Every period ({per})", value=bool(grant.get("recurring")),
                                    key=f"{key}_credit_rec",
                                    help="Unticked: one credit of this amount, used up over the periods until it "
                                         "runs out.")
        problems: list[str] = []
        mods: dict = {}
        if (amount := _amount(raw, "Credit grant", problems)) is not None:
            mods["credit_grants"] = [{"amount": amount, "recurring": recurring,
                                      **({"description": gdesc.strip()} if gdesc.strip() else {})}]
        discounts, p = _discounts_editor(f"{key}_discounts", init.get("discounts"), "Discounts on this line")
        problems += p
        if discounts:
            mods["discounts"] = discounts
        minimum, p = _minimum_editor(f"{key}_min", init.get("minimum_commitment"), per)
        problems += p
        if minimum:
            mods["minimum_commitment"] = minimum
        problems += _core_problems("validate_line_modifiers", mods) if not problems else []
    return mods, problems


def contract_modifiers_editor(key: str, code: str, initial: dict | None) -> tuple[dict, list[str]]:
    """Discounts, minimum commitment and service fees on the contract as a whole."""
    init = initial or {}
    with st.expander("Discounts, minimum and service fees for the whole contract", expanded=bool(init),
                     icon=":material/percent:"):
        st.caption("Applied after every line's own adjustments, in this order: discounts, then the minimum, then "
                   "service fees. Tax comes last, on the invoice.")
        mods: dict = {}
        discounts, problems = _discounts_editor(f"{key}_discounts", init.get("discounts"), "Contract discounts")
        if discounts:
            mods["discounts"] = discounts
        minimum, p = _minimum_editor(f"{key}_min", init.get("minimum_commitment"), "a month")
        problems += p
        if minimum:
            mods["minimum_commitment"] = minimum
        st.markdown("**Service fees**")
        st.caption("A fixed amount, or a percentage of the contract total (5 means 5%).")
        base = pd.DataFrame([{"type": f.get("type", "fixed"), "value": f.get("value"),
                              "description": f.get("description", "")} for f in init.get("service_fees") or []],
                            columns=["type", "value", "description"], dtype=object)
        df = _editor(f"{key}_fees", base, {
            "type": st.column_config.SelectboxColumn("Kind", options=list(FEE_TYPES), format_func=FEE_TYPES.get,
                                                     default="fixed", required=True),
            "value": st.column_config.TextColumn("Amount or %"),
            "description": st.column_config.TextColumn("Shown on the invoice as"),
        })
        fees = []
        for i, r in enumerate(_rows(df), start=1):
            kind = r.get("type") or "fixed"
            fee = {"type": kind, "value": _amount(r.get("value"), f"Service fee {i}", problems, required=True,
                                                  percent=kind == "percent")}
            if r.get("description"):
                fee["description"] = r["description"]
            fees.append(fee)
        if fees:
            mods["service_fees"] = fees
        problems += _core_problems("validate_contract_modifiers", mods) if not problems else []
    return mods, problems


def _core_problems(name: str, mods: dict) -> list[str]:
    """core.billing.modifiers' own checks (caps, shapes), when that module is installed."""
    try:
        from core.billing import modifiers
    except ImportError:
        return []
    return list(getattr(modifiers, name)(mods))


def phase_editor(key: str, initial: dict) -> tuple[dict, list[str]]:
    """A line that runs for part of the contract only (a trial, a ramp step): label, first day, last day.
    Returns {"phase", "start_date", "end_date"} with the end exclusive (last day + 1), like the contract's end."""
    end = initial.get("end_date")
    with st.expander("Phase: only part of the contract (trial, ramp step)",
                     expanded=bool(initial.get("phase") or initial.get("start_date") or end),
                     icon=":material/date_range:"):
        st.caption("Leave the days empty for a line that runs for the whole contract.")
        a, b, c = st.columns(3)
        with a:
            label = st.text_input("Phase name", value=initial.get("phase") or "", key=f"{key}_label",
                                  placeholder="for example Trial")
        with b:
            first = st.date_input("First day of this line", value=initial.get("start_date"), key=f"{key}_first",
                                  format="YYYY-MM-DD")
        with c:
            last = st.date_input("Last day of this line", value=end - timedelta(days=1) if end else None,
                                 key=f"{key}_last", format="YYYY-MM-DD")
    problems = []
    if first and last and last < first:
        problems.append("Phase: the last day must be on or after the first day.")
    return {"phase": (label or "").strip(), "start_date": first,
            "end_date": last + timedelta(days=1) if last else None}, problems


def terms_editor(key: str, initial: dict) -> tuple[dict, list[str]]:
    """Billing day, payment terms, term and renewal, pauses. Returns the ContractSpec fields."""
    a, b, c = st.columns([1, 1, 2])
    with a:
        anchor = st.number_input("Billing day of the month", 1, 28, int(initial.get("billing_anchor_day") or 1),
                                 key=f"{key}_anchor", help="Billing periods run from this day of the month "
                                                           "(1–28, so every month has it).")
    with b:
        days = st.number_input("Payment terms (days)", 0, 365, int(initial.get("payment_terms_days", 30)), step=1,
                               key=f"{key}_terms", help="Invoices are due this many days after the day chosen next.")
    with c:
        bases = list(BASIS_LABELS)
        basis = st.selectbox("Count the days", bases, key=f"{key}_basis", format_func=BASIS_LABELS.get,
                             index=bases.index(initial.get("payment_terms_basis") or "creation"))
    eom = st.checkbox("Move the due date to the end of that month", key=f"{key}_eom",
                      value=bool(initial.get("payment_terms_eom")), help="Net 30 from 10 March → 30 April.")
    e, f = st.columns(2)
    with e:
        term = st.number_input("Term length in months (0 = no fixed term)", 0, 120,
                               int(initial.get("term_months") or 0), key=f"{key}_term_months",
                               help="Needed for a contract that renews; a renewal starts the day the term ends.")
    with f:
        policies = list(RENEWAL_POLICIES)
        renewal = st.selectbox("At the end of the term", policies, key=f"{key}_renewal",
                               format_func=RENEWAL_POLICIES.get,
                               index=policies.index(initial.get("renewal_policy") or "none"))
    problems = []
    if renewal != "none" and not term:
        problems.append("renewal: a contract that renews needs a term length — type the months, or choose "
                        "“Do not renew”")
    pauses = []
    with st.expander("Pause billing for a while (optional)", expanded=bool(initial.get("pauses")),
                     icon=":material/pause_circle:"):
        st.caption("Nothing is billed from the first day to the last day of a pause (both included).")
        rows = [{"first": _as_date(p["start"]), "last": _as_date(p["end"]) - timedelta(days=1)}
                for p in initial.get("pauses") or []]
        df = _editor(f"{key}_pauses", pd.DataFrame(rows, columns=["first", "last"]), {
            "first": st.column_config.DateColumn("First paused day", format="D MMM YYYY"),
            "last": st.column_config.DateColumn("Last paused day", format="D MMM YYYY")})
        for i, r in enumerate(df.to_dict("records"), start=1):
            first, last = _as_date(r.get("first")), _as_date(r.get("last"))
            if first is None and last is None:
                continue
            if first is None or last is None or last < first:
                problems.append(f"pause {i}: give the first and the last paused day (the last on or after the first)")
                continue
            pauses.append({"start": first, "end": last + timedelta(days=1)})
    return {"billing_anchor_day": int(anchor), "payment_terms_days": int(days), "payment_terms_basis": basis,
            "payment_terms_eom": bool(eom), "term_months": int(term) or None, "renewal_policy": renewal,
            "pauses": pauses}, problems


def _as_date(value) -> date | None:
    if value is None or value is pd.NaT or (not isinstance(value, (date, str)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
