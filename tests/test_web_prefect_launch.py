"""A web launch through Prefect: with ``PREFECT_API_URL`` in the app's settings, a lead's
launch is a flow run of the ``launch-campaign`` deployment (registered from prefect.yaml on
a real ``prefect server``), run by a process worker of the pool on the app's database, and
the launch's and the run's pages show that flow run's state. One server per module; a
worker per test (each test has its own database)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from revisit.access.audit import audit_rows
from revisit.campaigns.statuses import AuditAction
from revisit.db.tables import RUNS
from revisit.web.prefect_launches import PrefectLauncher
from tests.prefect_server import POOL, ROOT, PrefectServer, running_server, stop_process
from tests.web_app_support import build_world, csrf_of, make_client, sign_in

pytestmark = pytest.mark.slow
NAME = "lapsed_12_24"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A server with the pool and the launch-campaign deployment registered."""
    base = tmp_path_factory.mktemp("prefect")
    with running_server(base / "home") as srv:
        srv.run("work-pool", "create", POOL, "--type", "process")
        out = srv.run("--no-prompt", "deploy", "--name", "launch-campaign")
        assert "launch-campaign" in out
        yield srv


@pytest.fixture
def worker(server: PrefectServer, db_url: str, tmp_path: Path) -> Iterator[None]:
    """A process worker of the pool on this test's database; stopped after the test."""
    before = len(server.procs)
    server.start(f"worker-{tmp_path.name}", "worker", "start", "--pool", POOL, "--type",
                 "process", env={
                     "REVISIT_HOME": str(ROOT), "REVISIT_DATABASE_URL": db_url,
                     "REVISIT_OUTPUT_DIR": str(tmp_path / "out"),
                     "REVISIT_CAMPAIGNS_DIR": str(ROOT / "campaigns"),
                     "REVISIT_TEMPLATES_DIR": str(ROOT / "templates"),
                     "TWILIO_ACCOUNT_SID": "",
                 })  # fmt: skip
    proc = server.procs[before]
    yield
    stop_process(proc)


def _flow_run(server: PrefectServer, flow_run_id: Any) -> Any:
    """The flow run and its deployment, as the server has them."""
    from prefect.client.orchestration import SyncPrefectClient

    with SyncPrefectClient(server.api_url) as client:
        run = client.read_flow_run(flow_run_id)
        deployment = client.read_deployment(run.deployment_id)
    return run, deployment


def test_a_launch_is_a_flow_run_of_the_deployment_and_its_page_shows_the_state(
    server: PrefectServer, worker: None, engine: Engine, tmp_path: Path
) -> None:
    world = build_world(engine, tmp_path, {"lead12": ("lead", ["S1", "S2"])})
    settings = world.settings.model_copy(update={"prefect_api_url": server.api_url})
    lead = sign_in(make_client(engine, settings), "lead12", world.passwords["lead12"])
    launcher = lead.app.state.launches  # type: ignore[attr-defined]
    assert isinstance(launcher, PrefectLauncher)
    token = csrf_of(lead.get(f"/campaigns/{NAME}").text)
    answer = lead.post(f"/campaigns/{NAME}/launch", follow_redirects=False,
                       data={"day": world.today.isoformat(), "csrf_token": token})  # fmt: skip
    assert answer.status_code == 303, answer.text
    target = answer.headers["location"]
    waiting = lead.get(target, follow_redirects=False)
    assert waiting.status_code == 200 and "Prefect 流程" in waiting.text
    deadline = time.monotonic() + 240
    state = lead.get(f"{target}.json").json()
    while state["state"] == "running" and time.monotonic() < deadline:
        time.sleep(1)
        state = lead.get(f"{target}.json").json()
    assert state["state"] == "done", f"{state}\n{server.log(f'worker-{tmp_path.name}')}"
    assert state["flow_state"] == "Completed" and state["error"] is None
    with engine.connect() as conn:
        run_id = conn.execute(select(RUNS.c.id).where(RUNS.c.campaign == NAME)).scalar_one()
        audits = audit_rows(conn, action=AuditAction.CAMPAIGN_LAUNCHED)
    assert state["run_id"] == run_id
    assert [(a["actor"], a["entity_id"]) for a in audits] == [("lead12", NAME)]
    flow_run, deployment = _flow_run(server, launcher.runs[(NAME, world.today)])
    assert deployment.name == "launch-campaign" and flow_run.state.is_completed()
    assert flow_run.parameters["name"] == NAME and flow_run.parameters["dry_run"] is False
    assert flow_run.name == f"launch-campaign-{world.today}"
    landed = lead.get(target, follow_redirects=False)
    assert landed.status_code == 303 and landed.headers["location"] == f"/runs/{run_id}"
    page = lead.get(f"/runs/{run_id}").text
    assert "Prefect 流程" in page and '<b class="flow-state">Completed</b>' in page
    assert lead.get(f"/runs/{run_id}.json").json()["flow_state"] == "Completed"
