"""Signed, expiring links to one invoice: how a customer reaches it without signing in — the public pay page
(pages/pay.py) today, the customer portal later.

A token is ``<invoice id>.<customer id>.<expires>.<signature>``: ``expires`` in Unix seconds (UTC), the signature
HMAC-SHA256 over ``invoice:<invoice id>:<customer id>:<expires>`` with the server's secret, in base64url without
padding — URL-safe as it is. :func:`verify` compares signatures in constant time (``hmac.compare_digest``) before it
believes anything in the token, then checks the expiry, then that the invoice exists, is issued (not a draft) and
belongs to that customer. Every refusal is a :class:`LinkInvalid` whose message is what the visitor reads.

The secret is ``PORTAL_SECRET`` from the environment when it is set (at least 32 characters: set the same value for
every process that makes or checks links). Otherwise it is generated once — 32 random bytes — and kept in
``data/portal_secret`` (readable by the app's user only, ignored by git); every process on the machine shares it.
Changing or deleting it invalidates every link sent so far.

A link (:func:`invoice_link`) is ``APP_BASE_URL`` (default http://localhost:8501; set it to the address customers
reach the app at, or to an empty value for no links) + ``/pay?token=…``. It is valid for :data:`DAYS_AFTER_DUE`
days after the invoice's due date, and always at least :data:`MIN_DAYS_LEFT` days from the day it is made, so a
reminder for an old invoice still carries a working link. The expiry is a whole UTC day, so the same invoice
rendered twice on a day carries the same link.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets as _secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from sqlmodel import Session

from core.errors import UserError
from core.models import Invoice
from core.money import ZERO

PAGE_PATH = "pay"  # the public page's URL path (app.py)
DEFAULT_BASE_URL = "http://localhost:8501"
DAYS_AFTER_DUE = 180
MIN_DAYS_LEFT = 30
MIN_SECRET_LENGTH = 32
LINKABLE = ("approved", "partially_paid", "paid", "void")  # issued invoices; a draft can still change

NO_TOKEN = ("This page opens from the payment link on an invoice or in its email. Open the whole link you were "
            "sent; if it does not work, ask the sender of the invoice for a new one.")
NOT_VALID = ("This payment link is not valid: it may have been cut short or changed. Open the whole link from the "
             "invoice or its email, or ask the sender of the invoice for a new one.")


class LinkInvalid(UserError):
    """A token that shows nothing: missing, tampered with, expired, or for no invoice of that customer."""


def _secret_file() -> Path:
    from core.db import DATA_DIR

    return DATA_DIR / "portal_secret"


def _file_secret(path: Path) -> bytes:
    """The secret in ``path``, made first when there is none (atomically: two processes starting at once end up
    with the same one — the first link wins, the loser reads it)."""
    try:
        value = path.read_text().strip()
    except FileNotFoundError:
        value = ""
    if value:
        return value.encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{_secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(_secrets.token_urlsafe(32) + "\n")
    try:
        os.link(tmp, path)  # fails when another process made it meanwhile
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    value = path.read_text().strip()
    if not value:
        raise UserError(f"the payment-link secret in {path} is empty: delete the file (a new one is made) or set "
                        "PORTAL_SECRET")
    return value.encode()


def secret() -> bytes:
    """The server secret links are signed with (see the module's documentation)."""
    configured = os.environ.get("PORTAL_SECRET", "").strip()
    if configured:
        if len(configured) < MIN_SECRET_LENGTH:
            raise UserError(f"PORTAL_SECRET is {len(configured)} characters long: use at least {MIN_SECRET_LENGTH} "
                            "random characters (for example the output of `openssl rand -base64 32`)")
        return configured.encode()
    return _file_secret(_secret_file())


def _sign(invoice_id: int, customer_id: int, expires: int, key: bytes) -> str:
    mac = hmac.new(key, f"invoice:{invoice_id}:{customer_id}:{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def make_token(invoice_id: int, customer_id: int, expires: datetime | int) -> str:
    """A token for one invoice of one customer, valid until ``expires`` (an aware datetime or Unix seconds)."""
    stamp = int(expires.timestamp()) if isinstance(expires, datetime) else int(expires)
    return f"{int(invoice_id)}.{int(customer_id)}.{stamp}.{_sign(invoice_id, customer_id, stamp, secret())}"


def expiry_for(inv: Invoice, today: date | None = None) -> datetime:
    """When a link made today for this invoice stops working (the end of a UTC day)."""
    today = today or datetime.now(UTC).date()
    base = inv.due_date or inv.issue_date or today
    last = max(base + timedelta(days=DAYS_AFTER_DUE), today + timedelta(days=MIN_DAYS_LEFT))
    return datetime.combine(last + timedelta(days=1), time(0), tzinfo=UTC)


def invoice_token(session: Session, invoice_id: int, *, today: date | None = None) -> str:
    inv = session.get(Invoice, invoice_id)
    if inv is None or inv.status not in LINKABLE:
        raise UserError(f"invoice #{invoice_id} is not issued: only an approved invoice has a payment link")
    return make_token(inv.id, inv.customer_id, expiry_for(inv, today))


def base_url() -> str:
    """``APP_BASE_URL`` without a trailing slash; "" when it is set empty (no links then)."""
    return os.environ.get("APP_BASE_URL", DEFAULT_BASE_URL).strip().rstrip("/")


def link_for_token(token: str) -> str:
    base = base_url()
    return f"{base}/{PAGE_PATH}?token={token}" if base else ""


def invoice_link(session: Session, invoice_id: int, *, today: date | None = None) -> str:
    """The link to put on an issued invoice (its PDF, its email, the staff's invoice page); "" when there is no app
    address to link to (``APP_BASE_URL`` empty) or the invoice is a draft."""
    inv = session.get(Invoice, invoice_id)
    if not base_url() or inv is None or inv.status not in LINKABLE:
        return ""
    return link_for_token(invoice_token(session, invoice_id, today=today))


def payment_link(session: Session, invoice_id: int) -> tuple[str, date | None]:
    """(link, the last day it works) for an issued invoice that still has something to pay — what its PDF, its
    email and the staff's invoice page show — or ("", None)."""
    from core.invoicing import settlement

    inv = session.get(Invoice, invoice_id)
    if inv is None or inv.status not in ("approved", "partially_paid") or settlement.due(inv) <= 0 \
            or not base_url():
        return "", None
    token = invoice_token(session, inv.id)
    return link_for_token(token), read_token(token).expires.date() - timedelta(days=1)


@dataclass(frozen=True)
class LinkClaims:
    invoice_id: int
    customer_id: int
    expires: datetime


def read_token(token: str | None, *, now: datetime | None = None) -> LinkClaims:
    """The claims of a token whose signature is right and which has not expired — nothing from the database yet."""
    token = (token or "").strip()
    if not token:
        raise LinkInvalid(NO_TOKEN)
    parts = token.split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]) or len(token) > 200:
        raise LinkInvalid(NOT_VALID)
    invoice_id, customer_id, stamp = (int(p) for p in parts[:3])
    expected = _sign(invoice_id, customer_id, stamp, secret())
    if not hmac.compare_digest(expected.encode(), parts[3].encode()):
        raise LinkInvalid(NOT_VALID)
    expires = datetime.fromtimestamp(stamp, UTC)
    if (now or datetime.now(UTC)) >= expires:
        raise LinkInvalid(f"This payment link expired on {expires - timedelta(seconds=1):%-d %B %Y}. Ask the sender "
                          "of the invoice for a new link; the invoice itself is still valid.")
    return LinkClaims(invoice_id, customer_id, expires)


