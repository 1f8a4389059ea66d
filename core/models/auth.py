
from sqlalchemy import JSON, Column
from pydantic import NaiveDatetime
from sqlmodel import Field, SQLModel

from core.models.common import utcnow


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=100, unique=True)
    full_name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=300)
    role: str = Field(max_length=20)  # admin | finance | ops | sales | viewer
    active: bool = Field(default=True)
    failed_logins: int = Field(default=0)
    locked_until: NaiveDatetime | None = None
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    # permissions given on top of the role ("invoices:approve", …): core.auth.set_grants
    grants: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    # two-factor sign-in (TOTP, RFC 6238): the base32 secret once confirmed ("" = off), and the last time step a
    # code was accepted for, so a code is never accepted twice
    totp_secret: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    totp_last_step: int | None = None
    # the address the company's identity provider (OIDC) signs this person in with ("" = password only)
    email: str = Field(default="", max_length=200, sa_column_kwargs={"server_default": ""})


class AuditLog(SQLModel, table=True):
    """Who did what, when. Written by services; never edited."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: NaiveDatetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=60, index=True)
    entity_type: str = Field(max_length=40)
    entity_id: str = Field(default="", max_length=60)
    details: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
