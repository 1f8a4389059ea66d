"""Payment terms of 0 days (due on receipt) are kept as 0 — not turned into the 30-day default."""
from core.auth import SYSTEM
from core.customers import create_customer, update_customer
from tests.db import factories as f


def test_due_on_receipt_is_kept(session):
    f.seller(session)
    cust = create_customer(session, SYSTEM, {"external_id": "R1", "name": "Receipt Co", "payment_terms_days": 0})
    assert cust.payment_terms_days == 0
    assert update_customer(session, SYSTEM, cust.id, {"payment_terms_days": "45"}).payment_terms_days == 45
    assert update_customer(session, SYSTEM, cust.id, {"payment_terms_days": "0"}).payment_terms_days == 0
    assert update_customer(session, SYSTEM, cust.id, {"payment_terms_days": ""}).payment_terms_days == 30
