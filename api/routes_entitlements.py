"""/v1/entitlements: grants with their balances, the run-time check, granting and ending a grant early."""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel import Session, select

from api.common import (
    DayQuery,
    IdFilter,
    IdPath,
    IdempotencyKey,
    Limit,
    Offset,
    Page,
    Text,
    idempotent,
    known_query,
    money,
    responses,
)
from api.deps import authenticated, db_session
from api.errors import ApiError, ExactJSONRoute
from api.schemas_platform import BalanceOut, DecisionOut, GrantEndIn, GrantIn, checked, grant_field
from core.apikeys import ApiKeyActor

router = APIRouter(prefix="/v1/entitlements", tags=["entitlements"], route_class=ExactJSONRoute,
                   dependencies=[Depends(known_query)])


@router.get("", response_model=Page[BalanceOut], summary="List entitlement grants with their balances",
            responses=responses(401, 403, 422))
def list_entitlements(request: Request, limit: Limit = 100, offset: Offset = None, customer_id: IdFilter = None,
                      kind: str | None = Text(10, r"^(quantity|credit|feature)$"), on: DayQuery = None,
                      actor: ApiKeyActor = Depends(authenticated("entitlements:read")),
                      session: Session = Depends(db_session)) -> Page[BalanceOut]:
    """Grants by customer and key, each with what is used and left on `on`. Pages by `offset` (`next` links)."""
    from core.entitlements.balances import balances

    day = on or date.today()
    rows, total = balances(session, actor, on=day, customer_id=customer_id, kind=kind, offset=offset or 0,
                           limit=limit)
    nxt = None
    if (offset or 0) + len(rows) < total:
        nxt = str(request.url.include_query_params(offset=(offset or 0) + len(rows)))
    return Page[BalanceOut](data=[_balance(b) for b in rows], total=total, next=nxt)


def _balance(b) -> BalanceOut:  # noqa: ANN001 - core.entitlements.balances.Balance
    g = b.grant
    code = g.currency if g.kind == "credit" else None
    return BalanceOut(grant_id=g.id, customer_id=g.customer_id, customer_external_id=b.customer_external_id,
                      key=g.key, name=g.name, kind=g.kind, limit_type=g.limit_type, enabled=bool(g.enabled),
                      start_date=g.start_date, end_date=g.end_date, active=b.active, period_start=b.period_start,
                      period_end=b.period_end, unit=b.unit or "", used=money(b.used, code),
                      limit=money(b.limit, code), remaining=money(b.remaining, code), status=b.status())


def _balance_of(session: Session, grant, on: date | None = None) -> BalanceOut:  # noqa: ANN001
    from core.entitlements.balances import balances_of

    return _balance(balances_of(session, [grant], on or date.today())[0])


@router.get("/check", response_model=DecisionOut, summary="May this customer use this?",
            responses=responses(401, 403, 404, 422))
def check(customer: str = Query(min_length=1, max_length=100, pattern=r"^[^\x00]+$",
                                description="The customer's external id."),
          key: str = Query(min_length=1, max_length=64, pattern=r"^[^\x00]+$", description="The entitlement key, "
                                                                                           "e.g. sso or api_calls."),
          on: DayQuery = None, actor: ApiKeyActor = Depends(authenticated("entitlements:read")),
          session: Session = Depends(db_session)) -> DecisionOut:
    """For a product deciding at run time: `allowed` false when no grant is in effect, a feature is off, or a hard
    limit is reached; `flagged` when a soft limit is passed. An unknown customer: 404."""
    from core.entitlements.balances import check as decide

    d = decide(session, customer, key, on=on)
    return DecisionOut(allowed=d.allowed, flagged=d.flagged, reason=d.reason, kind=d.kind, used=money(d.used),
                       limit=money(d.limit), remaining=money(d.remaining), grant_id=d.grant_id)


@router.post("", response_model=BalanceOut, status_code=201, summary="Grant an entitlement",
             responses=responses(400, 401, 403, 409, 422, extra={
                 422: "Refused: `fields` names each problem (an unknown customer or metric, overlapping dates of "
                      "the same key, a key already used for another kind, …). Nothing was stored."}))
def grant(body: GrantIn, request: Request, actor: ApiKeyActor = Depends(authenticated("entitlements:write")),
          session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """Grant a customer a quantity (units of a metric per period), a credit budget or a feature (scope
    `entitlements:write`), as the Entitlements page does: the same checks, audited. Answers the grant with its
    balance today. At most one grant of a key is in effect for a customer on any day: end the other one first."""
    from core.entitlements.grants import GrantSpec, create_grant, grant_from_contract
    from core.models import Contract, Customer

    def action() -> BalanceOut:
        customer = body.customer
        ct = session.get(Contract, body.contract_id) if body.contract_id is not None else None
        if body.contract_id is not None and ct is None:
            raise ApiError(422, "invalid_request", f"contract: there is no contract #{body.contract_id} — nothing "
                           "was stored", [{"field": "contract_id", "message": "there is no such contract"}])
        if ct is None and not customer:
            raise ApiError(422, "invalid_request", "customer: give the customer's external id (or a contract_id) "
                           "— nothing was stored", [{"field": "customer", "message": "is required"}])
        spec = GrantSpec(customer_external_id=customer or "", key=body.key, kind=body.kind,
                         start_date=body.start_date, end_date=body.end_date, name=body.name,
                         metric_id=body.metric_id, units=body.units, reset=body.reset, amount=body.amount,
                         currency=body.currency or "", limit_type=body.limit_type, enabled=body.enabled,
                         contract_id=body.contract_id, product_id=body.product_id, plan_id=body.plan_id,
                         note=body.note)
        # the contract's own customer (named or not): its dates are the defaults; another customer is refused
        from_contract = ct is not None and (not customer or session.exec(
            select(Customer.id).where(Customer.external_id == customer)).first() == ct.customer_id)
        made = checked(lambda: grant_from_contract(session, actor, ct.id, spec) if from_contract else
                       create_grant(session, actor, spec), grant_field)
        return _balance_of(session, made)

    return idempotent(request, session, actor, body, action)


@router.get("/{grant_id}", response_model=BalanceOut, summary="Read a grant with its balance",
            responses=responses(401, 403, 404, 422))
def read(grant_id: IdPath, on: DayQuery = None, actor: ApiKeyActor = Depends(authenticated("entitlements:read")),
         session: Session = Depends(db_session)) -> BalanceOut:
    """One grant, with what is used and left on `on` (default today)."""
    from core.entitlements.grants import get_grant

    return _balance_of(session, get_grant(session, grant_id), on)


@router.post("/{grant_id}/end", response_model=BalanceOut, status_code=200, summary="End a grant early",
             responses=responses(400, 401, 403, 404, 409, 422))
def end(grant_id: IdPath, body: GrantEndIn, request: Request,
        actor: ApiKeyActor = Depends(authenticated("entitlements:write")),
        session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """The grant no longer applies from `end_date` (scope `entitlements:write`): a revocation from that day; on
    its start date it never applied. An `end_date` before the start, or not earlier than the grant's own end: 422.
    Audited with the end date before and after; answers the grant with its balance today."""
    from core.entitlements.grants import end_grant

    return idempotent(request, session, actor, body, lambda: _balance_of(session, checked(
        lambda: end_grant(session, actor, grant_id, end_date=body.end_date, reason=body.reason), grant_field)),
        status_code=200)
