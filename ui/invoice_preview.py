"""The live invoice preview: type a sample quantity per usage line, see the invoice the contract would produce for
its next period — every line and adjustment (indented under the line it adjusts) and the totals.

The numbers come from core.billing.preview.preview_invoice; this module only collects samples and draws.
"""
from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from core.billing.contracts import ContractSpec
from core.billing.periods import add_months, format_period
from core.errors import UserError
from core.money import MoneyError, format_money, to_decimal
from ui.contracts_ui import GROUPED_MODELS
from ui.state import session


def line_categories(line) -> list[str]:
    """The categories a matrix line prices (its rate rows) or the bands of a two-dimensional line."""
    params = line.params if hasattr(line, "params") else line.get("params", {})
    model = line.pricing_model if hasattr(line, "pricing_model") else line.get("pricing_model")
    if model == "matrix":
        return [c for c in (params.get("rates") or {}) if c]
    if model == "two_dimensional":
        return list(params.get("bands") or [])
    return []


def next_period(spec: ContractSpec, today: date | None = None) -> tuple[int, int]:
    """The billing month of the next invoice: the contract's first month if it starts later, else this month
    (its invoice is issued at the start of next month)."""
    today = today or date.today()
    first = max(today, spec.start_date)
    return first.year, first.month


def _samples(spec: ContractSpec, key: str) -> tuple[dict[int, object], list[str]]:
    samples: dict[int, object] = {}
    problems: list[str] = []
    usage = [(i, ln) for i, ln in enumerate(spec.lines) if ln.metric_code]
    if not usage:
        return samples, problems
    st.caption("Sample usage for the period (change it to see how the invoice moves):")
    cols = st.columns(min(len(usage), 3))
    for n, (i, ln) in enumerate(usage):
        with cols[n % len(cols)]:
            if ln.pricing_model in GROUPED_MODELS and line_categories(ln):
                groups = {}
                for cat in line_categories(ln)[:6]:
                    raw = st.text_input(f"{ln.description} — {cat}", value="1000", key=f"{key}_s{i}_{cat}")
                    try:
                        groups[cat] = to_decimal(raw or "0", field=f"usage in {cat}")
                    except MoneyError as exc:
                        problems.append(f"{ln.description} — {cat}: {exc}")
                samples[i] = groups
            else:
                raw = st.text_input(f"{ln.description} (units used)", value="1000", key=f"{key}_s{i}")
                try:
                    samples[i] = to_decimal(raw or "0", field=f"usage of {ln.description}")
                except MoneyError as exc:
                    problems.append(f"{ln.description}: {exc}")
    return samples, problems


def preview_panel(spec: ContractSpec, key: str) -> None:
    """Sample inputs and the invoice as it would appear for the next period."""
    try:
        from core.billing.preview import preview_invoice
    except ImportError:
        # PLACEHOLDER: core.billing.preview is not installed yet; the panel fills in as soon as it is.
        st.caption("The invoice preview is not available yet in this installation.")
        return
    if not spec.lines:
        st.caption("Add a line to see the invoice this contract would produce.")
        return
    y, m = next_period(spec)
    months = [add_months(date(y, m, 1), k) for k in range(12)]
    a, _ = st.columns([1, 2])
    chosen = a.selectbox("Billing month", months, key=f"{key}_month", format_func=lambda d: f"{d:%B %Y}",
                         help="The invoice run for this month: usage of the month, and fees billed in advance.")
    samples, problems = _samples(spec, key)
    if problems:
        st.warning("Fix the sample usage:\n" + "\n".join(f"- {p}" for p in problems), icon=":material/edit_note:")
        return
    try:
        with session() as s:
            inv = preview_invoice(s, spec, samples, chosen.year, chosen.month)
    except (UserError, ValueError, KeyError, TypeError) as exc:
        st.caption(f"The preview appears once the contract is complete ({exc}).")
        return
    code = getattr(inv, "currency", spec.currency)
    issued = f", issued {inv.invoice_date:%-d %b %Y}" if getattr(inv, "invoice_date", None) else ""
    st.markdown(f"**Invoice for {format_period(inv.period_start, inv.period_end)}**{issued}")
    rows = []
    for step in inv.steps:
        indent = int(getattr(step, "indent", 0) or 0)
        rows.append({"Invoice line": "\u2003" * indent + ("↳ " if indent else "") + str(step.description),
                     "For": format_period(step.period_start, step.period_end) if getattr(step, "period_start", None)
                     else "",
                     "How": getattr(step, "breakdown", "") or "",
                     "Amount": format_money(step.amount, code)})
    if rows:
        st.table(pd.DataFrame(rows), hide_index=True)
    else:
        st.caption("Nothing would be billed for this period.")
    totals = [("Subtotal", inv.subtotal), ("Tax", inv.tax), ("Total", inv.total)]
    st.markdown("  \n".join(f"{'**' if lab == 'Total' else ''}{lab}: {format_money(v, code)}"
                            f"{'**' if lab == 'Total' else ''}" for lab, v in totals))
