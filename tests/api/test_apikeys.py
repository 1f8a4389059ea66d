"""API keys in the database (SQLite and PostgreSQL): shown once, stored only as a hash, audited, revocable."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text

from core import audit
from core.apikeys import KeyRefused, authenticate_key, create_key, list_keys, revoke_key
from core.auth import SYSTEM, Actor
from core.errors import PermissionDenied, UserError


def test_the_secret_is_never_stored_in_clear(session):
    key, secret = create_key(session, SYSTEM, "warehouse", ["usage:write"])
    session.commit()
    assert secret.startswith("ch_live_") and len(secret) == 40 and key.prefix == secret[:12]
    rows = session.connection().execute(text("SELECT * FROM api_key")).mappings().all()
    dump = repr([dict(r) for r in rows])
    assert secret not in dump and secret[12:] not in dump
    assert rows[0]["key_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    audit_dump = repr([(a.action, a.details) for a in audit.recent(session)])
    assert secret[12:] not in audit_dump


def test_create_and_revoke_are_audited_and_need_users_write(session):
    with pytest.raises(PermissionDenied):
        create_key(session, Actor("omar", "ops"), "x", ["usage:write"])
    key, secret = create_key(session, Actor("ada", "admin"), "crm", ["usage:write", "usage:read"])
    revoke_key(session, Actor("ada", "admin"), key.id)
    session.commit()
    entries = {e.action: e for e in audit.recent(session)}
    assert entries["api_key.create"].actor == "ada" and entries["api_key.create"].details["scopes"] == [
        "usage:read", "usage:write"]
    assert entries["api_key.revoke"].entity_id == str(key.id)
    with pytest.raises(KeyRefused, match="revoked"):
        authenticate_key(session, secret)
    with pytest.raises(UserError, match="already revoked"):
        revoke_key(session, SYSTEM, key.id)


def test_authentication_and_scopes(session):
    _key, secret = create_key(session, SYSTEM, "sync", ["usage:write"])
    actor = authenticate_key(session, secret)
    assert actor.username == "api-key:sync" and actor.can("usage:write") and not actor.can("usage:read")
    assert not actor.can("users:write")
    for bad in ("", "ch_live_short", secret[:-1] + ("A" if secret[-1] != "A" else "B")):
        with pytest.raises(KeyRefused):
            authenticate_key(session, bad)


def test_bad_input_is_refused(session):
    with pytest.raises(UserError, match="name is required"):
        create_key(session, SYSTEM, " ", ["usage:write"])
    for bad in ("users:write", "audit:read", "customers:fly", "customers"):
        with pytest.raises(UserError, match="unknown scope"):
            create_key(session, SYSTEM, "x", [bad])
    with pytest.raises(UserError, match="at least one scope"):
        create_key(session, SYSTEM, "x", [])
    create_key(session, SYSTEM, "same", ["usage:write"])
    with pytest.raises(UserError, match="already exists"):
        create_key(session, SYSTEM, "same", ["usage:write"])
    assert [k.name for k in list_keys(session, SYSTEM)] == ["same"]


def test_scopes_per_resource_and_action(session):
    """Every API resource has read/write/delete/approve scopes; a key can do exactly what its scopes say, and the
    services' own require() checks refuse the rest. Keys made before the finer scopes keep working."""
    from core.apikeys import SCOPES, scopes_by_resource
    from core.auth import require

    assert set(scopes_by_resource()) == {"customers", "catalog", "contracts", "usage", "metrics", "invoices",
                                         "accounting", "receivables", "entitlements"}
    assert {"usage:write", "usage:read", "invoices:approve", "customers:read"} <= set(SCOPES)
    assert not any(s.startswith(("users:", "audit:")) for s in SCOPES)
    _key, secret = create_key(session, SYSTEM, "crm", ["customers:read", "customers:write", "invoices:read"])
    actor = authenticate_key(session, secret)
    require(actor, "customers:write")
    with pytest.raises(PermissionDenied, match="may not approve invoices"):
        require(actor, "invoices:approve")
    # an old key stored with only usage:write still authenticates with that scope
    session.connection().execute(text("UPDATE api_key SET scopes = '[\"usage:write\"]' WHERE name = 'crm'"))
    assert authenticate_key(session, secret).scopes == frozenset({"usage:write"})
