"""A new seller (business entity) is checked like an edited one: every problem named by its field, nothing written
until all are right."""
import pytest
from sqlmodel import func, select

from core.auth import SYSTEM, Actor
from core.catalog import create_entity
from core.errors import PermissionDenied, UserError
from core.models import AuditLog, BusinessEntity


def _count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_a_new_seller_is_checked_field_by_field_and_nothing_is_written(session):
    with pytest.raises(UserError) as err:
        create_entity(session, SYSTEM, name="Northwind", invoice_prefix="INV 2026 #", country="USA",
                      default_currency="USX", email="billing at northwind", tax_id="x" * 65)
    text = str(err.value)
    for expected in ("invoice prefix: letters, digits", "country: use the two-letter code",
                     "currency: 'USX' is not a currency code", "email: 'billing at northwind' is not an email",
                     "tax id: at most 64 characters"):
        assert expected in text
    with pytest.raises(UserError, match="name: the company name is required"):
        create_entity(session, SYSTEM, name="   ")
    with pytest.raises(UserError, match="not a setting of a business entity"):
        create_entity(session, SYSTEM, name="Northwind", next_invoice_number=500)
    assert _count(session, BusinessEntity) == 0 and _count(session, AuditLog) == 0
    with pytest.raises(PermissionDenied):
        create_entity(session, Actor("fin", "finance"), name="Northwind")
    made = create_entity(session, SYSTEM, name=" Northwind ", country="us", default_currency="eur")
    assert (made.name, made.country, made.default_currency, made.invoice_prefix) == ("Northwind", "US", "EUR", "INV-")
    with pytest.raises(UserError, match="a business entity called 'Northwind' already exists"):
        create_entity(session, SYSTEM, name="Northwind")
