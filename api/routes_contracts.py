"""/v1/contracts: create from the contracts JSON document, list, read, activate, amend (change a line from a day,
end early)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
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
from api.schemas_contracts import (
    ChangeLineIn,
    ChangeOut,
    ContractDocIn,
    ContractImportOut,
    ContractOut,
    EndIn,
    contract_out,
)
from core.apikeys import ApiKeyActor
from core.billing.contracts import activate_contract, get_contract
from core.models import Contract, Customer

router = APIRouter(prefix="/v1/contracts", tags=["contracts"], route_class=ExactJSONRoute,
                   dependencies=[Depends(known_query)])


@router.get("", response_model=Page[ContractOut], summary="List contracts", responses=responses(401, 403, 422))
def list_contracts(request: Request, limit: Limit = 100, cursor: Cursor = None, offset: Offset = None,
                   customer: FreeText = None, status: str | None = Text(20, r"^(draft|active|ended)$"),
                   currency: str | None = Text(3, r"^[A-Za-z]{3}$"),
                   actor: ApiKeyActor = Depends(authenticated("contracts:read")),
                   session: Session = Depends(db_session)) -> Page[ContractOut]:
    """Contracts in id order, without their lines (read one for those). Filters: `customer` (external id),
    `status` (draft, active, ended), `currency`."""
    stmt = select(Contract, Customer.external_id).join(Customer, Customer.id == Contract.customer_id)
    if customer:
        stmt = stmt.where(Customer.external_id == customer)
    if status:
        stmt = stmt.where(Contract.status == status)
    if currency:
        stmt = stmt.where(Contract.currency == currency.upper())
    rows, total, nxt = paginate(session, stmt, Contract.id, request, limit=limit, cursor=cursor, offset=offset)
    return Page[ContractOut](data=[contract_out(session, c, with_lines=False, external_id=ext) for c, ext in rows],
                             total=total, next=nxt)


@router.post("", response_model=ContractImportOut, status_code=201, summary="Create contracts from JSON",
             responses={200: {"model": ContractImportOut, "description": "A dry run: what would be created."},
                        **responses(400, 401, 403, 409, 422, extra={
                            422: "A problem in any contract or plan: nothing was created; `fields` lists every "
                                 "problem, naming the contract and the line."})})
def create(body: ContractDocIn, request: Request,
           dry_run: bool = Query(False, description="Check and report, write nothing."),
           actor: ApiKeyActor = Depends(authenticated("contracts:write")),
           session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """The contracts JSON document (docs/contracts-json.md; the app's contracts export writes it): every contract
    and plan in it is checked like the contract builder and all are created, or — any problem — none. A contract
    already stored (same customer, name and start date) is skipped and listed under `skipped`. Plans in it need
    the scope `catalog:write` too."""
    from core.contract_io import import_json

    def action() -> ContractImportOut:
        doc = body.model_dump(exclude_unset=True)
        doc["format"], doc["version"] = body.format, body.version
        report = import_json(session, actor, doc, dry_run=dry_run, filename="request")
        if report.errors:
            raise ApiError(422, "invalid_request", report.summary(),
                           [{"field": _where(line), "message": line} for line in report.problem_lines()])
        return ContractImportOut(committed=report.committed, summary=report.summary(),
                                 contract_ids=report.contract_ids, plan_ids=report.plan_ids,
                                 skipped=[f"{d.key}: {d.reason}" for d in report.duplicates],
                                 warnings=list(report.warnings))

    return idempotent(request, session, actor, body, action, status_code=200 if dry_run else 201)


def _where(problem: str) -> str:
    """'contract 2 (…), line 3 (…): …' -> 'contracts[1].lines[2]'."""
    import re

    m = re.match(r"^(contract|plan) (\d+)\b", problem)
    if not m:
        return "body"
    out = f"{m.group(1)}s[{int(m.group(2)) - 1}]"
    line = re.search(r", line (\d+)\b", problem.split(":")[0])
    return out + (f".lines[{int(line.group(1)) - 1}]" if line else "")


@router.get("/{contract_id}", response_model=ContractOut, summary="Read a contract with its lines",
            responses=responses(401, 403, 404, 422))
def read(contract_id: IdPath, actor: ApiKeyActor = Depends(authenticated("contracts:read")),
         session: Session = Depends(db_session)) -> ContractOut:
    """The contract and its lines; line ids are what an amendment names."""
    return contract_out(session, get_contract(session, contract_id))


@router.post("/{contract_id}/activate", response_model=ContractOut, status_code=200,
             summary="Activate a draft", responses=responses(400, 401, 403, 404, 409, 422))
def activate(contract_id: IdPath, request: Request, actor: ApiKeyActor = Depends(authenticated("contracts:write")),
             session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """A draft contract starts being billed. Anything but a draft: 422."""
    return idempotent(request, session, actor, {"contract": contract_id},
                      lambda: contract_out(session, activate_contract(session, actor, contract_id)),
                      status_code=200)


@router.post("/{contract_id}/lines/{line_id}/change", response_model=ChangeOut, status_code=201,
             summary="Amend a line from a day (new price or quantity)",
             responses=responses(400, 401, 403, 404, 409, 422))
def change_line(contract_id: IdPath, line_id: IdPath, body: ChangeLineIn, request: Request,
                actor: ApiKeyActor = Depends(authenticated("contracts:write")),
                session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """From `effective` on, a time-based line is billed with the new `params` and/or `fixed_quantity`: the old line
    ends that day and a new one starts (its id is `new_line_id`). The next invoice credits or charges the difference
    for days billed in advance. Usage lines change from the next period instead (422)."""
    from core.billing.amendments import change_line as change

    def action() -> ChangeOut:
        new = change(session, actor, contract_id=contract_id, line_id=line_id, effective=body.effective,
                     params=body.params, fixed_quantity=body.fixed_quantity, description=body.description)
        return ChangeOut(new_line_id=new.id, contract=contract_out(session, get_contract(session, contract_id)))

    return idempotent(request, session, actor, body, action)


@router.post("/{contract_id}/end", response_model=ContractOut, status_code=200, summary="End a contract early",
             responses=responses(400, 401, 403, 404, 409, 422))
def end(contract_id: IdPath, body: EndIn, request: Request,
        actor: ApiKeyActor = Depends(authenticated("contracts:write")),
        session: Session = Depends(db_session), _key: IdempotencyKey = None) -> Response:
    """`effective` is the first day no longer served; prepaid days after it are credited on the next invoice."""
    from core.billing.amendments import end_contract

    def action() -> ContractOut:
        end_contract(session, actor, contract_id=contract_id, effective=body.effective)
        return contract_out(session, get_contract(session, contract_id))

    return idempotent(request, session, actor, body, action, status_code=200)
