"""Importing a DMS export: ``import_paths`` loads a folder or files into the database.

Files load in dependency order (stores, customers, vehicles, visits, policies, upsell items),
each in batches; see :mod:`revisit.dms.importing.loader` for what happens to a bad row.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Connection, Engine

from revisit.db.engine import CACHE_KIB, is_sqlite
from revisit.dms.importing.formats import KINDS, FileKind, guess_kind
from revisit.dms.importing.loader import BATCH_ROWS, FileLoader, FileReport, Problem, ProblemSink
from revisit.dms.importing.reading import Table, expand_paths, open_table
from revisit.dms.phones import PhoneParser
from revisit.dms.visit_summary import (
    SUMMARY,
    forget_visit_summary,
    refresh_visit_summary,
    summary_stale,
)
from revisit.errors import ImportFileError

IMPORT_CACHE_KIB = 1 << 20  # 1 GiB of page cache for the import connection

__all__ = ["FileReport", "ImportReport", "Problem", "import_paths"]


@dataclass
class ImportReport:
    """What an import did: one :class:`FileReport` per file (rows read, inserted, updated,
    rejected, warnings), the files that could not be read at all (one line each), notes,
    and the visit-summary rebuild (vehicles, seconds)."""

    files: list[FileReport] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summarised_vehicles: int | None = None  # the visit summary was rebuilt for these
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
) -> ImportReport:
    """Import every export file in ``paths`` (files or folders) and report what happened.

    Rows are written ``batch_rows`` at a time and committed every few batches; large files
    are parsed by a second process while this one writes (``parallel``: None decides by size).
    """
    report = ImportReport()
    sink: ProblemSink = on_problem or (lambda _p: None)
    phones = PhoneParser(region)
    named = {Path(p) for p in paths}
    tables = _open_in_order(expand_paths(list(paths)), named, report)
    with engine.connect() as conn:
        if is_sqlite(engine):
            # References are checked batch by batch before the insert (and rejected rows
            # reported); SQLite need not check them again row by row. A large page cache
            # keeps the indexes of a million-vehicle dealership in memory while they grow.
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.exec_driver_sql(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
        try:
            _load_all(conn, tables, phones, sink, progress, report, batch_rows, parallel)
            changed = {f.kind for f in report.files if f.inserted or f.updated}
            if changed & {"vehicles", "visits"} or summary_stale(conn):
                if progress:
                    progress.stage("summarising visits per vehicle")
                started = time.perf_counter()
                report.summarised_vehicles = refresh_visit_summary(conn)
                conn.commit()
                report.summary_seconds = time.perf_counter() - started
                changed.add(SUMMARY.name)
            _refresh_statistics(conn, changed)
        finally:
            if is_sqlite(engine):
                conn.rollback()
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.exec_driver_sql(f"PRAGMA cache_size=-{CACHE_KIB}")
    return report


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


def _load_all(
    conn: Connection,
    tables: list[tuple[FileKind, Table]],
    phones: PhoneParser,
    sink: ProblemSink,
    progress: ImportProgress | None,
    report: ImportReport,
    batch_rows: int,
    parallel: bool | None,
) -> None:
    known_stores = set(conn.exec_driver_sql("SELECT store_id FROM stores").scalars())
    conn.commit()
    for kind, table in tables:
        try:
            if kind.name in ("vehicles", "visits"):
                forget_visit_summary(conn)  # stale from the first new row on
                conn.commit()
            loader = FileLoader(
                conn=conn, kind=kind, table=table, phones=phones, known_stores=known_stores,
                on_problem=sink, batch_rows=batch_rows, parallel=parallel,
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
            report.file_errors.append(str(exc))
        finally:
            table.close()


def _open_in_order(
    paths: list[Path], named: set[Path], report: ImportReport
) -> list[tuple[FileKind, Table]]:
    """Open every file and tell its kind. A file named on the command line that cannot be
    read is an error; one merely found in a folder (a README, a log) is skipped with a note."""
    opened: list[tuple[FileKind, Table]] = []
    for path in paths:
        problems = report.file_errors if path in named else report.notes
        try:
            table = open_table(path)
        except ImportFileError as exc:
            problems.append(f"{exc}" + ("" if path in named else " (skipped)"))
            continue
        kind = guess_kind(path.stem, table.header)
        if kind is None:
            table.close()
            if path in named:
                names = ", ".join(k.name for k in KINDS)
                problems.append(
                    f"{path}:1: cannot tell which data this is; name it after one of: {names}"
                )
            else:
                problems.append(f"{path}: not an export file of a known kind (skipped)")
            continue
        opened.append((kind, table))
    opened.sort(key=lambda kt: KINDS.index(kt[0]))
    return opened
