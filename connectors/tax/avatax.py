"""Avalara AvaTax REST v2 over httpx: quote the tax of one document.

``POST {base}/api/v2/transactions/create`` with a CreateTransactionModel (type SalesOrder for a quote that
AvaTax does not record, SalesInvoice for an approved invoice), authenticated with HTTP basic auth
(account id + license key). From the TransactionModel it reads ``totalTax``, per-line ``lines[].tax`` and
the jurisdictions in ``summary[]``. Errors (``{"error": {"code", "message", "details": [...]}}``) become
:class:`AvaTaxError`, a :class:`core.errors.UserError` whose message says what to fix, with AvaTax's
``x-correlation-id`` as the reference to give Avalara support.

Amounts travel as exact JSON numbers written from Decimals, and responses are parsed with
``parse_float=Decimal``: no float ever touches an amount.

Configuration: :meth:`AvaTaxConfig.from_env` reads ``AVATAX_BASE_URL`` (default: the sandbox),
``AVATAX_ACCOUNT_ID``, ``AVATAX_LICENSE_KEY`` and ``AVATAX_COMPANY_CODE``.
"""
from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from decimal import Decimal

import httpx

from core.errors import UserError
from core.money import ZERO, MoneyError, to_decimal
from core.tax import Jurisdiction, TaxAddress, TaxDocument, TaxQuote

SANDBOX_URL = "https://sandbox-rest.avatax.com"
PRODUCTION_URL = "https://rest.avatax.com"
CREATE_PATH = "/api/v2/transactions/create"
PING_PATH = "/api/v2/utilities/ping"
CLIENT_ID = f"Counting House; 1.0; httpx; {httpx.__version__}; {platform.node() or 'server'}"
DOCUMENT_TYPES = ("SalesOrder", "SalesInvoice", "ReturnOrder", "ReturnInvoice")

# error codes about the address (AvaTax ErrorCodeId names)
ADDRESS_ERRORS = {
    "InvalidAddress", "AddressConflictException", "AddressRangeError", "AddressIncomplete", "AddressUnknownStreet",
    "AddressNotGeocoded", "InvalidPostalCode", "PostalCodeError", "InvalidZipForStateError", "MissingAddress",
    "GetTaxError",
}
AUTH_ERRORS = {"AuthenticationException", "AuthorizationException", "AccountInvalidException",
               "SubscriptionRequired"}


class AvaTaxError(UserError):
    """AvaTax refused or could not answer. ``code`` is AvaTax's error code when it gave one."""

    def __init__(self, message: str, *, code: str = "", status: int | None = None, correlation_id: str = "",
                 details: tuple[str, ...] = ()):
        if correlation_id:
            message = f"{message} (AvaTax reference {correlation_id})"
        super().__init__(message)
        self.code = code
        self.status = status
        self.correlation_id = correlation_id
        self.details = details


@dataclass(frozen=True)
class AvaTaxConfig:
    base_url: str = SANDBOX_URL
    account_id: str = ""
    license_key: str = ""
    company_code: str = "DEFAULT"
    timeout: float = 15.0

    @classmethod
    def from_env(cls) -> AvaTaxConfig:
        return cls(base_url=os.environ.get("AVATAX_BASE_URL", SANDBOX_URL),
                   account_id=os.environ.get("AVATAX_ACCOUNT_ID", ""),
                   license_key=os.environ.get("AVATAX_LICENSE_KEY", ""),
                   company_code=os.environ.get("AVATAX_COMPANY_CODE", "DEFAULT"))

    def problems(self) -> list[str]:
        out = []
        if not self.base_url.startswith(("http://", "https://")):
            out.append("AvaTax URL: must start with https:// (for example https://sandbox-rest.avatax.com)")
        if not self.account_id.strip():
            out.append("AvaTax account id: required (AvaTax → Settings → License and API keys)")
        if not self.license_key.strip():
            out.append("AvaTax license key: required")
        if not self.company_code.strip():
            out.append("AvaTax company code: required (the code of the company in AvaTax, often DEFAULT)")
        return out


# --------------------------------------------------------------------------------------------------
# exact JSON


