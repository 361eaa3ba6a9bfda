"""Every deployment in prefect.yaml resolves to a flow, and each flow runs end to end."""

from __future__ import annotations

import datetime as dt
import importlib.util
import inspect
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect import Flow

ROOT = Path(__file__).resolve().parent.parent
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


def load_entrypoint(entrypoint: str) -> object:
    path, name = entrypoint.split(":")
    spec = importlib.util.spec_from_file_location(Path(path).stem, ROOT / path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_deployment_entrypoint_is_a_flow(deployment: dict) -> None:
    flow = load_entrypoint(deployment["entrypoint"])
    assert isinstance(flow, Flow)
    accepted = set(inspect.signature(flow.fn).parameters)
    assert set(deployment.get("parameters", {})) <= accepted
    for schedule in deployment.get("schedules", []):
        assert schedule["timezone"] == "Asia/Shanghai"


@pytest.fixture(scope="module")
def prefect_harness() -> Iterator[None]:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness():
        yield


def test_import_dms_flow_loads_and_fails_on_rejected_rows(
    prefect_harness: None, db_url: str, tmp_path: Path
) -> None:
    from flows.import_dms import RejectedRows, import_dms
    from revisit.db.engine import create_db_engine

    (tmp_path / "customers.csv").write_text(
        "customer_id,name,phone\nC1,张伟,13912345678\n,缺编号,13912345679\n", encoding="utf-8"
    )
    with pytest.raises(RejectedRows, match="1 rejected rows"):
        import_dms(paths=[str(tmp_path)], database_url=db_url)
    engine = create_db_engine(db_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT customer_id FROM customers").scalars().all() == ["C1"]
    engine.dispose()
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,phone\nC2,李娜,13912345670\n", encoding="utf-8"
    )
    assert import_dms(paths=[str(tmp_path)], database_url=db_url)["rows"] == 1


def test_campaign_flows_run_send_and_resume(
    prefect_harness: None, db_url: str, engine: object, tmp_path: Path, monkeypatch: Any
) -> None:
    from flows.campaigns import daily_reminders, launch_campaign, reconcile_deliveries
    from tests.test_runs import dealership

    dealership(engine)  # type: ignore[arg-type]
    for key, value in {
        "REVISIT_OUTPUT_DIR": str(tmp_path), "REVISIT_CAMPAIGNS_DIR": str(ROOT / "campaigns"),
        "REVISIT_TEMPLATES_DIR": str(ROOT / "templates"), "TWILIO_ACCOUNT_SID": "",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    day = dt.date(2026, 11, 23)
    dry = launch_campaign("maintenance_due", as_of=day, dry_run=True, database_url=db_url)
    assert dry["status"] == "dry_run" and dry["plan"]["to_contact"] > 0
    reports = daily_reminders(as_of=day, database_url=db_url)
    names = [r["campaign"] for r in reports]
    assert names[:5] == [
        "declined_a", "repeat_repair", "post_service_followup", "new_car_7dc", "insurance_renewal",
    ]  # fmt: skip
    assert {r["status"] for r in reports} <= {"done", "deferred"}
    resumed = reconcile_deliveries(database_url=db_url)
    assert all(r["resumed"] for r in resumed)
    published = _table("daily-reminders-report")
    assert {r["campaign"] for r in published} >= {"maintenance_due", "post_service_followup"}
    assert all("return_rate" in r and "lift_ci_low" in r for r in published)


def flow_run_name(state: Any) -> str:
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(state.state_details.flow_run_id).name


def test_flows_take_dates_and_name_their_runs_after_the_day(
    prefect_harness: None, db_url: str, engine: object, tmp_path: Path, monkeypatch: Any
) -> None:
    from flows.campaigns import daily_reminders, launch_campaign
    from tests.test_runs import dealership

    dealership(engine)  # type: ignore[arg-type]
    for key, value in {
        "REVISIT_OUTPUT_DIR": str(tmp_path), "REVISIT_CAMPAIGNS_DIR": str(ROOT / "campaigns"),
        "REVISIT_TEMPLATES_DIR": str(ROOT / "templates"), "TWILIO_ACCOUNT_SID": "",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    day = dt.date(2026, 11, 23)
    assert inspect.signature(daily_reminders.fn).parameters["as_of"].annotation in (
        "dt.date | None",
        dt.date | None,
    )
    state = daily_reminders(as_of=day, database_url=db_url, return_state=True)
    assert state.is_completed() and flow_run_name(state) == "daily-reminders-2026-11-23"
    dry = launch_campaign(
        "maintenance_due", as_of=day, dry_run=True, database_url=db_url, return_state=True
    )
    assert flow_run_name(dry) == "launch-campaign-2026-11-23"


def test_flows_fail_with_one_clear_message(
    prefect_harness: None, db_url: str, engine: object, tmp_path: Path, monkeypatch: Any
) -> None:
    """An unknown campaign, a broken campaign file, a missing database: a Failed run whose
    message says what is wrong (the campaigns that could run have run)."""
    from flows.campaigns import daily_reminders, launch_campaign
    from tests.test_runs import dealership

    dealership(engine)  # type: ignore[arg-type]
    folder = tmp_path / "campaigns"
    folder.mkdir()
    for path in (ROOT / "campaigns").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if path.stem == "declined_c":
            text = text.replace("holdout_pct: 10", "holdout_pc: 10")
        (folder / path.name).write_text(text, encoding="utf-8")
    for key, value in {
        "REVISIT_OUTPUT_DIR": str(tmp_path), "REVISIT_CAMPAIGNS_DIR": str(folder),
        "REVISIT_TEMPLATES_DIR": str(ROOT / "templates"), "TWILIO_ACCOUNT_SID": "",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    day = dt.date(2026, 11, 23)
    unknown = launch_campaign("nope", as_of=day, database_url=db_url, return_state=True)
    assert unknown.is_failed() and unknown.message.startswith("unknown campaign 'nope'")
    daily = daily_reminders(as_of=day, database_url=db_url, return_state=True)
    assert daily.is_failed() and "declined_c" in daily.message
    assert "did you mean holdout_pct?" in daily.message and "Traceback" not in daily.message
    ran = [r["campaign"] for r in daily.result(raise_on_failure=False)]
    assert "maintenance_due" in ran
    missing = f"sqlite:///{tmp_path / 'typo.db'}"
    gone = daily_reminders(as_of=day, database_url=missing, return_state=True)
    assert gone.is_failed() and gone.message.startswith(f"no database {missing}")


def test_import_flow_on_a_database_it_cannot_create_fails_in_one_line(
    prefect_harness: None, tmp_path: Path
) -> None:
    from flows.import_dms import import_dms

    (tmp_path / "customers.csv").write_text("customer_id,name,phone\nC1,张伟,13912345678\n")
    state = import_dms(
        paths=[str(tmp_path)], database_url="sqlite:////nonexistent/x.db", return_state=True
    )
    assert state.is_failed()
    assert state.message == (
        "cannot create the database sqlite:////nonexistent/x.db: "
        "the folder /nonexistent does not exist"
    )


def test_a_campaign_whose_run_fails_fails_alone_in_the_flow(
    prefect_harness: None, db_url: str, engine: object, tmp_path: Path, monkeypatch: Any
) -> None:
    import shutil

    from flows.campaigns import daily_reminders
    from tests.test_runs import dealership

    dealership(engine)  # type: ignore[arg-type]
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "sms" / "maintenance_due.zh.j2").write_text("{{ customer.nickname }}您好")
    for key, value in {
        "REVISIT_OUTPUT_DIR": str(tmp_path), "REVISIT_CAMPAIGNS_DIR": str(ROOT / "campaigns"),
        "REVISIT_TEMPLATES_DIR": str(templates), "TWILIO_ACCOUNT_SID": "",
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    state = daily_reminders(as_of=dt.date(2026, 11, 23), database_url=db_url, return_state=True)
    assert state.is_failed() and state.message.startswith("1 failed (maintenance_due: ")
    assert "maintenance_due.zh.j2:1" in state.message
    ran = [r["campaign"] for r in state.result(raise_on_failure=False)]
    assert "maintenance_due" not in ran and "insurance_renewal" in ran


def _table(key: str) -> list[dict[str, Any]]:
    """The rows of the latest table artifact under ``key``, read back from the server."""
    import json

    from prefect.artifacts import Artifact

    artifact = Artifact.get(key)
    assert artifact is not None and artifact.type == "table"
    data = artifact.data
    return json.loads(data) if isinstance(data, str) else data  # type: ignore[return-value]


def test_attribute_returns_flow_publishes_the_report(
    prefect_harness: None, db_url: str, engine: Any
) -> None:
    import datetime as dt

    import flows.attribute_returns
    from revisit.settings import Settings
    from tests.outcome_support import add_visit, make_campaign_run

    today = Settings().today()
    run = make_campaign_run(engine, ["sent", "holdout"], as_of=today - dt.timedelta(days=3))
    add_visit(engine, run.vins[0], today, 120)
    done = flows.attribute_returns.attribute_returns_flow(database_url=db_url)
    assert done == {"returned": 1, "runs": 1}
    (row,) = _table("campaign-returns")
    assert (row["campaign"], row["returned"], row["holdout"], row["revenue"]) == (
        run.campaign, 1, 1, 120.0,
    )  # fmt: skip


def test_flows_refuse_a_later_day_for_a_real_send(
    prefect_harness: None, db_url: str, engine: object, tmp_path: Path, monkeypatch: Any
) -> None:
    """The send-window rule holds on the flow path too: a later as_of rehearses a day, which
    a real provider may not send (a dry run may); the runs fail in one line, nothing sent."""
    from zoneinfo import ZoneInfo

    from devtools.fake_twilio import FakeTwilio, serve_fake_twilio
    from flows.campaigns import daily_reminders, launch_campaign
    from tests.test_runs import dealership

    dealership(engine)  # type: ignore[arg-type]
    later = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date() + dt.timedelta(days=2)
    with serve_fake_twilio(FakeTwilio()) as fake:
        env = fake.env() | {"REVISIT_OUTPUT_DIR": str(tmp_path),
                            "REVISIT_CAMPAIGNS_DIR": str(ROOT / "campaigns"),
                            "REVISIT_TEMPLATES_DIR": str(ROOT / "templates")}  # fmt: skip
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        one = launch_campaign("maintenance_due", as_of=later, database_url=db_url,
                              return_state=True)  # fmt: skip
        assert one.is_failed() and "after today" in str(one.message)
        daily = daily_reminders(as_of=later, database_url=db_url, return_state=True)
        assert daily.is_failed() and "after today" in str(daily.message)
        dry = launch_campaign("maintenance_due", as_of=later, dry_run=True, database_url=db_url)
        assert dry["status"] == "dry_run"
        assert fake.fake.snapshot() == []
    assert not (tmp_path / "calls").exists()  # no campaign of the day wrote a call list
