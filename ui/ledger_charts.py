"""Plotly figures of the ledger: recognised against billed revenue by month, the deferred revenue waterfall and
revenue by product. Every amount is computed in Decimal (core.ledger.views / reports) and rounded to the currency;
plotly gets floats only to draw, and the hover text shows the exact amount formatted as money."""
from __future__ import annotations

from decimal import Decimal

import plotly.graph_objects as go

from core.ledger.reports import SubledgerRow
from core.ledger.views import MonthRevenue, WaterfallMonth
from core.money import currency as currency_info
from core.money import format_money, round_money
from ui.charts import AMBER, TEAL

SLATE = "#64748B"
RED = "#B91C1C"


def _y(amount: Decimal, code: str) -> float:
    return float(round_money(amount, code))  # drawing only


def _layout(fig: go.Figure, title: str, code: str) -> go.Figure:
    symbol = currency_info(code).symbol.strip()
    fig.update_layout(title=title, height=380, margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h",
                      y=-0.18), yaxis=dict(title=f"{code} ({symbol})", tickformat=",~r", rangemode="tozero"),
                      hoverlabel=dict(namelength=-1))
    return fig


def billed_vs_recognised(rows: list[MonthRevenue], code: str) -> go.Figure:
    rows = [r for r in rows if r.currency == code]
    months = [f"{r.month:%b %Y}" for r in rows]
    fig = go.Figure()
    for name, attr, colour in (("Billed", "billed", SLATE), ("Recognised", "recognised", TEAL)):
        values = [getattr(r, attr) for r in rows]
        fig.add_bar(x=months, y=[_y(v, code) for v in values], name=name, marker_color=colour,
                    customdata=[format_money(v, code) for v in values],
                    hovertemplate=f"{name} in %{{x}}: %{{customdata}}<extra></extra>")
    fig.update_layout(barmode="group")
    return _layout(fig, f"Recognised vs billed revenue by month ({code})", code)


def deferred_waterfall(rows: list[WaterfallMonth], code: str) -> go.Figure:
    """The opening balance, then per month + billed (deferred), − recognised, ± adjustments (steps of zero are
    left out) and the month's closing balance (grey)."""
    rows = [r for r in rows if r.currency == code]
    x, y, measure = [], [], []
    if rows:
        x.append(f"Opening {rows[0].month:%b %Y}")
        y.append(rows[0].opening)
        measure.append("absolute")
    for r in rows:
        m = f"{r.month:%b %y}"
        for label, amount in ((f"+ billed {m}", r.billed), (f"− recognised {m}", -r.recognised),
                              (f"± adjustments {m}", r.adjustments)):
            if amount:
                x.append(label)
                y.append(amount)
                measure.append("relative")
        x.append(f"{r.month:%b %Y}")
        y.append(r.closing)
        measure.append("total")
    money = [format_money(v, code) for v in y]
    fig = go.Figure(go.Waterfall(
        x=x, y=[_y(v, code) if m != "total" else 0.0 for v, m in zip(y, measure)], measure=measure,
        customdata=money, hovertemplate="%{x}: %{customdata}<extra></extra>",
        increasing=dict(marker=dict(color=AMBER)), decreasing=dict(marker=dict(color=TEAL)),
        totals=dict(marker=dict(color=SLATE)), connector=dict(line=dict(color="#CBD5E1"))))
    fig.update_xaxes(tickangle=-45)
    fig = _layout(fig, f"Deferred revenue waterfall ({code}): amber billed, teal recognised, grey month-end balance",
                  code)
    fig.update_layout(height=440, showlegend=False)
    return fig


def revenue_by_product(rows: list[SubledgerRow], code: str) -> go.Figure:
    rows = sorted((r for r in rows if r.currency == code), key=lambda r: r.amount)
    fig = go.Figure(go.Bar(x=[_y(r.amount, code) for r in rows], y=[r.key for r in rows], orientation="h",
                           marker_color=TEAL, text=[format_money(r.amount, code) for r in rows],
                           textposition="auto", customdata=[format_money(r.amount, code) for r in rows],
                           hovertemplate="%{y}: %{customdata}<extra></extra>"))
    fig = _layout(fig, f"Revenue by product ({code})", code)
    symbol = currency_info(code).symbol.strip()
    fig.update_layout(height=max(300, 40 * len(rows) + 120), yaxis=dict(title=None, tickformat=None),
                      xaxis=dict(title=f"{code} ({symbol})", tickformat=",~r", rangemode="tozero"))
    return fig
