"""Who the identity provider's answer signs in (core.auth.actor_for_identity), on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from sqlmodel import select

from core.auth import actor_for_identity, actor_of, create_first_admin, create_user, set_active, set_email
from core.errors import UserError
from core.models import AuditLog

PW = "a long password 123"


def _people(session):  # noqa: ANN001, ANN202
    admin = actor_of(create_first_admin(session, username="ada", password=PW))
    create_user(session, admin, username="fiona", password=PW, role="finance")
    set_email(session, admin, username="fiona", email="fiona@corp.example")
    return admin


def _sign_ins(session) -> list[AuditLog]:  # noqa: ANN001
    return list(session.exec(select(AuditLog).where(AuditLog.action == "user.sign_in").order_by(AuditLog.id)))


@pytest.mark.parametrize("claim", [True, "true", None])
def test_a_verified_address_signs_in_its_user_and_is_audited(session, claim):  # noqa: ANN001
    _people(session)
    actor = actor_for_identity(session, " Fiona@Corp.Example", email_verified=claim)  # as a provider may spell it
    assert (actor.username, actor.role) == ("fiona", "finance")
    [log] = _sign_ins(session)
    assert (log.actor, log.details) == ("fiona", {"via": "identity provider", "email": "fiona@corp.example"})


@pytest.mark.parametrize("claim", [False, "false", "False", 0])
def test_an_address_the_provider_has_not_verified_signs_nobody_in(session, claim):  # noqa: ANN001
    _people(session)
    with pytest.raises(UserError, match="fiona@corp.example: your identity provider has not verified this address"):
        actor_for_identity(session, "fiona@corp.example", email_verified=claim)
    assert _sign_ins(session) == []


def test_no_address_an_unknown_one_or_a_deactivated_user_signs_nobody_in(session):  # noqa: ANN001
    admin = _people(session)
    with pytest.raises(UserError, match="^this account is not a user of Counting House"):
        actor_for_identity(session, None)  # a provider that sends no email claim (scope without "email")
    with pytest.raises(UserError, match="^stranger@corp.example is not a user of Counting House; ask an admin"):
        actor_for_identity(session, "stranger@corp.example")
    set_active(session, admin, username="fiona", active=False)
    with pytest.raises(UserError, match="^fiona@corp.example is not a user of Counting House"):
        actor_for_identity(session, "fiona@corp.example")
    assert _sign_ins(session) == []
