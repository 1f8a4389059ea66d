"""Customer segments: saved rules over customer fields and invoice facts, compiled to one SQL query.

Rules are ``{"groups": [[condition, ...], ...]}``: the conditions of a group must all hold (AND), a customer is a
member when any group holds (OR). A condition is ``{"field": ..., "op": ..., "value": ...}`` (plus ``"key"`` for a
custom attribute); FIELDS lists the fields and their operators.

- Customer fields: country, currency (the customer's billing currency), a custom attribute (``attributes`` on the
  customer: text keys and values), whether it has a saved Stripe payment method, whether it is auto-charged.
- Invoice facts: status, days past due, amount due, issued on or after a date. Within one group the invoice
  conditions must hold for *the same* invoice (``EXISTS`` one invoice of the customer matching all of them).
  Days past due and amount due only look at open invoices (approved or partially paid, something due); days past
  due are counted to the ``on`` date (default today).

Archived customers are never members. Membership is one SELECT (:func:`customer_ids_select`), never a Python loop
over customers; :func:`invoice_ids_select` gives the members' open invoices that satisfy the invoice conditions
(dunning and bulk emails use it)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import Select, and_, exists, false, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session

from core import audit
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.invoicing.settlement import STATUS_LABELS
from core.ledger.exports import Column, Report
from core.models import Customer, Invoice, Segment, utcnow
from core.money import MoneyError, ZERO, to_decimal
from core.receivables.aging import OPEN_STATUSES, _money, due_raw, open_clause
from core.types import MONEY_SCALE, to_scaled


@dataclass(frozen=True)
class FieldSpec:
    label: str
    kind: str  # customer | invoice
    ops: dict[str, str]  # op → words
    hint: str = ""


_NUM_OPS = {"gt": "more than", "gte": "at least", "lt": "less than", "lte": "at most", "eq": "exactly"}
FIELDS: dict[str, FieldSpec] = {
    "country": FieldSpec("Country", "customer", {"in": "is one of", "not_in": "is not one of"},
                         "two-letter codes, comma-separated: DE, FR, IT"),
    "currency": FieldSpec("Currency", "customer", {"in": "is one of", "not_in": "is not one of"},
                          "currency codes, comma-separated: EUR, GBP"),
    "attribute": FieldSpec("Custom attribute", "customer",
                           {"eq": "is", "ne": "is not", "in": "is one of", "exists": "is set", "missing": "is not set"},
                           "the attribute's name, then its value (comma-separated for 'is one of')"),
    "payment_method": FieldSpec("Saved card / payment method", "customer", {"is": "is"},
                                "yes: the customer has a saved Stripe payment method"),
    "auto_charge": FieldSpec("Auto-charge", "customer", {"is": "is"},
                             "yes: approved invoices are charged to the saved payment method"),
    "status": FieldSpec("Invoice status", "invoice", {"in": "is one of"}, "one or more statuses"),
    "days_past_due": FieldSpec("Days past due (open invoice)", "invoice", _NUM_OPS, "a whole number of days"),
    "amount_due": FieldSpec("Amount due (open invoice)", "invoice", _NUM_OPS,
                            "an amount in the invoice's own currency, e.g. 500"),
    "created_after": FieldSpec("Invoice issued on or after", "invoice", {"on_or_after": "on or after"},
                               "a date, YYYY-MM-DD"),
}
KEY = re.compile(r"^[A-Za-z0-9_\- ]{1,40}$")
MAX_CONDITIONS = 50


# ---------------------------------------------------------------------------------------------------------------
# validation: rules in, normalised rules out (or a UserError naming the condition and what to fix)


def _list(value) -> list[str]:  # noqa: ANN001
    if isinstance(value, str):
        value = value.replace(";", ",").split(",")
    if not isinstance(value, (list, tuple)):
        value = [value]
    return [str(v).strip() for v in value if str(v).strip()]


def _yes_no(value) -> bool | None:  # noqa: ANN001
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}.get(text)


def _condition(raw, where: str) -> dict:  # noqa: ANN001
    if not isinstance(raw, dict):
        raise UserError(f"{where}: a condition needs a field, an operator and a value")
    name = str(raw.get("field") or "").strip()
    spec = FIELDS.get(name)
    if spec is None:
        raise UserError(f"{where}: '{name}' is not a field a segment can use; choose one of "
                        f"{', '.join(FIELDS)}")
    where = f"{where} ({spec.label.lower()})"
    op = str(raw.get("op") or "").strip()
    if op not in spec.ops:
        raise UserError(f"{where}: '{op}' is not an operator for this field; use "
                        + " or ".join(f"'{o}' ({w})" for o, w in spec.ops.items()))
    value = raw.get("value")
    out: dict = {"field": name, "op": op}
    if name in ("country", "currency"):
        codes = [c.upper() for c in _list(value)]
        size = 2 if name == "country" else 3
        bad = [c for c in codes if not re.fullmatch(rf"[A-Z]{{{size}}}", c)]
        if not codes:
            raise UserError(f"{where}: give at least one {'country' if size == 2 else 'currency'} code")
        if bad:
            raise UserError(f"{where}: {', '.join(bad)} is not a {size}-letter "
                            f"{'country' if size == 2 else 'currency'} code")
        out["value"] = codes
    elif name == "attribute":
        key = str(raw.get("key") or "").strip()
        if not KEY.match(key):
            raise UserError(f"{where}: give the attribute's name (letters, digits, spaces, _ or -, at most 40)")
        out["key"] = key
        if op == "in":
            values = _list(value)
            if not values:
                raise UserError(f"{where}: give at least one value for '{key}'")
            out["value"] = values
        elif op in ("eq", "ne"):
            text = str(value if value is not None else "").strip()
            if not text:
                raise UserError(f"{where}: give the value '{key}' should {'have' if op == 'eq' else 'not have'}")
            out["value"] = text
    elif name in ("payment_method", "auto_charge"):
        yes = _yes_no(value)
        if yes is None:
            raise UserError(f"{where}: the value must be yes or no, not '{value}'")
        out["value"] = yes
    elif name == "status":
        statuses = _list(value)
        bad = [s for s in statuses if s not in STATUS_LABELS]
        if not statuses:
            raise UserError(f"{where}: choose at least one status")
        if bad:
            raise UserError(f"{where}: {', '.join(bad)} is not a status; use {', '.join(STATUS_LABELS)}")
        out["value"] = statuses
    elif name == "days_past_due":
        text = str(value if value is not None else "").strip()
        if not re.fullmatch(r"-?\d{1,5}", text):
            raise UserError(f"{where}: '{text}' is not a whole number of days")
        out["value"] = int(text)
    elif name == "amount_due":
        try:
            amount = to_decimal(str(value if value is not None else "").strip(), field="amount")
            to_scaled(amount, MONEY_SCALE)
        except MoneyError:
            raise UserError(f"{where}: '{value}' is not an amount (for example 500 or 1250.50)") from None
        if amount < 0:
            raise UserError(f"{where}: the amount cannot be negative")
        out["value"] = str(amount)
    elif name == "created_after":
        try:
            d = value if isinstance(value, date) else date.fromisoformat(str(value).strip())
        except ValueError:
            raise UserError(f"{where}: '{value}' is not a date (YYYY-MM-DD)") from None
        out["value"] = d.isoformat()
    return out


def validate_rules(rules) -> dict:  # noqa: ANN001
    """Normalised rules, or a UserError that names the group and condition and says what to fix."""
    groups = rules.get("groups") if isinstance(rules, dict) else rules
    if not isinstance(groups, (list, tuple)):
        raise UserError("rules: give groups of conditions")
    out = []
    for g, group in enumerate(groups, start=1):
        if not isinstance(group, (list, tuple)):
            raise UserError(f"group {g}: give a list of conditions")
        conds = [_condition(c, f"group {g}, condition {n}") for n, c in enumerate(group, start=1)]
        if conds:
            out.append(conds)
    if not out:
        raise UserError("rules: add at least one condition")
    if sum(len(g) for g in out) > MAX_CONDITIONS:
        raise UserError(f"rules: at most {MAX_CONDITIONS} conditions")
    return {"groups": out}


def describe(rules: dict) -> str:
    """The rules in words: "(country is one of DE, FR and days past due more than 30) or (…)"."""
    parts = []
    for group in rules.get("groups", []):
        words = []
        for c in group:
            spec = FIELDS[c["field"]]
            label = f"{c['key']}" if c["field"] == "attribute" else spec.label.lower()
            v = c.get("value")
            v = ", ".join(v) if isinstance(v, list) else ("yes" if v is True else "no" if v is False else v)
            words.append(f"{label} {spec.ops[c['op']]}" + (f" {v}" if v is not None and v != "" else ""))
        parts.append(" and ".join(words))
    return " or ".join(f"({p})" if len(parts) > 1 else p for p in parts)


# ---------------------------------------------------------------------------------------------------------------
# compiling to SQL


def _customer_clause(c: dict):  # noqa: ANN202
    f, op, v = c["field"], c["op"], c.get("value")
    if f in ("country", "currency"):
        col = func.upper(getattr(Customer, f))
        return col.in_(v) if op == "in" else col.not_in(v)
    if f == "attribute":
        expr = Customer.attributes[c["key"]].as_string()
        return {"eq": lambda: expr == v, "ne": lambda: or_(expr.is_(None), expr != v), "in": lambda: expr.in_(v),
                "exists": lambda: expr.is_not(None), "missing": lambda: expr.is_(None)}[op]()
    if f == "payment_method":
        return Customer.stripe_payment_method != "" if v else Customer.stripe_payment_method == ""
    if f == "auto_charge":
        return Customer.auto_charge == (true() if v else false())
    raise AssertionError(f)


def _invoice_clause(c: dict, inv, on: date):  # noqa: ANN001, ANN202
    f, op, v = c["field"], c["op"], c.get("value")
    if f == "status":
        return inv.status.in_(v)
    if f == "days_past_due":  # days past due = on − due date: compare the due date with on − N
        edge = on - timedelta(days=v)
        cmp = {"gt": inv.due_date < edge, "gte": inv.due_date <= edge, "lt": inv.due_date > edge,
               "lte": inv.due_date >= edge, "eq": inv.due_date == edge}[op]
        return and_(open_clause(inv), cmp)
    if f == "amount_due":
        raw, limit = due_raw(inv), to_scaled(Decimal(v), MONEY_SCALE)
        cmp = {"gt": raw > limit, "gte": raw >= limit, "lt": raw < limit, "lte": raw <= limit, "eq": raw == limit}[op]
        return and_(open_clause(inv), cmp)
    if f == "created_after":
        return inv.issue_date >= date.fromisoformat(v)
    raise AssertionError(f)


def _split(group: list[dict]) -> tuple[list[dict], list[dict]]:
    return ([c for c in group if FIELDS[c["field"]].kind == "customer"],
            [c for c in group if FIELDS[c["field"]].kind == "invoice"])


def members_clause(rules: dict, on: date | None = None):  # noqa: ANN202
    """A WHERE clause over ``customer`` that holds for the segment's members (rules already validated)."""
    on = on or date.today()
    groups = []
    for group in rules["groups"]:
        cust, invc = _split(group)
        parts = [_customer_clause(c) for c in cust]
        if invc:
            inv = aliased(Invoice, name="seg_inv")
            parts.append(exists(select(inv.id).where(inv.customer_id == Customer.id,
                                                     *[_invoice_clause(c, inv, on) for c in invc])))
        groups.append(and_(*parts))
    return and_(Customer.archived == false(), or_(*groups))


