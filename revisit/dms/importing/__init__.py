"""Importing a DMS export: ``import_paths`` loads a folder or files into the database.

Files load in dependency order (stores, customers, vehicles, visits, policies, upsell items),
each in batches; see :mod:`revisit.dms.importing.loader` for what happens to a bad row.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Connection, Engine

from revisit.db.engine import CACHE_KIB, is_sqlite
from revisit.db.versions import DMS, bump
from revisit.dms.importing.formats import KINDS, FileKind
from revisit.dms.importing.loader import (
    BATCH_ROWS,
    FileLoader,
    FileReport,
    Problem,
    ProblemSink,
    SeenIds,
)
from revisit.dms.importing.mapping import HeaderMapping, parse_mapping
from revisit.dms.importing.reading import Table, expand_paths, open_table
from revisit.dms.importing.recognise import NotAnExport, recognise
from revisit.dms.importing.touched import TRACKED, TouchedVehicles
from revisit.dms.phones import PhoneParser
from revisit.dms.visit_summary import (
    SUMMARY,
    forget_visit_summary,
    refresh_visit_summary,
    refresh_visit_summary_for,
    summary_stale,
)
from revisit.errors import EmptyFileError, ImportFileError

IMPORT_CACHE_KIB = 1 << 20  # 1 GiB of page cache for the import connection
#: the visit summary is rebuilt for the touched vehicles alone up to this share of them
INCREMENTAL_MAX_SHARE = 0.2

__all__ = [
    "FileReport",
    "HeaderMapping",
    "ImportReport",
    "Problem",
    "import_paths",
    "parse_mapping",
]


@dataclass
class ImportReport:
    """What an import did: one :class:`FileReport` per file (rows read, inserted, updated,
    rejected, warnings), the files that could not be read at all (one line each), notes,
    and the visit-summary refresh (vehicles, those whose rows were rebuilt, seconds)."""

    files: list[FileReport] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summarised_vehicles: int | None = None  # the visit summary holds these after the import
    summary_rebuilt: int | None = None  # the rows rebuilt: the touched vehicles, or all
    summary_seconds: float = 0.0  # and took this long

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def warnings(self) -> int:
        return sum(f.warnings for f in self.files)

    @property
    def rows(self) -> int:
        return sum(f.read for f in self.files)

    def failed(self, *, strict: bool = False) -> bool:
        """Whether the import should exit non-zero: a rejected row or an unreadable file
        (or, when strict, any warning)."""
        return bool(self.rejected or self.file_errors or (strict and self.warnings))


class ImportProgress:
    """What a caller can watch: a file starts (with its size), bytes advance."""

    def start(self, path: Path, size: int) -> None: ...

    def advance(self, done: int) -> None: ...

    def stage(self, description: str) -> None:
        """A step after the files, whose length is not known in advance."""


def import_paths(
    engine: Engine,
    paths: Sequence[Path],
    *,
    region: str = "CN",
    on_problem: ProblemSink | None = None,
    progress: ImportProgress | None = None,
    batch_rows: int = BATCH_ROWS,
    parallel: bool | None = None,
    mapping: HeaderMapping | None = None,
    skip_unknown: bool = False,
) -> ImportReport:
    """Import every export file in ``paths`` (files or folders) and report what happened.

    Rows are written ``batch_rows`` at a time and committed every few batches; large files
    are parsed by a second process while this one writes (``parallel``: None decides by size).
    ``mapping`` names the user's own headers (``--map``). A file that cannot be read or
    placed (see :mod:`revisit.dms.importing.recognise`) is a file error — the import fails
    after loading the others — unless ``skip_unknown``, which only notes it.

    The visit summary follows: when it was current before the import and the import touched
    at most :data:`INCREMENTAL_MAX_SHARE` of the vehicles (a day's repair orders), the rows
    of the touched vehicles alone are rebuilt; otherwise all of it.
    """
    report = ImportReport()
    sink: ProblemSink = on_problem or (lambda _p: None)
    phones = PhoneParser(region)
    named = {Path(p) for p in paths}
    mapping = mapping or HeaderMapping()
    tables = _open_in_order(expand_paths(list(paths)), named, report, mapping, skip_unknown)
    with _cycles_collected_after(), engine.connect() as conn:
        if is_sqlite(engine):
            # References are checked batch by batch before the insert (and rejected rows
            # reported); SQLite need not check them again row by row. A large page cache
            # keeps the indexes of a million-vehicle dealership in memory while they grow.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.exec_driver_sql(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
        touched = None if summary_stale(conn) else TouchedVehicles(conn)
        try:
            bump(conn, DMS)  # kept plans are stale from the first batch on (and again below)
            conn.commit()
            if touched is not None:
                touched.start()
            loads = _Loads(phones, sink, progress, batch_rows, parallel, mapping, touched)
            _load_all(conn, tables, loads, report)
            bump(conn, DMS)
            conn.commit()
            changed = {f.kind for f in report.files if f.inserted or f.updated}
            if changed & set(TRACKED) or summary_stale(conn):
                if progress:
                    progress.stage("summarising visits per vehicle")
                started = time.perf_counter()
                _summarise(conn, loads.touched, report)
                conn.commit()
                report.summary_seconds = time.perf_counter() - started
                if report.summary_rebuilt:
                    changed.add(SUMMARY.name)
            _refresh_statistics(conn, changed)
        finally:
            if touched is not None:
                conn.rollback()
                touched.stop()
                touched.drop()
            if is_sqlite(engine):
                conn.rollback()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.exec_driver_sql(f"PRAGMA cache_size=-{CACHE_KIB}")
    return report


@contextmanager
def _cycles_collected_after() -> Iterator[None]:
    """Python's cycle collector paused while the import runs, and its work done once after.

    An import allocates millions of row lists and tuples that live for a batch and form no
    cycles; each few hundred of them set off a collection that walks every object the
    process holds (the application's modules, SQLAlchemy's tables, the batches in flight):
    about half the time of parsing and of unpickling the rows. Reference counting still
    frees every row as soon as it is written; a forked parsing process inherits the pause.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
            gc.collect()


def _summarise(conn: Connection, touched: TouchedVehicles | None, report: ImportReport) -> None:
    """Bring the visit summary up to date: the touched vehicles' rows when few were touched
    (and the summary was current before), else all of it."""
    if touched is not None:
        touched.stop()
        count = touched.count()
        vehicles = conn.exec_driver_sql("SELECT count(*) FROM vehicles").scalar_one()
        if count <= INCREMENTAL_MAX_SHARE * vehicles:
            report.summarised_vehicles = refresh_visit_summary_for(conn, touched.vins())
            report.summary_rebuilt = count
            return
    report.summarised_vehicles = report.summary_rebuilt = refresh_visit_summary(conn)


def _refresh_statistics(conn: Connection, tables: set[str]) -> None:
    """Let the query planner see the new rows (cohort queries choose their plans by them)."""
    if not tables:
        return
    if conn.dialect.name == "postgresql":
        for table in sorted(tables):
            conn.exec_driver_sql(f'ANALYZE "{table}"')
    else:
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        conn.exec_driver_sql("PRAGMA optimize")
    conn.commit()


@dataclass
class _Loads:
    """What every file of one import is loaded with."""

    phones: PhoneParser
    sink: ProblemSink
    progress: ImportProgress | None
    batch_rows: int
    parallel: bool | None
    mapping: HeaderMapping
    touched: TouchedVehicles | None = None  # None: the summary will be rebuilt in full
    seen: SeenIds = field(default_factory=SeenIds)


def _load_all(
    conn: Connection, tables: list[tuple[FileKind, Table]], loads: _Loads, report: ImportReport
) -> None:
    progress = loads.progress
    for kind, table in tables:
        try:
            if kind.name in TRACKED:
                forget_visit_summary(conn)  # stale from the first new row on
                conn.commit()
                if loads.touched is not None and _empty(conn, kind.name):
                    loads.touched.stop()  # a first load: the summary is rebuilt in full
                    loads.touched = None
            # Read now, not once per import: stores loaded by an earlier file count.
            known_stores = set(conn.exec_driver_sql("SELECT store_id FROM stores").scalars())
            loader = FileLoader(
                conn=conn, kind=kind, table=table, phones=loads.phones,
                known_stores=known_stores, on_problem=loads.sink, batch_rows=loads.batch_rows,
                parallel=loads.parallel, mapping=loads.mapping.for_kind(kind.name),
                seen=loads.seen, record_touched=loads.touched is not None,
            )  # fmt: skip
            unknown = loader.unknown_columns()
            if unknown:
                report.notes.append(f"{table.path}:1: ignored columns: {', '.join(unknown)}")
            if progress:
                progress.start(table.path, table.size)
            done = loader.load(progress.advance if progress else None)
            report.files.append(done)
            if done.error:
                report.file_errors.append(done.error)
        except ImportFileError as exc:
            conn.rollback()
            loads.seen.forget(kind.name)  # some of its rows may have been rolled back
            report.file_errors.append(str(exc))
        finally:
            table.close()


def _empty(conn: Connection, table: str) -> bool:
    return conn.exec_driver_sql(f'SELECT 1 FROM "{table}" LIMIT 1').first() is None


def _open_in_order(
    paths: list[Path],
    named: set[Path],
    report: ImportReport,
    mapping: HeaderMapping,
    skip_unknown: bool,
) -> list[tuple[FileKind, Table]]:
    """Open every file and tell its kind. A file that cannot be read or placed is an error
    (``skip_unknown``: a note); so is one found in a folder, except a ``.txt`` (a README).
    An empty file (not even a header) holds nothing to lose and is only noted."""
    opened: list[tuple[FileKind, Table]] = []
    for path in paths:
        lenient = skip_unknown or (path not in named and path.suffix.lower() == ".txt")
        problems = report.notes if lenient else report.file_errors
        try:
            table = open_table(path)
        except EmptyFileError as exc:  # no rows to lose
            report.notes.append(f"{exc} (skipped)")
            continue
        except ImportFileError as exc:
            problems.append(f"{exc}" + (" (skipped)" if lenient else ""))
            continue
        try:
            kind = recognise(path, table.header, mapping)
        except NotAnExport as exc:
            table.close()
            problems.append(f"{exc}" + (" (skipped)" if lenient else ""))
            continue
        opened.append((kind, table))
    opened.sort(key=lambda kt: KINDS.index(kt[0]))
    return opened
