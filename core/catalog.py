"""Products (the catalog). Sub-products, add-ons and plans grow here with the contract work."""
from __future__ import annotations

import re

from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.errors import UserError
from core.models import BusinessEntity, Product

KINDS = {"time": "Time-based (seats, platform fee)", "usage": "Usage-based (metered)"}


def create_product(session: Session, actor: Actor, *, sku: str, name: str, unit_name: str = "unit",
                   kind: str = "usage", parent_sku: str | None = None) -> Product:
    require(actor, "catalog:write")
    sku = (sku or "").strip().upper()
    problems = []
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9_\-]{0,63}", sku):
        problems.append("SKU: letters, digits, '-' or '_' (for example API-CALLS)")
    if not (name or "").strip():
        problems.append("name: a product name is required")
    if kind not in KINDS:
        problems.append(f"kind: choose {' or '.join(KINDS)}")
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
                      parent_id=parent_id)
    session.add(product)
    session.flush()
    audit.record(session, actor=actor.username, action="product.create", entity_type="product",
                 entity_id=product.id, details={"sku": sku, "name": product.name})
    return product


def list_products(session: Session) -> list[Product]:
    return list(session.exec(select(Product).order_by(Product.sku)))


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
