"""The demo's day after: deterministic by seed, imports cleanly beside the dealer group, and
its corrections (a mileage, a late repair order, a moved visit) change stored visits."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

import revisit.dms.importing as importing
from revisit.demo.day_after import DemoError, day_export, write_day_after
from revisit.demo.generator import write_demo_dealership
from revisit.dms.importing import import_paths
from revisit.dms.visit_summary import refresh_visit_summary

AS_OF = dt.date(2026, 11, 23)


def test_day_after_imports_and_keeps_the_summary_exact(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_demo_dealership(tmp_path / "demo", vehicles=400, seed=3, as_of=AS_OF)
    assert not import_paths(engine, [tmp_path / "demo"]).failed()
    with engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT visit_id, vin FROM visits")).all())
    export = day_export(engine, day=AS_OF, seed=7, share=0.05)
    assert export == day_export(engine, day=AS_OF, seed=7, share=0.05)
    assert export != day_export(engine, day=AS_OF, seed=8, share=0.05)
    new = [v for v in export.visits if v[0] not in stored]
    today = [v for v in new if v[0].startswith("RD")]
    assert {v[2] for v in today} == {AS_OF.isoformat()}
    assert len({v[1] for v in today}) == len(today)  # one repair order per vehicle
    moved = [v for v in export.visits if v[0] in stored and stored[v[0]] != v[1]]
    late = [v for v in new if v[0].startswith("RL")]
    assert moved and late and export.corrected == len(export.visits) - len(new) + len(late)
    assert export.items and {i[1] for i in export.items} <= {v[0] for v in new}

    monkeypatch.setattr(importing, "INCREMENTAL_MAX_SHARE", 1.0)
    folder = tmp_path / "day"
    write_day_after(engine, folder, day=AS_OF, seed=7, share=0.05)
    report = import_paths(engine, [folder])
    assert report.rejected == 0 and report.rows == len(export.visits) + len(export.items)
    assert report.summary_rebuilt is not None and report.summary_rebuilt < 400
    rows = text("SELECT * FROM vehicle_visit_summary ORDER BY vin")
    with engine.connect() as conn:
        incremental = conn.execute(rows).all()
        refresh_visit_summary(conn)
        assert conn.execute(rows).all() == incremental
        conn.rollback()


def test_day_after_needs_a_dealer_group(engine: Engine) -> None:
    with pytest.raises(DemoError, match="no active vehicle bought before 2026-11-23"):
        day_export(engine, day=AS_OF, seed=7)
    with pytest.raises(DemoError, match="share must be above 0"):
        day_export(engine, day=AS_OF, seed=7, share=0)
