"""One row of an export file → the values to store, and the problems found in it.

A :class:`RowParser` is built once per file from the file's kind and header; :meth:`parse`
is then called for every row (a million times for a large dealership, so the per-column
work is laid out in advance and parsers of values that repeat — dates, types, statuses,
yes/no — remember their answers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from revisit.dms.importing import values as v
from revisit.dms.importing.formats import CUSTOMERS, FileKind
from revisit.dms.phones import PhoneError, PhoneParser
from revisit.settings import DEFAULT_STORE_ID

#: (line, field, reason, rejected) for each problem of a row.
RowProblem = tuple[int, str, str, bool]

MEMO_LIMIT = 100_000  # distinct texts remembered per column

#: Parsers whose input repeats across rows (a day, a type): worth remembering.
_REPEATING: set[Callable[[str], Any]] = {
    v.parse_date, v.parse_bool, v.parse_timezone, v.parse_region,
    v.VISIT_TYPES, v.VEHICLE_STATUS, v.GRADE, v.UPSELL_STATUS, v.LANGUAGE,
}  # fmt: skip


def memoised(parse: Callable[[str], Any], limit: int = MEMO_LIMIT) -> Callable[[str], Any]:
    """``parse`` remembering its answer (a value, or the ``ValueError`` reason) per text."""
    cache: dict[str, tuple[bool, Any]] = {}

    def run(text: str) -> Any:
        hit = cache.get(text)
        if hit is None:
            try:
                hit = (True, parse(text))
            except ValueError as exc:
                hit = (False, str(exc))
            if len(cache) < limit:
                cache[text] = hit
        if hit[0]:
            return hit[1]
        raise ValueError(hit[1])

    return run


class RowParser:
    """Parses the rows of one file of ``kind`` whose columns sit at ``positions``.

    ``excel_epoch`` (for an ``.xlsx`` sheet) makes date columns read bare numbers as Excel
    serial dates. ``known_stores`` is the set of store ids the database has (customers only);
    a customer naming another store adds it to ``new_stores`` and warns once.
    """

    def __init__(
        self,
        kind: FileKind,
        positions: dict[str, int],
        width: int,
        *,
        phones: PhoneParser,
        known_stores: set[str],
        excel_epoch: dt.date | None = None,
    ) -> None:
        self.kind, self.width = kind, width
        self.phones, self.known_stores = phones, known_stores
        self.new_stores: set[str] = set()
        self.index = {name: i for i, name in enumerate(kind.db_columns())}
        self.plan: list[tuple[str, int | None, Callable[[str], Any] | None, Any, bool, bool]] = []
        for c in kind.columns:
            parse: Callable[[str], Any] | None = c.parse
            if parse is v.parse_date and excel_epoch is not None:
                parse = memoised(v.excel_date_parser(excel_epoch))
            elif parse is v.parse_text:
                parse = None  # the text as it is
            elif parse in _REPEATING:
                parse = memoised(parse)
            strict = c.required and not c.warn_only
            self.plan.append((c.name, positions.get(c.name), parse, c.default, strict, c.warn_only))

    def parse(self, line: int, cells: list[str], problems: list[RowProblem]) -> list[Any] | None:
        """The row's values in ``kind.db_columns()`` order, or None when it is rejected;
        every problem found is appended to ``problems``."""
        if len(cells) > self.width and any(c.strip() for c in cells[self.width :]):
            reason = f"{len(cells)} fields but the header has {self.width} (a stray delimiter?)"
            problems.append((line, "row", reason, True))
            return None
        values: list[Any] = []
        warnings: list[tuple[str, str]] = []
        n = len(cells)
        for name, pos, parse, default, strict, warn_only in self.plan:
            text = cells[pos].strip() if pos is not None and pos < n else ""
            if not text:
                if strict:
                    problems.append((line, name, "missing", True))
                    return None
                values.append(None if warn_only else default)
            elif parse is None:
                values.append(text)
            else:
                try:
                    values.append(parse(text))
                except ValueError as exc:
                    if strict:
                        problems.append((line, name, str(exc), True))
                        return None
                    warnings.append((name, str(exc)))
                    values.append(default)
        if self.kind is CUSTOMERS:
            self._customer_fields(values, warnings)
        problems.extend((line, name, reason, False) for name, reason in warnings)
        return values

    def _customer_fields(self, values: list[Any], warnings: list[tuple[str, str]]) -> None:
        """Fill the derived columns (phone_raw, phone_type, phone_invalid, birthday_md)."""
        at = self.index
        raw = values[at["phone"]]
        phone_type = None
        try:
            phone = self.phones.parse(raw or "")
            values[at["phone"]], phone_type = phone.e164, phone.kind
        except PhoneError as exc:
            values[at["phone"]] = None
            warnings.append(("phone", f"{exc}; loaded without a phone"))
        birthday = values[at["birthday"]]
        values.extend((raw, phone_type, False, birthday[5:] if birthday else None))
        store = values[at["store_id"]] or DEFAULT_STORE_ID
        values[at["store_id"]] = store
        if store not in self.known_stores:
            self.known_stores.add(store)
            self.new_stores.add(store)
            warnings.append(("store_id", f"unknown store {store!r}: created with defaults"))
        if any(f == "consent_sms" for f, _ in warnings):
            values[at["consent_sms"]] = False  # consent we cannot read is no consent
