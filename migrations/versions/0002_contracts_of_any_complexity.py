"""contracts of any complexity

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 00:39:53.337676
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tax_rate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('country', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('region', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('percent', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('country', 'region', name='uq_tax_rate_place')
    )
    op.create_table('wallet_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('wallet_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wallet_entry_customer_id'), ['customer_id'], unique=False)

    with op.batch_alter_table('contract', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payment_terms_basis', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False, server_default='creation'))
        batch_op.add_column(sa.Column('payment_terms_eom', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('billing_anchor_day', sa.Integer(), nullable=False, server_default='1'))
        batch_op.add_column(sa.Column('term_months', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('renewal_policy', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False, server_default='none'))
        batch_op.add_column(sa.Column('renewed_from_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('modifiers', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('pauses', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('activated_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key('fk_contract_renewed_from', 'contract', ['renewed_from_id'], ['id'])

    with op.batch_alter_table('contract_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('start_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('end_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('phase', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('modifiers', sa.JSON(), nullable=False, server_default='{}'))

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consolidate_invoices', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('tax_exempt', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('run_key', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('credits_applied', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.drop_constraint(batch_op.f('uq_invoice_contract_period'), type_='unique')
        batch_op.create_unique_constraint('uq_invoice_run_period', ['run_key', 'period_start', 'period_end'])
    op.execute("UPDATE invoice SET run_key = 'contract:' || contract_id WHERE contract_id IS NOT NULL")

    with op.batch_alter_table('invoice_line', schema=None) as batch_op:
        batch_op.add_column(sa.Column('product_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('contract_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('indent', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('modifier_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True))
        batch_op.create_foreign_key('fk_invoice_line_contract', 'contract', ['contract_id'], ['id'])
        batch_op.create_foreign_key('fk_invoice_line_product', 'product', ['product_id'], ['id'])

    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('payment_terms_days', sa.Integer(), nullable=False, server_default='30'))
        batch_op.add_column(sa.Column('term_months', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('renewal_policy', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False, server_default='none'))
        batch_op.add_column(sa.Column('modifiers', sa.JSON(), nullable=False, server_default='{}'))
        batch_op.add_column(sa.Column('archived', sa.Boolean(), nullable=False, server_default=sa.false()))

    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_addon', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('revenue_policy', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False, server_default='immediate'))
        batch_op.add_column(sa.Column('gl_account', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False, server_default=''))



def downgrade() -> None:
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_column('gl_account')
        batch_op.drop_column('revenue_policy')
        batch_op.drop_column('is_addon')

    with op.batch_alter_table('plan', schema=None) as batch_op:
        batch_op.drop_column('archived')
        batch_op.drop_column('modifiers')
        batch_op.drop_column('renewal_policy')
        batch_op.drop_column('term_months')
        batch_op.drop_column('payment_terms_days')
        batch_op.drop_column('description')

    with op.batch_alter_table('invoice_line', schema=None) as batch_op:
        batch_op.drop_constraint('fk_invoice_line_contract', type_='foreignkey')
        batch_op.drop_constraint('fk_invoice_line_product', type_='foreignkey')
        batch_op.drop_column('modifier_key')
        batch_op.drop_column('indent')
        batch_op.drop_column('contract_id')
        batch_op.drop_column('product_id')

    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_constraint('uq_invoice_run_period', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_invoice_contract_period'), ['contract_id', 'period_start', 'period_end'])
        batch_op.drop_column('credits_applied')
        batch_op.drop_column('run_key')

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('tax_exempt')
        batch_op.drop_column('consolidate_invoices')

    with op.batch_alter_table('contract_line', schema=None) as batch_op:
        batch_op.drop_column('modifiers')
        batch_op.drop_column('phase')
        batch_op.drop_column('end_date')
        batch_op.drop_column('start_date')

    with op.batch_alter_table('contract', schema=None) as batch_op:
        batch_op.drop_constraint('fk_contract_renewed_from', type_='foreignkey')
        batch_op.drop_column('activated_at')
        batch_op.drop_column('pauses')
        batch_op.drop_column('modifiers')
        batch_op.drop_column('renewed_from_id')
        batch_op.drop_column('renewal_policy')
        batch_op.drop_column('term_months')
        batch_op.drop_column('billing_anchor_day')
        batch_op.drop_column('payment_terms_eom')
        batch_op.drop_column('payment_terms_basis')

    with op.batch_alter_table('wallet_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wallet_entry_customer_id'))

    op.drop_table('wallet_entry')
    op.drop_table('tax_rate')
