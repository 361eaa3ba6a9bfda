"""The dashboard's tables: which columns each shows, and every cell as the text shown and
the raw value (what the CSV download holds), from :func:`revisit.reports.dashboard.dashboard_data`.

Shown as: counts ``1,234``; rates ``12.3%``; lift in percentage points ``+2.1``; its 95%
interval ``[-0.4, +4.6]``; amounts ``1,234.50``; a missing rate or lift ``—``.
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


@dataclass(frozen=True)
class Cell:
    """One table cell: ``text`` shown, ``value`` for the CSV ("" when the text is the value),
    ``numeric`` (right-aligned, exported as a number) and a CSS ``mark``."""

    text: str
    value: str = ""
    numeric: bool = False
    mark: str = ""


@dataclass(frozen=True)
class Table:
    """A table: ``id`` (the element id is ``rv-<id>``), its title, column keys and heads,
    and its rows of cells."""

    id: str
    title: str
    keys: tuple[str, ...]
    heads: tuple[str, ...]
    rows: list[list[Cell]]


def count(n: int) -> Cell:
    """A count, ``1,234``."""
    return Cell(f"{n:,}", str(n), True)


def percent(value: float | None) -> Cell:
    """A rate as a percentage with one decimal, ``12.3%``."""
    if value is None:
        return Cell(MISSING, "", True)
    return Cell(f"{value * 100:.1f}%", repr(value), True)


def points(value: float | None) -> Cell:
    """A difference of rates in percentage points, signed, ``+2.1``."""
    if value is None:
        return Cell(MISSING, "", True)
    return Cell(f"{value * 100:+.1f}", repr(value), True)


def interval(low: float | None, high: float | None, words: dict[str, str]) -> Cell:
    """The lift's 95% interval in percentage points, marked significant or not yet."""
    if low is None or high is None:
        return Cell(MISSING)
    sig = significant(low, high)
    word = words["significant"] if sig else words["not_yet"]
    return Cell(f"[{low * 100:+.1f}, {high * 100:+.1f}] {word}", "", False,
                "rv-sig" if sig else "rv-ns")  # fmt: skip


def amount(value: float) -> Cell:
    """A money amount with two decimals, ``1,234.50``."""
    return Cell(f"{value:,.2f}", repr(value), True)


def text(value: Any) -> Cell:
    """Text as it is (None: ``—``)."""
    return Cell(MISSING if value is None else str(value))


def named(campaign: str, words: dict[str, str]) -> Cell:
    """A campaign by its display name (``campaign:<name>`` in ``words``), else its name;
    the CSV keeps the name."""
    shown = words.get(f"campaign:{campaign}", campaign)
    return Cell(shown, campaign if shown != campaign else "")


def grouped(value: Any, words: dict[str, str]) -> Cell:
    """A group's name (an advisor, a team), ``unknown`` (none recorded) in words; the CSV
    keeps the value."""
    if value == UNKNOWN:
        return Cell(words["unknown"], UNKNOWN)
    return text(value)


Column = tuple[str, Callable[[dict[str, Any]], Cell]]


def _table(id_: str, title: str, columns: Sequence[Column], rows: Sequence[dict[str, Any]],
           words: dict[str, str]) -> Table:  # fmt: skip
    keys = tuple(key for key, _ in columns)
    heads = tuple(words.get(key, key) for key in keys)
    return Table(id_, title, keys, heads, [[cell(r) for _, cell in columns] for r in rows])


def _lift_columns(words: dict[str, str]) -> list[Column]:
    return [
        ("return_rate", lambda r: percent(r["return_rate"])),
        ("holdout_return_rate", lambda r: percent(r["holdout_return_rate"])),
        ("lift", lambda r: points(r["lift"])),
        ("lift_ci", lambda r: interval(r["lift_ci_low"], r["lift_ci_high"], words)),
    ]


def _col(key: str, shown: Callable[[Any], Cell], field: str | None = None) -> Column:
    """The column ``key`` showing ``row[field or key]`` through ``shown``."""
    name = field or key

    def cell(row: dict[str, Any]) -> Cell:
        return shown(row[name])

    return key, cell


def _counted(*keys: str) -> list[Column]:
    return [_col(k, count) for k in keys]


def tables(data: dict[str, Any], words: dict[str, str]) -> dict[str, Table]:
    """Every table of the dashboard by id: ``trend``, ``runs``, ``funnel``, ``reasons``,
    ``churn``, ``staff`` and ``upsell_<month|grade|advisor|team>``."""
    lifts = _lift_columns(words)
    out = {
        "trend": _table("trend", words["trend_title"], [
            ("campaign", lambda r: named(r["campaign"], words)),
            ("period", lambda r: text(r["period"])),
            *_counted("runs", "targeted", "holdout", "contacted", "returned"), *lifts,
        ], data["trend"], words),
        "runs": _table("runs", words["runs_title"], [
            ("campaign", lambda r: named(r["campaign"], words)),
            ("day", lambda r: text(r["as_of"])),
            *_counted("targeted", "holdout", "contacted", "delivered", "reached", "booked",
                      "returned"),
            *lifts, ("revenue", lambda r: amount(r["revenue"])),
        ], data["runs"], words),
        "funnel": _table("funnel", words["funnel_title"], [
            ("stage", lambda r: text(words[r["stage"]])), ("count", lambda r: count(r["count"])),
            ("of_targeted", lambda r: percent(r["of_targeted"])),
        ], _funnel_rows(data["funnel"]), words),
        "reasons": _table("reasons", words["churn_title"], [
            ("reason", lambda r: text(words.get(f"reason:{r['reason']}", r["reason"]))),
            ("declined", lambda r: count(r["declined"])), ("share", lambda r: percent(r["share"])),
        ], data["reasons"], words),
        "churn": _table("churn", words["churn_title"], [
            ("campaign", lambda r: named(r["campaign"], words)),
            ("store", lambda r: text(r["store"])),
            ("reason", lambda r: text(words.get(f"reason:{r['reason']}", r["reason"]))),
            ("declined", lambda r: count(r["declined"])), ("share", lambda r: percent(r["share"])),
        ], data["churn"], words),
        "staff": _table("staff", words["staff_title"], [
            ("staff", lambda r: text(r["staff"])),
            *_counted("listed", "called", "reached", "booked", "returned"),
            ("reach_rate", lambda r: percent(r["reach_rate"])),
            ("return_rate", lambda r: percent(r["return_rate"])),
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
