"""A minimal SQLAlchemy dialect for ``snowflake://`` data-source URLs, over snowflake-connector-python.

Data sources only run read-only ``text()`` queries (no reflection, no DDL, no ORM), so this is all a Snowflake
source needs. It exists because no released snowflake-sqlalchemy works with both SQLAlchemy 2.1 and a
connector that fakesnow (the tests' Snowflake) can load: snowflake-sqlalchemy 2.1 needs connector 5, fakesnow
needs connector 4. When snowflake-sqlalchemy is installed, its dialect is used instead (see ``register``).

URL: ``snowflake://USER:${PASSWORD_VAR}@ACCOUNT/DATABASE/SCHEMA?warehouse=WH&role=ROLE`` (as snowflake-sqlalchemy
reads it). Parameters are bound by the connector (``pyformat``), never formatted into the SQL by us.
"""
from __future__ import annotations

from sqlalchemy.dialects import registry
from sqlalchemy.engine import default

_ALLOWED_QUERY = {"warehouse", "role", "authenticator", "application", "login_timeout", "network_timeout",
                  "client_session_keep_alive"}


class SnowflakeSourceDialect(default.DefaultDialect):
    name = "snowflake"
    driver = "snowflake"
    default_paramstyle = "pyformat"
    supports_statement_cache = True
    supports_native_decimal = True
    supports_native_boolean = True
    max_identifier_length = 255

    @classmethod
    def import_dbapi(cls):
        import snowflake.connector

        return snowflake.connector

    def create_connect_args(self, url):
        opts = url.translate_connect_args(username="user")
        host = opts.pop("host", None)
        opts.pop("port", None)
        if host:
            opts["account"] = host.removesuffix(".snowflakecomputing.com")
        database = opts.pop("database", None)
        if database:
            db, _, schema = database.partition("/")
            opts["database"] = db
            if schema:
                opts["schema"] = schema
        for key, value in url.query.items():
            if key not in _ALLOWED_QUERY:
                raise ValueError(f"the Snowflake URL option '{key}' is not supported here "
                                 f"(use {', '.join(sorted(_ALLOWED_QUERY))})")
            opts[key] = value
        opts["autocommit"] = False
        return [], opts

    def _get_server_version_info(self, connection):
        return None

    def _get_default_schema_name(self, connection):
        return None

    def get_isolation_level(self, dbapi_connection):
        return "READ COMMITTED"

    def do_rollback(self, dbapi_connection):
        dbapi_connection.rollback()


def register() -> None:
    """Use snowflake-sqlalchemy when it is installed; this dialect otherwise."""
    try:
        registry.load("snowflake")
    except Exception:  # noqa: BLE001 - not installed (NoSuchModuleError) or unusable with this SQLAlchemy
        registry.register("snowflake", "core.source_snowflake", "SnowflakeSourceDialect")
