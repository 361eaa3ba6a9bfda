"""The dashboard's tables: which columns each shows, and every cell as the text shown and
its raw values (what the CSV download holds), from
:func:`revisit.reports.dashboard.dashboard_data`.

Shown as: counts ``1,234``; rates ``12.3%``; lift in percentage points ``+2.1``; its 95%
interval ``[-0.4, +4.6] not yet``; amounts ``1,234.50``; a missing rate or lift ``—``.

The CSV holds raw values, one rule for every table: numbers as JSON numbers (counts, rates
and shares as fractions 0–1 as the JSON report has them, the lift and its interval in
percentage points as their heads say, amounts in yuan), nothing (an empty cell) where the
page shows ``—``; codes as codes (campaign, decline reason, funnel stage, the lift's verdict
``significant``/``not_yet``), each followed by a ``…_label`` column with the words the table
shows. The interval is two columns, ``lift_ci_low`` and ``lift_ci_high``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from revisit.reports.stats import significant
from revisit.reports.upsell import KEYS as UPSELL_KEYS
from revisit.reports.upsell import UPSELL_GROUPS

MISSING = "—"
UNKNOWN = "unknown"  # a group with nothing recorded (revisit.reports.upsell)


#: A CSV value: a number, text, or None (an empty cell).
Raw = int | float | str | None
#: The CSV columns of a table column, as suffixes of its key, by what it shows: a value
#: (its key alone), a code and its label, the interval's parts (not the shown text).
VALUE = ("",)
LABELLED = ("", "_label")
INTERVAL = ("_low", "_high", "_verdict", "_verdict_label")


@dataclass(frozen=True)
class Cell:
    """One table cell: ``text`` shown, ``raw`` its values in the CSV (one per CSV column the
    table column has: the value, then a code's label or an interval's parts), ``numeric``
    (right-aligned) and a CSS ``mark``."""

    text: str
    raw: tuple[Raw, ...]
    numeric: bool = False
    mark: str = ""


@dataclass(frozen=True)
class Table:
    """A table: ``id`` (the element id is ``rv-<id>``), its title, column keys and heads,
    its rows of cells, and its CSV's column keys and heads (``csv_keys``, ``csv_heads``:
    a column's key, with ``<key>_label`` after it for a code; ``<key>_low``/``_high``/
    ``_verdict``/``_verdict_label`` instead of it for the interval)."""

    id: str
    title: str
    keys: tuple[str, ...]
    heads: tuple[str, ...]
    rows: list[list[Cell]]
    csv_keys: tuple[str, ...]
    csv_heads: tuple[str, ...]

    def csv(self) -> dict[str, Any]:
        """The CSV download as JSON-ready data: ``{"keys": [...], "heads": [...], "rows":
        [[raw, ...], ...]}`` (heads in the page's language, raw values as in the module
        doc)."""
        rows = [[value for cell in row for value in cell.raw] for row in self.rows]
        return {"keys": list(self.csv_keys), "heads": list(self.csv_heads), "rows": rows}


def count(n: int) -> Cell:
    """A count, ``1,234``."""
    return Cell(f"{n:,}", (n,), True)


def percent(value: float | None) -> Cell:
    """A rate as a percentage with one decimal, ``12.3%``; the CSV holds the fraction."""
    if value is None:
        return Cell(MISSING, (None,), True)
    return Cell(f"{value * 100:.1f}%", (value,), True)


def _pp(value: float) -> float:
    """A fraction in percentage points, without float noise (0.021 → 2.1, not 2.0999…)."""
    return round(value * 100, 10)


def points(value: float | None) -> Cell:
    """A difference of rates in percentage points, signed, ``+2.1``; the CSV holds the
    points (2.1)."""
    if value is None:
        return Cell(MISSING, (None,), True)
    return Cell(f"{value * 100:+.1f}", (_pp(value),), True)


def interval(low: float | None, high: float | None, words: dict[str, str]) -> Cell:
    """The lift's 95% interval in percentage points, marked significant or not yet; the CSV
    holds low, high (points), the verdict's code and its words (all empty without one)."""
    if low is None or high is None:
        return Cell(MISSING, (None, None, None, None))
    sig = significant(low, high)
    code = "significant" if sig else "not_yet"
    return Cell(f"[{low * 100:+.1f}, {high * 100:+.1f}] {words[code]}",
                (_pp(low), _pp(high), code, words[code]), False,
                "rv-sig" if sig else "rv-ns")  # fmt: skip


def amount(value: float) -> Cell:
    """A money amount with two decimals, ``1,234.50``."""
    return Cell(f"{value:,.2f}", (value,), True)


def text(value: Any) -> Cell:
    """Text as it is (None: ``—``, an empty CSV cell)."""
    return Cell(MISSING if value is None else str(value), (value,))


def coded(code: str, shown: str) -> Cell:
    """A code (campaign, reason, stage) shown as ``shown``; the CSV holds both."""
    return Cell(shown, (code, shown))


