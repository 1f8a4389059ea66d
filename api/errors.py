"""One error shape for every failure: ``{"error": {"code", "message", "fields"?}}``.

``fields`` lists field-level problems as ``{"field": "events[3].timestamp", "message": ...}``. JSON numbers in
request bodies are read as Decimal (never float) by :class:`ExactJSONRoute`.
"""
from __future__ import annotations

import json
import logging
import re
from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("api")
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_BATCH = 1_000


class ErrorField(BaseModel):
    field: str
    message: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[ErrorField] | None = None


class ErrorOut(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: list[dict] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fields, self.headers = status, code, message, fields, headers


def error_body(code: str, message: str, fields: list[dict] | None = None) -> dict:
    err: dict[str, Any] = {"code": code, "message": message}
    if fields is not None:
        err["fields"] = fields
    return {"error": err}


def error_response(status: int, code: str, message: str, fields: list[dict] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, fields), status_code=status, headers=headers)


def field_path(loc: tuple | list) -> str:
    """('body', 'events', 3, 'timestamp') -> 'events[3].timestamp'."""
    out = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


_MESSAGES = {
    "missing": "is required",
    "string_type": "must be a string",
    "extra_forbidden": "is not a field of this request; check the spelling",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "list_type": "must be a JSON array",
}


def _message(e: dict) -> str:
    kind, ctx = e.get("type", ""), e.get("ctx") or {}
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind == "string_too_short":
        return "must not be empty" if ctx.get("min_length") == 1 else f"at least {ctx.get('min_length')} characters"
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters"
    if kind in ("too_long", "too_short"):
        return e.get("msg", "has the wrong number of items")
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', 'the documented values')}"
    message = e.get("msg", "is not valid")
    return message.removeprefix("Value error, ")


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    for e in errors:
        if e.get("type") == "json_invalid":
            detail = (e.get("ctx") or {}).get("error", "invalid JSON")
            pos = e["loc"][-1] if e.get("loc") else "?"
            return error_response(400, "malformed_json", f"the request body is not valid JSON: {detail} "
                                                         f"(at character {pos})")
        if tuple(e.get("loc", ())) == ("body",) and e.get("type") == "missing":
            return error_response(400, "malformed_json", "the request body is empty; send a JSON object with "
                                                         "Content-Type: application/json")
        if tuple(e.get("loc", ())) == ("body", "events") and e.get("type") == "too_long":
            size = (e.get("ctx") or {}).get("actual_length")
            return error_response(422, "batch_too_large", f"a batch holds at most {MAX_BATCH:,} events"
                                  + (f"; this one has {size:,}" if isinstance(size, int) else "")
                                  + ": split it into several requests")
    fields = []
    seen = set()
    for e in errors:
        path = field_path(e.get("loc", ()))
        message = _message(e)
        if (path, message) not in seen:
            seen.add((path, message))
            fields.append({"field": path, "message": message})
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:3])
    more = f" (and {len(fields) - 3} more)" if len(fields) > 3 else ""
    return error_response(422, "invalid_request", f"the request is not valid — {summary}{more}; nothing was "
                                                  "stored", fields)


# How the services name fields in their messages ("revenue account: …") -> the API's field names.
FIELD_ALIASES = {
    "sku": "sku", "revenue account": "gl_account", "parent": "parent_sku", "event name": "event_name",
    "unique property": "unique_property", "renewal": "renewal_policy", "source": "source_id",
    "sql template": "sql_template", "recognition method": "recognition_method",
    "revenue recognition": "revenue_policy", "quantity": "fixed_quantity", "idempotency-key": "Idempotency-Key",
    "amount": "amount", "reason": "reason", "excess": "excess", "lines": "lines",
}
_FIELD_PREFIX = re.compile(r"^\s*-?\s*([A-Za-z][A-Za-z0-9_\- ]{0,40}?|line \d+|lines\[\d+\][\w.]*):\s+(.+)$", re.S)


