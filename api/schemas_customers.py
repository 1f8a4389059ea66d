"""Customers in the API: what a client sends and what it gets back."""
from __future__ import annotations



from pydantic import BaseModel, Field

from api.common import In, UtcTime


class CustomerFields(In):
    email: str | None = Field(default=None, max_length=200, description="Where invoices are sent.")
    address_line1: str | None = Field(default=None, max_length=200)
    city: str | None = Field(default=None, max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, max_length=10, description="Two-letter code: US, DE, IN.")
    currency: str | None = Field(default=None, max_length=10, description="ISO 4217 code; default USD.")
    tax_id: str | None = Field(default=None, max_length=64)
    timezone: str | None = Field(default=None, max_length=64, description="IANA name, e.g. Europe/Berlin.")
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    consolidate_invoices: bool | None = Field(default=None, description="One invoice per period across contracts.")
    tax_exempt: bool | None = None


class CustomerIn(CustomerFields):
    """A new customer. ``external_id`` is the id your other systems use (usage events name it)."""

    external_id: str = Field(min_length=1, max_length=100, examples=["acme"])
    name: str = Field(min_length=1, max_length=200, examples=["Acme Corp"])


class CustomerPatch(CustomerFields):
    """The fields to change; the others stay as they are."""

    external_id: str | None = Field(default=None, min_length=1, max_length=100)
    name: str | None = Field(default=None, min_length=1, max_length=200)


class CustomerOut(BaseModel):
    id: int
    external_id: str
    name: str
    email: str
    address_line1: str
    city: str
    region: str
    postal_code: str
    country: str
    currency: str
    tax_id: str
    timezone: str
    payment_terms_days: int
    consolidate_invoices: bool
    tax_exempt: bool
    archived: bool
    attributes: dict[str, str] = Field(default_factory=dict)
    created_at: UtcTime
    updated_at: UtcTime


class ImportProblem(BaseModel):
    row: int = Field(description="Row in the file (1 is the header), 0 for the file as a whole.")
    column: str
    value: str
    message: str


class ImportOut(BaseModel):
    committed: bool = Field(description="False in a dry run: nothing was written.")
    rows: int
    created: int
    updated: int
    unchanged: int
    summary: str
    warnings: list[str] = Field(default_factory=list)


def customer_out(c) -> CustomerOut:  # noqa: ANN001 - core.models.Customer
    return CustomerOut(id=c.id, external_id=c.external_id, name=c.name, email=c.email or "",
                       address_line1=c.address_line1 or "", city=c.city or "", region=c.region or "",
                       postal_code=c.postal_code or "", country=c.country or "", currency=c.currency,
                       tax_id=c.tax_id or "", timezone=c.timezone or "", payment_terms_days=c.payment_terms_days,
                       consolidate_invoices=bool(c.consolidate_invoices), tax_exempt=bool(c.tax_exempt),
                       archived=bool(c.archived),
                       attributes={str(k): str(v) for k, v in (c.attributes or {}).items()},
                       created_at=c.created_at, updated_at=c.updated_at)
