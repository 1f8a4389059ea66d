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

RESOURCES = ("customers", "catalog", "contracts", "usage", "metrics", "invoices", "accounting", "receivables",
             "entitlements", "analytics", "pilot", "webhooks", "users", "audit")
ACTIONS = ("read", "write", "delete", "approve")


def _all(*actions: str, resources=RESOURCES) -> frozenset[str]:
    return frozenset(f"{r}:{a}" for r in resources for a in actions)


ROLES: dict[str, frozenset[str]] = {
    "admin": _all(*ACTIONS),
    "finance": _all("read") | _all("write", "delete", resources=("customers", "catalog", "contracts", "usage",
                                                                 "metrics", "invoices", "accounting", "receivables",
                                                                 "entitlements", "pilot", "webhooks"))
               | {"invoices:approve", "accounting:approve"},
    "ops": _all("read", resources=RESOURCES[:-2]) | _all("write", resources=("customers", "usage", "metrics",
                                                                              "entitlements")),
    "sales": _all("read", resources=RESOURCES[:-2]) | _all("write", resources=("customers", "contracts",
                                                                              "pilot")),
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


PERMISSIONS = tuple(f"{r}:{a}" for r in RESOURCES for a in ACTIONS)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in user (its role's permissions plus any extra ones an admin granted), an API key
    or a script (the CLI acts as 'cli' with the admin role)."""

    username: str
    role: str
    grants: frozenset[str] = frozenset()

    def can(self, permission: str) -> bool:
        return permission in ROLES.get(self.role, frozenset()) or permission in self.grants


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
    if before == "admin" and role != "admin":
        _keep_an_admin(session, user, "become " + role)
    user.role = role
    session.add(user)
    audit.record(session, actor=actor.username, action="user.role", entity_type="user", entity_id=user.id,
                 details={"before": before, "after": role})
    return user


def _keep_an_admin(session: Session, user: User, change: str) -> None:
    """Refuse a change that would leave nobody able to manage users."""
    others = session.exec(select(func.count()).select_from(User).where(
        User.role == "admin", User.active == True, User.id != user.id)).one()  # noqa: E712
    if not others:
        raise UserError(f"{user.username} is the only active admin and cannot {change}: make someone else an admin "
                        "first, so that somebody can still manage users")


def set_active(session: Session, actor: Actor, *, username: str, active: bool) -> User:
    """Let a person sign in, or stop them (someone who left): a deactivated user cannot sign in, and their open
    sessions end on their next page load; their name stays on everything they did. Not oneself, and never the
    last active admin."""
    require(actor, "users:write")
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise UserError(f"there is no user '{username}'")
    if user.active == bool(active):
        raise UserError(f"{username} {'can already' if active else 'already cannot'} sign in")
    if not active:
        if username == actor.username:
            raise UserError("you cannot deactivate yourself — ask another admin")
        if user.role == "admin":
            _keep_an_admin(session, user, "be deactivated")
    user.active = bool(active)
    session.add(user)
    audit.record(session, actor=actor.username, action="user.activate" if active else "user.deactivate",
                 entity_type="user", entity_id=user.id,
                 details={"before": "active" if not active else "deactivated",
                          "after": "active" if active else "deactivated"})
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
    if user.totp_secret:  # the password was right; the code from the authenticator app comes next
        raise TwoFactorRequired(_challenge(user.username))
    return actor_of(user)


def actor_of(user: User) -> Actor:
    return Actor(user.username, user.role, frozenset(user.grants or ()))


def actor_for(session: Session, username: str) -> Actor | None:
    """The actor of a signed-in user as the database has it now — its role and extra permissions changed by an
    admin count at once — or None when the user was deactivated or removed (the app signs them out)."""
    user = session.exec(select(User).where(User.username == username)).first()
    return actor_of(user) if user is not None and user.active else None


# --- two-factor sign-in (TOTP) ------------------------------------------------------------------------------

TOTP_ISSUER = "Counting House"
CHALLENGE_SECONDS = 300


class TwoFactorRequired(UserError):
    """The password was right and the account uses two-factor sign-in: ``challenge`` (signed, 5 minutes) goes
    with the code to :func:`complete_two_factor`; the password is not kept anywhere meanwhile."""

    def __init__(self, challenge: str) -> None:
        super().__init__("enter the 6-digit code your authenticator app shows for Counting House")
        self.challenge = challenge


def _challenge_sig(username: str, expires: int) -> str:
    import hashlib
    import hmac

    from core.portal_links import secret

    key = hmac.new(secret(), b"two-factor-challenge", hashlib.sha256).digest()
    return hmac.new(key, f"{username}:{expires}".encode(), hashlib.sha256).hexdigest()


def _challenge(username: str) -> str:
    import time

    expires = int(time.time()) + CHALLENGE_SECONDS
    return f"{username}:{expires}:{_challenge_sig(username, expires)}"


def _totp_step(secret: str, code: str, now: int) -> int | None:
    """The time step ``code`` is valid for (this one or its neighbours, for clocks a little apart), or None.
    ``now`` is the clock in whole seconds since 1970."""
    import hmac

    import pyotp

    code = "".join((code or "").split())
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    for offset in (0, -1, 1):
        at = int(now) + offset * totp.interval
        if hmac.compare_digest(totp.at(at), code):
            return int(at) // totp.interval
    return None


def complete_two_factor(session: Session, *, challenge: str, code: str, now: int | None = None) -> Actor:
    """Second step of a sign-in: the code for the challenge :func:`authenticate` gave. A wrong code counts as a
    failed sign-in (the same lock-out); a code already used is refused. The caller commits even on failure."""
    import hmac
    import time

    now = int(time.time()) if now is None else int(now)
    username, _, rest = (challenge or "").partition(":")
    expires_s, _, sig = rest.partition(":")
    if not expires_s.isdigit() or not hmac.compare_digest(_challenge_sig(username, int(expires_s)), sig):
        raise UserError("this sign-in was interrupted; start again with your username and password")
    if now > int(expires_s):
        raise UserError("the sign-in took too long; start again with your username and password")
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active or not user.totp_secret:
        raise UserError("start again with your username and password")
    if user.locked_until and user.locked_until > utcnow():
        raise UserError("too many failed sign-ins; try again in a few minutes")
    step = _totp_step(user.totp_secret, code, now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = utcnow() + LOCKOUT
            user.failed_logins = 0
        session.add(user)
        raise UserError("that code is not right (or was used already): type the code your app shows now")
    user.totp_last_step = step
    user.failed_logins = 0
    session.add(user)
    return actor_of(user)


def new_totp_secret(username: str) -> tuple[str, str]:
    """(secret, otpauth URI) to set up an authenticator app; nothing is stored until :func:`enable_totp`."""
    import pyotp

    secret = pyotp.random_base32()
    return secret, pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def enable_totp(session: Session, actor: Actor, *, secret: str, code: str, now: int | None = None) -> User:
    """Turn on two-factor sign-in for the actor's own account, once a code from the app proves it is set up."""
    import time

    user = session.exec(select(User).where(User.username == actor.username)).first()
    if user is None:
        raise UserError("two-factor sign-in is for user accounts")
    step = _totp_step(secret, code, int(time.time()) if now is None else int(now))
    if step is None:
        raise UserError("code: that is not the code your app shows for this key; check the key and try again")
    user.totp_secret, user.totp_last_step = secret, step
    session.add(user)
    audit.record(session, actor=actor.username, action="user.two_factor", entity_type="user", entity_id=user.id,
                 details={"before": "off", "after": "on"})
    return user


def disable_totp(session: Session, actor: Actor, *, username: str) -> User:
    """Turn two-factor sign-in off: for one's own account, or an admin for anyone (a lost phone)."""
    if username != actor.username:
        require(actor, "users:write")
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise UserError(f"there is no user '{username}'")
    user.totp_secret, user.totp_last_step = "", None
    session.add(user)
    audit.record(session, actor=actor.username, action="user.two_factor", entity_type="user", entity_id=user.id,
                 details={"before": "on", "after": "off"})
    return user


# --- extra permissions and identity-provider sign-in -------------------------------------------------------

def set_grants(session: Session, actor: Actor, *, username: str, grants) -> User:
    """Permissions on top of the user's role (say, invoices:approve for one ops lead)."""
    require(actor, "users:write")
    chosen = sorted({str(g).strip() for g in (grants or []) if str(g).strip()})
    unknown = [g for g in chosen if g not in PERMISSIONS]
    if unknown:
        raise UserError(f"permissions: {', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not known; use "
                        "resource:action, e.g. invoices:approve")
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise UserError(f"there is no user '{username}'")
    before = sorted(user.grants or [])
    user.grants = chosen
    session.add(user)
    audit.record(session, actor=actor.username, action="user.grants", entity_type="user", entity_id=user.id,
                 details={"before": before, "after": chosen})
    return user


def set_email(session: Session, actor: Actor, *, username: str, email: str) -> User:
    """The address the company's identity provider signs this user in with ("" = password only)."""
    require(actor, "users:write")
    email = (email or "").strip().lower()
    if email and ("@" not in email or " " in email or len(email) > 200):
        raise UserError(f"email: '{email}' is not an email address")
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise UserError(f"there is no user '{username}'")
    if email and session.exec(select(User).where(User.email == email, User.id != user.id)).first():
        raise UserError(f"email: {email} already signs in as another user")
    before, user.email = user.email, email
    session.add(user)
    audit.record(session, actor=actor.username, action="user.email", entity_type="user", entity_id=user.id,
                 details={"before": before, "after": email})
    return user


def actor_for_identity(session: Session, email: str | None, *, email_verified: bool | str | None = None) -> Actor:
    """The user the identity provider signed in (by its verified email address). ``email_verified`` is the ID
    token's claim of that name: an address the provider says it has not verified (false, or the string "false")
    signs nobody in — else anyone could register a colleague's address with a self-service provider; a provider
    that does not send the claim (None) is taken at its word."""
    email = (email or "").strip().lower()
    if email and str(email_verified).strip().lower() in ("false", "0"):
        raise UserError(f"{email}: your identity provider has not verified this address, so it cannot sign you in; "
                        "verify the address with your provider, or sign in with your username and password")
    user = session.exec(select(User).where(User.email == email)).first() if email else None
    if user is None or not user.active:
        raise UserError(f"{email or 'this account'} is not a user of Counting House; ask an admin to add your "
                        "address on the Users page")
    audit.record(session, actor=user.username, action="user.sign_in", entity_type="user", entity_id=user.id,
                 details={"via": "identity provider", "email": email})
    return actor_of(user)


def list_users(session: Session, actor: Actor) -> list[User]:
    require(actor, "users:read")
    return list(session.exec(select(User).order_by(User.username)))