def dumps_exact(value) -> str:
    """JSON with Decimals written as exact numbers (the json module would need floats)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyError(f"{value} is not a finite number")
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise MoneyError(f"refusing to send the float {value!r} to AvaTax; use a Decimal")
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps_exact(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps_exact(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _dec(value, name: str) -> Decimal:
    if value is None:
        return ZERO
    try:
        return to_decimal(value, field=name)
    except MoneyError as exc:
        raise AvaTaxError(f"AvaTax answered with an unreadable {name}: {exc}") from None


# --------------------------------------------------------------------------------------------------
# CreateTransactionModel / TransactionModel


def _address(a: TaxAddress) -> dict:
    out = {"line1": a.line1, "city": a.city, "region": a.region, "country": a.country, "postalCode": a.postal_code}
    return {k: v.strip() for k, v in out.items() if v and v.strip()}


def build_transaction(document: TaxDocument, *, company_code: str, ship_from: TaxAddress | None = None) -> dict:
    """The CreateTransactionModel for a document."""
    if document.kind not in DOCUMENT_TYPES:
        raise UserError(f"AvaTax document type must be one of {', '.join(DOCUMENT_TYPES)}")
    if not document.lines:
        raise UserError("AvaTax needs at least one line to calculate tax")
    origin = ship_from or document.ship_from
    addresses = ({"shipFrom": _address(origin), "shipTo": _address(document.ship_to)} if origin
                 else {"singleLocation": _address(document.ship_to)})
    lines = []
    for ln in document.lines:
        line = {"number": ln.number, "quantity": ln.quantity, "amount": ln.amount}
        if ln.tax_code:
            line["taxCode"] = ln.tax_code
        if ln.item_code:
            line["itemCode"] = ln.item_code
        if ln.description:
            line["description"] = ln.description[:2048]
        lines.append(line)
    model = {
        "type": document.kind,
        "code": document.code,
        "companyCode": company_code,
        "date": document.date.isoformat(),
        "customerCode": document.customer_code,
        "currencyCode": document.currency,
        "commit": bool(document.commit),
        "addresses": addresses,
        "lines": lines,
    }
    if document.exempt and document.exemption_no:
        model["exemptionNo"] = document.exemption_no
    return model


def parse_transaction(data: dict, *, tax_name: str = "Sales tax") -> TaxQuote:
    """A TransactionModel as a TaxQuote: totalTax, per-line tax and the jurisdictions of the summary."""
    if not isinstance(data, dict) or "totalTax" not in data:
        raise AvaTaxError("AvaTax answered without a total tax (totalTax); the transaction was not calculated")
    lines = {str(ln.get("lineNumber")): _dec(ln.get("tax"), "line tax") for ln in data.get("lines") or []}
    jurisdictions = tuple(
        Jurisdiction(name=str(s.get("jurisName") or ""), kind=str(s.get("jurisType") or ""),
                     rate=_dec(s.get("rate"), "rate"), tax=_dec(s.get("tax"), "tax"),
                     taxable=_dec(s.get("taxable"), "taxable amount"), tax_name=str(s.get("taxName") or ""))
        for s in data.get("summary") or [])
    reference = str(data.get("code") or data.get("id") or "")
    exempt = _dec(data.get("totalTaxable"), "taxable amount") == 0 and _dec(data.get("totalExempt"), "exempt") > 0
    return TaxQuote(amount=_dec(data.get("totalTax"), "total tax"), name=tax_name, lines=lines,
                    jurisdictions=jurisdictions, reference=reference, provider="AvaTax", exempt=exempt,
                    note="exempt according to AvaTax" if exempt else "")


def _error(response: httpx.Response) -> AvaTaxError:
    cid = response.headers.get("x-correlation-id", "")
    status = response.status_code
    try:
        err = json.loads(response.text).get("error") or {}
    except (ValueError, AttributeError):
        err = {}
    code = str(err.get("code") or "")
    details = tuple(
        " ".join(dict.fromkeys(x for x in (str(d.get("message") or "").strip(), str(d.get("description") or "").strip())
                               if x))
        for d in err.get("details") or [] if isinstance(d, dict))
    reason = "; ".join(d for d in details if d) or str(err.get("message") or "").strip()
    if code in AUTH_ERRORS or status in (401, 403):
        return AvaTaxError("AvaTax refused the sign-in: check the account id and license key"
                           + (f" ({reason})" if reason else ""), code=code, status=status, correlation_id=cid,
                           details=details)
    if code in ADDRESS_ERRORS:
        return AvaTaxError(f"AvaTax refused the address: {reason or 'the address is not valid'}", code=code,
                           status=status, correlation_id=cid, details=details)
    if status >= 500:
        return AvaTaxError(f"AvaTax is unavailable right now (HTTP {status}); try again later", code=code,
                           status=status, correlation_id=cid, details=details)
    return AvaTaxError(f"AvaTax refused the transaction: {reason or f'HTTP {status}'}"
                       + (f" [{code}]" if code else ""), code=code, status=status, correlation_id=cid, details=details)


class AvaTaxClient:
    def __init__(self, config: AvaTaxConfig, *, transport: httpx.BaseTransport | None = None):
        problems = config.problems()
        if problems:
            raise UserError("AvaTax is not set up: " + "; ".join(problems))
        self.config = config
        self._http = httpx.Client(base_url=config.base_url.rstrip("/"), auth=(config.account_id, config.license_key),
                                  timeout=config.timeout, transport=transport,
                                  headers={"Accept": "application/json", "X-Avalara-Client": CLIENT_ID})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AvaTaxClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _send(self, method: str, path: str, body: str | None = None) -> tuple[dict, str]:
        try:
            response = self._http.request(method, path, content=body.encode() if body is not None else None,
                                          headers={"Content-Type": "application/json"} if body is not None else None)
        except httpx.TimeoutException:
            raise AvaTaxError(f"AvaTax did not answer within {self.config.timeout:g} seconds; try again later") \
                from None
        except httpx.HTTPError as exc:
            raise AvaTaxError(f"AvaTax could not be reached at {self.config.base_url}: {exc}") from None
        if response.status_code >= 400:
            raise _error(response)
        try:
            data = json.loads(response.text, parse_float=Decimal)
        except ValueError:
            raise AvaTaxError(f"AvaTax answered with something that is not JSON (HTTP {response.status_code})",
                              status=response.status_code,
                              correlation_id=response.headers.get("x-correlation-id", "")) from None
        return data, response.headers.get("x-correlation-id", "")

    def ping(self) -> dict:
        """``GET /api/v2/utilities/ping``; raises AvaTaxError when the credentials are not accepted."""
        data, cid = self._send("GET", PING_PATH)
        if not data.get("authenticated"):
            raise AvaTaxError("AvaTax answered but did not accept the account id and license key",
                              code="AuthenticationException", correlation_id=cid)
        return data

    def create_transaction(self, model: dict) -> dict:
        data, _ = self._send("POST", CREATE_PATH, dumps_exact(model))
        return data

    def quote(self, document: TaxDocument, *, ship_from: TaxAddress | None = None,
              tax_name: str = "Sales tax") -> TaxQuote:
        model = build_transaction(document, company_code=self.config.company_code, ship_from=ship_from)
        return parse_transaction(self.create_transaction(model), tax_name=tax_name)
