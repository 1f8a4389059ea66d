"""/v1/products and /v1/plans: the catalog."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import Session, select

from api.common import (
    Cursor,
    FreeText,
    IdPath,
    IdempotencyKey,
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
from api.schemas_catalog import PlanIn, PlanOut, ProductIn, ProductOut, plan_out, product_out
from core.apikeys import ApiKeyActor
from core.catalog import create_product
from core.errors import NotFound
from core.models import Plan, Product
from core.plans import get_plan

router = APIRouter(prefix="/v1", tags=["catalog"], route_class=ExactJSONRoute,
                   dependencies=[Depends(known_query)])


@router.get("/products", response_model=Page[ProductOut], summary="List products", responses=responses(401, 403, 422))
def list_products(request: Request, limit: Limit = 100, cursor: Cursor = None, offset: Offset = None,
                  kind: str | None = Text(10, r"^(time|usage)$"), q: FreeText = None,
                  actor: ApiKeyActor = Depends(authenticated("catalog:read")),
                  session: Session = Depends(db_session)) -> Page[ProductOut]:
    """Products in id order. Filters: `kind` (time, usage), `q` (SKU or name contains)."""
    stmt = select(Product)
    if kind:
        stmt = stmt.where(Product.kind == kind)
    if q and q.strip():
        like = f"%{q.strip()}%"
        stmt = stmt.where(Product.sku.ilike(like) | Product.name.ilike(like))
    rows, total, nxt = paginate(session, stmt, Product.id, request, limit=limit, cursor=cursor, offset=offset)
    return Page[ProductOut](data=[product_out(p) for p in rows], total=total, next=nxt)


@router.post("/products", response_model=ProductOut, status_code=201, summary="Create a product",
             responses=responses(400, 401, 403, 404, 409, 422))
def create_product_endpoint(body: ProductIn, request: Request,
                            actor: ApiKeyActor = Depends(authenticated("catalog:write")),
                            session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    return idempotent(request, session, actor, body,
                      lambda: product_out(create_product(session, actor, **body.model_dump())))


@router.get("/products/{product_id}", response_model=ProductOut, summary="Read a product",
            responses=responses(401, 403, 404, 422))
def read_product(product_id: IdPath, actor: ApiKeyActor = Depends(authenticated("catalog:read")),
                 session: Session = Depends(db_session)) -> ProductOut:
    product = session.get(Product, product_id)
    if product is None:
        raise NotFound(f"there is no product #{product_id}")
    return product_out(product)


@router.get("/plans", response_model=Page[PlanOut], summary="List plans", responses=responses(401, 403, 422))
def list_plans(request: Request, limit: Limit = 100, cursor: Cursor = None, offset: Offset = None,
               archived: bool | None = None, currency: str | None = Text(3, r"^[A-Za-z]{3}$"),
               actor: ApiKeyActor = Depends(authenticated("catalog:read")),
               session: Session = Depends(db_session)) -> Page[PlanOut]:
    """Plans in id order. Filters: `archived`, `currency`."""
    stmt = select(Plan)
    if archived is not None:
        stmt = stmt.where(Plan.archived == archived)
    if currency:
        stmt = stmt.where(Plan.currency == currency.upper())
    rows, total, nxt = paginate(session, stmt, Plan.id, request, limit=limit, cursor=cursor, offset=offset)
    return Page[PlanOut](data=[plan_out(p) for p in rows], total=total, next=nxt)


@router.post("/plans", response_model=PlanOut, status_code=201, summary="Create a plan",
             responses=responses(400, 401, 403, 404, 409, 422))
def create_plan_endpoint(body: PlanIn, request: Request, actor: ApiKeyActor = Depends(authenticated("catalog:write")),
                         session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """A plan in the contracts JSON format's shape (docs/contracts-json.md), checked like the plan builder. Saved
    through the contracts import, which also needs the scope `contracts:write`. A name already used: 422."""
    from core.contract_io import FORMAT, VERSION, import_json

    def action() -> PlanOut:
        doc = {"format": FORMAT, "version": VERSION, "plans": [body.model_dump(exclude_none=True)], "contracts": []}
        report = import_json(session, actor, doc, filename="plan")
        if report.errors:
            raise ApiError(422, "invalid_request", report.summary() + " — nothing was stored",
                           [{"field": "body", "message": line} for line in report.problem_lines()])
        if not report.plan_ids:
            raise ApiError(422, "invalid_request", f"name: a plan called '{body.name.strip()}' already exists — "
                                                   "nothing was stored",
                           [{"field": "name", "message": f"a plan called '{body.name.strip()}' already exists"}])
        return plan_out(get_plan(session, report.plan_ids[0]))

    return idempotent(request, session, actor, body, action)


@router.get("/plans/{plan_id}", response_model=PlanOut, summary="Read a plan", responses=responses(401, 403, 404, 422))
def read_plan(plan_id: IdPath, actor: ApiKeyActor = Depends(authenticated("catalog:read")),
              session: Session = Depends(db_session)) -> PlanOut:
    return plan_out(get_plan(session, plan_id))
