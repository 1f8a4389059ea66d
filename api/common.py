"""What the resource routers share: ids in paths, list pages (limit + cursor/offset, a ``next`` link), request
models that refuse what the database cannot store, exact amounts, and POST with an Idempotency-Key.

Every POST goes through :func:`idempotent`: it runs the action and commits — with the ``Idempotency-Key`` header,
after looking the key up (core.api_idempotency) and storing the answer in the same transaction as the action.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Header, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from api.errors import ApiError, ErrorOut
from core import api_idempotency as idem
from core.apikeys import ApiKeyActor

MAX_ID = 2_147_483_647  # ids are 32-bit integers in every backend
MAX_LIMIT = 500
MAX_AMOUNT = Decimal("1000000000000")  # a trillion: more is a typing mistake (and would not fit the columns)
T = TypeVar("T")

IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The record's id.")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Records per page, 1 to {MAX_LIMIT} (default 100).")]
Cursor = Annotated[int | None, Query(ge=0, le=MAX_ID, description="Continue after this id: the `next` link of the "
                                                                  "previous page carries it.")]
IdFilter = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only records of this id.")]
Offset = Annotated[int | None, Query(ge=0, le=10_000_000, description="Skip this many records instead (ignored "
                                                                      "with a cursor).")]


def _utc(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


UtcTime = Annotated[datetime, AfterValidator(_utc), Field(description="UTC, ISO 8601.")]


FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)  # dates outside are typing mistakes


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date such as 2026-01-31")
    return value


def _in_range(value: date | None) -> date | None:
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY}")
    return value


Day = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_in_range), Field(examples=["2026-01-31"])]
DayQuery = Annotated[date | None, Query(description="The day (default today), e.g. 2026-01-31."),
                     BeforeValidator(lambda v: v if v is None else _iso_date(v)), AfterValidator(_in_range)]


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def Text(max_length: int, pattern: str | None = None):  # noqa: N802 - a Query() factory
    """A query text filter that the database can compare (no NUL, bounded length)."""
    return Query(default=None, max_length=max_length, pattern=pattern)


FreeText = Annotated[str | None, Query(max_length=100, description="Contains this text (case-insensitive)."),
                     AfterValidator(_no_nul)]


def known_query(request: Request) -> None:
    """Refuse query parameters the endpoint does not have (a typo such as ``statuss=draft`` would otherwise be
    ignored silently and the filter not applied)."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    from fastapi._compat import field_annotation_is_sequence

    allowed: set[str] = set()
    lists: set[str] = set()  # parameters that may be given more than once
    todo = [dependant]
    while todo:
        d = todo.pop()
        allowed |= {p.alias for p in d.query_params}
        lists |= {p.alias for p in d.query_params if field_annotation_is_sequence(p.field_info.annotation)}
        todo.extend(d.dependencies)
    given = [k for k, _ in request.query_params.multi_items()]
    twice = sorted({k for k in given if given.count(k) > 1 and k in allowed and k not in lists})
    if twice:  # which one would count? refuse rather than pick one silently
        raise ApiError(422, "invalid_request", f"query parameter {', '.join(repr(k) for k in twice[:5])} given more "
                       "than once: give each once — nothing was done",
                       [{"field": k, "message": "given more than once"} for k in twice[:20]])
    unknown = sorted({k for k in request.query_params.keys() if k not in allowed})
    if unknown:
        fields = [{"field": k[:60] or "(empty name)", "message": "is not a query parameter of this endpoint"}
                  for k in unknown[:20]]
        raise ApiError(422, "invalid_request", f"unknown query parameter {', '.join(repr(k[:60]) for k in unknown[:5])}"
                       + (f"; this endpoint takes {', '.join(sorted(allowed))}" if allowed else
                          "; this endpoint takes none") + " — nothing was done", fields)


