"""Customers: create, edit, search, archive and restore. File import/export lives in core/importers.

Archiving takes a customer out of the lists and pickers (and out of segments, the portal and new portal links)
without deleting anything: its invoices, payments, credit notes and journal entries stay as they are and remain
readable wherever they are listed. A customer still being billed cannot be archived — a running contract, a draft
invoice or an open invoice is named in the refusal, with what to do about it. Restoring brings it back unchanged."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
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


@dataclass
class ArchiveCheck:
    """What archiving a customer would meet: ``blockers`` refuse it (each names the record and what to do);
    ``notes`` are facts worth knowing first (prepaid credit that stays on the books, draft contracts)."""

    blockers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_LISTED = 5  # records named per kind in a message; the rest are counted


def _named(items: list[str]) -> str:
    more = len(items) - _LISTED
    return ", ".join(items[:_LISTED]) + (f" and {more} more" if more > 0 else "")


def archive_check(session: Session, customer_id: int, *, on: date | None = None) -> ArchiveCheck:
    """Why ``customer_id`` cannot be archived on ``on`` (default today), and what to know before archiving it.

    Blockers: a contract still running (active, and either open-ended, ending after ``on``, or set to renew),
    a draft invoice (approve or delete it), an open invoice (approved or partially paid with something due:
    collect it, credit it or write it off)."""
    from core import wallet
    from core.invoicing.settlement import due, label
    from core.models import Contract, Invoice
    from core.money import format_money

    on = on or utcnow().date()
    cust = get_customer(session, customer_id)
    check = ArchiveCheck()
    running = [c for c in session.exec(select(Contract).where(Contract.customer_id == cust.id,
                                                              Contract.status == "active").order_by(Contract.id))
               if c.end_date is None or c.end_date > on or c.renewal_policy != "none"]
    if running:
        check.blockers.append("running contract" + ("s " if len(running) > 1 else " ") + _named(
            [f"“{c.name}” (#{c.id}, " + (f"due to renew from {c.end_date:%-d %b %Y}" if c.end_date is not None and
                                         c.end_date <= on else f"until {c.end_date:%-d %b %Y}" if c.end_date
                                         else "no end date") + ")" for c in running])
            + " — end " + ("them" if len(running) > 1 else "it") + " first (Contracts page: open the "
            "contract, End early — it then does not renew)")
    invoices = list(session.exec(select(Invoice).where(Invoice.customer_id == cust.id,
                                                       Invoice.status.in_(("draft", "approved", "partially_paid")))
                                 .order_by(Invoice.id)))
    drafts = [i for i in invoices if i.status == "draft"]
    if drafts:
        check.blockers.append("draft invoice" + ("s " if len(drafts) > 1 else " ") + _named(
            [f"#{i.id} ({format_money(i.total, i.currency)})" for i in drafts])
            + " — approve or delete " + ("them" if len(drafts) > 1 else "it") + " first (Invoices page)")
    open_ = [i for i in invoices if i.status != "draft" and due(i) > 0]
    if open_:
        check.blockers.append("open invoice" + ("s " if len(open_) > 1 else " ") + _named(
            [f"{label(i)} ({format_money(due(i), i.currency)} due)" for i in open_])
            + " — record the payment, issue a credit note or write " + ("them" if len(open_) > 1 else "it")
            + " off first (Payments and Invoices pages)")
    for code, amount in wallet.balances(session, cust.id).items():
        if amount > 0:
            check.notes.append(f"{format_money(amount, code)} of prepaid credit stays in the wallet (and on the "
                               "books as owed to the customer)")
    planned = session.exec(select(Contract.name).where(Contract.customer_id == cust.id,
                                                       Contract.status == "draft").order_by(Contract.id)).all()
    if planned:
        check.notes.append(f"draft contract{'s' if len(planned) > 1 else ''} "
                           + _named([f"“{n}”" for n in planned]) + " will not be billed unless activated")
    return check


def _set_archived(session: Session, actor: Actor, customer: Customer, archived: bool, reason: str) -> Customer:
    customer.archived = archived
    customer.updated_at = utcnow()
    session.add(customer)
    session.flush()
    audit.record(session, actor=actor.username, action="customer.archive" if archived else "customer.restore",
                 entity_type="customer", entity_id=customer.id,
                 details={"external_id": customer.external_id, "name": customer.name,
                          "before": {"archived": not archived}, "after": {"archived": archived}, "reason": reason})
    from core.webhooks import outbox, payloads

    outbox.emit(session, "customer.archived" if archived else "customer.restored",
                lambda: payloads.customer(customer))
    return customer


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) > 500:
        raise UserError(f"reason: at most 500 characters (this one has {len(reason):,})")
    return reason


def archive_customer(session: Session, actor: Actor, customer_id: int, *, reason: str = "",
                     on: date | None = None) -> Customer:
    """Archive a customer no longer billed: it leaves the lists, pickers, segments and the portal; everything
    it was billed stays. Refused, naming each record in the way, while it has a running contract, a draft
    invoice or an open invoice (:func:`archive_check`). Audited; sends the ``customer.archived`` webhook."""
    require(actor, "customers:delete")
    customer = get_customer(session, customer_id)
    if customer.archived:
        raise UserError(f"{customer.name} ({customer.external_id}) is already archived")
    why = _reason(reason)
    check = archive_check(session, customer.id, on=on)
    if check.blockers:
        raise UserError(f"{customer.name} ({customer.external_id}) is still being billed and was not archived — "
                        + "; ".join(check.blockers))
    return _set_archived(session, actor, customer, True, why)


def restore_customer(session: Session, actor: Actor, customer_id: int, *, reason: str = "") -> Customer:
    """Bring an archived customer back into the lists and pickers, as it was. Audited; sends the
    ``customer.restored`` webhook."""
    require(actor, "customers:write")
    customer = get_customer(session, customer_id)
    if not customer.archived:
        raise UserError(f"{customer.name} ({customer.external_id}) is not archived")
    return _set_archived(session, actor, customer, False, _reason(reason))


def archived_customers(session: Session, *, search: str = "", limit: int = 500) -> list[dict]:
    """Archived customers (by name), each with when and by whom it was archived (from the audit log):
    ``{"id", "external_id", "name", "email", "country", "currency", "archived_at", "archived_by"}``."""
    from core.models import AuditLog

    q = select(Customer.id, Customer.external_id, Customer.name, Customer.email, Customer.country,
               Customer.currency).where(Customer.archived == True)  # noqa: E712
    if search.strip():
        like = f"%{search.strip()}%"
        q = q.where(or_(Customer.name.ilike(like), Customer.external_id.ilike(like), Customer.email.ilike(like)))
    rows = [dict(r._mapping) for r in session.exec(q.order_by(Customer.name, Customer.id).limit(limit))]
    if rows:
        last = (select(AuditLog.entity_id, func.max(AuditLog.id).label("last"))
                .where(AuditLog.action == "customer.archive", AuditLog.entity_type == "customer",
                       AuditLog.entity_id.in_([str(r["id"]) for r in rows]))
                .group_by(AuditLog.entity_id).subquery())
        who = {int(e): (at, by) for e, at, by in session.exec(
            select(AuditLog.entity_id, AuditLog.at, AuditLog.actor).join(last, AuditLog.id == last.c.last))}
        for r in rows:
            r["archived_at"], r["archived_by"] = who.get(r["id"], (None, ""))
    return rows


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
