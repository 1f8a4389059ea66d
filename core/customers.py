"""Customers: create, edit, search. File import/export lives in core/importers."""
from __future__ import annotations

import re
from zoneinfo import available_timezones

from sqlmodel import Session, func, or_, select

from core import audit
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.models import BusinessEntity, Customer, utcnow
from core.models.customers import CustomerBase
from core.money import MoneyError, currency

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FIELDS = list(CustomerBase.model_fields)
FLAGS = ("consolidate_invoices", "tax_exempt")  # yes/no settings on the customer row (not in CustomerBase)
_TIMEZONES: set[str] | None = None


def validate_customer(data: dict) -> dict[str, str]:
    """field -> problem, for a form to show next to each field."""
    global _TIMEZONES
    problems: dict[str, str] = {}
    if not str(data.get("external_id") or "").strip():
        problems["external_id"] = "a customer id is required (the id your other systems use)"
    if not str(data.get("name") or "").strip():
        problems["name"] = "a name is required"
    email = str(data.get("email") or "").strip()
    if email and not EMAIL.match(email):
        problems["email"] = f"'{email}' is not an email address"
    country = str(data.get("country") or "").strip()
    if country and not re.fullmatch(r"[A-Za-z]{2}", country):
        problems["country"] = f"'{country}' is not a two-letter country code (for example US, DE, IN)"
    try:
        currency(str(data.get("currency") or "USD"))
    except MoneyError as exc:
        problems["currency"] = str(exc)
    tz = str(data.get("timezone") or "").strip()
    if tz:
        _TIMEZONES = _TIMEZONES or available_timezones()
        if tz not in _TIMEZONES:
            problems["timezone"] = f"'{tz}' is not a time zone (for example Europe/Berlin or America/New_York)"
    try:
        raw = data.get("payment_terms_days", 30)
        days = 30 if raw is None or str(raw).strip() == "" else int(str(raw).strip())
        if not 0 <= days <= 365:
            raise ValueError
    except ValueError:
        problems["payment_terms_days"] = "payment terms must be a whole number of days between 0 and 365"
    return problems


def _clean(data: dict) -> dict:
    out = {k: str(data.get(k) or "").strip() for k in FIELDS if k in data}
    if "country" in out:
        out["country"] = out["country"].upper()
    if "currency" in out:
        out["currency"] = (out["currency"] or "USD").upper()
    if "payment_terms_days" in data:
        raw = data.get("payment_terms_days")
        out["payment_terms_days"] = 30 if raw is None or str(raw).strip() == "" else int(str(raw).strip())
    return out


def default_entity(session: Session) -> BusinessEntity:
    entity = session.exec(select(BusinessEntity).order_by(BusinessEntity.id)).first()
    if entity is None:
        raise NotFound("no business entity is set up yet; seed the demo or create your company first")
    return entity


def create_customer(session: Session, actor: Actor, data: dict, *, entity_id: int | None = None) -> Customer:
    require(actor, "customers:write")
    problems = validate_customer(data)
    if problems:
        raise UserError("; ".join(f"{k}: {v}" for k, v in problems.items()))
    clean = _clean(data)
    if session.exec(select(Customer).where(Customer.external_id == clean["external_id"])).first():
        raise UserError(f"external_id: a customer with the id '{clean['external_id']}' already exists")
    customer = Customer(**clean, **{f: bool(data[f]) for f in FLAGS if f in data},
                        entity_id=entity_id or default_entity(session).id)
    session.add(customer)
    session.flush()
    audit.record(session, actor=actor.username, action="customer.create", entity_type="customer",
                 entity_id=customer.id, details={"external_id": customer.external_id, "name": customer.name})
    from core.webhooks import outbox, payloads

    outbox.emit(session, "customer.created", lambda: payloads.customer(customer))
    return customer


def update_customer(session: Session, actor: Actor, customer_id: int, data: dict) -> Customer:
    require(actor, "customers:write")
    customer = get_customer(session, customer_id)
    merged = {**customer.model_dump(include=set(FIELDS)), **data}
    problems = validate_customer(merged)
    if problems:
        raise UserError("; ".join(f"{k}: {v}" for k, v in problems.items()))
    clean = _clean(merged)
    if clean["external_id"] != customer.external_id and session.exec(
            select(Customer).where(Customer.external_id == clean["external_id"])).first():
        raise UserError(f"external_id: a customer with the id '{clean['external_id']}' already exists")
    before = customer.model_dump(include={*FIELDS, *FLAGS})
    for k, v in {**clean, **{f: bool(data[f]) for f in FLAGS if f in data}}.items():
        setattr(customer, k, v)
    customer.updated_at = utcnow()
    session.add(customer)
    after = customer.model_dump(include={*FIELDS, *FLAGS})
    changed = {k: {"before": before[k], "after": after[k]} for k in (*FIELDS, *FLAGS) if before[k] != after[k]}
    audit.record(session, actor=actor.username, action="customer.update", entity_type="customer",
                 entity_id=customer.id, details=changed)
    from core.webhooks import outbox, payloads

    if changed:
        outbox.emit(session, "customer.updated", lambda: {**payloads.customer(customer), "changed": sorted(changed)})
    return customer


def get_customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"there is no customer #{customer_id}")
    return customer


def find_customers(session: Session, *, search: str = "", limit: int = 1000) -> list[Customer]:
    q = select(Customer).where(Customer.archived == False)  # noqa: E712
    if search.strip():
        like = f"%{search.strip()}%"
        q = q.where(or_(Customer.name.ilike(like), Customer.external_id.ilike(like), Customer.email.ilike(like)))
    return list(session.exec(q.order_by(Customer.name).limit(limit)))


def count_customers(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Customer)).one()


def _matching(q, search: str):  # noqa: ANN001, ANN202
    q = q.where(Customer.archived == False)  # noqa: E712
    if search.strip():
        like = f"%{search.strip()}%"
        q = q.where(or_(Customer.name.ilike(like), Customer.external_id.ilike(like), Customer.email.ilike(like)))
    return q


def count_matching(session: Session, *, search: str = "") -> int:
    """How many customers :func:`find_customers` would list without a limit."""
    return session.exec(_matching(select(func.count()).select_from(Customer), search)).one()


def customer_rows(session: Session, *, search: str = "", limit: int = 1000, offset: int = 0,
                  ids=None):  # noqa: ANN001, ANN201
    """Like :func:`find_customers`, as light read-only rows (id, external_id, name, email, country, currency,
    payment_terms_days, timezone, entity_id), not ORM objects: for lists and pickers over many customers.
    ``ids``: just these customers (archived ones included: they are named in old payments and invoices)."""
    q = select(Customer.id, Customer.external_id, Customer.name, Customer.email, Customer.country, Customer.currency,
               Customer.payment_terms_days, Customer.timezone, Customer.entity_id)
    if ids is not None:
        from core.invoicing.service import _in

        q = q.where(_in(session, Customer.id, sorted(set(ids))))
    else:
        q = _matching(q, search)
    return list(session.connection().execute(q.order_by(Customer.name, Customer.id).limit(limit).offset(offset)))
