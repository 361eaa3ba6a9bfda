"""Opening the product's database: one engine per process, its schema at the newest revision.

This sits above :mod:`revisit.db` because a migration may have to build what the product
derives from the data (the visit summary of :mod:`revisit.dms.visit_summary`).

Only an import creates a database (:func:`open_engine`); every other entry point opens an
existing one with data in it (:func:`open_existing`), so that a mistyped URL, or a relative
SQLite path run from another folder, is reported instead of answered with an empty success.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from revisit.db.engine import create_db_engine, normalise_url, upgrade_schema
from revisit.dms.visit_summary import refresh_visit_summary, summary_stale
from revisit.errors import DatabaseError

SUGGEST_IMPORT = "run `revisit import EXPORT_FOLDER` first to create it"


def summarise_if_stale(conn: Connection) -> None:
    """After a migration, build the per-vehicle visit summary if the data have none yet (a
    database from before it existed), rather than wait for the next import."""
    if summary_stale(conn):
        refresh_visit_summary(conn)


def shown_url(url: str) -> str:
    """``url`` as it may be printed: the password replaced by ``***``."""
    try:
        return make_url(normalise_url(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _first_line(exc: BaseException) -> str:
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    return lines[0] if lines else type(cause).__name__


@contextmanager
def reporting_connection_failures(url: str) -> Iterator[None]:
    """Turn a database that cannot be reached (a stopped server, a folder that does not
    exist, a bad password) into a :class:`DatabaseError` of one line naming the URL."""
    try:
        yield
    except OperationalError as exc:
        reason = _first_line(exc)
        if "does not exist" in reason and sqlite_file(url) is None:
            reason += f"; create it first (createdb {make_url(normalise_url(url)).database})"
        raise DatabaseError(f"cannot open the database {shown_url(url)}: {reason}") from exc
    except ArgumentError as exc:
        raise DatabaseError(f"not a database URL: {url!r} ({exc})") from exc
    except ImportError as exc:  # a dialect SQLAlchemy knows, whose driver is not installed
        raise DatabaseError(
            f"not a supported database URL: {shown_url(url)} (its driver is missing: {exc}); "
            "revisit runs on SQLite (sqlite:///FILE) and PostgreSQL (postgresql://…)"
        ) from exc


def open_engine(url: str) -> Engine:
    """An engine on ``url`` whose schema is at the newest revision (created and migrated on
    first use): for ``revisit import``, the one command that may create a database.

    Raises :class:`DatabaseError` (one line, naming the URL) when it cannot be reached."""
    with reporting_connection_failures(url):
        path = sqlite_file(url)
        if path is not None and not path.parent.is_dir():
            raise DatabaseError(f"cannot create the database {shown_url(url)}: {_no_folder(path)}")
        engine = create_db_engine(url)
        upgrade_schema(engine, after_migration=summarise_if_stale)
    return engine


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (``None`` for another database or an in-memory one)."""
    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).absolute()  # type: ignore[arg-type]


def _no_folder(path: Path) -> str:
    missing = path.parent
    while not missing.parent.is_dir():
        missing = missing.parent
    return f"the folder {missing} does not exist"


def open_existing(url: str) -> Engine:
    """An engine on an existing revisit database that holds imported data, migrated to the
    newest revision: every command but ``import`` opens the database this way.

    Raises :class:`DatabaseError` when the SQLite file does not exist (naming the file it
    looked for, which a relative default resolves against the working folder), when the
    database has no revisit tables or no customers yet, or when it cannot be reached."""
    with reporting_connection_failures(url):
        path = sqlite_file(url)
        if path is not None and not path.is_file():
            where = _no_folder(path) if not path.parent.is_dir() else str(path)
            raise DatabaseError(f"no database {shown_url(url)} ({where}); {SUGGEST_IMPORT}")
        engine = create_db_engine(url)
        try:
            _require_data(engine, url)
            upgrade_schema(engine, after_migration=summarise_if_stale)
        except BaseException:
            engine.dispose()
            raise
    return engine


def _require_data(engine: Engine, url: str) -> None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("customers"):
            raise DatabaseError(f"{shown_url(url)} is not a revisit database yet; {SUGGEST_IMPORT}")
        if conn.execute(text("SELECT 1 FROM customers LIMIT 1")).first() is None:
            raise DatabaseError(
                f"the database {shown_url(url)} holds no imported data (no customers); "
                "run `revisit import EXPORT_FOLDER` first"
            )
