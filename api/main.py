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
from api.routes_stripe import router as stripe_router
from api.routes_usage import router as usage_router
from api.schemas import ErrorOut, Health

DESCRIPTION = f"""
Send usage events to Counting House from your systems.

**Authentication.** Every `/v1` endpoint except `/v1/health` and the Stripe webhook (`/v1/stripe/webhook`,
verified by its `Stripe-Signature` instead) needs an API key, made by an admin on the app's
*API keys* page and shown once: `Authorization: Bearer ch_live_…`. A missing, unknown or revoked key gets
**401**; a key without the needed scope (`usage:write` to send events) gets **403**.

**Batches are accepted per event** (as Lago and Orb do). In `POST /v1/events/batch` (1 to {MAX_BATCH:,} events)
every valid event is stored and every invalid one is listed under `rejected` with its index, idempotency key,
field and message — nothing of a rejected event is stored; fix it and send it again. A batch whose *shape* is
wrong (a required field missing, a value of the wrong JSON type) is refused whole with **422** and a field list
such as `events[3].timestamp`.

**Idempotency.** Each event carries an `idempotency_key`. An event whose key is already stored — or that appears
twice in one batch — is reported under `duplicates` and counted once: re-sending a request after a timeout is
always safe.

**Exact quantities.** `quantity` may be a JSON number or a string; numbers are read as exact decimals (never
floating point), at most 6 decimals, never negative.

**Time window.** Timestamps more than `INGEST_MAX_FUTURE` ahead (default 1 day) or more than
`INGEST_MAX_AGE_DAYS` old (default 400 days) are rejected; load older usage with a CSV upload in the app.

**Errors** always have the shape `{{"error": {{"code": "...", "message": "...", "fields": [...]}}}}`:
`malformed_json` (400), `unauthorized` (401), `forbidden` (403), `conflict` (409, retry),
`payload_too_large` (413, body over 10 MiB), `invalid_request` / `invalid_event` / `batch_too_large` (422, more than 1,000 events).
"""

app = FastAPI(title="Counting House API", version="1", description=DESCRIPTION)
install_handlers(app)
app.include_router(usage_router)
app.include_router(stripe_router)


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
