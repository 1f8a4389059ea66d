"""Extra permissions on top of a role, two-factor sign-in (TOTP) and the identity-provider mapping (issue 8)."""
import time

import pyotp
import pytest
from sqlmodel import select

from core.auth import (
    Actor, TwoFactorRequired, actor_for, actor_for_identity, authenticate, complete_two_factor, create_first_admin,
    create_user, disable_totp, enable_totp, new_totp_secret, set_active, set_email, set_grants, set_role,
)
from core.errors import PermissionDenied, UserError
from core.models import AuditLog, User

ADMIN = Actor("ada", "admin")
PW = "correct horse battery"


@pytest.fixture(autouse=True)
def _secret(monkeypatch):
    monkeypatch.setenv("PORTAL_SECRET", "sign-in-challenge-secret-0123456789abcdef")


def _users(session):
    create_first_admin(session, username="ada", password=PW)
    create_user(session, ADMIN, username="otto", password=PW, role="ops")


def test_extra_permissions_count_at_once_and_are_audited(session):
    _users(session)
    assert not actor_for(session, "otto").can("invoices:approve")
    with pytest.raises(UserError, match="invoices:aprove is not known"):
        set_grants(session, ADMIN, username="otto", grants=["invoices:aprove"])
    with pytest.raises(PermissionDenied):
        set_grants(session, Actor("otto", "ops"), username="otto", grants=["invoices:approve"])
    set_grants(session, ADMIN, username="otto", grants=["invoices:approve", "invoices:approve"])
    otto = actor_for(session, "otto")
    assert otto.can("invoices:approve") and not otto.can("invoices:write") and otto.grants == {"invoices:approve"}
    [log] = session.exec(select(AuditLog).where(AuditLog.action == "user.grants")).all()
    assert log.details == {"before": [], "after": ["invoices:approve"]} and log.actor == "ada"
    user = session.exec(select(User).where(User.username == "otto")).one()
    user.active = False
    session.add(user)
    assert actor_for(session, "otto") is None  # deactivated: signed out on the next page load


def test_two_factor_sign_in(session):
    _users(session)
    secret, uri = new_totp_secret("otto")
    assert uri.startswith("otpauth://totp/Counting%20House:otto?secret=" + secret)
    totp, now = pyotp.TOTP(secret), time.time()
    with pytest.raises(UserError, match="not the code"):
        enable_totp(session, Actor("otto", "ops"), secret=secret, code="000000" if totp.at(now) != "000000" else "1")
    enable_totp(session, Actor("otto", "ops"), secret=secret, code=totp.at(now - 30), now=now)
    with pytest.raises(TwoFactorRequired) as step1:
        authenticate(session, username="otto", password=PW)
    challenge = step1.value.challenge
    with pytest.raises(UserError, match="used already"):  # the code that turned it on cannot sign in
        complete_two_factor(session, challenge=challenge, code=totp.at(now - 30), now=now)
    actor = complete_two_factor(session, challenge=challenge, code=totp.at(now), now=now)
    assert actor.username == "otto" and actor.role == "ops"
    with pytest.raises(UserError, match="used already"):  # never twice
        complete_two_factor(session, challenge=challenge, code=totp.at(now), now=now)
    user, tampered = challenge.split(":", 1)
    with pytest.raises(UserError, match="interrupted"):
        complete_two_factor(session, challenge=f"ada:{tampered}", code=totp.at(now + 30), now=now)
    with pytest.raises(UserError, match="too long"):
        complete_two_factor(session, challenge=challenge, code=totp.at(now + 400), now=now + 400)
    # wrong (or reused) codes count as failed sign-ins: the reuse above (after the last success) and four more lock
    for _ in range(4):
        with pytest.raises(UserError, match="not right"):
            complete_two_factor(session, challenge=challenge, code="12345x", now=now)
    with pytest.raises(UserError, match="too many failed sign-ins"):
        complete_two_factor(session, challenge=challenge, code=totp.at(now + 30), now=now + 30)
    with pytest.raises(PermissionDenied):
        disable_totp(session, Actor("otto", "ops"), username="ada")
    disable_totp(session, ADMIN, username="otto")
    assert session.exec(select(User).where(User.username == "otto")).one().totp_secret == ""
    assert [a.details["after"] for a in session.exec(select(AuditLog).where(AuditLog.action == "user.two_factor")
                                                     .order_by(AuditLog.id))] == ["on", "off"]


def test_identity_provider_sign_in_by_email(session):
    _users(session)
    with pytest.raises(UserError, match="not a user of Counting House"):
        actor_for_identity(session, "otto@corp.example")
    set_email(session, ADMIN, username="otto", email="Otto@Corp.example ")
    with pytest.raises(UserError, match="already signs in as another user"):
        set_email(session, ADMIN, username="ada", email="otto@corp.example")
    with pytest.raises(UserError, match="is not an email address"):
        set_email(session, ADMIN, username="ada", email="ada at corp")
    assert actor_for_identity(session, "otto@corp.example").username == "otto"


def test_the_audit_log_is_append_only_in_the_database(session):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    _users(session)
    session.commit()
    [first] = session.exec(select(AuditLog.id).order_by(AuditLog.id).limit(1)).all()
    for sql in ("UPDATE audit_log SET actor = 'mallory' WHERE id = :i", "DELETE FROM audit_log WHERE id = :i"):
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(sql), {"i": first})
        session.rollback()
    assert session.get(AuditLog, first).actor == "ada"


def test_a_deactivated_user_cannot_sign_in_and_the_last_admin_stays(session):
    _users(session)
    set_active(session, ADMIN, username="otto", active=False)
    assert actor_for(session, "otto") is None  # an open session ends on its next page load
    with pytest.raises(UserError):
        authenticate(session, username="otto", password=PW)
    with pytest.raises(UserError, match="already cannot sign in"):
        set_active(session, ADMIN, username="otto", active=False)
    with pytest.raises(PermissionDenied):
        set_active(session, Actor("otto", "finance"), username="otto", active=True)
    with pytest.raises(UserError, match="cannot deactivate yourself"):
        set_active(session, ADMIN, username="ada", active=False)
    with pytest.raises(UserError, match="ada is the only active admin and cannot become viewer"):
        set_role(session, Actor("root", "admin"), username="ada", role="viewer")
    assert session.exec(select(User).where(User.username == "ada")).one().role == "admin"
    set_active(session, ADMIN, username="otto", active=True)
    assert actor_for(session, "otto").role == "ops"
    set_role(session, ADMIN, username="otto", role="admin")  # now there are two admins: one may step down
    set_role(session, Actor("otto", "admin"), username="ada", role="finance")
    logs = session.exec(select(AuditLog).where(AuditLog.action.in_(("user.deactivate", "user.activate")))
                        .order_by(AuditLog.id)).all()
    assert [(a.action, a.details["before"], a.details["after"]) for a in logs] == [
        ("user.deactivate", "active", "deactivated"), ("user.activate", "deactivated", "active")]
