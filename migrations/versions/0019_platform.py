"""platform: no schema change — a revision number reserved while issues 8 and 9 were built in parallel;
that work needed no table (archiving uses customer.archived; demo workspaces are separate database files).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29 05:20:00.000000
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
