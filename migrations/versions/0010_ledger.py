"""The general ledger: chart of accounts (the default chart seeded), journal entries and lines (immutable in
the schema; on PostgreSQL every entry must balance per currency at commit), revenue recognition schedules, ERP
account mappings; the sellers' closed-books date

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-28 14:06:13.145928
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('system_key', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code'),
    sa.UniqueConstraint('system_key')
    )
    op.create_table('erp_account_map',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('erp', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('erp_account', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('tax_rate', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('updated_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('erp', 'account_id', name='uq_erp_account')
    )
    op.create_table('journal_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('entry_date', sa.Date(), nullable=False),
    sa.Column('memo', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('source_type', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('source_key', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('posted_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('posted_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['entity_id'], ['business_entity.id'], ),
    sa.ForeignKeyConstraint(['reverses_id'], ['journal_entry.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source_key')
    )
    with op.batch_alter_table('journal_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_entry_entity_id'), ['entity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_entry_entry_date'), ['entry_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_entry_reverses_id'), ['reverses_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_entry_source_type'), ['source_type'], unique=False)

    op.create_table('journal_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('entry_date', sa.Date(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['entity_id'], ['business_entity.id'], ),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entry.id'], ),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], ),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('journal_line', schema=None) as batch_op:
        batch_op.create_index('ix_journal_line_balance', ['account_id', 'currency', 'entry_date', 'amount'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_line_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_line_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_line_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('revenue_schedule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('invoice_line_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('currency', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('service_start', sa.Date(), nullable=False),
    sa.Column('service_end', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['account.id'], ),
    sa.ForeignKeyConstraint(['customer_id'], ['customer.id'], ),
    sa.ForeignKeyConstraint(['entity_id'], ['business_entity.id'], ),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], ),
    sa.ForeignKeyConstraint(['invoice_line_id'], ['invoice_line.id'], ),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('revenue_schedule', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revenue_schedule_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_revenue_schedule_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_revenue_schedule_invoice_line_id'), ['invoice_line_id'], unique=False)

    op.create_table('revenue_schedule_row',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('recognise_on', sa.Date(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['entry_id'], ['journal_entry.id'], ),
    sa.ForeignKeyConstraint(['schedule_id'], ['revenue_schedule.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('schedule_id', 'period_start', name='uq_schedule_row_period')
    )
    with op.batch_alter_table('revenue_schedule_row', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revenue_schedule_row_recognise_on'), ['recognise_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_revenue_schedule_row_schedule_id'), ['schedule_id'], unique=False)

    with op.batch_alter_table('business_entity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('books_closed_through', sa.Date(), nullable=True))

    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('amount_written_off', sa.BigInteger(), nullable=False, server_default='0'))
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recognition_method', sqlmodel.sql.sqltypes.AutoString(length=10),
                                      nullable=False, server_default='days'))

    _seed_chart()
    _guards()



# (code, name, kind, parent code, system key) — spec section 6's default chart
DEFAULT_CHART = [
    ("1000", "Assets", "asset", None, "assets"),
    ("1100", "Cash", "asset", "1000", "cash"),
    ("1150", "Payment Gateway Clearing", "asset", "1000", "gateway_clearing"),
    ("1200", "Accounts Receivable", "asset", "1000", "accounts_receivable"),
    ("1300", "Unbilled Revenue", "asset", "1000", "unbilled_revenue"),
    ("2000", "Liabilities", "liability", None, "liabilities"),
    ("2100", "Deferred Revenue", "liability", "2000", "deferred_revenue"),
    ("2200", "Customer Wallet", "liability", "2000", "customer_wallet"),
    ("2300", "Sales Tax Payable", "liability", "2000", "sales_tax"),
    ("2400", "Refunds Payable", "liability", "2000", "refunds_payable"),
    ("3000", "Equity", "equity", None, "equity"),
    ("3100", "Retained Earnings", "equity", "3000", "retained_earnings"),
    ("4000", "Income", "income", None, "income"),
    ("4100", "Sales and Services Revenue", "income", "4000", "revenue"),
    ("5000", "Expenses", "expense", None, "expenses"),
    ("5100", "Sales Returns and Allowances", "expense", "5000", "sales_returns"),
    ("5200", "Payment Gateway Fees", "expense", "5000", "gateway_fees"),
    ("5300", "Bad Debt", "expense", "5000", "bad_debt"),
    ("5400", "Promotional Credits", "expense", "5000", "promotional_credits"),
]


def _seed_chart() -> None:
    from datetime import datetime, timezone

    conn = op.get_bind()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    ids: dict[str, int] = {}
    t = sa.table('account', sa.column('id', sa.Integer), sa.column('code', sa.String), sa.column('name', sa.String),
                 sa.column('kind', sa.String), sa.column('parent_id', sa.Integer),
                 sa.column('system_key', sa.String), sa.column('active', sa.Boolean),
                 sa.column('created_at', sa.DateTime))
    for code, name, kind, parent, key in DEFAULT_CHART:
        conn.execute(t.insert().values(code=code, name=name, kind=kind, parent_id=ids.get(parent), system_key=key,
                                       active=True, created_at=now))
        ids[code] = conn.execute(sa.select(t.c.id).where(t.c.code == code)).scalar_one()


_IMMUTABLE = "journal rows are never changed: post a reversing entry instead"


def _guards() -> None:
    """Posted journal rows cannot be updated or deleted, on either database; on PostgreSQL an entry whose lines
    do not sum to zero per currency cannot be committed (a deferred constraint trigger)."""
    if op.get_bind().dialect.name == "sqlite":
        for table in ("journal_entry", "journal_line"):
            for what in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{what.lower()} BEFORE {what} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{_IMMUTABLE}'); END")
        return
    op.execute(f"""CREATE FUNCTION journal_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{_IMMUTABLE}'; END $$""")
    for table in ("journal_entry", "journal_line"):
        op.execute(f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION journal_immutable()")
    op.execute("""CREATE FUNCTION journal_entry_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE cur text;
        BEGIN
          SELECT currency INTO cur FROM journal_line WHERE entry_id = NEW.entry_id
            GROUP BY currency HAVING SUM(amount) <> 0 LIMIT 1;
          IF cur IS NOT NULL THEN
            RAISE EXCEPTION 'journal entry % does not balance in %', NEW.entry_id, cur;
          END IF;
          RETURN NULL;
        END $$""")
    op.execute("CREATE CONSTRAINT TRIGGER journal_line_balanced AFTER INSERT ON journal_line "
               "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_balanced()")


def _drop_guards() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in ("journal_entry", "journal_line"):
            for what in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{what}")
        return
    op.execute("DROP TRIGGER IF EXISTS journal_line_balanced ON journal_line")
    for table in ("journal_entry", "journal_line"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_immutable ON {table}")
    op.execute("DROP FUNCTION IF EXISTS journal_entry_balanced()")
    op.execute("DROP FUNCTION IF EXISTS journal_immutable()")


def downgrade() -> None:
    _drop_guards()
    with op.batch_alter_table('product', schema=None) as batch_op:
        batch_op.drop_column('recognition_method')
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_column('amount_written_off')
    with op.batch_alter_table('business_entity', schema=None) as batch_op:
        batch_op.drop_column('books_closed_through')

    with op.batch_alter_table('revenue_schedule_row', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revenue_schedule_row_schedule_id'))
        batch_op.drop_index(batch_op.f('ix_revenue_schedule_row_recognise_on'))

    op.drop_table('revenue_schedule_row')
    with op.batch_alter_table('revenue_schedule', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revenue_schedule_invoice_line_id'))
        batch_op.drop_index(batch_op.f('ix_revenue_schedule_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_revenue_schedule_customer_id'))

    op.drop_table('revenue_schedule')
    with op.batch_alter_table('journal_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_line_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_journal_line_entry_id'))
        batch_op.drop_index(batch_op.f('ix_journal_line_customer_id'))
        batch_op.drop_index('ix_journal_line_balance')

    op.drop_table('journal_line')
    with op.batch_alter_table('journal_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_entry_source_type'))
        batch_op.drop_index(batch_op.f('ix_journal_entry_reverses_id'))
        batch_op.drop_index(batch_op.f('ix_journal_entry_entry_date'))
        batch_op.drop_index(batch_op.f('ix_journal_entry_entity_id'))

    op.drop_table('journal_entry')
    op.drop_table('erp_account_map')
    op.drop_table('account')
