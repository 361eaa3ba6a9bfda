"""Reading export files: CSV (UTF-8 with or without BOM, GB18030, UTF-16; comma, tab or
semicolon) and Excel ``.xlsx``. Rows come out as lists of text cells with their physical
line number (the header is line 1); blank rows (empty, or only spaces — full-width and
zero-width ones too — as Excel leaves them below a sheet's data) are skipped."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from revisit.dms.importing.values import EXCEL_1900, EXCEL_1904
from revisit.errors import EmptyFileError, ImportFileError

SUFFIXES = {".csv", ".txt", ".tsv", ".xlsx"}
_CHUNK = 1 << 20
#: What a blank-looking cell may hold besides str.isspace() characters.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


def blank(cells: list[str]) -> bool:
    """Whether a row holds nothing but whitespace (incl. zero-width characters)."""
    for c in cells:
        if c and not c.isspace() and (c.isascii() or c.strip().strip(_INVISIBLE).strip()):
            return False
    return True


@dataclass
class Table:
    """An open export file: its header and an iterator of ``(line, cells)``."""

    path: Path
    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    size: int
    _raw: BinaryIO | None = None
    #: Day 0 of the workbook's serial dates, for an .xlsx sheet (None for CSV).
    excel_epoch: dt.date | None = None
    _text: io.TextIOWrapper | None = None  # held so it is not collected (and closed) early

    def position(self) -> int:
        """Bytes read so far (for progress bars); the whole size once done for xlsx."""
        if self._raw is None or self._raw.closed:
            return self.size
        return self._raw.tell()

    def close(self) -> None:
        if self._text is not None:
            self._text.close()
        if self._raw is not None:
            self._raw.close()


def detect_encoding(path: Path) -> str:
    """utf-8-sig or utf-16 when a BOM says so, utf-8 when the whole file decodes as such,
    else gb18030 (what Chinese Excel and most DMS exports write)."""
    with path.open("rb") as f:
        head = f.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := f.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


def open_table(path: Path) -> Table:
    if path.suffix.lower() == ".xlsx":
        return _open_xlsx(path)
    return _open_csv(path)


def _open_csv(path: Path) -> Table:
    encoding = detect_encoding(path)
    raw = path.open("rb")
    text = io.TextIOWrapper(raw, encoding=encoding, newline="")
    try:
        first = text.readline()
    except UnicodeDecodeError as exc:
        raw.close()
        raise ImportFileError(f"{path}:1: cannot decode the header as {encoding}") from exc
    if not first.strip():
        raw.close()
        raise EmptyFileError(f"{path}:1: the file is empty (no header line)")
    delimiter = max(",\t;", key=first.count)
    header = next(csv.reader([first], delimiter=delimiter))
    reader = csv.reader(text, delimiter=delimiter)

    def rows() -> Iterator[tuple[int, list[str]]]:
        consumed = 0  # physical lines the reader has consumed after the header
        try:
            for cells in reader:
                start, consumed = consumed + 2, reader.line_num
                if not blank(cells):
                    yield start, cells
        except (UnicodeDecodeError, csv.Error) as exc:
            where = f"{path}:{consumed + 2}"
            raise ImportFileError(f"{where}: cannot read the file: {exc}") from exc

    return Table(path, header, rows(), path.stat().st_size, _raw=raw, _text=text)


def _open_xlsx(path: Path) -> Table:
    import openpyxl
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise ImportFileError(f"{path}: not a readable .xlsx workbook ({exc})") from exc
    sheet = book.worksheets[0]
    it = sheet.iter_rows(values_only=True)
    try:
        header = [_cell_text(c) for c in next(it)]
    except StopIteration:
        book.close()
        raise EmptyFileError(f"{path}:1: the sheet is empty (no header row)") from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for line, cells in enumerate(it, start=2):
                texts = [_cell_text(c) for c in cells]
                if not blank(texts):
                    yield line, texts
        finally:
            book.close()

    epoch = EXCEL_1904 if book.epoch == CALENDAR_MAC_1904 else EXCEL_1900
    return Table(path, header, rows(), path.stat().st_size, excel_epoch=epoch)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def expand_paths(paths: list[Path]) -> list[Path]:
    """The export files named, with folders replaced by the files they hold (except hidden
    files and the ``~$…`` lock files Excel leaves beside an open workbook)."""
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found.extend(
                sorted(
                    c
                    for c in p.iterdir()
                    if c.is_file()
                    and c.suffix.lower() in SUFFIXES
                    and not c.name.startswith(("~$", "."))
                )
            )
        elif p.exists():
            found.append(p)
        else:
            raise ImportFileError(f"{p}: no such file or folder")
    return found
