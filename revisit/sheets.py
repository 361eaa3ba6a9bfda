"""Writing CSV and ``.xlsx`` files that people open in Excel, safely.

Every table revisit writes for people (call lists, the import's problems file, ``revisit cohort
--format csv``) goes through this module, for two rules:

* **No formula injection** (OWASP, "CSV Injection"): a text cell starting with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return would be run by Excel as a formula (a customer named
  ``=HYPERLINK(…)``), so it is written with a leading ``'`` — shown, never run. Numbers
  (``int``/``float`` values) are written as numbers.
* **Identifiers stay text**: an id, VIN or number that Excel would read as a number (leading
  zeros dropped, 15+ digits turned into ``1.23E+16``) is written, in a CSV, with a tab after it
  (Excel then takes the cell as text; readers that strip cells, such as ``revisit import``,
  see the value unchanged); in an ``.xlsx`` every cell is typed text. Phones are written for
  reading by :func:`revisit.dms.phones.format_for_reading` (``138 0000 0001``), which never
  starts with ``+`` and is never a number.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

#: First characters that make Excel (and LibreOffice, Google Sheets) read a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What Excel would turn into a number: digits (a sign, a point, an exponent), or a long run.
_NUMERIC = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$", re.ASCII)


def neutralise(value: Any) -> Any:
    """``value`` made safe for a spreadsheet cell: text starting with a formula character
    gets a leading ``'``; None becomes empty; numbers and other text are left as they are."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def as_text(value: Any) -> str:
    """An identifier (id, VIN, plate) for a CSV cell that Excel keeps as text: neutralised,
    and with a trailing tab when Excel would otherwise read it as a number."""
    text = neutralise("" if value is None else str(value))
    return f"{text}\t" if _NUMERIC.match(text) else text


class SafeCsvWriter:
    """``csv.writer`` whose every cell goes through :func:`neutralise`; the columns listed
    in ``text_columns`` (positions) go through :func:`as_text` instead."""

    def __init__(self, fh: IO[str], *, text_columns: Iterable[int] = (), **fmt: Any) -> None:
        self._writer = csv.writer(fh, **fmt)
        self._text = set(text_columns)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow(
            as_text(v) if i in self._text else neutralise(v) for i, v in enumerate(row)
        )

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def write_table(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    text_columns: Iterable[str] = (),
) -> Path:
    """Write ``header`` and ``rows`` to ``path``: an ``.xlsx`` workbook (one sheet, every
    cell typed text except numbers) when the name ends so, else a CSV in UTF-8 with a BOM
    (what Excel needs to show Chinese). ``text_columns`` names the identifier columns.
    Returns ``path``; the folder is created if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    texts = {i for i, h in enumerate(header) if h in set(text_columns)}
    if path.suffix.lower() == ".xlsx":
        _write_xlsx(path, header, rows, texts)
        return path
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = SafeCsvWriter(fh, text_columns=texts)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _write_xlsx(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]], texts: set[int]
) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import TYPE_STRING

    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in [header, *rows]:
        cells: list[Any] = []
        for i, value in enumerate(row):
            value = neutralise(value)
            if isinstance(value, int | float) and not isinstance(value, bool) and i not in texts:
                cells.append(value)
                continue
            # Typed text, so that openpyxl does not take "=…" for a formula either.
            cell = WriteOnlyCell(sheet, value=str(value))
            cell.data_type = TYPE_STRING
            cells.append(cell)
        sheet.append(cells)
    book.save(path)
