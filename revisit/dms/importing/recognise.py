"""Telling which data a file holds, or saying clearly why not.

A file is recognised by its name (``visits.csv``, ``工单.xlsx``, ``客户信息导出_20261123.csv``)
or, failing that, by its header — but a header guess is made only when every column of the
file belongs to some kind and one kind's required columns are all there: a file with columns
no kind owns is not forced into the kind it half resembles. A call list written by revisit
(with its outcome columns filled in by staff) is never a DMS export, whatever its name.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from revisit.dms.importing.formats import KINDS, FileKind, header_map, normalise_header
from revisit.dms.importing.mapping import HeaderMapping
from revisit.errors import ImportFileError

#: Columns of a call list (zh and en headers of ``revisit.delivery.calls``, and those
#: ``revisit outcome import`` accepts) that no DMS export has: two of them, one being a
#: contact id or callback date, make the file a call list.
CALL_LIST_OWN = {
    normalise_header(h)
    for h in ("回访日期", "回电日期", "callback_date", "联系编号", "联系id", "contact_id")
}
CALL_LIST_COLUMNS = CALL_LIST_OWN | {
    normalise_header(h) for h in ("结果", "outcome", "通话结果", "回访结果", "跟进人", "caller")
}
_WORDS = re.compile(r"[a-z]+")


class NotAnExport(ImportFileError):
    """A file of an import that holds no DMS data revisit can place."""


def recognise(path: Path, header: list[str], mapping: HeaderMapping | None = None) -> FileKind:
    """The kind of the file at ``path`` with this ``header``.

    Raises :class:`NotAnExport` with a one-line message naming the file, the headers seen
    and the closest kind (or, for a call list, the command that reads it).
    """
    mapping = mapping or HeaderMapping()
    cells = [normalise_header(h) for h in header]
    marks = [h for h, c in zip(header, cells, strict=True) if c in CALL_LIST_COLUMNS]
    if len(marks) >= 2 and CALL_LIST_OWN.intersection(cells):
        raise NotAnExport(
            f"{path}:1: a call list (columns {', '.join(marks)}), not a DMS export: "
            f"read its outcomes with `revisit outcome import {path}`"
        )
    kind = kind_by_name(path.stem)
    if kind is not None:
        return kind
    return _kind_by_header(path, header, mapping)


def kind_by_name(stem: str) -> FileKind | None:
    """The kind a file name says: a kind's name or a file alias, alone or inside the name
    (Chinese aliases anywhere, English ones as a word); the longest match wins, a tie
    between kinds says nothing."""
    s = normalise_header(stem)
    words = set(_WORDS.findall(stem.lower()))
    best: tuple[int, FileKind | None] = (0, None)
    for kind in KINDS:
        for alias in (kind.name, *kind.file_aliases):
            a = normalise_header(alias)
            if s == a:
                return kind
            hit = a in s if not a.isascii() else (a in words or a.rstrip("s") + "s" in words)
            if hit and len(a) > best[0]:
                best = (len(a), kind)
            elif hit and len(a) == best[0] and best[1] is not kind:
                best = (len(a), None)
    return best[1]


def _kind_by_header(path: Path, header: list[str], mapping: HeaderMapping) -> FileKind:
    found = {k.name: header_map(k, header, mapping.for_kind(k.name)) for k in KINDS}
    owned = {pos for f in found.values() for pos in f.values()}
    strangers = [h for i, h in enumerate(header) if i not in owned and h.strip()]
    complete = [k for k in KINDS if all(c.name in found[k.name] for c in k.required)]
    if complete and not strangers:
        complete.sort(key=lambda k: (len(found[k.name]), len(k.required)), reverse=True)
        first = complete[0]
        if len(complete) == 1 or len(found[complete[1].name]) < len(found[first.name]):
            return first
    raise NotAnExport(_unplaced(path, header, found, strangers))


def _unplaced(
    path: Path, header: list[str], found: dict[str, dict[str, int]], strangers: list[str]
) -> str:
    seen = ", ".join(h for h in header if h.strip()) or "none"
    closest = max(KINDS, key=lambda k: (len(found[k.name]), -len(k.required)))
    has = found[closest.name]
    if not has:
        hint = "no column of any kind"
    else:
        lacks = [c.name for c in closest.required if c.name not in has]
        hint = f"closest: {closest.name}" + (f" (lacks {', '.join(lacks)})" if lacks else "")
    why = f"columns no kind has: {', '.join(strangers)}; " if strangers and has else ""
    return (
        f"{path}:1: cannot tell which data this is ({why}{hint}; headers: {seen}); name the "
        f"file after its kind ({closest.name}.csv) or map headers with --map HEADER=COLUMN"
    )


def missing_columns(
    path: str, header: list[str], positions: dict[str, int], missing: Sequence[Any]
) -> str:
    """``path:1: missing required column …`` naming the headers seen and a ``--map`` that
    would supply each missing column: the unused header most like one of its names, or the
    only one left."""
    unused = [h.strip() for i, h in enumerate(header) if i not in positions.values() and h.strip()]
    parts, maps = [], []
    for col in missing:
        parts.append(f"{col.name} (or {' / '.join(col.aliases)})" if col.aliases else col.name)
        guess = _closest_header(unused, (col.name, *col.aliases))
        if guess is None and len(unused) == 1 and len(missing) == 1:
            guess = unused[0]
        if guess is not None:
            unused.remove(guess)
        maps.append(f"--map {guess or 'HEADER'}={col.name}")
    seen = ", ".join(h.strip() for h in header if h.strip()) or "none"
    return (
        f"{path}:1: missing required column {'; '.join(parts)}; headers seen: {seen}; "
        f"map yours with {' '.join(maps)}"
    )


def _closest_header(unused: list[str], names: Sequence[str]) -> str | None:
    best: tuple[float, str | None] = (0.0, None)
    for header in unused:
        for name in names:
            score = difflib.SequenceMatcher(None, header.lower(), name.lower()).ratio()
            if score > best[0]:
                best = (score, header)
    return best[1] if best[0] >= 0.4 else None
