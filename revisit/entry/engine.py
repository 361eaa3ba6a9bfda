"""Opening the product's database: one engine per process, its schema at the newest revision.

This sits above :mod:`revisit.db` because a migration may have to build what the product
derives from the data (the visit summary of :mod:`revisit.dms.visit_summary`).
"""

from __future__ import annotations

from sqlalchemy.engine import Connection, Engine

from revisit.db.engine import create_db_engine, upgrade_schema
from revisit.dms.visit_summary import refresh_visit_summary, summary_stale


def summarise_if_stale(conn: Connection) -> None:
    """After a migration, build the per-vehicle visit summary if the data have none yet (a
    database from before it existed), rather than wait for the next import."""
    if summary_stale(conn):
        refresh_visit_summary(conn)


def open_engine(url: str) -> Engine:
    """An engine on ``url`` whose schema is at the newest revision (migrated on first use).

    Raises :class:`sqlalchemy.exc.OperationalError` when the database cannot be reached."""
    engine = create_db_engine(url)
    upgrade_schema(engine, after_migration=summarise_if_stale)
    return engine
