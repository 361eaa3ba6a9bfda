"""The deployments of prefect.yaml on a real Prefect server: registered with
``prefect deploy --all``, run by a process worker of the ``revisit`` pool when triggered
through the API as a schedule would trigger them, with their results in the database and
their artifacts on the server."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from tests.prefect_server import POOL, ROOT, PrefectServer, running_server

pytestmark = pytest.mark.slow

DAY = dt.date(2026, 11, 23)
NOON = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A server with the pool, every deployment registered and one worker polling."""
    base = tmp_path_factory.mktemp("prefect")
    shutil.copytree(ROOT / "campaigns", base / "campaigns")
    with running_server(base / "home") as srv:
        srv.run("work-pool", "create", POOL, "--type", "process")
        out = srv.run("--no-prompt", "deploy", "--all")
        assert "daily-reminders" in out
        srv.start("worker", "worker", "start", "--pool", POOL, "--type", "process",
                  env={
                      "REVISIT_HOME": str(ROOT), "REVISIT_OUTPUT_DIR": str(base / "out"),
                      "REVISIT_CAMPAIGNS_DIR": str(base / "campaigns"),
                      "REVISIT_TEMPLATES_DIR": str(ROOT / "templates"),
                      "TWILIO_ACCOUNT_SID": "",
                  })  # fmt: skip
        yield srv


def trigger(server: PrefectServer, name: str, parameters: dict[str, Any]) -> Any:
    """Create a run of deployment ``name`` through the API (as its schedule would) and
    wait for it to reach a final state; the flow run."""
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: server.api_url}):
        run = run_deployment(f"{name}/{name}", parameters=parameters, timeout=240)
    assert run.state is not None and run.state.is_final(), (
        f"{name} did not finish: {run.state}\n{server.log('worker')}"
    )
    return run


def artifact_keys(server: PrefectServer, flow_run_id: Any) -> set[str]:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    by_run = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
    with (
        temporary_settings({PREFECT_API_URL: server.api_url}),
        get_client(sync_client=True) as client,
    ):
        found = client.read_artifacts(artifact_filter=by_run)
    return {a.key for a in found if a.key}


def contact_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT status, count(*) FROM contacts WHERE channel = 'sms' GROUP BY status"
        ).all()
    return {str(s): int(n) for s, n in rows}


def test_a_worker_runs_the_registered_daily_flow(
    server: PrefectServer, db_url: str, engine: Engine
) -> None:
    from tests.test_runs import dealership

    dealership(engine)
    run = trigger(
        server, "daily-reminders",
        {"as_of": DAY.isoformat(), "now": NOON.isoformat(), "database_url": db_url},
    )  # fmt: skip
    assert run.state.is_completed(), f"{run.state}\n{server.log('worker')}"
    assert run.name == f"daily-reminders-{DAY}"
    counts = contact_counts(engine)
    assert counts.get("sent", 0) > 0 and not counts.get("pending"), counts
    assert "daily-reminders" in artifact_keys(server, run.id)
    attributed = trigger(server, "attribute-returns", {"database_url": db_url})
    assert attributed.state.is_completed(), f"{attributed.state}\n{server.log('worker')}"
    assert "campaign-returns" in artifact_keys(server, attributed.id)
    resumed = trigger(server, "reconcile-deliveries", {"database_url": db_url})
    assert resumed.state.is_completed(), f"{resumed.state}\n{server.log('worker')}"


def dispatch_runs(server: PrefectServer) -> list[Any]:
    """The dispatch-run flow runs on the server."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.settings import PREFECT_API_URL, temporary_settings

    named = FlowFilter(name=FlowFilterName(any_=["dispatch-run"]))
    with (
        temporary_settings({PREFECT_API_URL: server.api_url}),
        get_client(sync_client=True) as client,
    ):
        return list(client.read_flow_runs(flow_filter=named))


def test_a_run_fans_out_over_dispatch_runs_on_postgresql(
    server: PrefectServer, db_url: str, engine: Engine
) -> None:
    from tests.test_runs import dealership

    dealership(engine, n_due=12)
    before = {r.id for r in dispatch_runs(server)}
    run = trigger(
        server, "daily-reminders",
        {"as_of": DAY.isoformat(), "now": NOON.isoformat(), "database_url": db_url,
         "dispatchers": 2, "fan_out_above": 0},
    )  # fmt: skip
    assert run.state.is_completed(), f"{run.state}\n{server.log('worker')}"
    counts = contact_counts(engine)
    assert counts.get("sent", 0) > 0 and not counts.get("pending"), counts
    new = [r for r in dispatch_runs(server) if r.id not in before]
    with engine.connect() as conn:
        sms_runs = (
            conn.exec_driver_sql(
                "SELECT DISTINCT run_id FROM contacts WHERE channel = 'sms' AND status = 'sent'"
            )
            .scalars()
            .all()
        )
    if engine.dialect.name == "postgresql":  # two dispatchers for each SMS run
        assert sorted(r.parameters["run_id"] for r in new) == sorted(2 * list(sms_runs))
        assert all(r.state and r.state.is_completed() for r in new)
    else:  # SQLite: one dispatcher, the flow run itself
        assert new == []


def test_a_broken_database_url_fails_the_run_with_its_line(
    server: PrefectServer, tmp_path: Path
) -> None:
    missing = f"sqlite:///{tmp_path / 'nowhere' / 'revisit.db'}"
    run = trigger(server, "daily-reminders", {"as_of": DAY.isoformat(), "database_url": missing})
    assert run.state.is_failed()
    assert "nowhere" in (run.state.message or ""), run.state.message