def user_error_fields(message: str) -> list[dict] | None:
    """``[{"field", "message"}]`` read from a service's message where it names fields ("name: a name is required;
    email: 'x' is not an email address"), or None when it names none."""
    parts = [p for chunk in message.split("\n") for p in chunk.split("; ")]
    fields = []
    for part in parts:
        m = _FIELD_PREFIX.match(part)
        if not m:
            continue
        name = m.group(1).strip()
        key = name.lower()
        line = re.fullmatch(r"line (\d+)", key)
        field = f"lines[{int(line.group(1)) - 1}]" if line else FIELD_ALIASES.get(key, key.replace(" ", "_"))
        fields.append({"field": field, "message": m.group(2).strip()})
    return fields or None


def user_error_response(exc: Exception) -> JSONResponse:
    """A core error as the API answers it: NotFound 404, PermissionDenied 403, any other UserError 422 (with the
    fields its message names). ``IdempotencyMismatch`` is a 422 with code ``idempotency_key_reused``."""
    from core.errors import NotFound, PermissionDenied

    message = str(exc)
    if isinstance(exc, NotFound):
        return error_response(404, "not_found", message)
    if isinstance(exc, PermissionDenied):
        return error_response(403, "forbidden", message + " (the API key lacks the scope; an admin can create a key "
                                                          "with it on the API keys page)")
    code = "idempotency_key_reused" if type(exc).__name__ == "IdempotencyMismatch" else "invalid_request"
    if not message.rstrip().endswith("nothing was done)"):
        message = message.rstrip().rstrip(".") + " — nothing was stored"
    return error_response(422, code, message, user_error_fields(str(exc)))


def _allowed_methods(request: Request) -> list[str]:
    """Every method the OpenAPI document lists for this path (Starlette's own Allow names only the first route's
    when several routes share a path)."""
    table = getattr(request.app.state, "allowed_methods", None)
    if table is None:
        table = []
        for template, ops in request.app.openapi().get("paths", {}).items():
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
            table.append((pattern, sorted(m.upper() for m in ops if m in ("get", "post", "put", "patch", "delete"))))
        request.app.state.allowed_methods = table
    path = request.url.path
    return next((methods for pattern, methods in table if pattern.match(path)), [])


def install_handlers(app: FastAPI) -> None:
    from core.errors import UserError

    @app.exception_handler(UserError)
    async def _user_error(_request: Request, exc: UserError) -> JSONResponse:
        return user_error_response(exc)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 413: "payload_too_large"}
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        headers = getattr(exc, "headers", None)
        if exc.status_code == 404:
            message = "there is no such endpoint; see /docs for the list"
        if exc.status_code == 405:
            allowed = _allowed_methods(_request)
            if allowed:
                headers = {**(headers or {}), "Allow": ", ".join(allowed)}
                message = f"this endpoint answers {', '.join(allowed)}"
        return error_response(exc.status_code, codes.get(exc.status_code, "error"), message, headers=headers)

    @app.exception_handler(Exception)
    async def _crash(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "something went wrong on our side; nothing was stored — "
                                                     "retry the request later")


def _refuse_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not a number", name, 0)


class ExactJSONRequest(Request):
    """A request whose JSON body keeps numbers exact: 0.1 is Decimal('0.1'), never a float."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            self._json = json.loads(body, parse_float=Decimal, parse_constant=_refuse_constant)
        return self._json


class ExactJSONRoute(APIRoute):
    """Parses bodies with :class:`ExactJSONRequest` and refuses bodies over MAX_BODY_BYTES with 413.

    A subclass may answer some requests itself, before FastAPI's own handling (dependencies, body validation,
    response model), by overriding :meth:`fast_response`: it returns a response, or None to hand the request
    (its body already read and parsed once, and kept) to FastAPI's handling as usual."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def exact_handler(request: Request):
            length = request.headers.get("content-length", "")
            if length.isdigit() and int(length) > MAX_BODY_BYTES:
                return error_response(413, "payload_too_large", f"the body is {int(length):,} bytes; at most "
                                                                f"{MAX_BODY_BYTES:,} are accepted")
            exact = ExactJSONRequest(request.scope, request.receive)
            response = await self.fast_response(exact)
            return response if response is not None else await handler(exact)

        return exact_handler

    async def fast_response(self, request: ExactJSONRequest) -> Response | None:
        return None
