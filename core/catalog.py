"""Products (the catalog). Sub-products, add-ons and plans grow here with the contract work."""
from __future__ import annotations

import re

from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.errors import UserError
from core.models import BusinessEntity, Product

KINDS = {"time": "Time-based (seats, platform fee)", "usage": "Usage-based (metered)"}
REVENUE_POLICIES = {"immediate": "Recognised when invoiced", "deferred": "Deferred, recognised over the service period",
                    "unbilled": "Recognised as delivered (usage), before it is invoiced"}
RECOGNITION_METHODS = {"days": "Equally by days", "months": "Equally by month"}  # how deferred revenue is spread


def create_product(session: Session, actor: Actor, *, sku: str, name: str, unit_name: str = "unit",
                   kind: str = "usage", parent_sku: str | None = None, is_addon: bool = False,
                   revenue_policy: str = "immediate", gl_account: str = "",
                   recognition_method: str = "days") -> Product:
    """A product; with ``parent_sku`` a sub-product or (``is_addon``) an add-on, shown under its parent."""
    require(actor, "catalog:write")
    sku = (sku or "").strip().upper()
    problems = []
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9_\-]{0,63}", sku):
        problems.append("SKU: letters, digits, '-' or '_' (for example API-CALLS)")
    if not (name or "").strip():
        problems.append("name: a product name is required")
    if kind not in KINDS:
        problems.append(f"kind: choose {' or '.join(KINDS)}")
    if revenue_policy not in REVENUE_POLICIES:
        problems.append(f"revenue recognition: choose one of {', '.join(REVENUE_POLICIES)}")
    if is_addon and not parent_sku:
        problems.append("parent: an add-on is sold on top of a parent product; choose the parent")
    if gl_account and gl_account.strip():
        from core.models import Account

        acc = session.exec(select(Account).where(Account.code == gl_account.strip())).first()
        if acc is None:
            problems.append(f"revenue account: there is no account with code {gl_account.strip()} in the chart of "
                            "accounts (add it on the Accounting page first, or leave it empty for the default)")
        elif acc.kind != "income" or not acc.active:
            problems.append(f"revenue account: {acc.code} {acc.name} is not an active income account")
        elif session.exec(select(Account.id).where(Account.parent_id == acc.id)).first() is not None:
            problems.append(f"revenue account: {acc.code} {acc.name} has sub-accounts; choose one of them")
    if recognition_method not in RECOGNITION_METHODS:
        problems.append(f"recognition method: choose {' or '.join(RECOGNITION_METHODS)}")
    if session.exec(select(Product).where(Product.sku == sku)).first():
        problems.append(f"SKU: a product with SKU '{sku}' already exists")
    parent_id = None
    if parent_sku:
        parent = session.exec(select(Product).where(Product.sku == parent_sku.strip().upper())).first()
        if parent is None:
            problems.append(f"parent: there is no product with SKU '{parent_sku}'")
        else:
            parent_id = parent.id
    if problems:
        raise UserError("; ".join(problems))
    product = Product(sku=sku, name=name.strip(), unit_name=(unit_name or "unit").strip(), kind=kind,
                      parent_id=parent_id, is_addon=bool(is_addon), revenue_policy=revenue_policy,
                      gl_account=(gl_account or "").strip(), recognition_method=recognition_method)
    session.add(product)
    session.flush()
    audit.record(session, actor=actor.username, action="product.create", entity_type="product",
                 entity_id=product.id, details={"sku": sku, "name": product.name})
    return product


def list_products(session: Session) -> list[Product]:
    return list(session.exec(select(Product).order_by(Product.sku)))


def product_tree(session: Session) -> list[tuple[Product, int]]:
    """Products in catalog order: each parent followed by its sub-products and add-ons (depth 1)."""
    products = list_products(session)
    children: dict[int, list[Product]] = {}
    for p in products:
        if p.parent_id:
            children.setdefault(p.parent_id, []).append(p)
    out: list[tuple[Product, int]] = []
    for p in products:
        if not p.parent_id:
            out.append((p, 0))
            out.extend((c, 1) for c in children.get(p.id, []))
    return out