def members_select(rules: dict, on: date | None = None) -> Select:
    return select(Customer.id).where(members_clause(rules, on))


def invoices_select(rules: dict, on: date | None = None) -> Select:
    """Open invoices of the members satisfying their group's invoice conditions (any open invoice of a member of
    a group without invoice conditions)."""
    on = on or date.today()
    groups = []
    for group in rules["groups"]:
        cust, invc = _split(group)
        groups.append(and_(*[_customer_clause(c) for c in cust], *[_invoice_clause(c, Invoice, on) for c in invc]))
    return (select(Invoice.id).join(Customer, Customer.id == Invoice.customer_id)
            .where(Customer.archived == false(), open_clause(Invoice), or_(*groups)))


# ---------------------------------------------------------------------------------------------------------------
# the interface other parts use


def list_segments(session: Session) -> list[Segment]:
    return list(session.scalars(select(Segment).order_by(Segment.name)))


def get_segment(session: Session, segment_id: int) -> Segment:
    seg = session.get(Segment, segment_id)
    if seg is None:
        raise NotFound(f"there is no segment #{segment_id}")
    return seg


def customer_ids_select(session: Session, segment_id: int, on: date | None = None) -> Select:
    """A SELECT of customer.id for the segment's members (one query; use it as a subquery)."""
    return members_select(validate_rules(get_segment(session, segment_id).rules), on)


