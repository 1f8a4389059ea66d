from pydantic import NaiveDatetime
from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.models.common import utcnow


class DocumentTemplate(SQLModel, table=True):
    """A business entity's own version of a document or email template (the built-in one applies otherwise)."""

    __tablename__ = "document_template"
    __table_args__ = (UniqueConstraint("entity_id", "kind", name="uq_document_template_kind"),)
    id: int | None = Field(default=None, primary_key=True)
    entity_id: int = Field(foreign_key="business_entity.id", index=True)
    kind: str = Field(max_length=40)  # invoice | invoice_email_subject | invoice_email_body | …
    body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    updated_by: str = Field(default="", max_length=100)
    updated_at: NaiveDatetime = Field(default_factory=utcnow)


class EmailLog(SQLModel, table=True):
    """Every email sent (or tried) with a document: to whom, what, and what the mail server said."""

    __tablename__ = "email_log"
    id: int | None = Field(default=None, primary_key=True)
    entity_id: int = Field(foreign_key="business_entity.id", index=True)
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    document: str = Field(default="invoice", max_length=40)
    sender: str = Field(default="", max_length=200)
    recipients: str = Field(default="", max_length=500)
    subject: str = Field(default="", max_length=300)
    attachment: str = Field(default="", max_length=200)  # file name
    attachment_bytes: int = Field(default=0)
    status: str = Field(default="queued", max_length=20)  # queued | sent | failed
    error: str = Field(default="", max_length=1000)
    requested_by: str = Field(default="", max_length=100)
    created_at: NaiveDatetime = Field(default_factory=utcnow)
    sent_at: NaiveDatetime | None = None
