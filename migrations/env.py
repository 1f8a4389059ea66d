"""Alembic environment. The schema changes only through migrations in versions/."""
from alembic import context
from sqlmodel import SQLModel

import core.models  # noqa: F401  (registers the tables)
from core.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine()
    with engine.begin() as conn:
        _run(conn)


def _render_item(type_, obj, autogen_context):
    """Scaled-decimal columns are plain BIGINTs in the schema."""
    from core.types import ScaledDecimal

    if type_ == "type" and isinstance(obj, ScaledDecimal):
        return "sa.BigInteger()"
    return False


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_item=_render_item,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
