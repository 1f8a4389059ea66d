"""Customers page, archive parts: a customer still billed shows why it cannot be archived (its contracts and open
invoices named) and no way to do it; a customer without billing is archived after a confirmation, leaves the
picker and shows on the Archived tab, from where it is restored. Ops may restore but not archive."""
from __future__ import annotations

from sqlmodel import select

from core.auth import SYSTEM
from core.customers import create_customer
from core.models import AuditLog, Customer
from tests.ui.conftest import in_db, texts

PAGE = "pages/customers.py"


def _id(url: str, external_id: str) -> int:
    return in_db(url, lambda s: s.exec(select(Customer.id).where(Customer.external_id == external_id)).one())


def _editing_a_new_customer(open_page, url: str, external_id: str, name: str, role: str):  # noqa: ANN001, ANN202
    """A customer with nothing billed, made for the test and picked on the Edit tab: (page, its id)."""
    in_db(url, lambda s: create_customer(s, SYSTEM, {"external_id": external_id, "name": name, "currency": "USD"}))
    cid = _id(url, external_id)
    at = open_page(PAGE, role=role)
    at.selectbox(key="customers_edit_id").set_value(cid).run()
    assert not at.exception
    return at, cid


def _archived(url: str, external_id: str) -> bool:
    return in_db(url, lambda s: s.exec(select(Customer.archived).where(Customer.external_id == external_id)).one())


def test_a_billed_customer_cannot_be_archived_and_says_why(open_page, demo_db):
    acme = _id(demo_db, "ACME-001")
    at = open_page(PAGE, role="finance")
    at.selectbox(key="customers_edit_id").set_value(acme).run()
    assert not at.exception
    shown = texts(at)
    assert "Acme Analytics cannot be archived yet" in shown and "running contract" in shown
    assert "End early" in shown
    assert at.button(key=f"customers_archive_btn_{acme}").disabled
    assert not _archived(demo_db, "ACME-001")


def test_archive_with_confirmation_then_restore(open_page, demo_db):
    at, old = _editing_a_new_customer(open_page, demo_db, "OLD-900", "Old Client Ltd", "finance")
    assert "cannot be archived" not in texts(at)
    at.text_input(key=f"customers_archive_reason_{old}").input("Contract not renewed").run()
    at.button(key=f"customers_archive_btn_{old}").click().run()
    assert not at.exception
    assert "Old Client Ltd** (OLD-900) leaves the customer list" in texts(at)  # the dialog asks first
    assert not _archived(demo_db, "OLD-900")
    at.button(key="customers_archive_yes").click().run()
    assert not at.exception
    assert _archived(demo_db, "OLD-900")
    assert "Old Client Ltd is archived" in " ".join(s.value for s in at.success)
    assert at.selectbox(key="customers_edit_id").value is None  # nothing picked any more
    assert old not in at.selectbox(key="customers_edit_id").options
    reason = in_db(demo_db, lambda s: s.exec(select(AuditLog.details).where(
        AuditLog.action == "customer.archive")).one()["reason"])
    assert reason == "Contract not renewed"

    # the Archived tab lists it with who archived it; ops restores it (ops cannot archive)
    at = open_page(PAGE, role="ops", username="otto")
    archived = at.dataframe[-1].value
    assert list(archived["Customer id"]) == ["OLD-900"] and list(archived["By"]) == ["finance-user"]
    at.selectbox(key="customers_archive_restore_pick").set_value(old).run()
    at.button(key="customers_archive_restore").click().run()
    assert not at.exception
    assert not _archived(demo_db, "OLD-900")
    assert "Old Client Ltd (OLD-900) is restored" in " ".join(s.value for s in at.success)


def test_ops_sees_no_archive_button(open_page, demo_db):
    at, old = _editing_a_new_customer(open_page, demo_db, "OLD-901", "Quiet Co", "ops")
    assert f"customers_archive_btn_{old}" not in [b.key for b in at.button]
    assert "Archive this customer" not in [e.label for e in at.expander]
