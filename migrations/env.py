from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from tos.db.models import metadata
from tos.db.session import build_engine

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from tos.config import get_settings

        url = get_settings().database_url
    engine = build_engine(url)
    with engine.execution_options(tos_write=True).connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
