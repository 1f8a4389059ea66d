"""Products, plans and billable metrics in the API."""
from __future__ import annotations


from typing import Any

from pydantic import BaseModel, Field

from api.common import In, UtcTime


class ProductIn(In):
    sku: str = Field(min_length=1, max_length=64, examples=["API-CALLS"], description="Letters, digits, '-' or '_'.")
    name: str = Field(min_length=1, max_length=200)
    unit_name: str = Field(default="unit", max_length=40)
    kind: str = Field(default="usage", max_length=10, description="time or usage.")
    parent_sku: str | None = Field(default=None, max_length=64, description="Makes it a sub-product or add-on.")
    is_addon: bool = False
    revenue_policy: str = Field(default="immediate", max_length=12, description="immediate, deferred or unbilled.")
    gl_account: str = Field(default="", max_length=40, description="Revenue account code; empty: the default.")
    recognition_method: str = Field(default="days", max_length=10, description="days or months (deferred).")


class ProductOut(BaseModel):
    id: int
    sku: str
    name: str
    unit_name: str
    kind: str
    parent_id: int | None
    is_addon: bool
    revenue_policy: str
    gl_account: str
    recognition_method: str
    created_at: UtcTime


def product_out(p) -> ProductOut:  # noqa: ANN001
    return ProductOut(id=p.id, sku=p.sku, name=p.name, unit_name=p.unit_name, kind=p.kind, parent_id=p.parent_id,
                      is_addon=bool(p.is_addon), revenue_policy=p.revenue_policy, gl_account=p.gl_account or "",
                      recognition_method=p.recognition_method, created_at=p.created_at)


class PlanIn(In):
    """A plan in the contracts JSON format's plan shape (docs/contracts-json.md); numbers as strings."""

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=500)
    currency: str | None = Field(default=None, max_length=10)
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    term_months: int | None = Field(default=None, ge=1, le=1200)
    renewal_policy: str | None = Field(default=None, max_length=20)
    modifiers: dict[str, Any] | None = None
    archived: bool | None = None
    lines: list[dict[str, Any]] = Field(min_length=1, max_length=200, description="Lines as in the JSON format "
                                        "(product_sku, pricing_model, params, metric_code, …; phase windows as "
                                        "start/end_offset_months).")


class PlanOut(BaseModel):
    id: int
    name: str
    description: str
    currency: str
    payment_terms_days: int
    term_months: int | None
    renewal_policy: str
    modifiers: dict[str, Any]
    lines: list[dict[str, Any]]
    archived: bool
    created_at: UtcTime


def plan_out(p) -> PlanOut:  # noqa: ANN001
    from core.contract_io import _plan_json

    doc = _plan_json(p)
    return PlanOut(id=p.id, name=p.name, description=p.description or "", currency=p.currency,
                   payment_terms_days=p.payment_terms_days, term_months=p.term_months,
                   renewal_policy=p.renewal_policy, modifiers=doc["modifiers"], lines=doc["lines"],
                   archived=bool(p.archived), created_at=p.created_at)


class MetricIn(In):
    code: str = Field(min_length=1, max_length=64, examples=["api_calls"])
    name: str = Field(min_length=1, max_length=200)
    event_name: str = Field(default="", max_length=100, description="The usage events' event_name it counts.")
    aggregation: str = Field(max_length=20, description="sum, count, max, min, unique_count, latest, avg or sql.")
    unique_property: str = Field(default="", max_length=100)
    filters: dict[str, str] = Field(default_factory=dict, max_length=50, description="property -> value.")
    group_by: str = Field(default="", max_length=100)
    source_id: int | None = Field(default=None, ge=1, le=2_147_483_647, description="For sql: the data source.")
    sql_template: str = Field(default="", max_length=20_000)


class MetricOut(BaseModel):
    id: int
    code: str
    name: str
    event_name: str
    aggregation: str
    unique_property: str
    filters: dict[str, str]
    group_by: str
    source_id: int | None
    sql_template: str
    created_at: UtcTime


def metric_out(m) -> MetricOut:  # noqa: ANN001
    return MetricOut(id=m.id, code=m.code, name=m.name, event_name=m.event_name or "", aggregation=m.aggregation,
                     unique_property=m.unique_property or "", filters={str(k): str(v) for k, v in
                                                                        (m.filters or {}).items()},
                     group_by=m.group_by or "", source_id=m.source_id, sql_template=m.sql_template or "",
                     created_at=m.created_at)