def create_entity(session: Session, actor: Actor, **fields) -> BusinessEntity:
    """A new seller; every problem with its details named by field, nothing written until all are right."""
    require(actor, "users:write")
    unknown = set(fields) - set(ENTITY_FIELDS) - {"default_currency", "credit_note_prefix"}
    if unknown:
        raise UserError(f"{', '.join(sorted(unknown))}: not a setting of a business entity")
    values = {k: (v or "").strip() if isinstance(v, str) or v is None else v for k, v in fields.items()}
    values.setdefault("name", "")
    problems = _entity_problems(session, values, None)
    if values.get("default_currency"):
        from core.money import CURRENCIES

        values["default_currency"] = values["default_currency"].upper()
        if values["default_currency"] not in CURRENCIES:
            problems.append(f"currency: '{values['default_currency']}' is not a currency code (for example USD)")
    if problems:
        raise UserError("; ".join(problems))
    if values.get("country"):
        values["country"] = values["country"].upper()
    entity = BusinessEntity(**values)
    session.add(entity)
    session.flush()
    audit.record(session, actor=actor.username, action="entity.create", entity_type="business_entity",
                 entity_id=entity.id, details={"name": entity.name})
    return entity


ENTITY_FIELDS = ("name", "legal_name", "address", "country", "tax_id", "email", "email_from", "invoice_prefix",
                 "payment_instructions", "logo", "timezone")
MAX_LOGO_BYTES = 300_000
_LOGO = re.compile(r"^data:image/(png|jpeg|svg\+xml);base64,[A-Za-z0-9+/=]+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def update_entity(session: Session, actor: Actor, entity_id: int, changes: dict) -> BusinessEntity:
    """Change a seller's details (what its documents show and who sends them); every problem named by field."""
    require(actor, "catalog:write")
    entity = session.get(BusinessEntity, entity_id)
    if entity is None:
        raise UserError(f"there is no business entity #{entity_id}")
    unknown = set(changes) - set(ENTITY_FIELDS)
    if unknown:
        raise UserError(f"{', '.join(sorted(unknown))}: not a setting of a business entity")
    values = {k: (v or "").strip() if isinstance(v, str) or v is None else v for k, v in changes.items()}
    problems = _entity_problems(session, values, entity)
    if problems:
        raise UserError("; ".join(problems))
    if "country" in values:
        values["country"] = values["country"].upper()
    before = {k: getattr(entity, k) for k in values}
    for k, v in values.items():
        setattr(entity, k, v)
    session.add(entity)
    session.flush()
    shown = lambda d: {k: (f"{len(v):,} characters" if k == "logo" and v else v) for k, v in d.items()}  # noqa: E731
    audit.record(session, actor=actor.username, action="entity.update", entity_type="business_entity",
                 entity_id=entity.id, details={"before": shown(before), "after": shown(values)})
    return entity


_MAX_LENGTH = {"name": 200, "legal_name": 200, "address": 500, "tax_id": 64, "email": 200, "email_from": 200,
               "payment_instructions": 1000, "timezone": 64}


def _entity_problems(session: Session, values: dict, entity: BusinessEntity | None) -> list[str]:
    """What is wrong with a seller's details (new, or changes to ``entity``), one message per field."""
    problems = []
    if "name" in values and not values["name"]:
        problems.append("name: the company name is required")
    elif values.get("name") and (entity is None or values["name"] != entity.name) and session.exec(
            select(BusinessEntity).where(BusinessEntity.name == values["name"])).first():
        problems.append(f"name: a business entity called '{values['name']}' already exists")
    for fld, most in _MAX_LENGTH.items():
        if isinstance(values.get(fld), str) and len(values[fld]) > most:
            problems.append(f"{fld.replace('_', ' ')}: at most {most} characters")
    for fld in ("email", "email_from"):
        if values.get(fld) and not _EMAIL.match(values[fld]):
            problems.append(f"{fld.replace('_', ' ')}: '{values[fld]}' is not an email address")
    if values.get("country") and not re.fullmatch(r"[A-Za-z]{2}", values["country"]):
        problems.append("country: use the two-letter code, for example US or GB")
    if "invoice_prefix" in values and not re.fullmatch(r"[A-Za-z0-9/_\-]{0,20}", values["invoice_prefix"]):
        problems.append("invoice prefix: letters, digits, '-', '_' or '/', at most 20 (for example INV-)")
    if values.get("logo"):
        if not _LOGO.match(values["logo"]):
            problems.append("logo: upload a PNG, JPEG or SVG image")
        elif len(values["logo"]) * 3 // 4 > MAX_LOGO_BYTES:
            problems.append(f"logo: the image is larger than {MAX_LOGO_BYTES // 1000} KB; use a smaller one")
    if values.get("timezone"):
        from zoneinfo import available_timezones

        if values["timezone"] not in available_timezones():
            problems.append(f"time zone: '{values['timezone']}' is not a time zone (for example Europe/Berlin)")
    return problems
