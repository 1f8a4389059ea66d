"""pilot workbench: the pilot (prospect, dates, owner), its objectives and success criteria, the contracts and
invoices chosen as its samples, and the pilot reconciliations saved (summary + one row per invoice compared)

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-29 05:20:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

_S = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        'pilot',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('prospect', _S(length=200), nullable=False),
        sa.Column('start_date', sa.Date(), nullable=False),
        sa.Column('signoff_date', sa.Date(), nullable=False),
        sa.Column('owner', _S(length=100), nullable=False),
        sa.Column('usage_month', sa.Date(), nullable=True),
        sa.Column('status', _S(length=12), nullable=False),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.Column('created_by', _S(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_by', _S(length=100), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'pilot_item',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('category', _S(length=10), nullable=False),
        sa.Column('sort_order', sa.Integer(), nullable=False),
        sa.Column('text', _S(length=500), nullable=False),
        sa.Column('owner', _S(length=100), nullable=False),
        sa.Column('status', _S(length=12), nullable=False),
        sa.Column('check_kind', _S(length=30), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('notes', _S(length=1000), nullable=False),
        sa.Column('updated_by', _S(length=100), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_pilot_item_pilot_id'), 'pilot_item', ['pilot_id'], unique=False)
    op.create_table(
        'pilot_sample',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=False),
        sa.Column('kind', _S(length=10), nullable=False),
        sa.Column('object_id', sa.Integer(), nullable=False),
        sa.Column('added_by', _S(length=100), nullable=False),
        sa.Column('added_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('pilot_id', 'kind', 'object_id', name='uq_pilot_sample'),
    )
    op.create_index(op.f('ix_pilot_sample_pilot_id'), 'pilot_sample', ['pilot_id'], unique=False)
    op.create_table(
        'pilot_recon_run',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('pilot_id', sa.Integer(), nullable=True),
        sa.Column('run_month', sa.Date(), nullable=False),
        sa.Column('tolerance', sa.BigInteger(), nullable=False),
        sa.Column('file_name', _S(length=200), nullable=False),
        sa.Column('their_lines', sa.Integer(), nullable=False),
        sa.Column('their_first_date', sa.Date(), nullable=True),
        sa.Column('their_last_date', sa.Date(), nullable=True),
        sa.Column('customers', sa.Integer(), nullable=False),
        sa.Column('matched', sa.Integer(), nullable=False),
        sa.Column('differs', sa.Integer(), nullable=False),
        sa.Column('only_ours', sa.Integer(), nullable=False),
        sa.Column('only_theirs', sa.Integer(), nullable=False),
        sa.Column('match_rate', _S(length=10), nullable=False),
        sa.Column('saved_by', _S(length=100), nullable=False),
        sa.Column('saved_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['pilot_id'], ['pilot.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_pilot_recon_run_pilot_id'), 'pilot_recon_run', ['pilot_id'], unique=False)
    op.create_index(op.f('ix_pilot_recon_run_run_month'), 'pilot_recon_run', ['run_month'], unique=False)
    op.create_table(
        'pilot_recon_row',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=True),
        sa.Column('invoice_label', _S(length=40), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=True),
        sa.Column('customer_label', _S(length=200), nullable=False),
        sa.Column('external_id', _S(length=100), nullable=False),
        sa.Column('currency', _S(length=3), nullable=False),
        sa.Column('status', _S(length=30), nullable=False),
        sa.Column('invoice_total', sa.BigInteger(), nullable=True),
        sa.Column('our_total', sa.BigInteger(), nullable=False),
        sa.Column('their_total', sa.BigInteger(), nullable=False),
        sa.Column('difference', sa.BigInteger(), nullable=False),
        sa.Column('max_line_difference', sa.BigInteger(), nullable=False),
        sa.Column('lines', sa.JSON(), nullable=False),
        sa.Column('note', _S(length=500), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['pilot_recon_run.id'], ),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], ),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_pilot_recon_row_run_id'), 'pilot_recon_row', ['run_id'], unique=False)
    op.create_index(op.f('ix_pilot_recon_row_invoice_id'), 'pilot_recon_row', ['invoice_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_pilot_recon_row_invoice_id'), table_name='pilot_recon_row')
    op.drop_index(op.f('ix_pilot_recon_row_run_id'), table_name='pilot_recon_row')
    op.drop_table('pilot_recon_row')
    op.drop_index(op.f('ix_pilot_recon_run_run_month'), table_name='pilot_recon_run')
    op.drop_index(op.f('ix_pilot_recon_run_pilot_id'), table_name='pilot_recon_run')
    op.drop_table('pilot_recon_run')
    op.drop_index(op.f('ix_pilot_sample_pilot_id'), table_name='pilot_sample')
    op.drop_table('pilot_sample')
    op.drop_index(op.f('ix_pilot_item_pilot_id'), table_name='pilot_item')
    op.drop_table('pilot_item')
    op.drop_table('pilot')
