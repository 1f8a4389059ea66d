"""One recorded outcome per provider payment: a Stripe PaymentIntent is recorded once as succeeded (and once as
failed), whichever of the charge's answer and its webhook arrives first

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28 04:39:34.081282
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.create_index('uq_payment_provider_outcome', ['provider', 'provider_id', 'status'], unique=True, sqlite_where=sa.text("provider <> ''"), postgresql_where=sa.text("provider <> ''"))



def downgrade() -> None:
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index('uq_payment_provider_outcome', sqlite_where=sa.text("provider <> ''"), postgresql_where=sa.text("provider <> ''"))