def invoice_ids_select(session: Session, segment_id: int, on: date | None = None) -> Select:
    """A SELECT of invoice.id: the open invoices of the segment's members that satisfy the invoice conditions."""
    return invoices_select(validate_rules(get_segment(session, segment_id).rules), on)


@dataclass
class Member:
    customer_id: int
    external_id: str
    name: str
    email: str
    country: str
    currency: str
    card: bool
    auto_charge: bool
    attributes: dict
    open_invoices: int = 0
    due: dict[str, Decimal] = field(default_factory=dict)  # currency → amount due on open invoices


@dataclass
class Preview:
    count: int
    members: list[Member]
    description: str


def _members(session: Session, ids_select: Select, *, limit: int | None, offset: int = 0) -> list[Member]:
    q = (select(Customer).where(Customer.id.in_(ids_select))
         .order_by(Customer.name, Customer.id).offset(offset))
    if limit is not None:
        q = q.limit(limit)
    customers = list(session.scalars(q))
    members = {c.id: Member(c.id, c.external_id, c.name, c.email, c.country, c.currency,
                            bool(c.stripe_payment_method), c.auto_charge, dict(c.attributes or {}))
               for c in customers}
    if members:
        sums = (select(Invoice.customer_id, Invoice.currency, func.count(), func.sum(due_raw()))
                .where(open_clause(), Invoice.customer_id.in_(ids_select if limit is None else list(members)))
                .group_by(Invoice.customer_id, Invoice.currency))
        for cid, code, n, amount in session.exec(sums):
            m = members.get(cid)
            if m is not None:
                m.open_invoices += int(n)
                m.due[code] = _money(amount)
    return list(members.values())


