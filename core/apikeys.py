"""API keys for the REST API: created by an admin, shown once, stored only as a SHA-256 hash.

A key looks like ``ch_live_`` + 32 random URL-safe characters. Its first 12 characters (``prefix``) are kept in
clear so people can tell keys apart; the rest exists only in the hash. A key acts as an :class:`ApiKeyActor`
named ``api-key:<name>`` whose permissions are exactly its scopes (``<resource>:<action>`` such as
``usage:write``, ``customers:read`` or ``invoices:approve``; see :data:`SCOPES`), so the services' ordinary
``require`` checks apply to it unchanged. Creating and revoking a key is audited (the
secret is never logged).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select as sa_select
from sqlalchemy import update as sa_update
from sqlalchemy.engine import Connection
from sqlmodel import Session, select

from core import audit
from core.auth import Actor, require
from core.errors import NotFound, UserError
from core.models import utcnow
from core.models.platform import ApiKey

SECRET_PREFIX = "ch_live_"
SECRET_RANDOM_CHARS = 32
PREFIX_LENGTH = 12
# Scopes are "<resource>:<action>", the permissions of core.auth (a key's actor can() exactly its scopes, so the
# services' own require() checks apply to it). Resources of the REST API and what each action lets a key do:
SCOPE_RESOURCES: dict[str, str] = {
    "customers": "Customers",
    "catalog": "Products and plans",
    "contracts": "Contracts",
    "usage": "Usage events",
    "metrics": "Billable metrics",
    "invoices": "Invoices, credit notes and payments",
    "accounting": "Accounting (ledger)",
    "receivables": "Receivables (segments, dunning)",
    "entitlements": "Entitlements",
}
_SCOPE_TEXT: dict[str, dict[str, str]] = {
    "customers": {"read": "List, read and export customers",
                  "write": "Create, update, import and restore customers; open customer portal sessions",
                  "delete": "Archive customers (nothing is deleted)"},
    "catalog": {"read": "List and read products and plans", "write": "Create products and plans"},
    "contracts": {"read": "List and read contracts", "write": "Create, activate and amend contracts"},
    "usage": {"write": "Send usage events (POST /v1/events, /v1/events/batch)",
              "read": "Read usage (reserved for the read endpoints)"},
    "metrics": {"read": "List and read billable metrics", "write": "Create billable metrics"},
    "invoices": {"read": "List and read invoices, credit notes, payments; download PDFs",
                 "write": "Generate draft invoices, record payments",
                 "approve": "Approve invoices, issue credit notes, void invoices"},
    "accounting": {"read": "Read accounting data"},
    "receivables": {"read": "Read receivables segments and their members", "write": "Create and change segments",
                    "delete": "Delete segments"},
    "entitlements": {"read": "Read and check entitlements", "write": "Grant entitlements and end them early"},
}
SCOPE_ACTIONS = ("read", "write", "delete", "approve")
SCOPES: dict[str, str] = {
    f"{resource}:{action}": _SCOPE_TEXT.get(resource, {}).get(action, f"{action.capitalize()} {label.lower()}")
    for resource, label in SCOPE_RESOURCES.items() for action in SCOPE_ACTIONS
}


def scopes_by_resource() -> dict[str, list[str]]:
    """resource -> its scopes, in SCOPE_ACTIONS order (for a form that groups them)."""
    out: dict[str, list[str]] = {}
    for scope in SCOPES:
        out.setdefault(scope.partition(":")[0], []).append(scope)
    return out
LAST_USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often (not once per request)
MAX_NAME_LENGTH = ApiKey.__table__.c.name.type.length or 100


class KeyRefused(UserError):
    """The key is missing, unknown or revoked (the API answers 401)."""


@dataclass(frozen=True)
class ApiKeyActor(Actor):
    """An actor whose permissions are the key's scopes (not a user role)."""

    scopes: frozenset[str] = field(default_factory=frozenset)
    key_id: int = 0

    def can(self, permission: str) -> bool:
        return permission in self.scopes


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _new_secret() -> str:
    # token_urlsafe(24) gives exactly 32 URL-safe characters (24 bytes of randomness, base64 without padding).
    token = secrets.token_urlsafe(24)
    assert len(token) == SECRET_RANDOM_CHARS
    return SECRET_PREFIX + token


def _clean_scopes(scopes) -> list[str]:
    chosen = sorted({str(s).strip() for s in scopes or [] if str(s).strip()})
    if not chosen:
        raise UserError("choose at least one scope, for example usage:write or customers:read")
    unknown = [s for s in chosen if s not in SCOPES]
    if unknown:
        raise UserError(f"unknown scope {', '.join(repr(s) for s in unknown)}; a scope is <resource>:<action> with "
                        f"a resource among {', '.join(SCOPE_RESOURCES)} and an action among "
                        f"{', '.join(SCOPE_ACTIONS)} (for example customers:read)")
    return chosen


