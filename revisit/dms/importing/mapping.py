"""Header mappings: a user's own names for the columns of an export.

Every DMS spells its headers its own way. Beside the built-in aliases (see
:mod:`revisit.dms.importing.formats`), a user maps any header to a column, on the command line
(``revisit import --map 交车日期=purchase_date``, or ``--map vehicles.交车日期=purchase_date``
for one kind only) or in a mapping file kept per DMS (``--map-file dms/xyz.yaml``)::

    # headers of the XYZ DMS → revisit columns
    交车日期: purchase_date          # any kind with a purchase_date column
    visits:                          # this kind only
      进站日期: date
      维修性质: type
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from revisit.dms.importing.formats import KINDS, KINDS_BY_NAME, normalise_header
from revisit.errors import ImportFileError
from revisit.yamlfiles import yaml_problem


@dataclass
class HeaderMapping:
    """Normalised header → column, for every kind (``general``) or one kind (``by_kind``)."""

    general: dict[str, str] = field(default_factory=dict)
    by_kind: dict[str, dict[str, str]] = field(default_factory=dict)

    def for_kind(self, kind: str) -> dict[str, str]:
        """The mapping that applies to files of ``kind``: its own entries over the general."""
        return {**self.general, **self.by_kind.get(kind, {})}

    def add(self, header: str, column: str, *, kind: str | None, where: str) -> None:
        """Map ``header`` to ``column`` (of ``kind``, or of any kind that has it).

        Raises :class:`ImportFileError` naming ``where`` for an unknown kind or column.
        """
        header, column = header.strip(), column.strip()
        if not header or not column:
            raise ImportFileError(f"{where}: write a mapping as HEADER=COLUMN")
        if kind is not None:
            if kind not in KINDS_BY_NAME:
                raise ImportFileError(
                    f"{where}: unknown kind {kind!r}{_did_you_mean(kind, KINDS_BY_NAME)}"
                )
            columns: Iterable[str] = (c.name for c in KINDS_BY_NAME[kind].columns)
        else:
            columns = {c.name for k in KINDS for c in k.columns}
        known = sorted(set(columns))
        if column not in known:
            hint = _did_you_mean(column, known) or f" (columns: {', '.join(known)})"
            raise ImportFileError(f"{where}: unknown column {column!r}{hint}")
        target = self.general if kind is None else self.by_kind.setdefault(kind, {})
        target[normalise_header(header)] = column


def parse_mapping(options: Iterable[str] = (), files: Iterable[Path] = ()) -> HeaderMapping:
    """The mapping from mapping files (in order) and then ``--map`` options (which win).

    An option is ``HEADER=COLUMN`` or ``KIND.HEADER=COLUMN``. Raises
    :class:`ImportFileError` with a one-line reason for a file that cannot be read or an
    entry naming an unknown kind or column.
    """
    mapping = HeaderMapping()
    for path in files:
        _read_file(mapping, path)
    for option in options:
        header, sep, column = option.partition("=")
        if not sep:
            raise ImportFileError(f"--map {option}: write a mapping as HEADER=COLUMN")
        kind, dot, rest = header.partition(".")
        scoped = dot and kind.strip() in KINDS_BY_NAME
        if dot and not scoped and _did_you_mean(kind.strip(), KINDS_BY_NAME):
            hint = _did_you_mean(kind.strip(), KINDS_BY_NAME)
            raise ImportFileError(f"--map {option}: unknown kind {kind.strip()!r}{hint}")
        mapping.add(
            rest if scoped else header,
            column,
            kind=kind.strip() if scoped else None,
            where=f"--map {option}",
        )
    return mapping


def _read_file(mapping: HeaderMapping, path: Path) -> None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read the mapping file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ImportFileError(yaml_problem(path, exc, what="header mapping file")) from None
    if data is None:
        return
    if not isinstance(data, Mapping):
        raise ImportFileError(f"{path}: write one 'HEADER: column' per line")
    for header, value in data.items():
        if isinstance(value, Mapping):
            for inner, column in value.items():
                mapping.add(str(inner), str(column), kind=str(header), where=f"{path}: {header}")
        else:
            mapping.add(str(header), str(value), kind=None, where=f"{path}: {header}")


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]}?)" if close else ""
