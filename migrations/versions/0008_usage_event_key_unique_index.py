"""usage_event.idempotency_key unique through a named unique index instead of a UNIQUE constraint: the same
rule, but on SQLite an index can be dropped inside a transaction and built again (a large upload into an empty
table builds it once, sorted, instead of a row at a time), which a constraint's own index cannot

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 15:20:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

INDEX = "uq_usage_event_idempotency_key"
# SQLite's UNIQUE constraint has no name: batch mode reflects it under this one, to drop it
_NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _key_constraint(bind) -> str | None:
    for uc in sa.inspect(bind).get_unique_constraints("usage_event"):
        if list(uc["column_names"]) == ["idempotency_key"] and uc.get("name"):
            return uc["name"]
    return None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # the table is copied once (SQLite cannot drop a constraint in place); ids and the other index stay
        name = _key_constraint(bind) or "uq_usage_event_idempotency_key"
        with op.batch_alter_table("usage_event", recreate="always", naming_convention=_NAMING) as batch_op:
            batch_op.drop_constraint(name, type_="unique")
            batch_op.create_index(INDEX, ["idempotency_key"], unique=True)
    else:
        # the new index first: the key is never without its uniqueness
        op.create_index(INDEX, "usage_event", ["idempotency_key"], unique=True)
        name = _key_constraint(bind)
        if name:
            op.drop_constraint(name, "usage_event", type_="unique")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table("usage_event", recreate="always") as batch_op:
            batch_op.drop_index(INDEX)
            batch_op.create_unique_constraint("uq_usage_event_key", ["idempotency_key"])
    else:
        op.create_unique_constraint("usage_event_idempotency_key_key", "usage_event", ["idempotency_key"])
        op.drop_index(INDEX, table_name="usage_event")
