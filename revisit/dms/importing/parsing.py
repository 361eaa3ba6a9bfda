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

#: Parsers whose input repeats across rows (a day, a region) and that cost more than a
#: dictionary lookup: worth remembering. (Choices are a lookup already.)
_REPEATING: set[Callable[[str], Any]] = {v.parse_date, v.parse_timezone, v.parse_region}


class Memoised:
    """``parse`` remembering its answer (a value, or the ``ValueError`` reason) per text;
    ``values`` holds the good answers, for the row parser to look up without a call."""

    def __init__(self, parse: Callable[[str], Any], limit: int = MEMO_LIMIT) -> None:
        self.parse, self.limit = parse, limit
        self.values: dict[str, Any] = {}
        self.errors: dict[str, str] = {}

    def __call__(self, text: str) -> Any:
        if text in self.values:
            return self.values[text]
        if text in self.errors:
            raise ValueError(self.errors[text])
        try:
            value = self.parse(text)
        except ValueError as exc:
            if len(self.errors) < self.limit:
                self.errors[text] = str(exc)
            raise
        if len(self.values) < self.limit:
            self.values[text] = value
        return value


def _call(parse: Callable[[str], Any], i: int) -> str:
    """The expression that parses ``t`` in column ``i``: the common cases inline, without
    a function call (an ASCII id as it is, a date already seen), else ``P{i}(t)``."""
    if parse is v.parse_id:
        return f"t if t.isascii() and len(t) <= 64 else P{i}(t)"
    if isinstance(parse, Memoised):
        return f"M{i}[t] if t in M{i} else P{i}(t)"
    return f"P{i}(t)"


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
        self.memos: dict[int, dict[str, Any]] = {}
        for c in kind.columns:
            parse: Callable[[str], Any] | None = c.parse
            if parse is v.parse_date and excel_epoch is not None:
                parse = Memoised(v.excel_date_parser(excel_epoch))
            elif parse is v.parse_text:
                parse = None  # the text as it is
            elif parse in _REPEATING:
                parse = Memoised(parse)
            strict = c.required and not c.warn_only
            self.plan.append((c.name, positions.get(c.name), parse, c.default, strict, c.warn_only))

        self.parse: Callable[[int, list[str], list[RowProblem]], list[Any] | None]
        self.parse = self._compiled()

    def _compiled(self) -> Callable[[int, list[str], list[RowProblem]], list[Any] | None]:
        """``parse(line, cells, problems)``: the row's values in ``kind.db_columns()``
        order, or None when it is rejected; every problem found is appended to
        ``problems``.

        Written out as Python source for this file's columns (as ``dataclasses`` and
        ``namedtuple`` do), one statement per column instead of a loop that looks every
        column's rules up again for every row: the import's most frequent code.
        """
        env: dict[str, Any] = {"W": self.width, "fit": self._fit, "custom": None}
        if self.kind is CUSTOMERS:
            env["custom"] = self._customer_fields
        src = ["def parse(line, cells, problems):", "    if len(cells) != W:"]
        src += ["        cells = fit(line, cells, problems)", "        if cells is None:"]
        src += ["            return None", "    warnings = []"]
        for i, (name, pos, parse, default, strict, warn_only) in enumerate(self.plan):
            env[f"N{i}"], env[f"P{i}"] = name, parse
            if isinstance(parse, Memoised):
                env[f"M{i}"] = parse.values
            env[f"D{i}"] = None if warn_only else default
            if pos is None:  # a column the file does not have (never a required one)
                src.append(f"    v{i} = D{i}")
                continue
            src.append(f"    t = cells[{pos}].strip()")
            src.append("    if t:")
            if parse is None:
                src.append(f"        v{i} = t")
            else:
                src += ["        try:", f"            v{i} = {_call(parse, i)}"]
                src.append("        except ValueError as exc:")
                if strict:
                    src += [f"            problems.append((line, N{i}, str(exc), True))"]
                    src += ["            return None"]
                else:
                    src += [
                        f"            warnings.append((N{i}, str(exc)))",
                        f"            v{i} = D{i}",
                    ]
            src.append("    else:")
            if strict:
                src += [f"        problems.append((line, N{i}, 'missing', True))"]
                src += ["        return None"]
            else:
                src.append(f"        v{i} = D{i}")
        src.append(f"    values = [{', '.join(f'v{i}' for i in range(len(self.plan)))}]")
        if self.kind is CUSTOMERS:
            src.append("    custom(values, warnings)")
        src += ["    if warnings:", "        for name, reason in warnings:"]
        src += ["            problems.append((line, name, reason, False))", "    return values"]
        # Only names and positions are written into the source; values stay in env.
        exec("\n".join(src), env)
        return env["parse"]  # type: ignore[no-any-return]

    def _fit(self, line: int, cells: list[str], problems: list[RowProblem]) -> list[str] | None:
        """A row of another width than the header: padded when short (Excel drops empty
        trailing cells), rejected when longer with something in the extra cells."""
        if len(cells) < self.width:
            return cells + [""] * (self.width - len(cells))
        if any(c.strip() for c in cells[self.width :]):
            reason = f"{len(cells)} fields but the header has {self.width} (a stray delimiter?)"
            problems.append((line, "row", reason, True))
            return None
        return cells

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
