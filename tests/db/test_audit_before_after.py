"""Every state change of consequence is in the audit log with who, what and the values before and after (issue 8):
a representative run through the core services — a role change and extra permissions, a customer's details, tax
exemption, archive and restore, a contract's activation, price change, early end and automatic end, an invoice's
approval, a hand edit of a draft, payment, credit note (void) and write-off, wallet credit used, an API key revoked,
a webhook endpoint switched off and on and its secret rotated, a tax rate changed, an entitlement ended early, a
segment changed, the books closed — and then, for each, the audit entry read back as a person reading the log
would: the old and the new value side by side. Creations carry what was created; an export says what left."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import select

from core import wallet
from core.apikeys import create_key, revoke_key
from core.auth import SYSTEM, Actor, create_first_admin, create_user, set_grants, set_role
from core.billing.amendments import change_line, end_contract
from core.billing.contracts import LineSpec, activate_contract, contract_lines
from core.billing.renewals import renew_due_contracts
from core.customers import archive_customer, restore_customer, update_customer
from core.entitlements.grants import GrantSpec, create_grant, end_grant
from core.importers.customers import export_customers
from core.invoicing.credit_notes import issue_credit_note
from core.invoicing.drafts import edit_draft_line
from core.invoicing.payments import record_payment
from core.invoicing.service import approve_invoice, generate_drafts, get_invoice
from core.invoicing.write_offs import write_off
from core.ledger.posting import close_books
from core.models import AuditLog, InvoiceLine
from core.receivables.segments import create_segment, update_segment
from core.tax import set_rate, set_tax_exempt
from core.webhooks import endpoints as wh
from tests.db import factories as f

FINANCE = Actor("fiona", "finance")
ADA = Actor("ada", "admin")
FLAT = dict(cadence="monthly", timing="advance", fixed_quantity=Decimal(1))


def _entry(session, action: str, entity_id) -> AuditLog:  # noqa: ANN001
    rows = session.exec(select(AuditLog).where(AuditLog.action == action, AuditLog.entity_id == str(entity_id))
                        .order_by(AuditLog.id)).all()
    assert rows, f"no {action} entry for #{entity_id}"
    return rows[-1]


def _changed(entry: AuditLog) -> tuple:
    """(before, after) as the entry holds them."""
    assert "before" in entry.details and "after" in entry.details, (entry.action, entry.details)
    return entry.details["before"], entry.details["after"]


def test_each_change_of_consequence_shows_before_and_after(session):
    admin = create_first_admin(session, username="ada", password="a-long-password-1")
    bob = create_user(session, ADA, username="bob", password="a-long-password-2", role="ops")
    f.seller(session)
    acme = f.customer(session, "ACME", email="old@acme.example")
    gone = f.customer(session, "GONE")
    running = f.contract(session, "ACME", [LineSpec("Platform", "flat_fee", {"amount": "100"}, **FLAT)],
                         start=date(2026, 1, 1))
    draft_ct = f.contract(session, "ACME", [LineSpec("Support", "flat_fee", {"amount": "40"}, **FLAT)],
                          start=date(2026, 1, 1), status="draft")
    short = f.contract(session, "ACME", [LineSpec("Pilot", "flat_fee", {"amount": "10"}, **FLAT)],
                       start=date(2026, 1, 1), end_date=date(2026, 3, 1))
    key, _secret = create_key(session, ADA, "warehouse", ["usage:write"])
    ep = wh.create_endpoint(session, ADA, url="https://erp.example/hooks", event_types=["invoice.paid"])
    set_rate(session, FINANCE, country="US", name="Sales tax", percent="5")
    grant = create_grant(session, FINANCE, GrantSpec(customer_external_id="ACME", key="sso", kind="feature",
                                                     start_date=date(2026, 1, 1)))
    seg = create_segment(session, FINANCE, name="Late", rules={"groups": [[
        {"field": "days_past_due", "op": "gt", "value": 30}]]})
    session.commit()

    # --- the changes ---------------------------------------------------------------------------------------
    set_role(session, ADA, username="bob", role="finance")
    set_grants(session, ADA, username="bob", grants=["users:read"])
    update_customer(session, FINANCE, acme.id, {"email": "ap@acme.example", "payment_terms_days": 45})
    set_tax_exempt(session, FINANCE, acme.id, True, reason="resale certificate 42")
    archive_customer(session, FINANCE, gone.id, reason="closed")
    restore_customer(session, FINANCE, gone.id)
    activate_contract(session, FINANCE, draft_ct.id)
    [line] = contract_lines(session, running.id)
    change_line(session, FINANCE, contract_id=running.id, line_id=line.id, effective=date(2026, 3, 1),
                params={"amount": "120"})
    end_contract(session, FINANCE, contract_id=draft_ct.id, effective=date(2026, 6, 1))
    drafts = generate_drafts(session, SYSTEM, period_start=date(2026, 1, 1), period_end=date(2026, 2, 1)).created
    renew_due_contracts(session, SYSTEM, on=date(2026, 3, 1))  # "Pilot" ran out on 1 Mar: ended
    first, second, third = (get_invoice(session, i) for i in drafts)
    manual = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == first.id,
                                                    InvoiceLine.kind.not_in(("tax", "wallet")))).first()
    edit_draft_line(session, FINANCE, manual.id, amount="90")
    for inv in (first, second, third):
        approve_invoice(session, FINANCE, inv.id)
    record_payment(session, FINANCE, customer_id=acme.id, currency_code="USD", amount=first.total,
                   method="bank_transfer", received_on=date(2026, 1, 20), allocations={first.id: first.total})
    issue_credit_note(session, FINANCE, second.id, reason="Goodwill", amount=second.total)
    write_off(session, FINANCE, third.id, reason="Will not pay", on=date(2026, 4, 1))
    wallet.add_credit(session, FINANCE, customer_id=acme.id, currency="USD", amount="30")
    wallet.use_credit(session, acme.id, "USD", "20", None, actor=FINANCE)
    revoke_key(session, ADA, key.id)
    wh.set_active(session, ADA, ep.endpoint_id, False)
    wh.set_active(session, ADA, ep.endpoint_id, True)
    wh.rotate_secret(session, ADA, ep.endpoint_id)
    set_rate(session, FINANCE, country="US", name="Sales tax", percent="7.25")
    end_grant(session, FINANCE, grant.id, end_date=date(2026, 9, 1), reason="downgrade")
    update_segment(session, FINANCE, seg.id, name="Very late", rules={"groups": [[
        {"field": "days_past_due", "op": "gt", "value": 60}]]})
    close_books(session, FINANCE, first.entity_id, date(2026, 1, 31))
    export_customers(session, FINANCE, "csv")
    session.commit()

    # --- what the log says ---------------------------------------------------------------------------------
    log = lambda action, rid: _entry(session, action, rid)  # noqa: E731
    role = log("user.role", bob.id)
    assert (role.actor, _changed(role)) == ("ada", ("ops", "finance"))
    assert _changed(log("user.grants", bob.id)) == ([], ["users:read"])
    assert log("user.create", admin.id).details["role"] == "admin"  # a creation: what was created

    upd = log("customer.update", acme.id).details
    assert upd["email"] == {"before": "old@acme.example", "after": "ap@acme.example"}
    assert upd["payment_terms_days"] == {"before": 30, "after": 45} and "name" not in upd  # only what changed
    assert _changed(log("customer.tax_exempt", acme.id)) == (False, True)
    assert _changed(log("customer.archive", gone.id)) == ({"archived": False}, {"archived": True})
    assert _changed(log("customer.restore", gone.id)) == ({"archived": True}, {"archived": False})

    assert _changed(log("contract.activate", draft_ct.id)) == ("draft", "active")
    price = log("contract.change_line", running.id)
    assert (price.details["before"]["params"]["amount"], price.details["after"]["params"]["amount"]) == ("100", "120")
    assert _changed(log("contract.end_early", draft_ct.id)) == (None, "2026-06-01")
    assert _changed(log("contract.end", short.id)) == ("active", "ended")

    edit = log("invoice.line_edit", first.id).details
    assert (Decimal(edit["before"]["amount"]), Decimal(edit["after"]["amount"])) == (Decimal("100"), Decimal("90"))
    assert Decimal(edit["total_before"]) > Decimal(edit["total"])
    for inv in (first, second, third):
        approval = log("invoice.approve", inv.id)
        assert (approval.actor, _changed(approval)) == ("fiona", ("draft", "approved"))
    payment = session.exec(select(AuditLog).where(AuditLog.action == "payment.record")).one()
    assert [(a["before"], a["after"]) for a in payment.details["allocations"]] == [("approved", "paid")]
    assert _changed(log("credit_note.issue", second.id)) == ("approved", "void")
    assert _changed(log("invoice.write_off", third.id)) == ("approved", "written_off")
    use = session.exec(select(AuditLog).where(AuditLog.action == "wallet.use")).one().details
    assert (use["balance_before"], use["balance_after"]) == ("30.00", "10.00")

    assert _changed(log("api_key.revoke", key.id)) == ("active", "revoked")
    assert log("api_key.create", key.id).details["scopes"] == ["usage:write"]
    assert _changed(log("webhook.endpoint_disable", ep.endpoint_id)) == ({"active": True}, {"active": False})
    assert _changed(log("webhook.endpoint_enable", ep.endpoint_id)) == ({"active": False}, {"active": True})
    before, after = _changed(log("webhook.secret_rotate", ep.endpoint_id))
    assert before["secret_from"] < after["secret_from"]
    assert not any(ep.secret in str(e.details) for e in session.exec(select(AuditLog)))  # never the secret
    rate = session.exec(select(AuditLog).where(AuditLog.action == "tax_rate.set").order_by(AuditLog.id)).all()[-1]
    assert [(v["name"], v["percent"]) for v in _changed(rate)] == [("Sales tax", "5"), ("Sales tax", "7.25")]
    assert _changed(log("entitlement.end", grant.id)) == (None, "2026-09-01")
    seg_log = log("segment.update", seg.id).details
    assert seg_log["name"] == {"before": "Late", "after": "Very late"}
    assert seg_log["rules"] == {"before": "days past due (open invoice) more than 30",
                                "after": "days past due (open invoice) more than 60"}
    assert _changed(log("books.close", first.entity_id)) == (None, "2026-01-31")
    export = session.exec(select(AuditLog).where(AuditLog.action == "customer.export")).one()
    assert (export.actor, export.details["format"], export.details["customers"]) == ("fiona", "csv", 2)
    assert all(e.at is not None and e.actor for e in session.exec(select(AuditLog)))  # who and when, always
