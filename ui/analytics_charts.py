"""Plotly figures of the analytics pages. Every amount is an exact Decimal from core.analytics, rounded to the
currency; plotly gets floats only to draw, and the hover text shows the exact amount formatted as money. Every
figure says its currency in its title and on its money axis."""
from __future__ import annotations

from decimal import Decimal

import plotly.graph_objects as go

from core.analytics.finance import CashMonth, ReceivablesMonth
from core.analytics.mrr import MOVEMENT_LABELS, MOVEMENTS, MrrReport
from core.analytics.revenue import RevenueRow, UsageReport
from core.money import currency as currency_info
from core.money import format_money, format_number, round_money
from ui.charts import AMBER, TEAL

SLATE = "#64748B"
RED = "#B91C1C"
ROSE = "#F43F5E"
GREEN = "#15803D"
LIME = "#65A30D"
SKY = "#0284C7"
MOVE_COLOURS = {"new": GREEN, "expansion": LIME, "reactivation": SKY, "contraction": AMBER, "churn": RED}
PALETTE = [TEAL, AMBER, SKY, "#7C3AED", RED, GREEN, "#DB2777", SLATE, "#CA8A04", "#0891B2", "#4F46E5", "#9333EA"]


def _y(amount: Decimal, code: str) -> float:
    return float(round_money(amount, code))  # drawing only


def _money_axis(code: str) -> str:
    return f"{code} ({currency_info(code).symbol.strip()})"


def _layout(fig: go.Figure, title: str, code: str | None, *, height: int = 400, yaxis: str | None = None,
            xaxis: str = "Month", months: int = 12) -> go.Figure:
    """Title, money axis with the currency, month axis (two-line labels: never rotated), legend underneath."""
    fig.update_layout(title=dict(text=title, font=dict(size=16)), height=height,
                      margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.28, x=0),
                      hoverlabel=dict(namelength=-1),
                      xaxis=dict(title=xaxis, type="date", tickformat="%b\n%Y", dtick="M1" if months <= 13 else "M3",
                                 ),
                      yaxis=dict(title=yaxis or (_money_axis(code) if code else ""), tickformat=",~r",
                                 rangemode="tozero"))
    return fig


def _month(m) -> str:  # noqa: ANN001 - a month's first day on the date axis; hover shows it as "Mar 2026"
    return m.isoformat()


def _bars(fig: go.Figure, x: list, values: list[Decimal], name: str, colour: str, code: str, **kw) -> None:
    fig.add_bar(x=x, y=[_y(v, code) for v in values], name=name, marker_color=colour,
                customdata=[format_money(v, code) for v in values],
                hovertemplate=f"{name}, %{{x|%b %Y}}: %{{customdata}}<extra></extra>", **kw)


def billed_collected(months: list[CashMonth], code: str) -> go.Figure:
    x = [_month(m.month) for m in months]
    fig = go.Figure()
    _bars(fig, x, [m.net_billed for m in months], "Billed (net of credit notes)", SLATE, code)
    _bars(fig, x, [m.net_collected for m in months], "Collected (net of refunds)", TEAL, code)
    fig.update_layout(barmode="group")
    return _layout(fig, f"Billed and collected by month ({code})", code, months=len(x))


def receivables(months: list[ReceivablesMonth], code: str) -> go.Figure:
    x = [_month(m.month) for m in months]
    fig = go.Figure()
    _bars(fig, x, [m.outstanding - m.overdue for m in months], "Not yet due", SLATE, code)
    _bars(fig, x, [m.overdue for m in months], "Overdue", RED, code)
    fig.update_layout(barmode="stack")
    return _layout(fig, f"Outstanding at month-end, and how much of it overdue ({code})", code, xaxis="Month-end",
                   months=len(x))


def mrr_chart(report: MrrReport, usage: dict, code: str) -> go.Figure:
    x = [_month(m.month) for m in report.months]
    fig = go.Figure()
    mrr = [m.mrr for m in report.months]
    fig.add_bar(x=x, y=[_y(v, code) for v in mrr], name="MRR", marker_color=TEAL,
                customdata=[[format_money(m.mrr, code), format_money(m.arr, code), f"{m.customers:,}"]
                            for m in report.months],
                hovertemplate="MRR, %{x|%b %Y}: %{customdata[0]} (ARR %{customdata[1]}), %{customdata[2]} paying "
                              "customers<extra></extra>")
    values = [usage.get(m.month, Decimal(0)) for m in report.months]
    fig.add_scatter(x=x, y=[_y(v, code) for v in values], name="Usage charges (not MRR)", mode="lines+markers",
                    line=dict(color=AMBER, dash="dash"), customdata=[format_money(v, code) for v in values],
                    hovertemplate="Usage charges, %{x|%b %Y}: %{customdata}<extra></extra>")
    return _layout(fig, f"Monthly recurring revenue ({code}), usage shown apart", code, xaxis="Month of service",
                   months=len(x))


