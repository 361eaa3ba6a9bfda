"""Importing filled-in call lists: the CSV a caller got (or any CSV / .xlsx with the same
columns), its outcome columns filled in Excel — 结果, 原因, 回访日期, 备注 (outcome, reason,
callback_date, note). Rows whose outcome is empty (not called yet) are skipped.

Validated like the DMS import: each bad row is named ``file:line: field: reason`` and not
loaded, good rows load, and importing the same file twice adds nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Engine

from revisit.access.audit import audit
from revisit.campaigns.statuses import AuditAction
from revisit.dms.importing.loader import Problem
from revisit.dms.importing.reading import open_table
from revisit.dms.importing.values import excel_date_parser
from revisit.errors import ImportFileError
from revisit.outcomes.calls import CallOutcome, FieldProblem, parse_outcome, record_call_outcomes

#: Column → the headers it may have (canonical first; the call list's zh and en headers).
HEADERS: dict[str, tuple[str, ...]] = {
    "contact_id": ("contact_id", "联系编号", "联系id", "contact"),
    "outcome": ("outcome", "结果", "code", "通话结果", "回访结果"),
    "reason": ("reason", "原因", "detail", "原因/细节"),
    "callback_date": ("callback_date", "回访日期", "回电日期", "callback"),
    "note": ("note", "备注"),
    "staff": ("staff", "跟进人", "caller", "客服"),
}
BATCH = 2000


@dataclass
class SheetReport:
    """What an outcome import did, per file: rows read, rows without an outcome yet,
    outcomes recorded, rows already recorded, callbacks added, tickets opened and rows
    rejected."""

    path: str
    read: int = 0
    blank: int = 0
    inserted: int = 0
    duplicates: int = 0
    callbacks: int = 0
    tickets: int = 0
    rejected: int = 0
    problems: list[Problem] = field(default_factory=list)


def _columns(header: list[str], path: Path) -> dict[str, int]:
    folded = [h.strip().casefold() for h in header]
    found: dict[str, int] = {}
    for name, aliases in HEADERS.items():
        for alias in aliases:
            if alias.casefold() in folded:
                found[name] = folded.index(alias.casefold())
                break
    missing = [n for n in ("contact_id", "outcome") if n not in found]
    if missing:
        names = " / ".join(f"{n} ({HEADERS[n][1]})" for n in missing)
        raise ImportFileError(f"{path}:1: missing column {names}")
    return found


def _row(cells: list[str], columns: dict[str, int]) -> dict[str, str]:
    return {
        name: (cells[i].strip() if i < len(cells) and cells[i] else "")
        for name, i in columns.items()
    }


def _excel_day(text: str, epoch: dt.date) -> str:
    """A callback date of an .xlsx sheet: Excel's serial (a date cell whose number format
    openpyxl does not know) as ISO; any other text as it is, for the usual parser."""
    try:
        return excel_date_parser(epoch)(text)
    except ValueError:
        return text


def _parse(values: dict[str, str]) -> CallOutcome:
    try:
        contact_id = int(values["contact_id"].removesuffix(".0"))
    except ValueError:
        raise FieldProblem(
            "contact_id", f"not a contact number ({values['contact_id']!r})"
        ) from None
    code, detail, day = parse_outcome(
        values["outcome"], values.get("reason", ""), values.get("callback_date", "")
    )
    staff, note = values.get("staff") or None, values.get("note") or None
    return CallOutcome(contact_id, code, detail, day, staff=staff, note=note)


def import_sheet(
    engine: Engine,
    path: Path,
    *,
    on_problem: Callable[[Problem], None] | None = None,
    managers: Mapping[str, str] | None = None,
    actor: str = "system",
) -> SheetReport:
    """Import one filled-in call list (see the module doc); ``dissatisfied`` rows open
    tickets owned by ``managers`` (store id → service manager). The import is audited as one
    row by ``actor`` (the file and its counts). Raises ImportFileError when the file cannot
    be read or lacks the contact_id or outcome column."""
    report = SheetReport(path=str(path))
    table = open_table(path)
    try:
        columns = _columns(table.header, path)
        # a row refused on reading waits in the batch too: problems are told in file order
        batch: list[tuple[int, CallOutcome | FieldProblem]] = []
        for line, cells in table.rows:
            report.read += 1
            values = _row(cells, columns)
            if table.excel_epoch and values.get("callback_date"):  # a date cell as its serial
                values["callback_date"] = _excel_day(values["callback_date"], table.excel_epoch)
            if not values["outcome"] and not values.get("reason"):  # a reason implies its code
                report.blank += 1
                continue
            try:
                batch.append((line, _parse(values)))
            except FieldProblem as problem:
                batch.append((line, problem))
            if len(batch) >= BATCH:
                _flush(engine, batch, report, path, on_problem, managers)
        _flush(engine, batch, report, path, on_problem, managers)
    finally:
        table.close()
    with engine.begin() as conn:
        counts = {"read": report.read, "recorded": report.inserted,
                  "already_there": report.duplicates, "rejected": report.rejected}  # fmt: skip
        audit(conn, actor=actor, action=AuditAction.OUTCOMES_IMPORTED, entity="file",
              entity_id=path.name, detail=counts)  # fmt: skip
    return report


def _reject(
    report: SheetReport,
    path: Path,
    line: int,
    problem: FieldProblem,
    on_problem: Callable[[Problem], None] | None,
) -> None:
    found = Problem(str(path), line, problem.field, problem.reason, rejected=True)
    report.rejected += 1
    report.problems.append(found)
    if on_problem is not None:
        on_problem(found)


def _flush(
    engine: Engine,
    batch: list[tuple[int, CallOutcome | FieldProblem]],
    report: SheetReport,
    path: Path,
    on_problem: Callable[[Problem], None] | None,
    managers: Mapping[str, str] | None,
) -> None:
    if not batch:
        return
    outcomes = [(line, o) for line, o in batch if isinstance(o, CallOutcome)]
    problems = [(line, o) for line, o in batch if isinstance(o, FieldProblem)]
    with engine.begin() as conn:
        done = record_call_outcomes(conn, [o for _, o in outcomes], managers=managers)
    report.inserted += done.inserted
    report.duplicates += done.duplicates
    report.callbacks += done.callbacks
    report.tickets += done.tickets
    problems += [(outcomes[index][0], problem) for index, problem in done.problems or ()]
    for line, problem in sorted(problems, key=lambda found: found[0]):
        _reject(report, path, line, problem, on_problem)
    batch.clear()
