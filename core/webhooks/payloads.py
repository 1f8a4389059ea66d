"""The public shapes of the objects in webhook events (``data`` of the envelope). They are documented on the
Webhooks page and are a contract with the receivers: add fields, never rename or drop one.

Money is a string with the currency's minor units ("1250.00", "9.500" for BHD), never a float; quantities are
strings too; dates are ISO 8601 (``2026-10-01``) and times are UTC (``2026-10-01T12:00:00Z``)."""
from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from sqlmodel import Session, select

from core.models import Contract, CreditNote, Customer, Invoice, Payment
from core.money import round_money


@lru_cache(maxsize=65536)  # a bulk approval repeats the same amounts (0.00 above all) many times
def _money(amount: Decimal, currency_code: str) -> str:
    return str(round_money(amount, currency_code))


def money(amount: Decimal | None, currency_code: str) -> str | None:
    if amount is None:
        return None
    return _money(amount, currency_code)


def quantity(value: Decimal | None) -> str | None:
    if value is None:
        return None
    return format(value.normalize(), "f")


def customer(c: Customer) -> dict:
    return {"object": "customer", "id": c.id, "external_id": c.external_id, "name": c.name, "email": c.email,
            "currency": c.currency, "country": c.country, "address_line1": c.address_line1, "city": c.city,
            "region": c.region, "postal_code": c.postal_code, "tax_id": c.tax_id, "timezone": c.timezone,
            "payment_terms_days": c.payment_terms_days, "tax_exempt": c.tax_exempt, "archived": c.archived,
            "attributes": dict(c.attributes or {}), "created_at": c.created_at, "updated_at": c.updated_at}


def external_ids(session: Session, customer_ids) -> dict[int, str]:  # noqa: ANN001
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    return dict(session.exec(select(Customer.id, Customer.external_id).where(Customer.id.in_(ids))).all())


def contract(session: Session, ct: Contract, *, change: str = "") -> dict:
    cust = session.get(Customer, ct.customer_id)
    data = {"object": "contract", "id": ct.id, "customer_id": ct.customer_id,
            "customer_external_id": cust.external_id if cust else None, "name": ct.name, "currency": ct.currency,
            "status": ct.status, "start_date": ct.start_date, "end_date": ct.end_date, "plan_id": ct.plan_id,
            "term_months": ct.term_months, "renewal_policy": ct.renewal_policy,
            "payment_terms_days": ct.payment_terms_days, "renewed_from_id": ct.renewed_from_id,
            "created_at": ct.created_at}
    if change:
        data["change"] = change
    return data


def invoice(inv: Invoice, customer_external_id: str | None) -> dict:
    from core.invoicing.settlement import due

    code = inv.currency
    return {"object": "invoice", "id": inv.id, "number": inv.number, "status": inv.status,
            "customer_id": inv.customer_id, "customer_external_id": customer_external_id,
            "contract_id": inv.contract_id, "currency": code, "period_start": inv.period_start,
            "period_end": inv.period_end, "issue_date": inv.issue_date, "due_date": inv.due_date,
            "subtotal": money(inv.subtotal, code), "tax": money(inv.tax, code), "total": money(inv.total, code),
            "credits_applied": money(inv.credits_applied, code), "amount_paid": money(inv.amount_paid, code),
            "amount_credited": money(inv.amount_credited or Decimal(0), code),
            "amount_written_off": money(inv.amount_written_off or Decimal(0), code),
            "amount_due": money(max(due(inv), Decimal(0)), code), "approved_at": inv.approved_at}


def invoices(session: Session, invs: list[Invoice]) -> list[dict]:
    """Many invoices with one query for their customers' external ids (the bulk approval path)."""
    ext = external_ids(session, [inv.customer_id for inv in invs])
    return [invoice(inv, ext.get(inv.customer_id)) for inv in invs]


def payment(session: Session, p: Payment, allocations: dict[int, Decimal], numbers: dict[int, str | None]) -> dict:
    cust = session.get(Customer, p.customer_id)
    code = p.currency
    return {"object": "payment", "id": p.id, "customer_id": p.customer_id,
            "customer_external_id": cust.external_id if cust else None, "currency": code,
            "amount": money(p.amount, code), "method": p.method, "reference": p.reference,
            "received_on": p.received_on, "unallocated": money(p.unallocated, code), "provider": p.provider,
            "provider_id": p.provider_id,
            "allocations": [{"invoice_id": i, "invoice_number": numbers.get(i), "amount": money(a, code)}
                            for i, a in sorted(allocations.items())],
            "created_at": p.created_at}