def named(campaign: str, words: dict[str, str]) -> Cell:
    """A campaign by its display name (``campaign:<name>`` in ``words``), else its name;
    the CSV holds the name, then the display name."""
    return coded(campaign, words.get(f"campaign:{campaign}", campaign))


def reason(code: str, words: dict[str, str]) -> Cell:
    """A decline reason by its label (``reason:<code>`` in ``words``); the CSV holds the
    code, then the label."""
    return coded(code, words.get(f"reason:{code}", code))


def grouped(value: Any, words: dict[str, str]) -> Cell:
    """A group's name (an advisor, a team), ``unknown`` (none recorded) in words; the CSV
    keeps the value (``unknown`` too)."""
    if value == UNKNOWN:
        return Cell(words["unknown"], (UNKNOWN,))
    return text(value)


#: A table column: its key, its cell from a row, and the suffixes its CSV columns add to its
#: key (:data:`VALUE`, :data:`LABELLED`, :data:`INTERVAL`).
Column = tuple[str, Callable[[dict[str, Any]], Cell], tuple[str, ...]]


def _table(id_: str, title: str, columns: Sequence[Column], rows: Sequence[dict[str, Any]],
           words: dict[str, str]) -> Table:  # fmt: skip
    keys = tuple(key for key, _, _ in columns)
    heads = tuple(words.get(key, key) for key in keys)
    csv_keys = tuple(key + suffix for key, _, suffixes in columns for suffix in suffixes)
    csv_heads = tuple(words.get(k, k) for k in csv_keys)
    cells = [[cell(r) for _, cell, _ in columns] for r in rows]
    return Table(id_, title, keys, heads, cells, csv_keys, csv_heads)


def _lift_columns(words: dict[str, str]) -> list[Column]:
    return [
        _col("return_rate", percent),
        _col("holdout_return_rate", percent),
        _col("lift", points),
        ("lift_ci", lambda r: interval(r["lift_ci_low"], r["lift_ci_high"], words), INTERVAL),
    ]


def _col(key: str, shown: Callable[[Any], Cell], field: str | None = None) -> Column:
    """The column ``key`` showing ``row[field or key]`` through ``shown``."""
    name = field or key

    def cell(row: dict[str, Any]) -> Cell:
        return shown(row[name])

    return key, cell, VALUE


def _counted(*keys: str) -> list[Column]:
    return [_col(k, count) for k in keys]


def tables(data: dict[str, Any], words: dict[str, str]) -> dict[str, Table]:
    """Every table of the dashboard by id: ``trend``, ``runs``, ``funnel``, ``reasons``,
    ``churn``, ``staff`` and ``upsell_<month|grade|advisor|team>``."""
    lifts = _lift_columns(words)
    named_campaign = ("campaign", lambda r: named(r["campaign"], words), LABELLED)
    out = {
        "trend": _table("trend", words["trend_title"], [
            named_campaign, _col("period", text),
            *_counted("runs", "targeted", "holdout", "contacted", "returned"), *lifts,
        ], data["trend"], words),
        "runs": _table("runs", words["runs_title"], [
            named_campaign, _col("day", text, "as_of"),
            *_counted("targeted", "holdout", "contacted", "delivered", "reached", "booked",
                      "returned"),
            *lifts, _col("revenue", amount),
        ], data["runs"], words),
        "funnel": _table("funnel", words["funnel_title"], [
            ("stage", lambda r: coded(r["stage"], words[r["stage"]]), LABELLED),
            _col("count", count), _col("of_targeted", percent),
        ], _funnel_rows(data["funnel"]), words),
        "reasons": _table("reasons", words["churn_title"], [
            ("reason", lambda r: reason(r["reason"], words), LABELLED),
            _col("declined", count), _col("share", percent),
        ], data["reasons"], words),
        "churn": _table("churn", words["churn_title"], [
            named_campaign, _col("store", text),
            ("reason", lambda r: reason(r["reason"], words), LABELLED),
            _col("declined", count), _col("share", percent),
        ], data["churn"], words),
        "staff": _table("staff", words["staff_title"], [
            _col("staff", text),
            *_counted("listed", "called", "reached", "booked", "returned"),
            _col("reach_rate", percent), _col("return_rate", percent),
        ], data["staff"], words),
    }  # fmt: skip
    for by in UPSELL_GROUPS:
        columns: list[Column] = [_col(by, lambda value: grouped(value, words))]
        for key in UPSELL_KEYS:
            if key.endswith("rate"):
                columns.append(_col(key, percent))
            elif key == "accepted_amount":
                columns.append(_col(key, amount))
            else:
                columns.append(_col(key, count))
        title = f"{words['upsell_title']} · {words['by_' + by]}"
        out[f"upsell_{by}"] = _table(f"upsell_{by}", title, columns, data["upsell"][by], words)
    return out


def _funnel_rows(stages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    top = stages[0]["count"] if stages else 0
    return [{**s, "of_targeted": s["count"] / top if top else None} for s in stages]
