"""The Counting House REST API (FastAPI).

Run it (``make api``: two processes, each with one engine on DATABASE_URL; default: the app's SQLite file under
data/; ``API_WORKERS`` changes the count):

    .venv/bin/uvicorn api.main:app --host 127.0.0.1 --port 8000 --loop uvloop --http httptools --workers 2

uvloop and httptools (in requirements.txt) are uvicorn's fast event loop and HTTP parser: about twice the
requests per second of the pure-Python defaults on the same machine (bench/api_ingest.py). Two processes share
SQLite's single writer through WAL and the busy timeout, and gave 20,600 events/s in batches and 1,600 single
requests/s on SQLite where one process gave 19,700 and 1,000. Well-formed ingestion requests are answered without FastAPI's dependency and
validation machinery (see api/routes_usage.py); the answers are the same either way.

OpenAPI at /openapi.json, interactive docs at /docs. Keys are made on the app's "API keys" page.
"""
from __future__ import annotations

from fastapi import Depends, FastAPI
from sqlalchemy import text
from sqlalchemy.engine import Engine

from api.deps import get_engine
from api.errors import MAX_BATCH, ApiError, install_handlers
from api.routes_catalog import router as catalog_router
from api.routes_contracts import router as contracts_router
from api.routes_customers import router as customers_router
from api.routes_entitlements import router as entitlements_router
from api.routes_invoices import router as invoices_router
from api.routes_metrics import router as metrics_router
from api.routes_segments import router as segments_router
from api.routes_stripe import router as stripe_router
from api.routes_usage import router as usage_router
from api.schemas import ErrorOut, Health

