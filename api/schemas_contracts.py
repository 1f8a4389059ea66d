"""Contracts in the API: the contracts JSON document in (docs/contracts-json.md), contracts with their lines out."""
from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.common import Amount, Day, In, UtcTime, money


class LineDocIn(In):
    """A contract line as in the JSON format; fields not listed here are handed on and checked by the import."""

    model_config = ConfigDict(extra="allow")
    description: str | None = Field(default=None, max_length=200)
    product_sku: str | None = Field(default=None, max_length=64)
    pricing_model: str | None = Field(default=None, max_length=30)
    metric_code: str | None = Field(default=None, max_length=64)
    cadence: str | None = Field(default=None, max_length=12)
    timing: str | None = Field(default=None, max_length=10)
    phase: str | None = Field(default=None, max_length=60)


class ContractDocEntry(In):
    """One contract as in the JSON format (customer_external_id, name, currency, start_date, lines, … or plan)."""

    model_config = ConfigDict(extra="allow")
    key: str | None = Field(default=None, max_length=200)
    customer_external_id: str | None = Field(default=None, max_length=100)
    name: str | None = Field(default=None, max_length=200)
    currency: str | None = Field(default=None, max_length=10)
    status: str | None = Field(default=None, max_length=20)
    payment_terms_basis: str | None = Field(default=None, max_length=10)
    renewal_policy: str | None = Field(default=None, max_length=20)
    plan: str | None = Field(default=None, max_length=200)
    lines: list[LineDocIn] | None = Field(default=None, max_length=200)


class PlanDocEntry(In):
    model_config = ConfigDict(extra="allow")
    name: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=500)
    currency: str | None = Field(default=None, max_length=10)
    renewal_policy: str | None = Field(default=None, max_length=20)


class ContractDocIn(In):
    """The contracts JSON document (docs/contracts-json.md): its contracts (and plans) are checked like the contract
    builder and created all or nothing; a contract already stored (same customer, name, start date) is skipped."""

    format: Literal["countinghouse.contracts"]
    version: Literal[1]
    plans: list[PlanDocEntry] = Field(default_factory=list, max_length=1000)
    contracts: list[ContractDocEntry] = Field(default_factory=list, max_length=1000)
    exported_at: str | None = Field(default=None, max_length=50)
    comment: str | None = Field(default=None, max_length=2000)


class LineOut(BaseModel):
    id: int
    description: str
    product_sku: str | None
    pricing_model: str
    metric_code: str | None
    fixed_quantity: str | None = Field(description="Exact, as a string.")
    free_units: str
    cadence: str
    timing: str
    phase: str
    start_date: date | None
    end_date: date | None = Field(description="Exclusive: the first day no longer billed.")
    params: dict[str, Any]


class ContractOut(BaseModel):
    id: int
    customer_id: int
    customer_external_id: str
    name: str
    currency: str
    status: str
    start_date: date
    end_date: date | None = Field(description="Exclusive; null: open-ended.")
    plan_id: int | None
    payment_terms_days: int
    term_months: int | None
    renewal_policy: str
    modifiers: dict[str, Any]
    activated_at: UtcTime | None
    created_at: UtcTime
    lines: list[LineOut] | None = Field(default=None, description="On a single contract; null in lists.")


class ContractImportOut(BaseModel):
    committed: bool = Field(description="False in a dry run: nothing was written.")
    summary: str
    contract_ids: list[int]
    plan_ids: list[int]
    skipped: list[str] = Field(description="Contracts and plans already stored, left as they are.")
    warnings: list[str]


class ChangeLineIn(In):
    effective: Day = Field(description="The first day billed with the new terms.")
    params: dict[str, Any] | None = Field(default=None, description="The new price parameters (the line's pricing "
                                                                    "model); numbers as strings.")
    fixed_quantity: Amount | None = None
    description: str | None = Field(default=None, min_length=1, max_length=200)


class EndIn(In):
    effective: Day = Field(description="The first day no longer served.")


class ChangeOut(BaseModel):
    new_line_id: int
    contract: ContractOut


def _jsonable(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def contract_out(session, c, *, with_lines: bool = True, external_id: str | None = None) -> ContractOut:  # noqa: ANN001
    from core.billing.contracts import contract_lines
    from core.models import BillableMetric, Customer, Product

    lines = None
    if with_lines:
        lines = []
        for ln in contract_lines(session, c.id):
            product = session.get(Product, ln.product_id) if ln.product_id else None
            metric = session.get(BillableMetric, ln.metric_id) if ln.metric_id else None
            lines.append(LineOut(id=ln.id, description=ln.description, product_sku=product.sku if product else None,
                                 pricing_model=ln.pricing_model, metric_code=metric.code if metric else None,
                                 fixed_quantity=money(ln.fixed_quantity), free_units=money(ln.free_units) or "0",
                                 cadence=ln.cadence, timing=ln.timing, phase=ln.phase or "",
                                 start_date=ln.start_date, end_date=ln.end_date, params=_jsonable(ln.params or {})))
    if external_id is None:
        external_id = session.get(Customer, c.customer_id).external_id
    return ContractOut(id=c.id, customer_id=c.customer_id, customer_external_id=external_id, name=c.name,
                       currency=c.currency, status=c.status, start_date=c.start_date, end_date=c.end_date,
                       plan_id=c.plan_id, payment_terms_days=c.payment_terms_days, term_months=c.term_months,
                       renewal_policy=c.renewal_policy, modifiers=_jsonable(c.modifiers or {}),
                       activated_at=c.activated_at, created_at=c.created_at, lines=lines)
