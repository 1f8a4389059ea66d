"""/v1/customers: create, read, update, list (filters, pages), bulk import (CSV/XLSX, all or nothing), export,
archive and restore, and customer portal sessions (signed, expiring links to the customer portal)."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy import or_
from sqlmodel import Session, select

from api.common import (
    Cursor,
    FreeText,
    IdPath,
    IdempotencyKey,
    In,
    Limit,
    Offset,
    Page,
    Text,
    idempotent,
    known_query,
    paginate,
    responses,
)
from api.deps import authenticated, db_session
from api.errors import ApiError, ExactJSONRoute
from api.schemas_customers import CustomerIn, CustomerOut, CustomerPatch, ImportOut, customer_out
from core.apikeys import ApiKeyActor
from core.customers import archive_customer, create_customer, get_customer, restore_customer, update_customer
from core.importers.customers import export_customers, import_customers
from core.models import Customer
from core.portal import DEFAULT_DAYS, MAX_DAYS, create_link

router = APIRouter(prefix="/v1/customers", tags=["customers"], route_class=ExactJSONRoute,
                   dependencies=[Depends(known_query)])


def _data(body) -> dict:  # noqa: ANN001 - a CustomerIn/CustomerPatch
    return {k: v for k, v in body.model_dump(exclude_unset=True).items() if v is not None}


@router.get("", response_model=Page[CustomerOut], summary="List customers",
            responses=responses(401, 403, 422))
def list_customers(request: Request, limit: Limit = 100, cursor: Cursor = None, offset: Offset = None,
                   q: FreeText = None, country: str | None = Text(2, r"^[A-Za-z]{2}$"),
                   currency: str | None = Text(3, r"^[A-Za-z]{3}$"), archived: bool | None = None,
                   actor: ApiKeyActor = Depends(authenticated("customers:read")),
                   session: Session = Depends(db_session)) -> Page[CustomerOut]:
    """Customers in id order, `limit` per page; `next` links the next page. Filters: `q` (name, external id or
    email contains), `country`, `currency`, `archived` (default: both)."""
    stmt = select(Customer)
    if q and q.strip():
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(Customer.name.ilike(like), Customer.external_id.ilike(like),
                              Customer.email.ilike(like)))
    if country:
        stmt = stmt.where(Customer.country == country.upper())
    if currency:
        stmt = stmt.where(Customer.currency == currency.upper())
    if archived is not None:
        stmt = stmt.where(Customer.archived == archived)
    rows, total, nxt = paginate(session, stmt, Customer.id, request, limit=limit, cursor=cursor, offset=offset)
    return Page[CustomerOut](data=[customer_out(c) for c in rows], total=total, next=nxt)


@router.post("", response_model=CustomerOut, status_code=201, summary="Create a customer",
             responses=responses(400, 401, 403, 404, 409, 422))
def create(body: CustomerIn, request: Request, actor: ApiKeyActor = Depends(authenticated("customers:write")),
           session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """Create a customer (201). An external id already in use is refused (422, field `external_id`)."""
    return idempotent(request, session, actor, body,
                      lambda: customer_out(create_customer(session, actor, _data(body))))


@router.get("/export", summary="Download every customer as CSV or XLSX",
            responses={200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument."
                                                                  "spreadsheetml.sheet": {}},
                             "description": "The file, in the import template's columns."},
                       **responses(401, 403, 422)})
def export(format: Literal["csv", "xlsx"] = "csv", include_archived: bool = False,  # noqa: A002 - the API's word
           actor: ApiKeyActor = Depends(authenticated("customers:read")),
           session: Session = Depends(db_session)) -> Response:
    """The same file as the Customers page's export; importing it again changes nothing."""
    data = export_customers(session, actor, format, include_archived=include_archived)
    media = "text/csv" if format == "csv" else ("application/vnd.openxmlformats-officedocument.spreadsheetml."
                                                "sheet")
    return Response(data, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="customers.{format}"'})


@router.post("/import", response_model=ImportOut, status_code=200, summary="Import customers from a CSV or XLSX file",
             responses=responses(400, 401, 403, 409, 422, extra={
                 422: "The file has problems: nothing was imported; `fields` lists each one as "
                      "`rows[<row>].<column>`."}))
async def import_file(request: Request, file: UploadFile = File(description="A .csv or .xlsx file with a header "
                                                                             "row (the export's columns, or HubSpot/"
                                                                             "Salesforce exports)."),
                      on_existing: Literal["update", "error"] = Query("update", description="A customer whose "
                                  "external id exists: update it, or refuse the file."),
                      dry_run: bool = Query(False, description="Check and report, write nothing."),
                      actor: ApiKeyActor = Depends(authenticated("customers:write")),
                      session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """All or nothing: any problem in any row and nothing is written; every problem is listed."""
    data = await file.read()
    name = file.filename or "customers.csv"
    from starlette.concurrency import run_in_threadpool

    def action() -> ImportOut:
        if dry_run:
            from core.auth import require
            from core.importers.customers import preview_customers

            require(actor, "customers:write")
            report = preview_customers(session, data, name, on_existing=on_existing)
        else:
            report = import_customers(session, actor, data, name, on_existing=on_existing)
        if not report.ok:
            problems = [*report.errors]
            fields = [{"field": f"rows[{e.row}].{e.column}" if e.row else (e.column or "file"),
                       "message": e.message + (f" (value: {e.value[:80]})" if e.value else "")}
                      for e in problems[:1000]]
            raise ApiError(422, "invalid_file", report.summary() + " — nothing was imported", fields)
        return ImportOut(committed=report.committed, rows=report.total_rows, created=report.created,
                         updated=report.updated, unchanged=report.unchanged, summary=report.summary(),
                         warnings=list(report.warnings))

    payload = name.encode("utf-8", "replace") + b"\0" + data
    return await run_in_threadpool(idempotent, request, session, actor, payload, action, status_code=200)


@router.get("/{customer_id}", response_model=CustomerOut, summary="Read a customer",
            responses=responses(401, 403, 404, 422))
def read(customer_id: IdPath, actor: ApiKeyActor = Depends(authenticated("customers:read")),
         session: Session = Depends(db_session)) -> CustomerOut:
    return customer_out(get_customer(session, customer_id))


@router.patch("/{customer_id}", response_model=CustomerOut, summary="Update a customer",
              responses=responses(400, 401, 403, 404, 409, 422))
def update(customer_id: IdPath, body: CustomerPatch, actor: ApiKeyActor = Depends(authenticated("customers:write")),
           session: Session = Depends(db_session)) -> CustomerOut:
    """Change the fields sent; the others stay. Audited like a change on the Customers page."""
    customer = update_customer(session, actor, customer_id, _data(body))
    out = customer_out(customer)
    session.commit()
    return out


class ArchiveIn(In):
    reason: str = Field("", max_length=500, description="Why (kept in the audit log), e.g. 'contract ended'.")


@router.post("/{customer_id}/archive", response_model=CustomerOut, status_code=200,
             summary="Archive a customer (POST; there is no DELETE: nothing is deleted)",
             responses=responses(400, 401, 403, 404, 409, 422, extra={
                 422: "Refused: the customer is already archived, or is still being billed — the message names "
                      "each running contract, draft invoice and open invoice. Nothing was changed."}))
def archive(customer_id: IdPath, request: Request, body: ArchiveIn | None = None,
            actor: ApiKeyActor = Depends(authenticated("customers:delete")),
            session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """For a customer you no longer bill (scope `customers:delete`): it leaves the app's lists and pickers,
    segments and the customer portal, and `GET /v1/customers?archived=false` no longer lists it. Nothing is
    deleted: its invoices, payments and credit notes stay readable here and in the app. Refused (422) while the
    customer has a running contract (end it first), a draft invoice (approve or delete it) or an open invoice
    (collect, credit or write it off). Audited; sends the `customer.archived` webhook. Undo with `…/restore`."""
    body = body or ArchiveIn()
    return idempotent(request, session, actor, {"customer": customer_id, **body.model_dump()},
                      lambda: customer_out(archive_customer(session, actor, customer_id, reason=body.reason)),
                      status_code=200)


@router.post("/{customer_id}/restore", response_model=CustomerOut, status_code=200,
             summary="Restore an archived customer", responses=responses(400, 401, 403, 404, 409, 422))
def restore(customer_id: IdPath, request: Request, body: ArchiveIn | None = None,
            actor: ApiKeyActor = Depends(authenticated("customers:write")),
            session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """Bring an archived customer back, as it was (scope `customers:write`). A customer that is not archived:
    422. Audited; sends the `customer.restored` webhook."""
    body = body or ArchiveIn()
    return idempotent(request, session, actor, {"customer": customer_id, **body.model_dump()},
                      lambda: customer_out(restore_customer(session, actor, customer_id, reason=body.reason)),
                      status_code=200)


class PortalSessionIn(BaseModel):
    days: int = Field(DEFAULT_DAYS, ge=1, le=MAX_DAYS, description=f"How long the link works (1–{MAX_DAYS} days).")


class PortalSessionOut(BaseModel):
    customer_id: int
    url: str = Field(description="The customer portal at APP_BASE_URL; empty when APP_BASE_URL is set empty.")
    token: str = Field(description="The signed token (`/portal?token=…`), for embedding the portal yourself.")
    expires_at: datetime


@router.post("/{customer_id}/portal-sessions", response_model=PortalSessionOut, status_code=201,
             summary="Open a customer portal session (a signed, expiring link)",
             responses=responses(400, 401, 403, 404, 409, 422))
def portal_session(customer_id: IdPath, request: Request, body: PortalSessionIn | None = None,
                   actor: ApiKeyActor = Depends(authenticated("customers:write")),
                   session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """A link to the customer portal for this customer — its invoices, payments, usage and billing details — to
    send to the customer or to open from your own product. Audited; the token is not stored (a replay of the same
    Idempotency-Key returns the same link)."""
    body = body or PortalSessionIn()

    def action() -> PortalSessionOut:
        link = create_link(session, actor, customer_id, days=body.days)
        return PortalSessionOut(customer_id=customer_id, url=link.url, token=link.token, expires_at=link.expires)

    return idempotent(request, session, actor, body, action)
