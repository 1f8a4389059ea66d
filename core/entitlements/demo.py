"""Demo entitlements: a few grants of each kind on the demo customers, one near its limit and one over it, so the
Entitlements page has something to show. Limits are drawn from the demo's own usage and invoices, so the "near" and
"over" stay true whatever the demo data holds."""
from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from sqlmodel import Session, select

from core.auth import Actor
from core.entitlements.balances import COUNTED_STATUSES
from core.entitlements.grants import GrantSpec, create_grant, grant_from_contract
from core.entitlements.monitor import record_exhaustions
from core.metering.metrics import aggregate
from core.models import BillableMetric, Contract, Customer, Invoice

START = date(2026, 10, 1)  # the demo's usage month


def _whole(value: Decimal, rounding: str) -> Decimal:
    return max(value.to_integral_value(rounding=rounding), Decimal(1))


def seed_demo_entitlements(session: Session, actor: Actor) -> str:
    customers = {c.external_id: c for c in session.exec(select(Customer))}
    metric = session.exec(select(BillableMetric).where(BillableMetric.code == "api_requests")).first()
    if metric is None or not customers:
        return ""
    used = aggregate(session, metric, datetime(2026, 10, 1), datetime(2026, 11, 1))
    calls = {ext: res.quantity for ext, res in used.items()}

    def quantity(ext, units, *, reset="never", limit_type="hard", name="API requests", start=START):  # noqa: ANN001
        return create_grant(session, actor, GrantSpec(
            customer_external_id=ext, key="api_requests", kind="quantity", name=name, metric_id=metric.id,
            units=units, reset=reset, limit_type=limit_type, start_date=start,
            note="demo: counted from the start of the pilot's usage month"))

    made = []
    if "ACME-001" in customers:  # about 90% used: near its limit
        made.append(quantity("ACME-001", _whole(calls.get("ACME-001", Decimal(900)) / Decimal("0.9"), ROUND_CEILING)))
    if "GLOBEX-002" in customers:  # a third over: blocked
        made.append(quantity("GLOBEX-002", _whole(calls.get("GLOBEX-002", Decimal(1000)) * Decimal("0.75"),
                                                  ROUND_FLOOR)))
    if "WAYNE-006" in customers:  # half used, soft
        made.append(quantity("WAYNE-006", _whole(calls.get("WAYNE-006", Decimal(500)) * 2, ROUND_CEILING),
                             limit_type="soft"))
    if "HOOLI-007" in customers:  # per billing period, from its contract
        made.append(quantity("HOOLI-007", Decimal(250000), reset="billing_period", name="API requests per period",
                             start=date(2026, 7, 1)))
        contract = session.exec(select(Contract).where(Contract.customer_id == customers["HOOLI-007"].id)
                                .order_by(Contract.id)).first()
        feature = GrantSpec(customer_external_id="HOOLI-007", key="sso", kind="feature", name="Single sign-on",
                            start_date=None, note="demo: comes with the Enterprise contract")
        made.append(grant_from_contract(session, actor, contract.id, feature) if contract else
                    create_grant(session, actor, GrantSpec(**{**feature.__dict__, "start_date": START})))
        credit = create_grant(session, actor, GrantSpec(
            customer_external_id="HOOLI-007", key="prepaid_credit", kind="credit", name="Prepaid credit",
            amount="5000", currency=customers["HOOLI-007"].currency, start_date=date(2026, 7, 1),
            limit_type="soft", note="demo: prepaid for the pilot; invoices draw it down"))
        made.append(credit)
    if "UMBRELLA-004" in customers:  # a credit budget its approved invoices have passed: flagged
        umbrella = customers["UMBRELLA-004"]
        billed = sum((inv.total for inv in session.exec(select(Invoice).where(
            Invoice.customer_id == umbrella.id, Invoice.currency == umbrella.currency,
            Invoice.issue_date >= date(2026, 7, 1), Invoice.status.in_(COUNTED_STATUSES)))), Decimal(0))
        made.append(create_grant(session, actor, GrantSpec(
            customer_external_id="UMBRELLA-004", key="prepaid_credit", kind="credit", name="Prepaid credit",
            amount=_whole(billed * Decimal("0.8"), ROUND_FLOOR), currency=umbrella.currency,
            start_date=date(2026, 7, 1), limit_type="soft", note="demo: a budget its invoices have passed")))
    for ext, key, name, on in (("STARK-005", "priority_support", "Priority support", False),
                               ("ACME-001", "beta_dashboards", "Beta dashboards", True)):
        if ext in customers:
            made.append(create_grant(session, actor, GrantSpec(
                customer_external_id=ext, key=key, kind="feature", name=name, enabled=on,
                start_date=date(2026, 7, 1), end_date=date(2026, 9, 1) if on else None)))
    session.flush()
    swept = record_exhaustions(session, actor, on=date.today())
    return f"{len(made)} entitlements granted, {swept.summary()}; "
