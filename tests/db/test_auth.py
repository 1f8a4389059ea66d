"""Sign-in, first admin, lock-out and roles enforced in the services."""
import pytest
from sqlmodel import select

from core.auth import (MAX_FAILED_LOGINS, Actor, authenticate, create_first_admin, create_user, set_role)
from core.errors import PermissionDenied, UserError
from core.models import AuditLog, User


def test_first_admin_once_and_password_is_hashed(session):
    create_first_admin(session, username="Jane", password="correct horse battery")
    user = session.exec(select(User)).one()
    assert user.username == "jane" and user.role == "admin"
    assert "correct horse" not in user.password_hash and user.password_hash.startswith("$argon2")
    with pytest.raises(UserError, match="already exists"):
        create_first_admin(session, username="eve", password="another password")
    assert authenticate(session, username="jane", password="correct horse battery") == Actor("jane", "admin")


def test_short_password_and_unknown_role_are_refused(session):
    admin = create_first_admin(session, username="jane", password="correct horse battery")
    actor = Actor(admin.username, admin.role)
    with pytest.raises(UserError, match="at least 10"):
        create_user(session, actor, username="bob", password="short", role="finance")
    with pytest.raises(UserError, match="not a role"):
        create_user(session, actor, username="bob", password="long enough pw", role="owner")


def test_lockout_after_repeated_failures(session):
    create_first_admin(session, username="jane", password="correct horse battery")
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(UserError, match="wrong password"):
            authenticate(session, username="jane", password="guess")
    with pytest.raises(UserError, match="too many failed sign-ins"):
        authenticate(session, username="jane", password="correct horse battery")


@pytest.mark.parametrize("role", ["finance", "ops", "sales", "viewer"])
def test_only_admins_manage_users(session, role):
    create_first_admin(session, username="jane", password="correct horse battery")
    with pytest.raises(PermissionDenied):
        create_user(session, Actor("x", role), username="bob", password="long enough pw", role="admin")


def test_role_change_is_audited_with_before_and_after(session):
    admin = create_first_admin(session, username="jane", password="correct horse battery")
    actor = Actor(admin.username, admin.role)
    create_user(session, actor, username="bob", password="long enough pw", role="viewer")
    set_role(session, actor, username="bob", role="finance")
    entry = session.exec(select(AuditLog).where(AuditLog.action == "user.role")).one()
    assert entry.actor == "jane" and entry.details == {"before": "viewer", "after": "finance"}
