"""analytics: the monthly figures of approved invoices (billed_month: MRR and usage charges by month, written at
approval), filled from the invoices approved so far; the journal's balance index also covers the invoice id (the
finance dashboard's receivables history reads it with the account, currency, date and amount); the usage
events' lookup index also carries the quantity (the usage reports' sums and counts read the index alone)

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-29 05:20:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'billed_month',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('entity_id', sa.Integer(), nullable=False),
        sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('month', sa.Integer(), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id']),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id']),
        sa.ForeignKeyConstraint(['entity_id'], ['business_entity.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_billed_month_invoice_id', 'billed_month', ['invoice_id'])
    op.create_index('ix_billed_month_read', 'billed_month',
                    ['currency', 'kind', 'month', 'customer_id', 'entity_id', 'invoice_id', 'amount'])
    op.drop_index('ix_journal_line_balance', table_name='journal_line')
    op.create_index('ix_journal_line_balance', 'journal_line',
                    ['account_id', 'currency', 'entry_date', 'invoice_id', 'amount'])
    op.drop_index('ix_usage_event_name_customer_ts', table_name='usage_event')
    op.create_index('ix_usage_event_name_customer_ts', 'usage_event',
                    ['event_name', 'customer_external_id', 'timestamp', 'quantity'])
    # the invoices approved before this version: computed from their lines, by the same code approval uses
    from sqlmodel import Session

    from core.analytics.facts import rebuild

    with Session(bind=op.get_bind()) as session:
        rebuild(session)


def downgrade() -> None:
    op.drop_index('ix_usage_event_name_customer_ts', table_name='usage_event')
    op.create_index('ix_usage_event_name_customer_ts', 'usage_event', ['event_name', 'customer_external_id', 'timestamp'])
    op.drop_index('ix_journal_line_balance', table_name='journal_line')
    op.create_index('ix_journal_line_balance', 'journal_line', ['account_id', 'currency', 'entry_date', 'amount'])
    op.drop_index('ix_billed_month_read', table_name='billed_month')
    op.drop_index('ix_billed_month_invoice_id', table_name='billed_month')
    op.drop_table('billed_month')