def _check_strings(value: Any, path: str = "") -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError(f"{path or 'a value'} must not contain NUL characters")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_strings(k, path)
            _check_strings(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_strings(v, f"{path}[{i}]")
    elif isinstance(value, float):
        raise ValueError(f"{path or 'a value'}: floating-point numbers are not accepted")


class In(BaseModel):
    """A request body: unknown fields refused, no NUL characters anywhere (no database can store them)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _clean(cls, data: Any) -> Any:
        _check_strings(data)
        return data


AMOUNT_PATTERN = r"^-?\d{1,12}(\.\d{1,6})?$"


def _exact(value: Any) -> Any:
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError('must be a string such as "12.50" (or an exact JSON number)')
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, str):
        if not re.fullmatch(AMOUNT_PATTERN[1:-1], value):
            raise ValueError(f"'{value[:40]}' is not a number such as \"1200.50\" (digits, at most 6 decimals)")
        value = Decimal(value)
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError('must be a number such as "12.50"')
    if abs(value) >= MAX_AMOUNT:
        raise ValueError(f"must be less than {MAX_AMOUNT:,} in size")
    if value.as_tuple().exponent < -6:  # type: ignore[operator]
        raise ValueError("at most 6 decimals")
    return value


Amount = Annotated[Decimal, BeforeValidator(_exact), WithJsonSchema({
    "anyOf": [{"type": "string", "pattern": AMOUNT_PATTERN}, {"type": "number"}], "examples": ["120.00"],
    "description": "An exact decimal, best as a string (a JSON number is read exactly too), at most 6 decimals."})]


def money(value: Any, code: str | None = None) -> str | None:
    """A Decimal as the API shows money and quantities: a plain string, exact ("1200.50"), never a float. With a
    currency, shown with its minor units when that loses nothing (stored values carry 3 decimals)."""
    if value is None:
        return None
    d = value if isinstance(value, Decimal) else Decimal(str(value))
    if code:
        from core.money import MoneyError, currency

        try:
            q = currency(code).quantum
        except MoneyError:
            q = None
        if q is not None and d == d.quantize(q):
            d = d.quantize(q)
    return format(d, "f")


class Page(BaseModel, Generic[T]):
    data: list[T]
    total: int = Field(description="How many records match the filters (all pages).")
    next: str | None = Field(description="The URL of the next page, or null on the last one.")


def paginate(session: Session, stmt, id_col, request: Request, *, limit: int, cursor: int | None,  # noqa: ANN001
             offset: int | None) -> tuple[list, int, str | None]:
    """One page of ``stmt`` (a select whose rows have ``id_col``) in id order, its total, and the next link."""
    total = session.exec(select(func.count()).select_from(stmt.order_by(None).subquery())).one()
    q = stmt.order_by(id_col)
    if cursor is not None:
        q = q.where(id_col > cursor)
    elif offset:
        q = q.offset(offset)
    rows = list(session.exec(q.limit(limit + 1)))
    nxt = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        last_id = getattr(last, "id", None)
        if last_id is None:
            last_id = last[0].id if isinstance(last, tuple) or hasattr(last, "_mapping") else last
        nxt = str(request.url.remove_query_params(["cursor", "offset"]).include_query_params(cursor=last_id))
    return rows, total, nxt


# ---- POST: one transaction, Idempotency-Key honoured ----------------------------------------------------------

IDEMPOTENCY_DOC = ("Optional. A unique value per request (a UUID). Sending the same request again with the same key "
                   "returns the first answer (header `Idempotent-Replayed: true`) and does nothing twice; the same "
                   "key with a different request is refused (422 `idempotency_key_reused`). Kept 24 hours.")


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", description=IDEMPOTENCY_DOC, max_length=255)]


def canonical(payload: Any) -> bytes:
    """The request's payload as stable bytes for hashing (models as sorted JSON; bytes as they are)."""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json", exclude_unset=False)
    return json.dumps(jsonable_encoder(payload), sort_keys=True, separators=(",", ":"), default=str).encode()


def _body(result: Any) -> str:
    if isinstance(result, BaseModel):
        return result.model_dump_json()
    return json.dumps(jsonable_encoder(result), default=str)


def _replay(answer: idem.StoredAnswer) -> Response:
    return Response(answer.body, status_code=answer.status_code, media_type="application/json",
                    headers={"Idempotent-Replayed": "true"})


def idempotent(request: Request, session: Session, actor: ApiKeyActor, payload: Any,
               action: Callable[[], Any], *, status_code: int = 201) -> Response:
    """Run ``action`` (it returns the response model, or ``(status, model)``) and commit, honouring the
    Idempotency-Key header."""
    key = idem.clean_key(request.headers.get("idempotency-key"))
    method_path = f"{request.method} {request.url.path}"
    if request.url.query:
        method_path_hash = method_path + "?" + "&".join(sorted(request.url.query.split("&")))
    else:
        method_path_hash = method_path
    req_hash = idem.request_hash(method_path_hash, canonical(payload))
    if key is not None:
        stored = idem.lookup(session, api_key_id=actor.key_id, key=key, method_path=method_path, req_hash=req_hash)
        if stored is not None:
            return _replay(stored)
    result = action()
    if isinstance(result, tuple):  # (status, body): an action whose status depends on what it did
        status_code, result = result
    body = _body(result)
    try:
        if key is not None:
            idem.remember(session, api_key_id=actor.key_id, key=key, method_path=method_path, req_hash=req_hash,
                          status_code=status_code, body=body)
        session.commit()
    except IntegrityError:
        session.rollback()
        if key is not None:
            stored = idem.lookup(session, api_key_id=actor.key_id, key=key, method_path=method_path,
                                 req_hash=req_hash)
            if stored is not None:
                return _replay(stored)
        raise ApiError(409, "conflict", "another request changed the same records at the same moment; nothing was "
                                        "stored — retry the request") from None
    return Response(body, status_code=status_code, media_type="application/json")


def responses(*codes: int, extra: dict[int, str] | None = None) -> dict:
    """OpenAPI ``responses`` for the error statuses an endpoint may answer."""
    text = {400: "The body is not valid JSON.", 401: "No API key, or an invalid or revoked one.",
            403: "The key lacks the scope this endpoint needs.", 404: "There is no such record.",
            409: "Another request changed the same records at the same moment; retry.",
            422: "The request was refused; `fields` names what to fix. Nothing was stored."}
    text.update(extra or {})
    return {c: {"model": ErrorOut, "description": text[c]} for c in codes}
