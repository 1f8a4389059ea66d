"""The customer portal: what one customer sees of its own account, without an account of its own here.

A staff member (or a system, through the API, to embed the portal in its own product) makes a **portal link** for a
customer: ``APP_BASE_URL/portal?token=…``, valid for :data:`DEFAULT_DAYS` days (at most :data:`MAX_DAYS`). The token
is ``c<customer id>.<expires>.<signature>``: the signature is HMAC-SHA256 over ``portal:<customer id>:<expires>`` with
the same server secret as the invoices' payment links (:func:`core.portal_links.secret`), so a portal token can never
pass for an invoice link nor the other way round. :func:`verify` compares the signature in constant time before it
believes anything in the token, then checks the expiry and that the customer exists and is not archived; every
refusal is a :class:`~core.portal_links.LinkInvalid` whose message is all the visitor sees.

The portal shows the customer's issued invoices (with their PDFs and, for what is still due, the invoice's payment
link — the public pay page takes the card payment), payments, credit notes, contracts, this billing period's usage
and entitlements, and lets the customer correct its billing details (email, address, tax id) — validated as the
staff's customer form validates them and audited as ``portal:<customer external id>``. Every function takes the
token, never a customer id: nothing the page keeps is trusted.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.models import Contract, CreditNote, Customer, Invoice, Payment
from core.portal_links import LinkInvalid, base_url, payment_link, secret

PORTAL_PATH = "portal"  # the page's URL path (app.py)
DEFAULT_DAYS = 30
MAX_DAYS = 90
ISSUED = ("approved", "partially_paid", "paid", "void", "written_off")
EDITABLE = {"email": "Billing email", "address_line1": "Address", "city": "City", "region": "State / region",
            "postal_code": "Postal code", "country": "Country (2 letters)", "tax_id": "Tax id"}
NOT_VALID = ("This portal link is not valid: it may have been cut short or changed. Open the whole link you were "
             "sent, or ask your supplier for a new one.")
NO_TOKEN = ("This page opens from the link to your billing portal that your supplier sent you. Open the whole "
            "link; if it does not work, ask them for a new one.")


@dataclass(frozen=True)
class PortalActor(Actor):
    """The customer acting in its portal: may change its own billing details and nothing else."""

    customer_id: int = 0

    def can(self, permission: str) -> bool:
        return permission == "customers:write"


def _sign(customer_id: int, expires: int, key: bytes) -> str:
    mac = hmac.new(key, f"portal:{customer_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def make_token(customer_id: int, expires: datetime | int) -> str:
    stamp = int(expires.timestamp()) if isinstance(expires, datetime) else int(expires)
    return f"c{int(customer_id)}.{stamp}.{_sign(customer_id, stamp, secret())}"


@dataclass(frozen=True)
class PortalLink:
    customer_id: int
    token: str
    url: str  # "" when APP_BASE_URL is set empty
    expires: datetime


def create_link(session: Session, actor: Actor, customer_id: int, *, days: int = DEFAULT_DAYS,
                now: datetime | None = None) -> PortalLink:
    """A portal link for one customer, valid ``days`` days. Giving someone access to a customer's account is a
    change of consequence: it needs ``customers:write`` and is audited (the token itself is not kept)."""
    require(actor, "customers:write")
    cust = session.get(Customer, customer_id)
    if cust is None:
        raise NotFound(f"there is no customer #{customer_id}")
    if cust.archived:
        raise UserError(f"{cust.name} is archived: restore the customer before giving it a portal link")
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise UserError(f"valid for: give a whole number of days from 1 to {MAX_DAYS}")
    expires = (now or datetime.now(UTC)) + timedelta(days=days)
    expires = expires.replace(microsecond=0)
    token = make_token(cust.id, expires)
    base = base_url()
    audit.record(session, actor=actor.username, action="portal.link", entity_type="customer", entity_id=cust.id,
                 details={"customer": cust.external_id, "expires": expires.isoformat(), "days": days})
    return PortalLink(cust.id, token, f"{base}/{PORTAL_PATH}?token={token}" if base else "", expires)


def verify(session: Session, token: str | None, *, now: datetime | None = None) -> Customer:
    """The customer a portal token opens — or LinkInvalid with the one message to show."""
    token = (token or "").strip()
    if not token:
        raise LinkInvalid(NO_TOKEN)
    parts = token.split(".")
    if (len(parts) != 3 or len(token) > 200 or not parts[0].startswith("c") or not parts[0][1:].isdigit()
            or not parts[1].isdigit()):
        raise LinkInvalid(NOT_VALID)
    customer_id, stamp = int(parts[0][1:]), int(parts[1])
    if not hmac.compare_digest(_sign(customer_id, stamp, secret()).encode(), parts[2].encode()):
        raise LinkInvalid(NOT_VALID)
    expires = datetime.fromtimestamp(stamp, UTC)
    if (now or datetime.now(UTC)) >= expires:
        raise LinkInvalid(f"This portal link expired on {expires:%-d %B %Y}. Ask your supplier for a new one.")
    cust = session.get(Customer, customer_id)
    if cust is None or cust.archived:
        raise LinkInvalid("This portal link no longer opens an account. Ask your supplier for a new one.")
    return cust


@dataclass
class PortalInvoice:
    invoice_id: int
    number: str
    issue_date: object
    due_date: object
    period: str
    currency: str
    total: Decimal
    amount_due: Decimal
    status: str
    overdue: bool
    pay_link: str = ""


@dataclass
class PortalView:
    customer: Customer
    expires: datetime
    invoices: list[PortalInvoice] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    credit_notes: list[tuple[CreditNote, str]] = field(default_factory=list)  # (note, invoice number)
    contracts: list[Contract] = field(default_factory=list)
    usage: list[dict] = field(default_factory=list)  # metric, quantity, period (this billing period)
    entitlements: list[dict] = field(default_factory=list)

    def due_by_currency(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for inv in self.invoices:
            if inv.amount_due > 0:
                out[inv.currency] = out.get(inv.currency, Decimal(0)) + inv.amount_due
        return out


def view(session: Session, token: str | None, *, now: datetime | None = None) -> PortalView:
    """Everything the portal shows, for the holder of a valid token, and only that customer's."""
    from core.billing.periods import format_period
    from core.invoicing import settlement

    cust = verify(session, token, now=now)
    expires = datetime.fromtimestamp(int(token.strip().split(".")[1]), UTC)
    today = (now or datetime.now(UTC)).date()
    out = PortalView(customer=cust, expires=expires)
    invoices = list(session.exec(select(Invoice).where(Invoice.customer_id == cust.id, Invoice.status.in_(ISSUED))
                                 .order_by(Invoice.issue_date.desc(), Invoice.id.desc()).limit(500)))
    for inv in invoices:
        due = settlement.due(inv) if inv.status in ("approved", "partially_paid") else Decimal(0)
        link = payment_link(session, inv.id)[0] if due > 0 else ""
        out.invoices.append(PortalInvoice(
            inv.id, inv.number or "", inv.issue_date, inv.due_date,
            format_period(inv.period_start, inv.period_end) if inv.period_start and inv.period_end else "",
            inv.currency, inv.total, due, inv.status, bool(due > 0 and inv.due_date and inv.due_date < today), link))
    out.payments = list(session.exec(select(Payment).where(Payment.customer_id == cust.id)
                                     .order_by(Payment.received_on.desc(), Payment.id.desc()).limit(500)))
    numbers = {i.invoice_id: i.number for i in out.invoices}
    out.credit_notes = [(cn, numbers.get(cn.invoice_id, "")) for cn in session.exec(
        select(CreditNote).where(CreditNote.invoice_id.in_(list(numbers) or [0]))
        .order_by(CreditNote.id.desc()).limit(500))]
    out.contracts = list(session.exec(select(Contract).where(Contract.customer_id == cust.id,
                                                             Contract.status != "draft")
                                      .order_by(Contract.start_date.desc())))
    out.usage = _usage(session, cust, today)
    out.entitlements = _entitlements(session, cust, today)
    return out


