"""POST /v1/stripe/webhook: Stripe's events (payments taken or declined, refunds settled).

Needs no API key: the request is authenticated by its ``Stripe-Signature`` header, checked with the real
``stripe`` library (``stripe.WebhookSignature.verify_header``, the check ``stripe.Webhook.construct_event``
makes) against STRIPE_WEBHOOK_SECRET. A bad or missing signature → 400 and nothing is stored. Each event is
processed once (its id is kept); the same event again → 200, ``"duplicate": true``. What each event does is
:func:`core.payments_stripe.handle_event`.

Include it in api/main.py with ``app.include_router(stripe_router)``
(``from api.routes_stripe import router as stripe_router``).
"""
from __future__ import annotations

import json
import logging
from decimal import Decimal

import stripe
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.deps import db_session
from api.errors import error_response
from api.schemas import ErrorOut
from connectors.stripe_gateway import settings
from core.errors import UserError
from core.models import ProviderEvent
from core.payments_stripe import handle_event

log = logging.getLogger("api.stripe")
router = APIRouter(tags=["stripe"])


class WebhookOut(BaseModel):
    received: bool
    event_id: str
    type: str
    duplicate: bool
    outcome: str


def _process(session: Session, event: dict) -> WebhookOut:
    try:
        result = handle_event(session, event)
        session.commit()
    except IntegrityError:  # the same event, delivered twice at once: the other delivery stored it
        session.rollback()
        seen = session.get(ProviderEvent, str(event.get("id")))
        if seen is None:
            raise
        return WebhookOut(received=True, event_id=seen.id, type=seen.type, duplicate=True, outcome=seen.outcome)
    return WebhookOut(received=True, event_id=result.event_id, type=result.type, duplicate=result.duplicate,
                      outcome=result.outcome)


@router.post(
    "/v1/stripe/webhook", response_model=WebhookOut, summary="Stripe webhook events (signed by Stripe)",
    responses={400: {"model": ErrorOut, "description": "The Stripe-Signature header is missing or does not match "
                                                       "the body (`bad_signature`), the body is not a Stripe event, "
                                                       "or no signature can be checked because "
                                                       "STRIPE_WEBHOOK_SECRET is not set on the server "
                                                       "(`not_configured`); nothing was stored."}})
async def stripe_webhook(request: Request, session: Session = Depends(db_session)):  # noqa: B008
    """Point a Stripe webhook endpoint here (events `payment_intent.succeeded`, `payment_intent.payment_failed`,
    `charge.refunded`, `refund.updated`). Authenticated by the `Stripe-Signature` header, not by an API key.
    Answers 200 once the event is stored — also for an event already received (`duplicate`) and for one that
    Counting House does not act on."""
    secret = settings().webhook_secret
    if not secret:
        # 400, not 503: nothing unsigned is ever accepted, and the API answers no 5xx by design
        return error_response(400, "not_configured", "no signature can be checked: Stripe webhooks are not set up "
                                                     "here (set STRIPE_WEBHOOK_SECRET, the endpoint's signing "
                                                     "secret whsec_…, on the server); nothing was stored")
    payload = await request.body()
    signature = request.headers.get("stripe-signature")
    if not signature:
        return error_response(400, "bad_signature", "the Stripe-Signature header is missing: only Stripe's own "
                                                    "signed deliveries are accepted")
    try:
        # what stripe.Webhook.construct_event checks, without its parsing (which crashes on a signed JSON array)
        stripe.WebhookSignature.verify_header(payload, signature, secret, stripe.Webhook.DEFAULT_TOLERANCE)
    except stripe.SignatureVerificationError as exc:
        return error_response(400, "bad_signature", f"the Stripe-Signature header does not match this body: {exc}; "
                                                    "nothing was stored (check STRIPE_WEBHOOK_SECRET)")
    except ValueError as exc:  # not UTF-8
        return error_response(400, "malformed_json", f"the body is not a Stripe event: {exc}")
    try:
        event = json.loads(payload, parse_float=Decimal)  # amounts stay exact (they are integers anyway)
    except ValueError as exc:
        return error_response(400, "malformed_json", f"the body is not a Stripe event: {exc}")
    if not isinstance(event, dict):
        return error_response(400, "malformed_json", "the body is not a Stripe event (a JSON object)")
    try:
        out = await run_in_threadpool(_process, session, event)
    except UserError as exc:
        return error_response(400, "invalid_event", str(exc))
    return JSONResponse(out.model_dump())
