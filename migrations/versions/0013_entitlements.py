"""entitlements: grants of quantities, credit budgets and features to customers (by hand or by a contract), and the
record of each limit passed once per grant and period

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 02:40:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'entitlement_grant',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('metric_id', sa.Integer(), nullable=True),
        sa.Column('units', sa.BigInteger(), nullable=True),
        sa.Column('amount', sa.BigInteger(), nullable=True),
        sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column('reset', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('limit_type', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('start_date', sa.Date(), nullable=False),
        sa.Column('end_date', sa.Date(), nullable=True),
        sa.Column('contract_id', sa.Integer(), nullable=True),
        sa.Column('product_id', sa.Integer(), nullable=True),
        sa.Column('plan_id', sa.Integer(), nullable=True),
        sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('ended_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('ended_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
        sa.ForeignKeyConstraint(['metric_id'], ['billable_metric.id'], ),
        sa.ForeignKeyConstraint(['contract_id'], ['contract.id'], ),
        sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
        sa.ForeignKeyConstraint(['plan_id'], ['plan.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('entitlement_grant', schema=None) as batch_op:
        batch_op.create_index('ix_entitlement_grant_customer_key', ['customer_id', 'key'], unique=False)
        batch_op.create_index(batch_op.f('ix_entitlement_grant_key'), ['key'], unique=False)
        batch_op.create_index(batch_op.f('ix_entitlement_grant_contract_id'), ['contract_id'], unique=False)

    op.create_table(
        'entitlement_exhaustion',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('grant_id', sa.Integer(), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('period_end', sa.Date(), nullable=True),
        sa.Column('used', sa.BigInteger(), nullable=False),
        sa.Column('limit_value', sa.BigInteger(), nullable=False),
        sa.Column('limit_type', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
        sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.ForeignKeyConstraint(['grant_id'], ['entitlement_grant.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('grant_id', 'period_start', name='uq_entitlement_exhaustion_once'),
    )
    with op.batch_alter_table('entitlement_exhaustion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entitlement_exhaustion_grant_id'), ['grant_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('entitlement_exhaustion', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entitlement_exhaustion_grant_id'))
    op.drop_table('entitlement_exhaustion')
    with op.batch_alter_table('entitlement_grant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entitlement_grant_contract_id'))
        batch_op.drop_index(batch_op.f('ix_entitlement_grant_key'))
        batch_op.drop_index('ix_entitlement_grant_customer_key')
    op.drop_table('entitlement_grant')
