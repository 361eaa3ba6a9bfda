"""Alembic environment: migrates the connection handed over by revisit.db.engine.upgrade_schema,
or the database named by REVISIT_DATABASE_URL when run from the ``alembic`` command."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import revisit.db.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from revisit.db.engine import create_db_engine, migrating
    from revisit.settings import Settings

    engine = create_db_engine(Settings().database_url)
    with engine.connect() as conn, migrating(conn):
        _run(conn)


run_migrations_online()
