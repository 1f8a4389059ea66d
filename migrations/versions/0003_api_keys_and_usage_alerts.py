"""api keys and usage alerts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 01:19:44.106194
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('key_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('scopes', sa.JSON(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_key_prefix'), ['prefix'], unique=True)

    op.create_table('usage_alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('metric_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('threshold_kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('threshold', sa.BigInteger(), nullable=False),
    sa.Column('allowance', sa.BigInteger(), nullable=True),
    sa.Column('recipients', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['metric_id'], ['billable_metric.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('usage_alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_alert_metric_id'), ['metric_id'], unique=False)

    op.create_table('alert_firing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('customer_external_id', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('quantity', sa.BigInteger(), nullable=False),
    sa.Column('fired_at', sa.DateTime(), nullable=False),
    sa.Column('emailed_to', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['usage_alert.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alert_id', 'customer_external_id', 'period_start', name='uq_alert_firing_once')
    )
    with op.batch_alter_table('alert_firing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_firing_alert_id'), ['alert_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('alert_firing', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_firing_alert_id'))

    op.drop_table('alert_firing')
    with op.batch_alter_table('usage_alert', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_alert_metric_id'))

    op.drop_table('usage_alert')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_key_prefix'))

    op.drop_table('api_key')