def failed_payment(session: Session, p: Payment, invoice_id: int | None) -> dict:
    """A declined charge: what was tried, for which invoice, and why it failed."""
    cust = session.get(Customer, p.customer_id)
    number = session.get(Invoice, invoice_id).number if invoice_id else None
    return {"object": "failed_payment", "id": p.id, "customer_id": p.customer_id,
            "customer_external_id": cust.external_id if cust else None, "currency": p.currency,
            "amount": money(p.amount, p.currency), "method": p.method, "failure": p.failure,
            "invoice_id": invoice_id, "invoice_number": number, "provider": p.provider,
            "provider_id": p.provider_id, "created_at": p.created_at}


def credit_note(session: Session, note: CreditNote, inv: Invoice) -> dict:
    cust = session.get(Customer, note.customer_id)
    code = note.currency
    return {"object": "credit_note", "id": note.id, "number": note.number, "invoice_id": inv.id,
            "invoice_number": inv.number, "customer_id": note.customer_id,
            "customer_external_id": cust.external_id if cust else None, "currency": code,
            "total": money(note.total, code), "applied": money(note.applied, code),
            "to_wallet": money(note.to_wallet, code), "refunded": money(note.refunded, code),
            "reason": note.reason, "issue_date": note.issue_date, "invoice_status": inv.status,
            "created_at": note.created_at}


def usage_threshold(alert, metric, customer_external_id: str, period_start, used: Decimal,  # noqa: ANN001
                    limit: Decimal) -> dict:
    return {"object": "usage_alert_firing", "alert_id": alert.id, "alert_name": alert.name,
            "metric_code": metric.code, "metric_name": metric.name, "customer_external_id": customer_external_id,
            "period_start": period_start, "quantity": quantity(used), "threshold": quantity(alert.threshold),
            "threshold_kind": alert.threshold_kind, "allowance": quantity(alert.allowance),
            "limit": quantity(limit)}


# What the page documents: each event type and the object its ``data`` holds.
DATA_OF = {
    "customer.created": "customer", "customer.updated": "customer", "customer.archived": "customer",
    "customer.restored": "customer",
    "contract.created": "contract", "contract.updated": "contract (with \"change\": what changed)",
    "invoice.approved": "invoice", "invoice.paid": "invoice", "invoice.voided": "invoice",
    "credit_note.created": "credit_note", "payment.received": "payment",
    "usage.threshold_reached": "usage_alert_firing", "entitlement.exhausted": "entitlement",
    "webhook.test": "test",
}

# The fields of each object, as the page documents them (a test checks the events carry exactly these).
FIELDS: dict[str, str] = {
    "customer": "object, id, external_id, name, email, currency, country, address_line1, city, region, postal_code, "
                "tax_id, timezone, payment_terms_days, tax_exempt, archived, attributes, created_at, updated_at "
                "(customer.updated adds changed: the names of the fields that changed)",
    "contract": "object, id, customer_id, customer_external_id, name, currency, status, start_date, end_date "
                "(exclusive; null: open-ended), plan_id, term_months, renewal_policy, payment_terms_days, "
                "renewed_from_id, created_at (contract.updated adds change: activated | line_changed | ended_early)",
    "invoice": "object, id, number, status, customer_id, customer_external_id, contract_id, currency, period_start, "
               "period_end (exclusive), issue_date, due_date, subtotal, tax, total, credits_applied, amount_paid, "
               "amount_credited, amount_written_off, amount_due, approved_at (invoice.written_off adds written_off: "
               "the amount written off now, and reason)",
    "payment": "object, id, customer_id, customer_external_id, currency, amount, method, reference, received_on, "
               "unallocated (went to the customer's prepaid credit), provider, provider_id, "
               "allocations [{invoice_id, invoice_number, amount}], created_at",
    "failed_payment": "object, id, customer_id, customer_external_id, currency, amount, method, failure (the "
                      "card issuer's or Stripe's message), invoice_id, invoice_number, provider, provider_id, "
                      "created_at",
    "credit_note": "object, id, number, invoice_id, invoice_number, customer_id, customer_external_id, currency, "
                   "total, applied, to_wallet, refunded, reason, issue_date, invoice_status, created_at",
    "usage_alert_firing": "object, alert_id, alert_name, metric_code, metric_name, customer_external_id, "
                          "period_start, quantity, threshold, threshold_kind (units | percent), allowance, limit",
}
