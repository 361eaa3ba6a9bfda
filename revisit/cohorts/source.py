"""Where a cohort query reads (shared by every cohort definition module)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.sql import FromClause


@dataclass(frozen=True)
class QuerySource:
    """Where a cohort query reads: the database dialect, and the per-vehicle visit summary
    as of the as_of date when one can be read (the table, or for a replay the table patched
    by :func:`revisit.dms.visit_summary.replay_rows`); None: the visits themselves are
    grouped. ``recency``: the same, narrowed to a vehicle's recency (``vin``,
    ``recency_date``, ``last_visit_date``), cheaper to patch for a replay. ``replay_of``:
    the as_of of a replay (the summary is patched), None otherwise."""

    dialect: str
    summary: FromClause | None = None
    recency: FromClause | None = None
    replay_of: dt.date | None = None