def _usage(session: Session, cust: Customer, today) -> list[dict]:  # noqa: ANN001
    """Usage in the customer's current billing period per billable metric its contracts bill (the period the
    next invoice counts, from the contract's billing day in the customer's time zone), against what the contract
    includes when it includes a number of units."""
    from core.metering.metrics import aggregate, list_metrics
    from core.metering.periods import billing_of, current_window
    from core.metering.series import included_units
    from core.models import ContractLine

    metric_ids = set(session.exec(select(ContractLine.metric_id).join(Contract, Contract.id == ContractLine.contract_id)
                                  .where(Contract.customer_id == cust.id, Contract.status == "active",
                                         ContractLine.metric_id.is_not(None))))
    metrics = [m for m in list_metrics(session) if m.id in metric_ids]
    billing = billing_of(session, [cust], [m.id for m in metrics], today)
    out = []
    for m in metrics:
        b = billing.get((cust.id, m.id))
        if b is None:
            continue
        w = current_window(b, today)
        try:
            res = aggregate(session, m, w.utc_start, w.utc_end, customers=[cust.external_id]).get(cust.external_id)
        except UserError:  # a SQL-template metric whose data source cannot be reached just now
            continue
        out.append({"metric": m.name, "quantity": res.quantity if res else Decimal(0), "from": w.start,
                    "to": w.end - timedelta(days=1), "included": included_units(session, cust.external_id, m.id,
                                                                               today)})
    return out


