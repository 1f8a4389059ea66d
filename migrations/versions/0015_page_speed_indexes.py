"""page speed indexes: none needed (issue 7). The pages met their targets by reading light rows, paging and
summing in SQL (bench/README.md, "Pages at scale"); this revision stays, empty, because 0016 builds on it. The
index that would help next — usage_event (event_name, timestamp, customer_external_id, quantity) — is described
there with its cost to ingestion, for a later decision.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 02:50:00.000000
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
