"""Saved customer segments (receivables): a segment is groups of conditions over customer fields and invoice
facts — conditions within a group are AND-ed, groups are OR-ed. Membership is compiled to one SQL query
(core/receivables/segments.py)."""
from pydantic import NaiveDatetime
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from core.models.common import utcnow

__all__ = ["Segment"]


class Segment(SQLModel, table=True):
    __tablename__ = "segment"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    description: str = Field(default="", max_length=500)
    # {"groups": [[{"field": "country", "op": "in", "value": ["DE", "FR"]}, ...], ...]}
    rules: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_by: str = Field(default="", max_length=100)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    updated_by: str = Field(default="", max_length=100)
    updated_at: NaiveDatetime = Field(default_factory=utcnow)