def _entitlements(session: Session, cust: Customer, today) -> list[dict]:  # noqa: ANN001
    """The customer's entitlements in effect today with what is used and left (core.entitlements.balances)."""
    from core.entitlements.balances import STATUS_LABELS, balances_of, is_active
    from core.models import EntitlementGrant

    grants = [g for g in session.exec(select(EntitlementGrant).where(EntitlementGrant.customer_id == cust.id)
                                      .order_by(EntitlementGrant.key)) if is_active(g, today)]
    return [{"Entitlement": b.grant.name, "Used": b.show(b.used), "Limit": b.show(b.limit),
             "Left": b.show(b.remaining), "Status": STATUS_LABELS.get(b.status(), b.status())}
            for b in balances_of(session, grants, today)]


def invoice_pdf(session: Session, token: str | None, invoice_id: int) -> bytes:
    """One of the customer's own issued invoices as PDF; any other invoice is refused the same way as a bad link."""
    from core.documents.render import invoice_pdf as render

    cust = verify(session, token)
    inv = session.get(Invoice, invoice_id)
    if inv is None or inv.customer_id != cust.id or inv.status not in ISSUED:
        raise LinkInvalid("That invoice is not one of this account's.")
    return render(session, inv.id)


def update_details(session: Session, token: str | None, data: dict) -> Customer:
    """The customer corrects its own billing details (only the fields in :data:`EDITABLE`)."""
    from core.customers import update_customer

    cust = verify(session, token)
    unknown = sorted(set(data) - set(EDITABLE))
    if unknown:
        raise UserError(f"{', '.join(unknown)}: cannot be changed from the portal")
    actor = PortalActor(f"portal:{cust.external_id}", "portal", customer_id=cust.id)
    return update_customer(session, actor, cust.id, {k: (v or "").strip() for k, v in data.items()})


__all__ = ["DEFAULT_DAYS", "EDITABLE", "MAX_DAYS", "PORTAL_PATH", "PortalActor", "PortalInvoice", "PortalLink",
           "PortalView", "create_link", "invoice_pdf", "make_token", "update_details", "verify", "view"]
