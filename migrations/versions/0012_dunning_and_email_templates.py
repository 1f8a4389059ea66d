"""dunning_and_email_templates: email templates per seller, dunning policies and steps, the dunning log (one row
per invoice per day at most)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 02:40:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'email_template',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('entity_id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('format', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['entity_id'], ['business_entity.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('entity_id', 'name', name='uq_email_template_name'),
    )
    with op.batch_alter_table('email_template', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_template_entity_id'), ['entity_id'], unique=False)

    op.create_table(
        'dunning_policy',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('segment_id', sa.Integer(), nullable=True),
        sa.Column('priority', sa.Integer(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['segment_id'], ['segment.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('name'),
    )
    with op.batch_alter_table('dunning_policy', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dunning_policy_segment_id'), ['segment_id'], unique=False)

    op.create_table(
        'dunning_step',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('policy_id', sa.Integer(), nullable=False),
        sa.Column('offset_days', sa.Integer(), nullable=False),
        sa.Column('template_id', sa.Integer(), nullable=False),
        sa.Column('auto_charge', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['policy_id'], ['dunning_policy.id'], ),
        sa.ForeignKeyConstraint(['template_id'], ['email_template.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('policy_id', 'offset_days', name='uq_dunning_step_offset'),
    )
    with op.batch_alter_table('dunning_step', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dunning_step_policy_id'), ['policy_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_dunning_step_template_id'), ['template_id'], unique=False)

    op.create_table(
        'dunning_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('run_on', sa.Date(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('customer_id', sa.Integer(), nullable=False),
        sa.Column('policy_id', sa.Integer(), nullable=True),
        sa.Column('policy_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('step_offset', sa.Integer(), nullable=False),
        sa.Column('template_id', sa.Integer(), nullable=True),
        sa.Column('template_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('recipients', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('days_past_due', sa.Integer(), nullable=False),
        sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column('amount_due', sa.BigInteger(), nullable=False),
        sa.Column('subject', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('body_format', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('detail', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column('email_log_id', sa.Integer(), nullable=True),
        sa.Column('payment_id', sa.Integer(), nullable=True),
        sa.Column('run_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
        sa.ForeignKeyConstraint(['email_log_id'], ['email_log.id'], ),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], ),
        sa.ForeignKeyConstraint(['payment_id'], ['payment.id'], ),
        sa.ForeignKeyConstraint(['policy_id'], ['dunning_policy.id'], ),
        sa.ForeignKeyConstraint(['template_id'], ['email_template.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('invoice_id', 'run_on', name='uq_dunning_log_invoice_day'),
    )
    with op.batch_alter_table('dunning_log', schema=None) as batch_op:
        for column in ('run_on', 'invoice_id', 'customer_id', 'policy_id', 'outcome', 'email_log_id'):
            batch_op.create_index(batch_op.f(f'ix_dunning_log_{column}'), [column], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('dunning_log', schema=None) as batch_op:
        for column in ('run_on', 'invoice_id', 'customer_id', 'policy_id', 'outcome', 'email_log_id'):
            batch_op.drop_index(batch_op.f(f'ix_dunning_log_{column}'))
    op.drop_table('dunning_log')
    with op.batch_alter_table('dunning_step', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dunning_step_template_id'))
        batch_op.drop_index(batch_op.f('ix_dunning_step_policy_id'))
    op.drop_table('dunning_step')
    with op.batch_alter_table('dunning_policy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dunning_policy_segment_id'))
    op.drop_table('dunning_policy')
    with op.batch_alter_table('email_template', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_template_entity_id'))
    op.drop_table('email_template')
