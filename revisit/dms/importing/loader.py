"""Loading one export file: parse each row, check its references, upsert in batches.

Rows go to the database thousands at a time through the driver's ``executemany`` with an
``INSERT … ON CONFLICT DO UPDATE`` keyed by the file's id, so importing the same file twice
changes nothing. A bad row never stops the file: it is rejected or loaded without the bad
field, and either way reported as ``file:line: field: reason``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from sqlalchemy.engine import Connection

from revisit.db.engine import chunked, restore_indexes, secondary_indexes
from revisit.dms.importing.formats import CUSTOMERS, KINDS, FileKind, Reference, header_map
from revisit.dms.importing.handoff import parsed_in_second_process
from revisit.dms.importing.parsing import RowParser, RowProblem
from revisit.dms.importing.reading import Table
from revisit.dms.importing.recognise import missing_columns
from revisit.dms.importing.writing import open_writer, placeholders
from revisit.dms.phones import PhoneParser
from revisit.errors import ImportFileError
from revisit.settings import DEFAULT_TIMEZONE

BATCH_ROWS = 5000
COMMIT_EVERY = 10  # batches per transaction
PARALLEL_MIN_BYTES = 4 << 20  # files this large are parsed by a second process
BULK_MIN_BYTES = 1 << 20  # first loads this large build their indexes at the end


@dataclass
class Parsed:
    """One batch from the reader: good rows and their line numbers (two flat lists, cheap to
    hand from the parsing process to the writing one), the problems found, where the reader
    is."""

    lines: list[int] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    read: int = 0
    position: int = 0
    new_stores: list[str] = field(default_factory=list)
    error: str | None = None  # the file could not be read past this batch


@dataclass(frozen=True, slots=True)
class Problem:
    path: str
    line: int
    field: str
    reason: str
    rejected: bool  # the row was not loaded; otherwise it loaded without this field

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.reason}"


@dataclass
class FileReport:
    """What became of one file's rows: ``read`` = ``inserted`` + ``updated`` + ``unchanged``
    (rows whose stored values were already the same) + ``superseded`` (rows whose id a later
    row of the same file names: the later row wins) + ``rejected``."""

    path: str
    kind: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    superseded: int = 0
    rejected: int = 0
    warnings: int = 0
    error: str | None = None  # the file could not be read to its end


class SeenIds:
    """The ids loaded so far in one import, per kind, with where each was first seen.

    A later row with the same id is named beside the first (it still loads, and wins). The
    ids of a kind that others refer to (customers, vehicles) are kept for the whole import,
    so that a reference to a row this import loaded needs no query; a file that failed
    half-way makes its kind's ids unreliable (``forget``), and its references are looked
    up in the database again.
    """

    def __init__(self) -> None:
        self.files: list[str] = []
        self.first: dict[str, dict[str, int]] = {}
        self.unreliable: set[str] = set()

    def file_number(self, path: str) -> int:
        self.files.append(path)
        return len(self.files) - 1

    def ids_of(self, kind: str) -> dict[str, int]:
        """id → packed (file number, line) for ``kind``. Ids of kinds done loading that no
        reference looks up are let go (files load kind by kind)."""
        self.first = {k: v for k, v in self.first.items() if k == kind or k in _LOOKED_UP}
        return self.first.setdefault(kind, {})

    def loaded(self, kind: str) -> dict[str, int] | None:
        """The ids of ``kind`` this import wrote, or None when they are not known for sure."""
        return None if kind in self.unreliable else self.first.get(kind)

    def forget(self, kind: str) -> None:
        self.unreliable.add(kind)

    def where(self, packed: int) -> str:
        return f"{self.files[packed >> 32]}:{packed & 0xFFFFFFFF}"


#: Tables whose ids a reference checks by id alone (no column that must agree).
_LOOKED_UP = {r.table for k in KINDS for r in k.references if r.agree is None}


ProblemSink = Callable[[Problem], None]
Progress = Callable[[int], None]


class FileLoader:
    """Loads one open :class:`Table` of a known kind over one connection."""

    def __init__(
        self,
        *,
        conn: Connection,
        kind: FileKind,
        table: Table,
        phones: PhoneParser,
        known_stores: set[str],
        on_problem: ProblemSink,
        batch_rows: int = BATCH_ROWS,
        commit_every: int = COMMIT_EVERY,
        parallel: bool | None = None,
        mapping: dict[str, str] | None = None,
        seen: SeenIds | None = None,
        record_touched: bool = False,
    ) -> None:
        self.conn, self.kind, self.table = conn, kind, table
        self.batch_rows, self.commit_every = batch_rows, commit_every
        if parallel is None:
            parallel = table.size >= PARALLEL_MIN_BYTES
        self.parallel = parallel and sys.platform == "linux"  # fork keeps it cheap
        self.on_problem = on_problem
        self.path = str(table.path)
        self.report = FileReport(self.path, kind.name)
        self.positions = header_map(kind, table.header, mapping)
        missing = [c for c in kind.required if c.name not in self.positions]
        if missing:
            raise ImportFileError(missing_columns(self.path, table.header, self.positions, missing))
        self.rows = RowParser(
            kind, self.positions, len(table.header), phones=phones, known_stores=known_stores,
            excel_epoch=table.excel_epoch,
        )  # fmt: skip
        self.index = self.rows.index
        self.known_stores = known_stores
        self.writer = open_writer(
            conn, kind, self._updated_columns(), record_touched=record_touched
        )
        self.seen = seen or SeenIds()
        self.file_no = self.seen.file_number(self.path)
        self.first = self.seen.ids_of(kind.name)

    def unknown_columns(self) -> list[str]:
        used = set(self.positions.values())
        return [h for i, h in enumerate(self.table.header) if i not in used and h.strip()]

    def _updated_columns(self) -> list[str]:
        present = [c.name for c in self.kind.columns if c.name in self.positions]
        if self.kind is CUSTOMERS:
            if "phone" in self.positions:
                present += ["phone_raw", "phone_type", "phone_invalid"]
            if "birthday" in self.positions:
                present.append("birthday_md")
        return [c for c in present if c != self.kind.key]

    def load(self, progress: Progress | None = None) -> FileReport:
        before = self._count()
        # A first load into an empty table builds its indexes once at the end (a sort)
        # instead of growing them row by row: several times faster for a whole dealership.
        bulk = before == 0 and self.table.size >= BULK_MIN_BYTES
        if bulk:
            for index in secondary_indexes(self.kind.name):
                self.conn.exec_driver_sql(f'DROP INDEX IF EXISTS "{index.name}"')
            self.conn.commit()
        try:
            self._load_batches(progress)
        finally:
            if bulk:
                self.conn.rollback()
                restore_indexes(self.conn)
                self.conn.commit()
        report = self.report
        report.inserted = self._count() - before
        report.updated = max(self.changed - report.inserted, 0)
        report.unchanged = (
            report.read - report.rejected - report.superseded - report.inserted - report.updated
        )
        return report

    def _load_batches(self, progress: Progress | None) -> None:
        self.changed = 0
        for flushed, parsed in enumerate(self._parsed_batches(), start=1):
            self.report.read += parsed.read
            for line, name, reason, rejected in parsed.problems:
                self._report(Problem(self.path, line, name, reason, rejected))
            for store in parsed.new_stores:
                self._create_store(store)
                self.known_stores.add(store)
            self._flush(parsed.lines, parsed.rows)
            if flushed % self.commit_every == 0:
                self.conn.commit()
            if parsed.error:
                self.report.error = parsed.error  # the rows before the bad spot still load
            if progress:
                progress(parsed.position)
        self.conn.commit()

    # --- reading and parsing, here or in a second process -------------------------------------

    def _parsed_batches(self) -> Iterator[Parsed]:
        """Parsed batches; for a large file parsed by a forked process while this one writes
        (two cores: one parses the next batch while the other writes this one)."""
        if not self.parallel:
            yield from self._parse_batches()
            return
        yield from parsed_in_second_process(self._parse_batches, self._unreadable, self.path)

    def _unreadable(self, exc: BaseException) -> Parsed:
        return Parsed(error=f"{self.path}: cannot read the file: {exc!r}")

    def _parse_batches(self) -> Iterator[Parsed]:
        batch = Parsed()
        parse, size = self.rows.parse, self.batch_rows
        try:
            for line, cells in self.table.rows:
                batch.read += 1
                row = parse(line, cells, batch.problems)
                if row is not None:
                    batch.lines.append(line)
                    batch.rows.append(row)
                    if len(batch.rows) >= size:
                        yield self._sealed(batch)
                        batch = Parsed()
        except ImportFileError as exc:
            batch.error = str(exc)
        yield self._sealed(batch)

    def _sealed(self, batch: Parsed) -> Parsed:
        batch.position = self.table.position()
        batch.new_stores, self.rows.new_stores = sorted(self.rows.new_stores), set()
        return batch

    def _report(self, problem: Problem) -> None:
        if problem.rejected:
            self.report.rejected += 1
        else:
            self.report.warnings += 1
        self.on_problem(problem)

    def _problem(self, line: int, field: str, reason: str, *, rejected: bool) -> None:
        self._report(Problem(self.path, line, field, reason, rejected))

    def _create_store(self, store_id: str) -> None:
        self.conn.exec_driver_sql(
            placeholders(
                self.conn,
                "INSERT INTO stores (store_id, name, timezone) VALUES (?, ?, ?) "
                "ON CONFLICT (store_id) DO NOTHING",
            ),
            (store_id, store_id, DEFAULT_TIMEZONE),
        )

    # --- one batch --------------------------------------------------------------------------

    def _flush(self, lines: list[int], rows: list[list[Any]]) -> None:
        for ref in self.kind.references:
            lines, rows = self._check_reference(ref, lines, rows)
        if rows:
            lines, rows = self._note_duplicates(lines, rows)
            self.changed += self.writer.write(rows)

    def _note_duplicates(
        self, lines: list[int], rows: list[list[Any]]
    ) -> tuple[list[int], list[list[Any]]]:
        """Warn of a row whose id an earlier row of this import had (the later row wins) and
        return the batch to write: of several rows with one id in this batch, only the last.

        The rows left out count as ``superseded``, not as updates: a re-import of a file that
        names an id twice reports it unchanged. (The earlier of two rows more than a batch
        apart has been written already; its superseding row still counts as superseded.)"""
        first, key_at, base = self.first, self.index[self.kind.key], self.file_no << 32
        keys = list(map(itemgetter(key_at), rows))
        distinct = set(keys)
        if len(distinct) == len(keys) and first.keys().isdisjoint(distinct):
            first.update(zip(keys, map(base.__or__, lines), strict=True))
            return lines, rows  # the usual batch: set operations, no loop over its rows
        last = dict(zip(keys, lines, strict=True))
        for line, key in zip(lines, keys, strict=True):
            packed = base | line
            earlier = first.setdefault(key, packed)
            if earlier != packed:
                reason = (
                    f"duplicate {self.kind.key} {key!r}: also on "
                    f"{self.seen.where(earlier)}; this later row wins"
                )
                self._problem(line, self.kind.key, reason, rejected=False)
                if earlier >> 32 == self.file_no:
                    self.report.superseded += 1
        pairs = enumerate(zip(lines, keys, strict=True))
        kept = [i for i, (line, key) in pairs if last[key] == line]
        return [lines[i] for i in kept], [rows[i] for i in kept]

    def _check_reference(
        self, ref: Reference, lines: list[int], rows: list[list[Any]]
    ) -> tuple[list[int], list[list[Any]]]:
        """The rows of the batch whose ``ref`` names a known row (one this import loaded, or
        one the database has); each other row is rejected with a problem naming the value.
        A batch whose references all hold (the usual one) is checked by set operations."""
        values = list(map(itemgetter(self.index[ref.column]), rows))
        wanted = set(values)
        known = None if ref.agree else self.seen.loaded(ref.table)
        if known:  # rows this import loaded: no need to ask the database
            wanted -= known.keys()
            if not wanted:
                return lines, rows
        found = _existing(self.conn, ref, sorted(wanted)) if wanted else {}
        agreeing = list(map(itemgetter(self.index[ref.agree[0]]), rows)) if ref.agree else []
        if ref.agree is None and wanted <= found.keys():
            return lines, rows
        if ref.agree and set(zip(values, agreeing, strict=True)) <= found.items():
            return lines, rows
        kept = []
        for i, (line, value) in enumerate(zip(lines, values, strict=True)):
            if value not in found and not (known and value in known):
                self._problem(line, ref.column, f"unknown {ref.noun} {value!r}", rejected=True)
            elif ref.agree and found[value] != agreeing[i]:
                here, there = ref.agree
                reason = (
                    f"{ref.noun} {value!r} belongs to {there} {found[value]!r}, not {agreeing[i]!r}"
                )
                self._problem(line, here, reason, rejected=True)
            else:
                kept.append(i)
        return [lines[i] for i in kept], [rows[i] for i in kept]

    def _count(self) -> int:
        return int(
            self.conn.exec_driver_sql(f'SELECT count(*) FROM "{self.kind.name}"').scalar_one()
        )


def _existing(conn: Connection, ref: Reference, keys: Sequence[str]) -> dict[str, Any]:
    """Which of ``keys`` exist in the referenced table (with the column that must agree)."""
    other = f', "{ref.agree[1]}"' if ref.agree else ", 1"
    found: dict[str, Any] = {}
    for chunk in chunked(keys, BATCH_ROWS):
        marks = ", ".join("?" * len(chunk))
        sql = f'SELECT "{ref.key}"{other} FROM "{ref.table}" WHERE "{ref.key}" IN ({marks})'
        # Thousands of rows: taken as the driver's tuples, without SQLAlchemy's row objects.
        found.update(conn.exec_driver_sql(placeholders(conn, sql), tuple(chunk)).cursor.fetchall())
    return found
