"""Property-based tests from the OpenAPI document (schemathesis): whatever a client sends, the API answers with
a documented status and body — never a server error — on SQLite and PostgreSQL. Every operation is exercised
with a key holding every scope (so the calls reach the services, not just the scope check), on a database with a
customer, a metric, a product, a contract and an approved invoice to find."""
from __future__ import annotations

import os
from datetime import date
from decimal import Decimal

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance, unsupported_method

from api.main import app

schema = schemathesis.openapi.from_asgi("/openapi.json", app)
# The billing rules refuse much schema-valid data by design (an unknown customer, a period in the future, …),
# with a documented 422.


@schema.parametrize()
# The same examples every run (CI never turns red by a new random draw); SCHEMATHESIS_EXAMPLES=200 with
# SCHEMATHESIS_RANDOM=1 explores further by hand.
@settings(max_examples=int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12")), suppress_health_check=list(HealthCheck),
          deadline=None, derandomize=not os.environ.get("SCHEMATHESIS_RANDOM"))
def test_every_operation_answers_as_documented(case, api):
    response = case.call(headers=_auth(api))
    assert response.status_code < 500, response.text
    # Excluded: "schema-valid data must be accepted". The schema gives the shape; the billing rules (a known
    # customer, a metered event, the time window) then refuse requests by design, with a documented 422.
    # Excluded too: "an undeclared method gets 405". PATCH /v1/customers/export reaches PATCH
    # /v1/customers/{customer_id} and is refused with 422 (`export` is not an id) — a documented answer.
    case.validate_response(response, excluded_checks=[positive_data_acceptance, unsupported_method])


_SECRETS: dict[int, str] = {}


def _auth(api) -> dict[str, str]:
    if id(api) not in _SECRETS:
        from core.apikeys import SCOPES

        _seed(api)
        _SECRETS[id(api)] = api.key(scopes=tuple(SCOPES), name=f"schemathesis-{id(api)}")
    return api.auth(_SECRETS[id(api)])


def _seed(api) -> None:
    """Records for the operations to find: contract #1 with a line, draft invoice #1 (approved: #1 can be
    credited and voided), a product and a plan."""
    from core.auth import SYSTEM
    from core.billing.contracts import LineSpec
    from core.catalog import create_product
    from core.db import session_scope
    from core.invoicing.service import approve_invoice, generate_drafts
    from tests.db import factories

    with session_scope(api.engine) as s:
        create_product(s, SYSTEM, sku="PLATFORM", name="Platform", kind="time")
        factories.contract(s, "acme", [LineSpec(description="Platform", pricing_model="flat_fee",
                                                params={"amount": "100"}, cadence="monthly", timing="advance",
                                                fixed_quantity=Decimal(1))], start=date(2026, 1, 1))
        result = generate_drafts(s, SYSTEM, period_start=date(2026, 1, 1), period_end=date(2026, 2, 1))
        approve_invoice(s, SYSTEM, result.created[0])
