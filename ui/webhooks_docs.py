"""The "Verifying signatures" tab of the Webhooks page: what a request looks like, how a receiver checks it (the
Python snippet), the retry rules, and every event type with the object its data holds."""
from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from core.webhooks import signing
from core.webhooks.delivery import DISABLE_AFTER, MAX_ATTEMPTS, TIMEOUT_SECONDS
from core.webhooks.outbox import EVENT_TYPES
from core.webhooks.payloads import DATA_OF, FIELDS

EXAMPLE = {"id": "evt_5f0c2a4e9b7d4c1e8a3f6b2d9c0e1f7a", "type": "invoice.paid", "created_at": "2026-11-10T09:30:12Z",
           "data": {"object": "invoice", "id": 412, "number": "INV-000412", "status": "paid",
                    "customer_id": 7, "customer_external_id": "ACME-001", "contract_id": 12, "currency": "USD",
                    "period_start": "2026-10-01", "period_end": "2026-11-01", "issue_date": "2026-11-01",
                    "due_date": "2026-12-01", "subtotal": "1250.00", "tax": "250.00", "total": "1500.00",
                    "credits_applied": "0.00", "amount_paid": "1500.00", "amount_credited": "0.00",
                    "amount_written_off": "0.00", "amount_due": "0.00", "approved_at": "2026-11-01T08:00:00Z"}}


def docs_panel(me) -> None:  # noqa: ANN001, ARG001 - Actor
    st.markdown(f"""
Each event is a `POST` with a JSON body — the **envelope** `{{id, type, created_at, data}}` — and these headers:

| Header | Value |
|---|---|
| `{signing.SIGNATURE_HEADER}` | `t=<Unix time of this attempt>,v1=<HMAC-SHA256 hex digest>` |
| `{signing.EVENT_ID_HEADER}` | the event's `id` (the same on every retry and replay) |
| `{signing.EVENT_TYPE_HEADER}` | the event's `type` |
| `{signing.DELIVERY_HEADER}` | the delivery number shown in the log |

The digest is HMAC-SHA256 over `"{{t}}.{{raw body}}"` with the endpoint's signing secret. To verify a request,
recompute it over the **raw body as received** (before parsing the JSON), compare in constant time, and refuse a
`t` more than five minutes old (a replayed request). Answer with any 2xx status within {TIMEOUT_SECONDS:g} seconds;
do the slow work afterwards.
""")
    st.code(signing.VERIFY_SNIPPET, language="python")
    st.markdown(f"""
**Retries.** No 2xx answer within {TIMEOUT_SECONDS:g} s is a failed attempt: it is retried after 1, 2, 4, 8 …
minutes (at most 12 hours apart), {MAX_ATTEMPTS} attempts in all. An endpoint with {DISABLE_AFTER} failed attempts
in a row is **disabled** (the Endpoints tab says so and why); enable it again once it is fixed and its pending
deliveries are sent. The same event can arrive more than once (a retry after a lost answer, a replay):
use its `id` to skip duplicates. Events may arrive out of order; `created_at` says when each happened.

**The secret.** It is shown once, when the endpoint is created or its secret rotated. Counting House must keep it
to sign each request, so it is stored readable in the database (not hashed like an API key) and never shown again;
rotating replaces it at once.

**Money** is a string in the currency's minor units (`"1500.00"`, `"9.500"` for BHD), never a floating-point
number; dates are `YYYY-MM-DD`, times UTC.
""")
    st.subheader("Event types")
    st.dataframe(pd.DataFrame([{"Type": t, "When": text, "data holds": DATA_OF.get(t, "")}
                               for t, text in EVENT_TYPES.items()]), hide_index=True, width="stretch",
                 height=35 * (len(EVENT_TYPES) + 1) + 3,
                 column_config={"Type": st.column_config.TextColumn(width=170),
                                "When": st.column_config.TextColumn(width=480),
                                "data holds": st.column_config.TextColumn(width=240)})
    st.subheader("The objects in data")
    st.caption("Fields may be added over time, never renamed or removed: ignore the ones you do not know.")
    st.markdown("\n".join(f"- **{name}**: {fields}" for name, fields in FIELDS.items()))
    st.subheader("An example")
    st.code(json.dumps(EXAMPLE, indent=2), language="json")
