"""The REST API's own records: the answers to POST requests sent with an ``Idempotency-Key`` header, so a retried
request gets the same answer instead of doing the work twice (core.api_idempotency)."""
from pydantic import NaiveDatetime
from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.models.common import utcnow

__all__ = ["ApiIdempotency"]


class ApiIdempotency(SQLModel, table=True):
    """One POST done with an Idempotency-Key: the key that sent it, the header's value, what was asked (method and
    path, a SHA-256 of the request) and the answer given (status and JSON body). Written in the same transaction as
    the action itself, so either both are stored or neither is."""

    __tablename__ = "api_idempotency"
    __table_args__ = (UniqueConstraint("api_key_id", "idempotency_key", name="uq_api_idempotency_key"),)
    id: int | None = Field(default=None, primary_key=True)
    api_key_id: int = Field(foreign_key="api_key.id")
    idempotency_key: str = Field(max_length=255)
    method_path: str = Field(max_length=300)
    request_hash: str = Field(max_length=64)
    status_code: int
    response_body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: NaiveDatetime = Field(default_factory=utcnow, index=True)
