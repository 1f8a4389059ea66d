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


def create_product(session: Session, actor: Actor, *, sku: str, name: str, unit_name: str = "unit",
                   kind: str = "usage", parent_sku: str | None = None, is_addon: bool = False,
                   revenue_policy: str = "immediate", gl_account: str = "") -> Product:
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
    if gl_account and not re.fullmatch(r"[A-Za-z0-9.\-:]{1,40}", gl_account.strip()):
        problems.append("GL account: letters, digits, '.', '-' or ':' (for example 4000 or 4000-01)")
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
                      gl_account=(gl_account or "").strip())
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
    require(actor, "users:write")
    if not str(fields.get("name") or "").strip():
        raise UserError("name: the company name is required")
    if session.exec(select(BusinessEntity).where(BusinessEntity.name == fields["name"])).first():
        raise UserError(f"name: a business entity called '{fields['name']}' already exists")
    entity = BusinessEntity(**fields)
    session.add(entity)
    session.flush()
    audit.record(session, actor=actor.username, action="entity.create", entity_type="business_entity",
                 entity_id=entity.id, details={"name": entity.name})
    return entity
