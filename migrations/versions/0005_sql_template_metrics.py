"""SQL-template billable metrics: a metric may read its quantities from a data source with a SQL template

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('billable_metric', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('sql_template', sa.Text(), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_billable_metric_source_id'), ['source_id'], unique=False)
        batch_op.create_foreign_key('fk_billable_metric_source_id_data_source', 'data_source', ['source_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('billable_metric', schema=None) as batch_op:
        batch_op.drop_constraint('fk_billable_metric_source_id_data_source', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_billable_metric_source_id'))
        batch_op.drop_column('sql_template')
        batch_op.drop_column('source_id')
