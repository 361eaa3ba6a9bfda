"""The database engine: URLs, SQLite settings, schema migrations, sessions.

:func:`create_db_engine` makes an engine without touching the schema; :func:`upgrade_schema`
brings the schema to Alembic's newest revision (``revisit/db/migrations``). Opening a
database for the product (migrating it and building what it derives) is
:func:`revisit.entry.engine.open_engine`, a layer above.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Index, Table, event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, SQLModel, create_engine

from revisit.db.tables import Store
from revisit.settings import DEFAULT_STORE_ID

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
T = TypeVar("T")
CACHE_KIB = 65536  # SQLite page cache per connection
# SQLite memory-mapped I/O. Every page read through the map stays in the process's resident
# set (file-backed, but counted in its RSS), so the map is bounded: a daily run that reads a
# 2 GB database through a 2 GiB map shows 2 GB more RSS; past the map, reads go through the
# page cache (CACHE_KIB per connection).
MMAP_BYTES = 256 << 20


def chunked(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``items`` in slices of ``size``: IN lists and executemany batches kept bounded."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    cur.execute(f"PRAGMA mmap_size={MMAP_BYTES}")  # reads of a large database skip a copy
    cur.execute("PRAGMA temp_store=MEMORY")
    cur.close()


def create_db_engine(url: str) -> Engine:
    """An engine for ``url`` without touching the schema (see :func:`open_engine`). Its
    errors never show statement parameters: they carry customers' names and phones."""
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


@contextmanager
def migrating(conn: Connection) -> Iterator[None]:
    """A transaction for schema changes. On SQLite, foreign keys are off meanwhile (a table
    rebuild drops a parent table) and checked afterwards; the pragma must be set outside
    a transaction."""
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.commit()
    try:
        with conn.begin():
            yield
            if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                raise RuntimeError("a schema migration left rows whose references are broken")
    finally:
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


def upgrade_schema(
    engine: Engine, *, after_migration: Callable[[Connection], None] | None = None
) -> None:
    """Bring the schema to the newest Alembic revision and make sure the default store exists.

    ``after_migration(conn)`` runs in the migration's transaction when a migration ran (the
    product builds what a new table derives from the data there)."""
    from alembic import command
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with engine.connect() as conn:
        if MigrationContext.configure(conn).get_current_revision() == head:
            conn.rollback()
            with conn.begin():  # the usual case: nothing to migrate
                restore_indexes(conn)
        else:
            conn.rollback()
            with migrating(conn):
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                restore_indexes(conn)
                if after_migration is not None:
                    after_migration(conn)
    with Session(engine) as session:
        if session.get(Store, DEFAULT_STORE_ID) is None:
            session.add(Store(store_id=DEFAULT_STORE_ID, name="Default store"))
            session.commit()


def secondary_indexes(table: str) -> list[Index]:
    """The declared indexes of ``table`` other than its primary key."""
    return sorted(SQLModel.metadata.tables[table].indexes, key=lambda i: str(i.name))


def restore_indexes(conn: Connection) -> None:
    """Create any declared index that is missing (a bulk import drops and rebuilds them; one
    killed half-way leaves them to be rebuilt here)."""
    present = {
        (table, ix["name"])
        for table in SQLModel.metadata.tables
        for ix in inspect(conn).get_indexes(table)
    }
    for table in SQLModel.metadata.tables:
        for index in secondary_indexes(table):
            if (table, index.name) not in present:
                index.create(bind=conn)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


Db = OrmSession | Connection  # what the domain queries run on


def dialect_of(db: Db) -> str:
    bind = db.get_bind() if isinstance(db, OrmSession) else db
    return bind.dialect.name


def connection_of(db: Db) -> Connection:
    """The connection a query runs on (a session's, in its transaction): Core rows, without
    the ORM layer."""
    return db.connection() if isinstance(db, OrmSession) else db


def insert_ignore(
    db: Db, table: Table, rows: Sequence[Mapping[str, Any]], *, keys: Sequence[str]
) -> int:
    """Insert ``rows`` (one executemany), skipping those whose ``keys`` (a unique index's
    columns) match a row already there, on SQLite and PostgreSQL alike. Returns the rows
    inserted as the driver counts them (exact for a single row: 1, or 0 when it was there —
    read back with RETURNING, since psycopg counts no row for a single INSERT … ON CONFLICT
    that SQLAlchemy gave a RETURNING of its own)."""
    if not rows:
        return 0
    conn = connection_of(db)
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing(index_elements=list(keys))
    if len(rows) == 1:
        returning = statement.values(dict(rows[0])).returning(*(table.c[k] for k in keys))
        return len(conn.execute(returning).all())
    result = conn.execute(statement, rows)
    return max(result.rowcount or 0, 0)  # -1: the driver did not count


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block ends cleanly and rolls back otherwise."""
    with Session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
