"""Plotly figures shared by the pages (the theme's teal, readable numbers, no floats in the data we show)."""
from __future__ import annotations

import plotly.graph_objects as go

from core.metering.series import DailyUsage
from core.money import format_number

TEAL = "#0F766E"
AMBER = "#B45309"


def usage_chart(series: DailyUsage, metric_name: str) -> go.Figure:
    """Daily bars, the period-to-date line (sum and count metrics) and the included units as a dashed line."""
    fig = go.Figure(go.Bar(x=series.days, y=list(series.values), name="per day", marker_color=TEAL,
                           customdata=[format_number(v) for v in series.values],
                           hovertemplate="%{x|%-d %b}: %{customdata}<extra></extra>"))
    if series.to_date is not None:
        fig.add_scatter(x=series.days, y=list(series.to_date), name="period to date", yaxis="y2",
                        line=dict(color=AMBER, width=2), customdata=[format_number(v) for v in series.to_date],
                        hovertemplate="to %{x|%-d %b}: %{customdata}<extra></extra>")
        if series.included is not None:
            fig.add_hline(y=float(series.included), yref="y2", line=dict(color=AMBER, dash="dash"),  # plot only
                          annotation_text=f"included: {format_number(series.included)}")
    fig.update_layout(title=f"{metric_name} — day by day", height=360, margin=dict(l=10, r=10, t=50, b=10),
                      yaxis=dict(title="per day", tickformat=",~r"), legend=dict(orientation="h", y=-0.15),
                      yaxis2=dict(title="period to date", overlaying="y", side="right", tickformat=",~r",
                                  rangemode="tozero"))
    return fig
