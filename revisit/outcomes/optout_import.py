"""Opt-out lists (``revisit optout import FILE``): a carrier's list, a complaint list, a
store's own register — the way opt-out works where customers cannot reply by SMS (Twilio's
SMS to mainland China is one-way).

A file is CSV or ``.xlsx`` with a ``phone`` and/or a ``customer_id`` column (Chinese aliases
as in the DMS export: 手机号, 客户编号, …) and an optional ``reason``. Each row opts out the
customer it names and every customer with its phone, through
:func:`revisit.outcomes.optouts.add_opt_out` (source ``import``). Rows are checked like the
DMS import: a row that names no customer, an unknown customer id or an unreadable phone is
rejected as ``file:line: field: reason`` while the good rows load; a phone that no customer
has is a warning (nobody to opt out today — import the list again after the next DMS
import). Importing the same file twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from revisit.campaigns.statuses import OptOutSource
from revisit.db.engine import chunked
from revisit.db.tables import CUSTOMERS, utcnow
from revisit.dms.importing.formats import normalise_header
from revisit.dms.importing.loader import Problem
from revisit.dms.importing.reading import open_table
from revisit.dms.phones import PhoneError, PhoneParser, mask_phone
from revisit.errors import ImportFileError
from revisit.outcomes.optouts import add_opt_out

COLUMNS = {
    "phone": ("phone", "手机号", "手机", "手机号码", "联系电话", "电话", "号码", "mobile"),
    "customer_id": ("customer_id", "客户编号", "客户代码", "客户号"),
    "reason": ("reason", "原因", "退订原因", "备注", "note"),
}
BATCH = 1000


@dataclass
class _Row:
    line: int
    customer_id: str | None
    phone: str | None
    reason: str | None


@dataclass
class OptOutImportReport:
    """What an opt-out list import did: rows read, customers newly opted out, customers
    already on the list, rejected rows and warnings (each also passed to ``on_problem``)."""

    path: str
    read: int = 0
    added: int = 0
    already: int = 0
    rejected: int = 0
    warnings: int = 0
    problems: list[Problem] = field(default_factory=list)


def _columns(path: Path, header: list[str]) -> dict[str, int]:
    lookup = {normalise_header(a): name for name, aliases in COLUMNS.items() for a in aliases}
    found: dict[str, int] = {}
    for pos, cell in enumerate(header):
        name = lookup.get(normalise_header(cell))
        if name is not None and name not in found:
            found[name] = pos
    if "phone" not in found and "customer_id" not in found:
        raise ImportFileError(
            f"{path}:1: no phone or customer_id column (手机号 / 客户编号); found "
            f"{', '.join(h for h in header if h) or 'nothing'}"
        )
    return found


def import_opt_outs(
    engine: Engine,
    path: Path,
    *,
    region: str = "CN",
    on_problem: Callable[[Problem], None] | None = None,
    now: dt.datetime | None = None,
) -> OptOutImportReport:
    """Load the opt-out list at ``path`` (see the module docstring). Raises
    :class:`~revisit.errors.ImportFileError` when the file cannot be read or has neither a
    phone nor a customer_id column; row problems are reported, never raised."""
    report = OptOutImportReport(str(path))

    def problem(line: int, fld: str, reason: str, *, rejected: bool = True) -> None:
        p = Problem(str(path), line, fld, reason, rejected)
        report.problems.append(p)
        if rejected:
            report.rejected += 1
        else:
            report.warnings += 1
        if on_problem is not None:
            on_problem(p)

    rows = _read(path, region, problem)
    report.read = len(rows) + report.rejected
    for batch in chunked(rows, BATCH):
        _load(engine, path, batch, problem, report, now or utcnow())
    return report


def _read(path: Path, region: str, problem: Callable[..., None]) -> list[_Row]:
    table = open_table(path)
    try:
        cols = _columns(path, table.header)
        parser = PhoneParser(region)
        rows: list[_Row] = []
        for line, cells in table.rows:

            def cell(name: str, cells: list[str] = cells) -> str:
                pos = cols.get(name)
                return cells[pos].strip() if pos is not None and pos < len(cells) else ""

            cid, raw_phone, reason = cell("customer_id"), cell("phone"), cell("reason")
            if not cid and not raw_phone:
                problem(line, "phone", "missing: give a phone or a customer_id")
                continue
            phone = None
            if raw_phone:
                try:
                    phone = parser.parse(raw_phone).e164
                except PhoneError as exc:
                    problem(line, "phone", str(exc))
                    continue
            rows.append(_Row(line, cid or None, phone, reason or None))
        return rows
    finally:
        table.close()


def _load(
    engine: Engine,
    path: Path,
    batch: Sequence[_Row],
    problem: Callable[..., None],
    report: OptOutImportReport,
    now: dt.datetime,
) -> None:
    ids = sorted({r.customer_id for r in batch if r.customer_id})
    phones = sorted({r.phone for r in batch if r.phone})
    with engine.begin() as conn:
        known = set(
            conn.execute(
                select(CUSTOMERS.c.customer_id).where(CUSTOMERS.c.customer_id.in_(ids))
            ).scalars()
        )
        owners: dict[str, list[str]] = {}
        for cid, phone in conn.execute(
            select(CUSTOMERS.c.customer_id, CUSTOMERS.c.phone).where(CUSTOMERS.c.phone.in_(phones))
        ):
            owners.setdefault(phone, []).append(cid)
        reasons: dict[str, str] = {}  # customer id → the first row naming them
        for row in batch:
            if row.customer_id and row.customer_id not in known:
                problem(row.line, "customer_id", f"unknown customer {row.customer_id!r}")
                continue
            if row.phone and not owners.get(row.phone):
                problem(
                    row.line, "phone",
                    f"no customer has {mask_phone(row.phone)}; nothing to opt out for it",
                    rejected=False,
                )  # fmt: skip
            reason = f"{path.name}:{row.line}" + (f" {row.reason}" if row.reason else "")
            for cid in [row.customer_id, *owners.get(row.phone or "", [])]:
                if cid:
                    reasons.setdefault(cid, reason)
        change = add_opt_out(
            conn, customer_ids=list(reasons), source=OptOutSource.IMPORT, reasons=reasons,
            actor="import", now=now,
        )  # fmt: skip
        report.added += len(change.added)
        report.already += len(change.already)
