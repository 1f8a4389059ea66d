"""Archiving and restoring a customer (SQLite and PostgreSQL): refused, naming each record, while the customer is
still billed (a running contract, a draft invoice, an open invoice) and nothing is written then; once settled the
customer leaves the lists, pickers, segments and the portal while its invoices stay readable; audited with before
and after, the customer.archived / customer.restored webhooks; restore brings it back; permissions."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import func, select

from core.auth import SYSTEM, Actor
from core.billing.amendments import end_contract
from core.billing.contracts import LineSpec
from core.customers import (
    archive_check,
    archive_customer,
    archived_customers,
    count_matching,
    customer_rows,
    find_customers,
    restore_customer,
)
from core.errors import PermissionDenied, UserError
from core.invoicing.payments import record_payment
from core.invoicing.service import approve_invoice, generate_drafts, get_invoice
from core.models import AuditLog, Customer
from core.models.webhooks import WebhookEvent
from core.portal import create_link
from core.receivables.segments import create_segment, preview
from core.webhooks import endpoints as wh
from tests.db import factories as f

FINANCE = Actor("fiona", "finance")
OPS = Actor("otto", "ops")
JAN = {"period_start": date(2026, 1, 1), "period_end": date(2026, 2, 1)}


def _count(session, model, *where) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def _billed_customer(session):
    """ACME with a running monthly contract and January's draft invoice; BETA, a customer with nothing."""
    f.seller(session)
    acme = f.customer(session, "ACME", country="DE")
    f.customer(session, "BETA", country="DE")
    contract = f.contract(session, "ACME", [LineSpec("Platform", "flat_fee", {"amount": "100"}, cadence="monthly",
                                                     timing="advance", fixed_quantity=Decimal(1))],
                          start=date(2026, 1, 1))
    wh.create_endpoint(session, SYSTEM, url="https://erp.example/hooks", description="ERP",
                       event_types=["customer.archived", "customer.restored"])
    [draft] = generate_drafts(session, SYSTEM, **JAN).created
    session.commit()
    return acme, contract, draft


def test_a_customer_still_billed_is_refused_naming_what_is_in_the_way(session):
    acme, contract, draft = _billed_customer(session)
    audit_before, events_before = _count(session, AuditLog), _count(session, WebhookEvent)

    with pytest.raises(UserError) as refused:
        archive_customer(session, FINANCE, acme.id, reason="closed")
    text = str(refused.value)
    assert "Customer ACME (ACME) is still being billed and was not archived" in text
    assert f"running contract “Contract” (#{contract.id}, no end date)" in text and "End early" in text
    assert f"draft invoice #{draft} ($100.00)" in text and "approve or delete it" in text
    session.rollback()
    assert session.get(Customer, acme.id).archived is False
    assert (_count(session, AuditLog), _count(session, WebhookEvent)) == (audit_before, events_before)

    inv = approve_invoice(session, FINANCE, draft)
    session.commit()
    check = archive_check(session, acme.id)
    assert [b.split(" — ")[0] for b in check.blockers] == [
        f"running contract “Contract” (#{contract.id}, no end date)", f"open invoice {inv.number} ($100.00 due)"]

    end_contract(session, SYSTEM, contract_id=contract.id, effective=date(2026, 2, 1))
    record_payment(session, FINANCE, customer_id=acme.id, currency_code="USD", amount="150",
                   method="bank_transfer", received_on=date(2026, 1, 20), allocations={inv.id: "100"})
    session.commit()
    check = archive_check(session, acme.id)
    assert check.blockers == []
    assert check.notes == ["$50.00 of prepaid credit stays in the wallet (and on the books as owed to the customer)"]


def test_an_ended_contract_that_will_renew_still_counts_as_running(session):
    f.seller(session)
    acme = f.customer(session, "ACME")
    ct = f.contract(session, "ACME", [LineSpec("Platform", "flat_fee", {"amount": "100"})], start=date(2026, 1, 1),
                    end_date=date(2026, 7, 1), term_months=6, renewal_policy="same_terms")
    session.commit()
    assert archive_check(session, acme.id, on=date(2026, 6, 30)).blockers[0].startswith(
        f"running contract “Contract” (#{ct.id}, until 1 Jul 2026)")
    assert archive_check(session, acme.id, on=date(2026, 7, 2)).blockers[0].startswith(
        f"running contract “Contract” (#{ct.id}, due to renew from 1 Jul 2026)")


