"""Users, roles and permissions. Every service that changes something takes an ``Actor`` and calls
:func:`require` first, so the app, the API and the CLI obey the same rules."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, func, select

from core import audit
from core.errors import PermissionDenied, UserError
from core.models import User, utcnow

_hasher = PasswordHasher()

RESOURCES = ("customers", "catalog", "contracts", "usage", "metrics", "invoices", "accounting", "users", "audit")
ACTIONS = ("read", "write", "delete", "approve")


def _all(*actions: str, resources=RESOURCES) -> frozenset[str]:
    return frozenset(f"{r}:{a}" for r in resources for a in actions)


ROLES: dict[str, frozenset[str]] = {
    "admin": _all(*ACTIONS),
    "finance": _all("read") | _all("write", "delete", resources=("customers", "catalog", "contracts", "usage",
                                                                 "metrics", "invoices", "accounting"))
               | {"invoices:approve", "accounting:approve"},
    "ops": _all("read", resources=RESOURCES[:-2]) | _all("write", resources=("customers", "usage", "metrics")),
    "sales": _all("read", resources=RESOURCES[:-2]) | _all("write", resources=("customers", "contracts")),
    "viewer": _all("read", resources=RESOURCES[:-2]),
}
ROLE_LABELS = {
    "admin": "Admin — everything, including users",
    "finance": "Finance — billing, approvals and the audit log",
    "ops": "Ops — customers, usage uploads and metrics",
    "sales": "Sales — customers and contracts",
    "viewer": "Viewer — read only",
}

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=5)
MIN_PASSWORD_LENGTH = 10


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user, an API key or a script (the CLI acts as 'cli' with the admin role)."""

    username: str
    role: str

    def can(self, permission: str) -> bool:
        return permission in ROLES.get(self.role, frozenset())


SYSTEM = Actor("system", "admin")


def require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        resource, _, action = permission.partition(":")
        raise PermissionDenied(f"{actor.username} ({actor.role}) may not {action} {resource}; ask an admin for access")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def has_users(session: Session) -> bool:
    return (session.exec(select(func.count()).select_from(User)).one() or 0) > 0


def create_first_admin(session: Session, *, username: str, password: str, full_name: str = "") -> User:
    """First start: create the admin. Refused once any user exists (there is no default password)."""
    if has_users(session):
        raise UserError("an admin already exists; sign in instead")
    return _create(session, username=username, password=password, role="admin", full_name=full_name,
                   actor_name=username)


def create_user(session: Session, actor: Actor, *, username: str, password: str, role: str,
                full_name: str = "") -> User:
    require(actor, "users:write")
    return _create(session, username=username, password=password, role=role, full_name=full_name,
                   actor_name=actor.username)


def _create(session: Session, *, username: str, password: str, role: str, full_name: str, actor_name: str) -> User:
    username = (username or "").strip().lower()
    if not username:
        raise UserError("a username is required")
    if role not in ROLES:
        raise UserError(f"'{role}' is not a role; choose one of {', '.join(ROLES)}")
    _check_password(password)
    if session.exec(select(User).where(User.username == username)).first():
        raise UserError(f"the username '{username}' is taken")
    user = User(username=username, full_name=full_name.strip(), password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    audit.record(session, actor=actor_name, action="user.create", entity_type="user", entity_id=user.id,
                 details={"username": username, "role": role})
    return user


def set_role(session: Session, actor: Actor, *, username: str, role: str) -> User:
    require(actor, "users:write")
    if role not in ROLES:
        raise UserError(f"'{role}' is not a role; choose one of {', '.join(ROLES)}")
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise UserError(f"there is no user '{username}'")
    before = user.role
    user.role = role
    session.add(user)
    audit.record(session, actor=actor.username, action="user.role", entity_type="user", entity_id=user.id,
                 details={"before": before, "after": role})
    return user


def authenticate(session: Session, *, username: str, password: str) -> Actor:
    """Check a password. After MAX_FAILED_LOGINS failures the account is locked for LOCKOUT.
    The caller must commit even on failure (the failure count is part of the state)."""
    username = (username or "").strip().lower()
    user = session.exec(select(User).where(User.username == username)).first()
    now = utcnow()
    if user is None or not user.active:
        _hasher.hash("timing-equaliser")
        raise UserError("unknown username or wrong password")
    if user.locked_until and user.locked_until > now:
        raise UserError("too many failed sign-ins; try again in a few minutes")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
        session.add(user)
        raise UserError("unknown username or wrong password") from None
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.add(user)
    return Actor(user.username, user.role)


def list_users(session: Session, actor: Actor) -> list[User]:
    require(actor, "users:read")
    return list(session.exec(select(User).order_by(User.username)))