DESCRIPTION = f"""
Counting House's billing back office over HTTP: the same services, rules, permissions and audit log as the app.

- **Usage**: `POST /v1/events`, `POST /v1/events/batch` — scope `usage:write`.
- **Customers**: `GET/POST /v1/customers`, `GET/PATCH /v1/customers/{{id}}`, `POST /v1/customers/import`
  (a CSV or XLSX file, all or nothing), `GET /v1/customers/export` — `customers:read`, `customers:write`;
  `POST …/{{id}}/archive` (`customers:delete`; refused while the customer is still billed) and `POST …/restore`
  (`customers:write`) — archiving deletes nothing, so there is no DELETE.
- **Catalog**: `GET/POST /v1/products`, `GET /v1/products/{{id}}`, `GET/POST /v1/plans`, `GET /v1/plans/{{id}}` —
  `catalog:read`, `catalog:write` (creating a plan also needs `contracts:write`).
- **Metrics**: `GET/POST /v1/metrics`, `GET /v1/metrics/{{id}}` — `metrics:read`, `metrics:write`.
- **Contracts**: `POST /v1/contracts` (the contracts JSON document), `GET /v1/contracts`,
  `GET /v1/contracts/{{id}}`, `POST …/activate`, `POST …/lines/{{line_id}}/change`, `POST …/end` —
  `contracts:read`, `contracts:write`.
- **Invoices**: `POST /v1/invoices/generate`, `GET /v1/invoices`, `GET /v1/invoices/{{id}}`, `GET …/pdf`,
  `POST …/approve`, `POST …/void` (a full credit note), `POST …/credit-notes` — `invoices:read`,
  `invoices:write` (generate), `invoices:approve` (approve, void, credit).
- **Credit notes**: `GET /v1/credit-notes`, `GET /v1/credit-notes/{{id}}`, `GET …/pdf` — `invoices:read`.
- **Payments**: `GET/POST /v1/payments`, `GET /v1/payments/{{id}}` — `invoices:read`, `invoices:write`.
- **Entitlements**: `GET /v1/entitlements` (grants with their balances on a day), `GET /v1/entitlements/{{id}}`,
  `GET /v1/entitlements/check?customer=…&key=…` (may this customer use this now?) — `entitlements:read`;
  `POST /v1/entitlements` (grant), `POST …/{{id}}/end` (end early) — `entitlements:write`.
- **Segments**: `GET /v1/segments`, `GET /v1/segments/{{id}}`, `GET /v1/segments/{{id}}/customers` —
  `receivables:read` (the members also `customers:read`); `POST /v1/segments`, `PATCH /v1/segments/{{id}}` —
  `receivables:write`; `DELETE /v1/segments/{{id}}` — `receivables:delete`.

**Authentication and scopes.** Every `/v1` endpoint except `/v1/health` and the Stripe webhook
(`/v1/stripe/webhook`, verified by its `Stripe-Signature` instead) needs an API key, made by an admin on the app's
*API keys* page and shown once: `Authorization: Bearer ch_live_…`. A key's scopes are `<resource>:<action>`
(resources customers, catalog, contracts, usage, metrics, invoices, accounting, receivables, entitlements; actions
read, write, delete, approve): a key may do exactly what its scopes say. A missing, unknown or revoked key gets
**401**; a key without the needed scope gets **403** and nothing is done.

**Lists** return `{{"data": [...], "total": n, "next": url-or-null}}` in id order: `limit` (1 to 500, default 100)
and either `cursor` (follow `next`) or `offset`; filters per list (customers: `q`, `country`, `currency`,
`archived`; invoices: `status`, `customer`, `customer_id`, `period` such as `2026-01`, `currency`; …). An unknown
query parameter is refused (422), so a misspelt filter never silently lists everything.

**Money and quantities are strings**, exact (`"1200.50"`), never floating point; in requests a JSON number is also
read exactly. Dates are ISO (`2026-01-31`); timestamps are UTC with a `Z`; end dates are exclusive.

**Idempotency-Key.** Every POST accepts the header `Idempotency-Key: <unique value, e.g. a UUID>` (at most 255
characters, per API key, kept 24 hours). The answer is stored in the same transaction as the action; sending the
same request again with the same key returns that answer with the header `Idempotent-Replayed: true` and does
nothing twice; the same key with another request (another path or body) is refused with **422**
`idempotency_key_reused`. A refused request stores nothing under its key: fix it and send it again. Usage events
also carry their own `idempotency_key`: an event whose key is already stored — or that appears twice in one batch —
is reported under `duplicates` and counted once.

**Usage batches are accepted per event** (as Lago and Orb do). In `POST /v1/events/batch` (1 to {MAX_BATCH:,}
events) every valid event is stored and every invalid one is listed under `rejected` with its index, idempotency
key, field and message. A batch whose *shape* is wrong is refused whole with **422** and a field list such as
`events[3].timestamp`. Timestamps more than `INGEST_MAX_FUTURE` ahead (default 1 day) or more than
`INGEST_MAX_AGE_DAYS` old (default 400 days) are rejected; load older usage with a CSV upload in the app.

**Errors** always have the shape `{{"error": {{"code": "...", "message": "...", "fields": [{{"field", "message"}}]}}}}`
and nothing is stored: `malformed_json` (400), `unauthorized` (401), `forbidden` (403), `not_found` (404),
`conflict` (409, retry), `payload_too_large` (413, body over 10 MiB), `invalid_request` / `invalid_file` /
`invalid_event` / `idempotency_key_reused` / `batch_too_large` (422; `fields` names each field at fault, e.g.
`email`, `rows[3].name`, `contracts[1].lines[0]`).
"""

app = FastAPI(title="Counting House API", version="1", description=DESCRIPTION)
install_handlers(app)
app.include_router(usage_router)
app.include_router(stripe_router)
app.include_router(customers_router)
app.include_router(catalog_router)
app.include_router(metrics_router)
app.include_router(contracts_router)
app.include_router(invoices_router)
app.include_router(entitlements_router)
app.include_router(segments_router)


@app.get("/v1/health", response_model=Health, tags=["health"], summary="Is the API up and its database reachable",
         responses={503: {"model": ErrorOut, "description": "The database cannot be reached."}})
def health(engine: Engine = Depends(get_engine)) -> Health:
    """No key needed. 200 when the database answers, 503 otherwise."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not healthy"
        raise ApiError(503, "unavailable", "the database cannot be reached") from None
    return Health(status="ok", database="ok")