def verify(session: Session, token: str | None, *, now: datetime | None = None) -> Invoice:
    """The invoice a token opens — or :class:`LinkInvalid` with the message to show instead of anything else."""
    claims = read_token(token, now=now)
    inv = session.get(Invoice, claims.invoice_id)
    if inv is None or inv.customer_id != claims.customer_id or inv.status not in LINKABLE:
        raise LinkInvalid(NOT_VALID)
    return inv


# ---------------------------------------------------------------------------------------------------------------
# what the public page shows


@dataclass(frozen=True)
class PublicInvoice:
    """One invoice as its payment link shows it: the document's own formatted values (``context``, the same as its
    PDF: :func:`core.documents.render.invoice_context`) and what the page needs to offer payment."""

    token: str
    invoice_id: int
    context: dict
    status: str  # approved | partially_paid | paid | void
    amount_due: Decimal
    overdue: bool

    @property
    def payable(self) -> bool:
        return self.status in ("approved", "partially_paid") and self.amount_due > 0


def public_invoice(session: Session, token: str | None, *, now: datetime | None = None) -> PublicInvoice:
    from core.documents.render import invoice_context
    from core.invoicing import settlement

    inv = verify(session, token, now=now)
    due = settlement.due(inv) if inv.status in ("approved", "partially_paid") else ZERO
    today = (now or datetime.now(UTC)).date()
    return PublicInvoice(token=token.strip(), invoice_id=inv.id, context=invoice_context(session, inv.id),
                         status=inv.status, amount_due=due,
                         overdue=bool(due > 0 and inv.due_date and inv.due_date < today))


def public_invoice_pdf(session: Session, token: str | None) -> bytes:
    """The invoice's PDF, for the holder of a valid link (checked again: the page's state is never trusted)."""
    from core.documents.render import invoice_pdf

    return invoice_pdf(session, verify(session, token).id)


__all__ = ["DAYS_AFTER_DUE", "MIN_DAYS_LEFT", "NOT_VALID", "NO_TOKEN", "PAGE_PATH", "LinkClaims", "LinkInvalid",
           "PublicInvoice", "base_url", "expiry_for", "invoice_link", "invoice_token", "link_for_token", "make_token",
           "payment_link", "public_invoice", "public_invoice_pdf", "read_token", "secret", "verify"]