def test_archive_hides_the_customer_keeps_its_invoices_and_restore_brings_it_back(session):
    acme, contract, draft = _billed_customer(session)
    inv = approve_invoice(session, FINANCE, draft)
    end_contract(session, SYSTEM, contract_id=contract.id, effective=date(2026, 2, 1))
    record_payment(session, FINANCE, customer_id=acme.id, currency_code="USD", amount="100",
                   method="bank_transfer", received_on=date(2026, 1, 20), allocations={inv.id: "100"})
    german = create_segment(session, SYSTEM, name="Germany", rules={"groups": [[
        {"field": "country", "op": "in", "value": ["DE"]}]]})
    session.commit()
    assert preview(session, german.rules).count == 2

    archive_customer(session, FINANCE, acme.id, reason="  contract ended  ")
    session.commit()
    assert session.get(Customer, acme.id).archived is True
    assert [c.external_id for c in find_customers(session)] == ["BETA"]
    assert count_matching(session, search="ACME") == 0
    assert [r.external_id for r in customer_rows(session)] == ["BETA"]
    assert [r.external_id for r in customer_rows(session, ids=[acme.id])] == ["ACME"]  # old invoices name it
    assert get_invoice(session, inv.id).status == "paid"  # its invoices stay as they were
    assert [m.external_id for m in preview(session, german.rules).members] == ["BETA"]
    with pytest.raises(UserError, match="archived: restore the customer"):
        create_link(session, FINANCE, acme.id)
    [row] = archived_customers(session)
    assert (row["external_id"], row["archived_by"]) == ("ACME", "fiona") and row["archived_at"] is not None
    assert archived_customers(session, search="nothing like it") == []

    log = session.exec(select(AuditLog).where(AuditLog.action == "customer.archive")).one()
    assert (log.actor, log.entity_id) == ("fiona", str(acme.id))
    assert (log.details["before"], log.details["after"], log.details["reason"]) == \
        ({"archived": False}, {"archived": True}, "contract ended")
    [event] = session.exec(select(WebhookEvent).where(WebhookEvent.type == "customer.archived")).all()
    assert (event.data["external_id"], event.data["archived"]) == ("ACME", True)

    with pytest.raises(UserError, match="already archived"):
        archive_customer(session, FINANCE, acme.id)
    session.rollback()

    restore_customer(session, OPS, acme.id)  # ops may change customers (restore) but not archive them
    session.commit()
    assert [c.external_id for c in find_customers(session)] == ["ACME", "BETA"]
    assert archived_customers(session) == []
    restored = session.exec(select(AuditLog).where(AuditLog.action == "customer.restore")).one()
    assert (restored.actor, restored.details["before"], restored.details["after"]) == \
        ("otto", {"archived": True}, {"archived": False})
    assert _count(session, WebhookEvent, WebhookEvent.type == "customer.restored") == 1
    with pytest.raises(UserError, match="is not archived"):
        restore_customer(session, FINANCE, acme.id)


def test_who_may_archive_and_restore(session):
    f.seller(session)
    beta = f.customer(session, "BETA")
    session.commit()
    for who in (OPS, Actor("sam", "sales"), Actor("vic", "viewer")):
        with pytest.raises(PermissionDenied):
            archive_customer(session, who, beta.id)
    with pytest.raises(UserError, match="reason: at most 500"):
        archive_customer(session, FINANCE, beta.id, reason="x" * 501)
    session.rollback()
    assert session.get(Customer, beta.id).archived is False
    archive_customer(session, Actor("ada", "admin"), beta.id)
    session.commit()
    with pytest.raises(PermissionDenied):
        restore_customer(session, Actor("vic", "viewer"), beta.id)
    restore_customer(session, Actor("sam", "sales"), beta.id)