def movement_chart(report: MrrReport, code: str) -> go.Figure:
    x = [_month(m.month) for m in report.months]
    fig = go.Figure()
    for k in MOVEMENTS:
        values = [m.movement[k] for m in report.months]
        counts = [m.moved[k] for m in report.months]
        fig.add_bar(x=x, y=[_y(v, code) for v in values], name=MOVEMENT_LABELS[k], marker_color=MOVE_COLOURS[k],
                    customdata=[[format_money(v, code), f"{n:,}"] for v, n in zip(values, counts)],
                    hovertemplate=f"{MOVEMENT_LABELS[k]}, %{{x|%b %Y}}: %{{customdata[0]}} "
                                  f"(%{{customdata[1]}} customers)<extra></extra>")
    net = [m.net_new for m in report.months]
    fig.add_scatter(x=x, y=[_y(v, code) for v in net], name="Net new MRR", mode="lines+markers",
                    line=dict(color="#111827", width=2), customdata=[format_money(v, code) for v in net],
                    hovertemplate="Net new MRR, %{x|%b %Y}: %{customdata}<extra></extra>")
    fig.update_layout(barmode="relative")
    fig = _layout(fig, f"MRR movement by month ({code})", code, months=len(x))
    fig.update_yaxes(rangemode="normal", zeroline=True, zerolinecolor="#94A3B8")
    return fig


def retention_chart(report: MrrReport) -> go.Figure:
    rows = [r for r in report.retention if r.start_mrr]
    x = [_month(r.month) for r in rows]
    fig = go.Figure()
    for name, attr, colour in (("NRR", "nrr", TEAL), ("GRR", "grr", AMBER)):
        values = [getattr(r, attr) for r in rows]
        fig.add_scatter(x=x, y=[float(v * 100) for v in values], name=name, mode="lines+markers",
                        line=dict(color=colour, width=2), customdata=[f"{v * 100:.1f} %" for v in values],
                        hovertemplate=f"{name}, %{{x|%b %Y}}: %{{customdata}}<extra></extra>")
    fig.add_hline(y=100, line=dict(color=SLATE, dash="dot"), annotation_text="100 %")
    fig = _layout(fig, "Net and gross revenue retention, trailing 12 months", None, yaxis="% of MRR 12 months before",
                  months=len(x))
    shown = [float(getattr(r, a) * 100) for r in rows for a in ("nrr", "grr")]
    fig.update_yaxes(rangemode="normal", ticksuffix=" %",
                     range=[min(shown + [90.0]) - 5, max(shown + [110.0]) + 5])  # 100 % always in view, with room
    return fig


def revenue_bars(rows: list[RevenueRow], code: str, title: str, axis: str) -> go.Figure:
    rows = list(reversed(rows))  # largest at the top
    labels = [r.label if not r.detail else f"{r.label} · {r.detail}" for r in rows]
    fig = go.Figure(go.Bar(x=[_y(r.revenue, code) for r in rows], y=labels, orientation="h",
                           marker_color=[SLATE if r.key is None and r.label.startswith("Others") else TEAL
                                         for r in rows],
                           customdata=[format_money(r.revenue, code) for r in rows],
                           hovertemplate="%{y}: %{customdata}<extra></extra>"))
    fig.update_layout(title=dict(text=title, font=dict(size=16)), height=max(300, 60 + 28 * len(rows)),
                      margin=dict(l=10, r=10, t=50, b=10), xaxis=dict(title=f"Revenue, {_money_axis(code)}",
                                                                      tickformat=",~r"),
                      yaxis=dict(title=axis, automargin=True))
    return fig


def _usage_layout(fig: go.Figure, title: str, axis: str, months: int) -> go.Figure:
    fig.update_layout(title=dict(text=title, font=dict(size=16)), height=420, margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", y=-0.3, x=0), hoverlabel=dict(namelength=-1),
                      xaxis=dict(title="Month (UTC)", type="date", tickformat="%b\n%Y",
                                 dtick="M1" if months <= 13 else "M3"),
                      yaxis=dict(title=axis, tickformat=",~r", rangemode="tozero"))
    return fig


def usage_totals_chart(rep: UsageReport) -> go.Figure:
    """All customers together, month by month (sum and count metrics)."""
    x = [_month(m) for m in rep.months]
    m = rep.metric
    fig = go.Figure(go.Bar(x=x, y=[float(v) for v in rep.totals or []], name="All customers", marker_color=SLATE,
                           customdata=[format_number(v) for v in rep.totals or []],
                           hovertemplate="All customers, %{x|%b %Y}: %{customdata}<extra></extra>"))
    return _usage_layout(fig, f"{m.name}: all {rep.customers:,} customers by month",
                         f"{m.name} ({m.aggregation.replace('_', ' ')} of {m.event_name})", len(x))


def usage_customers_chart(rep: UsageReport) -> go.Figure:
    """One line per customer shown (the top customers, or the one asked for)."""
    x = [_month(m) for m in rep.months]
    fig = go.Figure()
    for i, (ext, values) in enumerate(rep.series.items()):
        name = rep.names.get(ext, ext)
        fig.add_scatter(x=x, y=[float(v) if v is not None else None for v in values], name=f"{name} ({ext})",
                        mode="lines+markers", line=dict(color=PALETTE[i % len(PALETTE)], width=2),
                        customdata=[format_number(v) if v is not None else "no events" for v in values],
                        hovertemplate=f"{name}, %{{x|%b %Y}}: %{{customdata}}<extra></extra>")
    m = rep.metric
    who = "one customer" if len(rep.series) == 1 else f"top {len(rep.series)} customers"
    return _usage_layout(fig, f"{m.name} by month, {who}",
                         f"{m.name} per customer ({m.aggregation.replace('_', ' ')})", len(x))
