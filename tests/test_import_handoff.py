"""How the import's work is laid out (issue 11, item 12): batches handed from the parsing
process to the writing one, the cycle collector paused while an import runs, and the
reference checks done by set operations when a whole batch holds."""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from revisit.dms.importing import Problem, import_paths
from revisit.dms.importing.handoff import AHEAD, parsed_in_second_process
from revisit.errors import ImportFileError
from tests.test_importing import rows, run_import, write_export


def _failed(exc: BaseException) -> str:
    return f"failed: {exc!r}"


def _big(n: int) -> Iterator[list[str]]:
    # Each item pickles to ~300 kB: more than the default 64 kB pipe, fewer than its 1 MiB.
    for i in range(n):
        yield [f"{i}:{j:06d}" for j in range(30_000)]


def test_items_arrive_whole_and_in_order_however_far_ahead_the_parser_runs() -> None:
    n = 3 * AHEAD + 1
    got = list(parsed_in_second_process(lambda: _big(n), _failed, "x.csv"))
    assert [item[0] for item in got] == [f"{i}:000000" for i in range(n)]
    assert got == list(_big(n))


def test_an_error_while_parsing_ends_the_items_with_its_report() -> None:
    def produce() -> Iterator[str]:
        yield "a"
        yield "b"
        raise ValueError("bad byte")

    got = list(parsed_in_second_process(produce, _failed, "x.csv"))
    assert got == ["a", "b", "failed: ValueError('bad byte')"]


def test_a_parsing_process_that_dies_is_a_file_error() -> None:
    def produce() -> Iterator[str]:
        yield "a"
        os._exit(3)

    # What it had not handed over yet is lost with it; the writer is told, not left waiting.
    with pytest.raises(ImportFileError, match=r"x\.csv: the reading process stopped"):
        list(parsed_in_second_process(produce, _failed, "x.csv"))


def test_a_writer_that_stops_early_stops_the_parsing_process() -> None:
    def endless() -> Iterator[int]:
        i = 0
        while True:
            yield i
            i += 1

    items = parsed_in_second_process(endless, _failed, "x.csv")
    assert [next(items) for _ in range(3)] == [0, 1, 2]
    items.close()
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("parallel", [True, False], ids=["two-processes", "one-process"])
def test_the_cycle_collector_is_paused_during_an_import_and_restored_after(
    engine: Engine, tmp_path: Path, parallel: bool
) -> None:
    folder = write_export(tmp_path / "x")
    during: list[bool] = []
    import_paths(engine, [folder], on_problem=lambda _p: during.append(gc.isenabled()),
                 batch_rows=2, parallel=parallel)  # fmt: skip
    assert during and not any(during)
    assert gc.isenabled()


def test_the_cycle_collector_comes_back_after_a_failed_import(
    engine: Engine, tmp_path: Path
) -> None:
    folder = write_export(tmp_path / "x")

    def stop(_p: Problem) -> None:
        raise RuntimeError("stopped by the caller")

    with pytest.raises(RuntimeError):
        import_paths(engine, [folder], on_problem=stop)
    assert gc.isenabled()


def test_a_caller_that_paused_the_collector_keeps_it_paused(engine: Engine, tmp_path: Path) -> None:
    gc.disable()
    try:
        import_paths(engine, [write_export(tmp_path / "x")])
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_one_visit_named_with_two_vins_in_a_batch_rejects_the_wrong_one(
    engine: Engine, tmp_path: Path
) -> None:
    """Regression guard for the set check of agreeing columns: a batch whose pairs (visit,
    vin) are not all the stored ones falls back to the row-by-row check."""
    (tmp_path / "customers.csv").write_text("customer_id,name,phone\nC0,王芳,13912345600\n")
    (tmp_path / "vehicles.csv").write_text(
        "vin,customer_id,purchase_date\nV1,C0,2024-01-01\nV2,C0,2024-01-01\n"
    )
    (tmp_path / "visits.csv").write_text("visit_id,vin,date,type\nR1,V1,2026-02-05,repair\n")
    (tmp_path / "upsell_items.csv").write_text(
        "item_id,visit_id,vin,item,grade,status\n"
        "I1,R1,V1,轮胎,A,declined\nI2,R1,V2,刹车片,A,declined\nI3,R1,V1,雨刮,B,accepted\n"
    )
    report, problems = run_import(engine, tmp_path)
    assert [str(p).split(": ", 1)[1] for p in problems] == [
        "vin: visit 'R1' belongs to vin 'V1', not 'V2'"
    ]
    assert [p.line for p in problems] == [3]
    assert rows(engine, "SELECT item_id FROM upsell_items ORDER BY 1") == [("I1",), ("I3",)]
    assert report.files[-1].rejected == 1