def create_key(session: Session, actor: Actor, name: str, scopes) -> tuple[ApiKey, str]:
    """Create a key. Returns ``(key, secret)``: the secret is shown to the person once and never stored."""
    require(actor, "users:write")
    name = (name or "").strip()
    if not name:
        raise UserError("a name is required, for example the system that will use the key ('warehouse sync')")
    if len(name) > MAX_NAME_LENGTH:
        raise UserError(f"the name is {len(name)} characters long; at most {MAX_NAME_LENGTH} fit")
    if session.exec(select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None))).first():
        raise UserError(f"an active key named '{name}' already exists; choose another name or revoke it first")
    chosen = _clean_scopes(scopes)
    secret = _new_secret()
    while session.exec(select(ApiKey.id).where(ApiKey.prefix == secret[:PREFIX_LENGTH])).first():
        secret = _new_secret()  # the prefix is unique (display); a clash is ~1 in 10^12 per pair
    key = ApiKey(name=name, prefix=secret[:PREFIX_LENGTH], key_hash=hash_secret(secret), scopes=chosen,
                 created_by=actor.username)
    session.add(key)
    session.flush()
    audit.record(session, actor=actor.username, action="api_key.create", entity_type="api_key", entity_id=key.id,
                 details={"name": name, "prefix": key.prefix, "scopes": chosen})
    return key, secret


def list_keys(session: Session, actor: Actor) -> list[ApiKey]:
    require(actor, "users:read")
    return list(session.exec(select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(),
                                                     ApiKey.id.desc())))


def revoke_key(session: Session, actor: Actor, key_id: int) -> ApiKey:
    """Revoke a key: every request with it is refused from now on. Revoking twice is refused."""
    require(actor, "users:write")
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"there is no API key #{key_id}")
    if key.revoked_at is not None:
        raise UserError(f"the key '{key.name}' was already revoked on {key.revoked_at:%d %b %Y %H:%M} UTC")
    key.revoked_at = utcnow()
    session.add(key)
    audit.record(session, actor=actor.username, action="api_key.revoke", entity_type="api_key", entity_id=key.id,
                 details={"name": key.name, "prefix": key.prefix, "before": "active", "after": "revoked"})
    return key


_KEYS = ApiKey.__table__
_LOOKUP_COLUMNS = ("id", "name", "key_hash", "scopes", "revoked_at", "last_used_at")


def _key_row(conn: Connection, prefix: str) -> tuple | None:
    """``(id, name, key_hash, scopes, revoked_at, last_used_at)`` of the key with this prefix, read on every
    request (so a revocation counts from the next request on). On SQLite and PostgreSQL through the driver's own
    cursor on the session's connection (one indexed lookup, a few microseconds instead of an ORM query), the
    values converted by the columns' own SQLAlchemy types; elsewhere with a Core select."""
    dialect = conn.dialect
    if dialect.name not in ("sqlite", "postgresql"):
        found = conn.execute(sa_select(*(_KEYS.c[c] for c in _LOOKUP_COLUMNS)).where(_KEYS.c.prefix == prefix))
        row = found.first()
        return tuple(row) if row is not None else None
    mark = "?" if dialect.name == "sqlite" else "%s"
    cur = conn.connection.driver_connection.cursor()
    try:
        cur.execute(f"SELECT {', '.join(_LOOKUP_COLUMNS)} FROM api_key WHERE prefix = {mark}", (prefix,))
        row = cur.fetchone()
    finally:
        cur.close()
    if row is None:
        return None
    procs = _processors.get(dialect)
    if procs is None:
        procs = _processors[dialect] = [_KEYS.c[c].type.dialect_impl(dialect).result_processor(dialect, None)
                                        for c in _LOOKUP_COLUMNS]
    return tuple(v if p is None or v is None else p(v) for p, v in zip(procs, row))


_processors: dict = {}  # dialect -> result processors of _LOOKUP_COLUMNS (built once per dialect)


def authenticate_key(session: Session | Connection, secret: str, *, now: datetime | None = None) -> ApiKeyActor:
    """The actor for a secret, or :class:`KeyRefused`. The key is looked up on every call (nothing cached: a
    revoked key is refused from the next request on); the hash is compared in constant time; ``last_used_at``
    is written at most once per :data:`LAST_USED_EVERY` (the caller commits). ``session`` is the caller's
    transaction: an ORM Session (flushed first, as its autoflush would) or a Core Connection."""
    secret = (secret or "").strip()
    if not secret:
        raise KeyRefused("an API key is required: send the header 'Authorization: Bearer <key>'")
    if not secret.startswith(SECRET_PREFIX) or len(secret) != len(SECRET_PREFIX) + SECRET_RANDOM_CHARS:
        raise KeyRefused("the API key is not valid")
    digest = hash_secret(secret)
    if isinstance(session, Session):
        session.flush()
        conn = session.connection()
    else:
        conn = session
    row = _key_row(conn, secret[:PREFIX_LENGTH])
    # Compare even when no key has that prefix, so an unknown key takes as long as a wrong one.
    stored = row[2] if row is not None else "0" * 64
    if not hmac.compare_digest(stored.encode(), digest.encode()) or row is None:
        raise KeyRefused("the API key is not valid")
    key_id, name, _hash, scopes, revoked_at, last_used_at = row
    if revoked_at is not None:
        raise KeyRefused(f"the API key '{secret[:PREFIX_LENGTH]}…' was revoked; ask an admin for a new one")
    now = now or utcnow()
    if last_used_at is None or now - last_used_at >= LAST_USED_EVERY:
        conn.execute(sa_update(_KEYS).where(_KEYS.c.id == key_id).values(last_used_at=now))
    return ApiKeyActor(f"api-key:{name}", "api", scopes=frozenset(scopes or ()), key_id=key_id or 0)
