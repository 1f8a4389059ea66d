
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
