"""Where a cohort query reads (shared by every cohort definition module)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuerySource:
    """Where a cohort query reads: the database dialect, and whether the per-vehicle visit
    summary is current for the as_of date (else the visits themselves are grouped)."""

    dialect: str
    summary: bool = False
