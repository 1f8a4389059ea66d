"""data sources

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 01:28:06.360345
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('data_source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('source_sync',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('query', sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
    sa.Column('watermark', sa.DateTime(), nullable=True),
    sa.Column('last_run_at', sa.DateTime(), nullable=True),
    sa.Column('last_result', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.ForeignKeyConstraint(['source_id'], ['data_source.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('source_sync', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_sync_source_id'), ['source_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('source_sync', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_sync_source_id'))

    op.drop_table('source_sync')
    op.drop_table('data_source')