def preview(session: Session, rules, limit: int = 50, on: date | None = None) -> Preview:
    """Validate the rules and show who they select: the number of members and the first ``limit`` by name."""
    clean = validate_rules(rules)
    ids = members_select(clean, on)
    count = session.scalar(select(func.count()).select_from(ids.subquery()))
    return Preview(int(count), _members(session, ids, limit=limit), describe(clean))


def segment_preview(session: Session, segment_id: int, limit: int = 50, on: date | None = None) -> Preview:
    return preview(session, get_segment(session, segment_id).rules, limit=limit, on=on)


# ---------------------------------------------------------------------------------------------------------------
# saving


def _check_name(session: Session, name: str, segment_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise UserError("name: give the segment a name")
    if len(name) > 100:
        raise UserError("name: at most 100 characters")
    other = session.scalars(select(Segment).where(func.lower(Segment.name) == name.lower())).first()
    if other is not None and other.id != segment_id:
        raise UserError(f"name: a segment called '{other.name}' already exists; choose another name")
    return name


def _description(text: str) -> str:
    text = (text or "").strip()
    if len(text) > 500:
        raise UserError("description: at most 500 characters")
    return text


def create_segment(session: Session, actor: Actor, *, name: str, rules, description: str = "") -> Segment:
    require(actor, "receivables:write")
    name = _check_name(session, name)
    clean = validate_rules(rules)
    seg = Segment(name=name, description=_description(description), rules=clean, created_by=actor.username,
                  updated_by=actor.username)
    session.add(seg)
    try:
        session.flush()
    except IntegrityError:
        raise UserError(f"name: a segment called '{name}' already exists; choose another name") from None
    audit.record(session, actor=actor.username, action="segment.create", entity_type="segment", entity_id=seg.id,
                 details={"name": name, "rules": describe(clean)})
    return seg


def update_segment(session: Session, actor: Actor, segment_id: int, *, name: str, rules,
                   description: str = "") -> Segment:
    require(actor, "receivables:write")
    seg = get_segment(session, segment_id)
    name = _check_name(session, name, segment_id)
    clean = validate_rules(rules)
    before = {"name": seg.name, "rules": describe(seg.rules), "description": seg.description}
    seg.name, seg.rules, seg.description = name, clean, _description(description)
    seg.updated_by, seg.updated_at = actor.username, utcnow()
    session.add(seg)
    session.flush()
    after = {"name": seg.name, "rules": describe(clean), "description": seg.description}
    audit.record(session, actor=actor.username, action="segment.update", entity_type="segment", entity_id=seg.id,
                 details={k: {"before": before[k], "after": after[k]} for k in before if before[k] != after[k]})
    return seg


def delete_segment(session: Session, actor: Actor, segment_id: int) -> None:
    require(actor, "receivables:delete")
    seg = get_segment(session, segment_id)
    from core.models import DunningPolicy

    used_by = list(session.scalars(select(DunningPolicy.name).where(DunningPolicy.segment_id == seg.id)
                                .order_by(DunningPolicy.name)))
    if used_by:
        raise UserError(f"segment “{seg.name}” is used by the dunning polic{'ies' if len(used_by) > 1 else 'y'} "
                        f"{', '.join(f'“{n}”' for n in used_by)}: give {'them' if len(used_by) > 1 else 'it'} "
                        "another segment (Dunning → Policies) or delete it first")
    audit.record(session, actor=actor.username, action="segment.delete", entity_type="segment", entity_id=seg.id,
                 details={"name": seg.name, "rules": describe(seg.rules)})
    session.delete(seg)
    session.flush()


# ---------------------------------------------------------------------------------------------------------------
# custom attributes of one customer


def attribute_keys(session: Session, limit: int = 200) -> list[str]:
    """Every attribute name in use (one query over the JSON column)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy import text

        sql = text("SELECT DISTINCT j.key FROM customer, json_each(customer.attributes) AS j ORDER BY 1 LIMIT :n")
    else:
        from sqlalchemy import text

        sql = text("SELECT DISTINCT k FROM (SELECT json_object_keys(attributes) AS k FROM customer "
                   "WHERE json_typeof(attributes) = 'object') AS keys ORDER BY 1 LIMIT :n")
    return [r[0] for r in session.exec(sql, params={"n": limit})]


def set_customer_attributes(session: Session, actor: Actor, customer_id: int, attributes: dict) -> Customer:
    """Replace one customer's custom attributes (text names and values; an empty value removes the name)."""
    require(actor, "customers:write")
    cust = session.get(Customer, customer_id)
    if cust is None:
        raise NotFound(f"there is no customer #{customer_id}")
    clean: dict[str, str] = {}
    for raw_key, raw_value in (attributes or {}).items():
        key, value = str(raw_key or "").strip(), str(raw_value if raw_value is not None else "").strip()
        if not key and not value:
            continue
        if not KEY.match(key):
            raise UserError(f"attribute '{key}': a name is letters, digits, spaces, _ or -, at most 40 characters")
        if len(value) > 200:
            raise UserError(f"attribute '{key}': the value has more than 200 characters")
        if key.lower() in {k.lower() for k in clean}:
            raise UserError(f"attribute '{key}' is given twice")
        if value:
            clean[key] = value
    if len(clean) > 50:
        raise UserError("attributes: at most 50 per customer")
    before = dict(cust.attributes or {})
    if before == clean:
        return cust
    cust.attributes = clean
    cust.updated_at = utcnow()
    session.add(cust)
    session.flush()
    audit.record(session, actor=actor.username, action="customer.attributes", entity_type="customer",
                 entity_id=cust.id, details={"external_id": cust.external_id, "before": before, "after": clean})
    return cust


# ---------------------------------------------------------------------------------------------------------------
# export


def members_report_name(seg: Segment) -> str:
    stem = re.sub(r"[^a-z0-9]+", "-", seg.name.lower()).strip("-") or str(seg.id)
    return f"segment-{stem}"


def members_report(session: Session, actor: Actor, segment_id: int, on: date | None = None) -> Report:
    """Every member, one row per member and currency of what it owes (a member owing nothing: one row). The file
    holds customers' names and email addresses: making it is audited as an export of customer data."""
    require(actor, "receivables:read")
    seg = get_segment(session, segment_id)
    clean = validate_rules(seg.rules)
    members = _members(session, members_select(clean, on), limit=None)
    audit.record(session, actor=actor.username, action="customer.export", entity_type="segment", entity_id=seg.id,
                 details={"segment": seg.name, "customers": len(members)})
    cols = [Column("Customer id", width=16), Column("Customer", width=30), Column("Email", width=28),
            Column("Country", width=8), Column("Customer currency", width=9), Column("Saved payment method", width=9),
            Column("Auto-charge", width=9), Column("Attributes", width=30), Column("Open invoices", "int", 9),
            Column("Due currency", width=9), Column("Amount due", "money", 14)]
    rows, codes = [], []
    for m in members:
        attrs = "; ".join(f"{k}={v}" for k, v in sorted(m.attributes.items()))
        base = [m.external_id, m.name, m.email, m.country, m.currency, "yes" if m.card else "no",
                "yes" if m.auto_charge else "no", attrs, m.open_invoices]
        for code, amount in (sorted(m.due.items()) or [(m.currency, ZERO)]):
            rows.append([*base, code, amount])
            codes.append(code)
    sums: dict[str, Decimal] = {}
    for row, code in zip(rows, codes):
        sums[code] = sums.get(code, ZERO) + row[10]
    totals = [(f"Total {c}", c, {10: v}) for c, v in sorted(sums.items())]
    return Report(f"Segment: {seg.name}"[:60], describe(clean), cols, rows, codes, members_report_name(seg),
                  totals, notes=[f"{len(members)} members. Open invoices: approved or partly paid with something due; "
                         "amounts per currency."])


OPEN = OPEN_STATUSES  # re-exported for callers


# ---------------------------------------------------------------------------------------------------------------
# demo


DEMO_ATTRIBUTES = {"ACME-001": {"tier": "enterprise", "region": "NA"}, "STARK-005": {"tier": "enterprise"},
                   "MASSIVE-012": {"tier": "enterprise", "region": "NA"}, "UMBRELLA-004": {"tier": "growth"},
                   "GRINGOTTS-017": {"tier": "enterprise", "region": "EMEA"}, "HOOLI-007": {"tier": "growth"}}
DEMO_SEGMENTS = [
    ("Europe, overdue more than 30 days", "UK and EU customers with an invoice more than 30 days past due.",
     {"groups": [[{"field": "country", "op": "in",
                   "value": ["GB", "IE", "DE", "FR", "NL", "BE", "ES", "IT", "AT", "SE", "DK", "FI", "PT", "PL"]},
                  {"field": "days_past_due", "op": "gt", "value": 30}]]}),
    ("Enterprise customers with money due", "Custom attribute tier = enterprise, an open invoice with more than "
     "0 due — or any customer paying by saved card.",
     {"groups": [[{"field": "attribute", "key": "tier", "op": "eq", "value": "enterprise"},
                  {"field": "amount_due", "op": "gt", "value": "0"}],
                 [{"field": "payment_method", "op": "is", "value": True}]]}),
]


def seed_demo_receivables(session: Session, actor: Actor) -> str:
    """For the demo: custom attributes on a few customers, an invoice long overdue in pounds (90+ days) and one
    not yet due (current), so every aging bucket and both currencies show, and two saved segments."""
    from core.invoicing.drafts import create_one_off_invoice
    from core.invoicing.service import approve_invoices

    require(actor, "receivables:write")
    by_ext = {c.external_id: c for c in session.scalars(select(Customer).where(
        Customer.external_id.in_(list(DEMO_ATTRIBUTES))))}
    for ext, attrs in DEMO_ATTRIBUTES.items():
        if ext in by_ext:
            set_customer_attributes(session, actor, by_ext[ext].id, attrs)
    today = date.today()
    made = []
    if "GRINGOTTS-017" in by_ext:
        made.append(create_one_off_invoice(
            session, actor, customer_id=by_ext["GRINGOTTS-017"].id, issue_date=today - timedelta(days=140),
            lines=[{"description": "Onboarding workshop (2 days)", "quantity": "2", "unit_price": "950"}]))
    if "ACME-001" in by_ext:
        made.append(create_one_off_invoice(
            session, actor, customer_id=by_ext["ACME-001"].id, issue_date=today,
            lines=[{"description": "Premium support, extra seats", "quantity": "5", "unit_price": "120"}]))
    if made:
        approve_invoices(session, actor, [inv.id for inv in made])
    for name, description, rules in DEMO_SEGMENTS:
        if session.scalars(select(Segment).where(Segment.name == name)).first() is None:
            create_segment(session, actor, name=name, rules=rules, description=description)
    return f"{len(DEMO_SEGMENTS)} segments and {len(made)} receivables invoices; "
