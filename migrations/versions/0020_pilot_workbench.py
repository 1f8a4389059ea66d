"""pilot workbench (reserved; filled in by the work that needs it)

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29 05:20:00.000000
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import sqlmodel  # noqa: F401


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
