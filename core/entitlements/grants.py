"""Granting entitlements: by hand, or by a contract (``contract_id``: the contract as a whole, optionally naming the
product or plan the grant comes with). Three kinds:

- **quantity** — so many units of a billable metric (for example 100,000 API calls), reset every billing period,
  every calendar month, or never (one budget for the grant's whole window);
- **credit** — a money budget (for example $5,000 of prepaid credit) consumed by the customer's approved invoices
  in that currency; a tracked budget only: invoice amounts are never changed (the contract wallet does that);
- **feature** — on or off (for example "sso").

A quantity or credit grant has a soft limit (passing it flags the customer; the product may still allow the use) or
a hard limit (passing it blocks: :func:`core.entitlements.balances.check` answers not allowed).

At most one grant of a key is valid for a customer on any day: a second grant whose dates overlap is refused (end
the first one, or give the new one another key), so a product's question "may customer X use key K?" has one
answer. A key means one kind everywhere ("sso" is a feature for every customer)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import or_
from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.models import BillableMetric, Contract, Customer, EntitlementGrant, Plan, Product, utcnow
from core.money import MoneyError, currency as currency_of, round_money, to_decimal
from core.types import QUANTITY_SCALE

KINDS = {"quantity": "Quantity (units of a metric)", "credit": "Credit (a money budget)",
         "feature": "Feature (on/off)"}
RESETS = {"billing_period": "Every billing period", "month": "Every calendar month", "never": "Never (one budget)"}
LIMIT_TYPES = {"hard": "Hard — block when reached", "soft": "Soft — flag, still allow"}
_KEY = re.compile(r"^[a-z0-9][a-z0-9_.\-]{0,63}$")


@dataclass
class GrantSpec:
    """What a grant form or a script fills in. Amounts as text or Decimal (never float)."""

    customer_external_id: str
    key: str
    kind: str
    start_date: date | None
    end_date: date | None = None
    name: str = ""
    metric_id: int | None = None  # quantity
    units: object = None  # quantity: the limit per period
    reset: str = "billing_period"  # quantity
    amount: object = None  # credit
    currency: str = ""  # credit (default: the customer's currency)
    limit_type: str = "hard"
    enabled: bool = True  # feature
    contract_id: int | None = None  # granted by this contract
    product_id: int | None = None
    plan_id: int | None = None
    note: str = ""


def _positive(value, field: str, problems: list[str]) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        problems.append(f"{field}: a number is required")
        return None
    try:
        d = to_decimal(value, field=field)
    except MoneyError as exc:
        problems.append(str(exc))
        return None
    if d <= 0:
        problems.append(f"{field}: must be greater than 0 (got {d})")
        return None
    return d


def _overlaps(a_start: date, a_end: date | None, b_start: date, b_end: date | None) -> bool:
    return (b_end is None or a_start < b_end) and (a_end is None or b_start < a_end)


def validate(session: Session, spec: GrantSpec) -> tuple[list[str], dict]:
    """Every problem with ``spec`` (each naming its field), and the clean values to store."""
    problems: list[str] = []
    clean: dict = {}
    ext = (spec.customer_external_id or "").strip()
    customer = session.exec(select(Customer).where(Customer.external_id == ext)).first() if ext else None
    if customer is None:
        problems.append(f"customer: there is no customer '{ext}'; choose one from the list" if ext
                        else "customer: choose the customer")
    key = (spec.key or "").strip().lower()
    if not _KEY.match(key):
        problems.append("key: use lower-case letters, digits, '_', '-' or '.' (for example api_calls or sso); it is "
                        "what a product asks about")
    kind = spec.kind
    if kind not in KINDS:
        problems.append(f"kind: choose one of {', '.join(KINDS)}")
    if spec.limit_type not in LIMIT_TYPES:
        problems.append("limit: choose hard (block) or soft (flag)")
    if spec.start_date is None:
        problems.append("start date: a start date is required")
    elif spec.end_date is not None and spec.end_date <= spec.start_date:
        problems.append(f"end date: {spec.end_date:%-d %b %Y} is not after the start date "
                        f"{spec.start_date:%-d %b %Y}; the end date is the first day it no longer applies")
    clean.update(customer=customer, key=key, name=(spec.name or "").strip() or key.replace("_", " ").capitalize())
    if len(clean["name"]) > 200:
        problems.append("name: at most 200 characters")
    if len(spec.note or "") > 500:
        problems.append("note: at most 500 characters")
    if kind == "quantity":
        metric = session.get(BillableMetric, spec.metric_id) if spec.metric_id is not None else None
        if metric is None:
            problems.append("metric: choose the billable metric that counts this entitlement's use" if
                            spec.metric_id is None else f"metric: there is no billable metric #{spec.metric_id}")
        units = _positive(spec.units, "units", problems)
        if units is not None and units != units.quantize(Decimal(1).scaleb(-QUANTITY_SCALE)):
            problems.append(f"units: at most {QUANTITY_SCALE} decimals")
        if spec.reset not in RESETS:
            problems.append(f"reset: choose one of {', '.join(RESETS)}")
        clean.update(metric_id=spec.metric_id, units=units, reset=spec.reset)
    elif kind == "credit":
        code = (spec.currency or (customer.currency if customer else "")).strip().upper()
        amount = _positive(spec.amount, "amount", problems)
        try:
            currency_of(code)
            if amount is not None and round_money(amount, code) != amount:
                problems.append(f"amount: {amount} has more decimals than {code} has")
        except MoneyError as exc:
            problems.append(f"currency: {exc}")
        clean.update(amount=amount, currency=code, reset="never")
    elif kind == "feature":
        clean.update(enabled=bool(spec.enabled), reset="never", limit_type="hard")
    if kind != "feature":
        clean["limit_type"] = spec.limit_type
    if spec.contract_id is not None:
        ct = session.get(Contract, spec.contract_id)
        if ct is None:
            problems.append(f"contract: there is no contract #{spec.contract_id}")
        elif customer is not None and ct.customer_id != customer.id:
            problems.append(f"contract: contract #{ct.id} ({ct.name}) belongs to another customer")
    if spec.product_id is not None and session.get(Product, spec.product_id) is None:
        problems.append(f"product: there is no product #{spec.product_id}")
    if spec.plan_id is not None and session.get(Plan, spec.plan_id) is None:
        problems.append(f"plan: there is no plan #{spec.plan_id}")
    if not problems:
        other_kind = session.exec(select(EntitlementGrant.kind).where(EntitlementGrant.key == key,
                                                                      EntitlementGrant.kind != kind)).first()
        if other_kind:
            problems.append(f"key: '{key}' is already a {other_kind} entitlement; a key means one kind for every "
                            "customer — choose another key")
        for g in session.exec(select(EntitlementGrant).where(EntitlementGrant.customer_id == customer.id,
                                                             EntitlementGrant.key == key)):
            if g.end_date != g.start_date and _overlaps(spec.start_date, spec.end_date, g.start_date, g.end_date):
                until = f"until {g.end_date:%-d %b %Y}" if g.end_date else "with no end"
                problems.append(f"dates: {ext} already has '{key}' from {g.start_date:%-d %b %Y} {until} "
                                f"(grant #{g.id}); end that grant first, or start this one after it")
                break
    return problems, clean


def create_grant(session: Session, actor: Actor, spec: GrantSpec) -> EntitlementGrant:
    """Grant an entitlement (by hand, or by a contract when ``spec.contract_id`` is set). Refused as a whole, with
    every problem named, when anything is wrong; nothing is saved then."""
    require(actor, "entitlements:write")
    problems, clean = validate(session, spec)
    if problems:
        raise UserError("; ".join(problems))
    customer = clean.pop("customer")
    grant = EntitlementGrant(customer_id=customer.id, kind=spec.kind, start_date=spec.start_date,
                             end_date=spec.end_date, contract_id=spec.contract_id, product_id=spec.product_id,
                             plan_id=spec.plan_id, note=(spec.note or "").strip(), created_by=actor.username, **clean)
    session.add(grant)
    session.flush()
    audit.record(session, actor=actor.username, action="entitlement.grant", entity_type="entitlement_grant",
                 entity_id=grant.id, details={"customer": customer.external_id, "key": grant.key, "kind": grant.kind,
                                              "units": grant.units, "amount": grant.amount,
                                              "currency": grant.currency, "reset": grant.reset,
                                              "limit_type": grant.limit_type, "enabled": grant.enabled,
                                              "start_date": grant.start_date, "end_date": grant.end_date,
                                              "contract_id": grant.contract_id})
    return grant


def grant_from_contract(session: Session, actor: Actor, contract_id: int, spec: GrantSpec) -> EntitlementGrant:
    """A grant that comes with a contract: its customer, and (unless given) its start and end dates."""
    ct = session.get(Contract, contract_id)
    if ct is None:
        raise NotFound(f"contract: there is no contract #{contract_id}")
    cust = session.get(Customer, ct.customer_id)
    spec.customer_external_id = cust.external_id
    spec.contract_id = ct.id
    spec.plan_id = spec.plan_id if spec.plan_id is not None else ct.plan_id
    spec.start_date = spec.start_date or ct.start_date
    spec.end_date = spec.end_date if spec.end_date is not None else ct.end_date
    return create_grant(session, actor, spec)


def end_grant(session: Session, actor: Actor, grant_id: int, *, end_date: date, reason: str = "") -> EntitlementGrant:
    """End a grant early: it no longer applies from ``end_date`` (on its start date: it never applied)."""
    require(actor, "entitlements:write")
    grant = session.get(EntitlementGrant, grant_id)
    if grant is None:
        raise NotFound(f"there is no entitlement grant #{grant_id}")
    if end_date < grant.start_date:
        raise UserError(f"end date: {end_date:%-d %b %Y} is before the grant starts ({grant.start_date:%-d %b %Y})")
    if grant.end_date is not None and end_date >= grant.end_date:
        raise UserError(f"end date: the grant already ends on {grant.end_date:%-d %b %Y}; choose an earlier day")
    before = grant.end_date
    grant.end_date, grant.ended_by, grant.ended_at = end_date, actor.username, utcnow()
    session.add(grant)
    audit.record(session, actor=actor.username, action="entitlement.end", entity_type="entitlement_grant",
                 entity_id=grant.id, details={"key": grant.key, "before": before, "after": end_date,
                                              "reason": (reason or "").strip()})
    return grant


def get_grant(session: Session, grant_id: int) -> EntitlementGrant:
    grant = session.get(EntitlementGrant, grant_id)
    if grant is None:
        raise NotFound(f"there is no entitlement grant #{grant_id}")
    return grant


def find_grants(session: Session, actor: Actor, *, customer_id: int | None = None, kind: str | None = None,
                active_on: date | None = None, offset: int = 0, limit: int = 500) -> tuple[list[EntitlementGrant], int]:
    """Grants (newest first) filtered in SQL, one page of them, and how many match in all."""
    from sqlmodel import func

    require(actor, "entitlements:read")
    conds = []
    if customer_id is not None:
        conds.append(EntitlementGrant.customer_id == customer_id)
    if kind:
        conds.append(EntitlementGrant.kind == kind)
    if active_on is not None:
        conds += [EntitlementGrant.start_date <= active_on,
                  or_(EntitlementGrant.end_date.is_(None), EntitlementGrant.end_date > active_on)]
    total = session.exec(select(func.count()).select_from(EntitlementGrant).where(*conds)).one()
    rows = session.exec(select(EntitlementGrant).where(*conds)
                        .order_by(EntitlementGrant.customer_id, EntitlementGrant.key, EntitlementGrant.start_date)
                        .offset(offset).limit(limit)).all()
    return list(rows), int(total)


def keys_in_use(session: Session, actor: Actor) -> dict[str, str]:
    """Every key granted so far -> its kind (a key means one kind everywhere)."""
    require(actor, "entitlements:read")
    return dict(session.exec(select(EntitlementGrant.key, EntitlementGrant.kind).distinct()
                             .order_by(EntitlementGrant.key)).all())
