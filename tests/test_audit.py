"""Every launch, outcome and user change leaves an audit row naming who did it, whichever
front end did it: the CLI's rows say ``cli:<login>``."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from revisit.access.audit import audit_rows
from revisit.campaigns.statuses import AuditAction
from revisit.cli import app as cli
from tests.web_app_support import build_world


def test_cli_launches_outcomes_imports_and_user_changes_are_audited(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    world = build_world(engine, tmp_path, {})
    env = {
        "REVISIT_DATABASE_URL": db_url, "REVISIT_OUTPUT_DIR": str(tmp_path / "out"),
        "REVISIT_CAMPAIGNS_DIR": str(world.settings.campaigns_dir),
        "REVISIT_TEMPLATES_DIR": str(world.settings.templates_dir), "TWILIO_ACCOUNT_SID": "",
    }  # fmt: skip
    runner = CliRunner()
    dry = runner.invoke(cli, ["campaign", "run", "lapsed_12_24", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    for args in (
        ["campaign", "run", "lapsed_12_24"],
        ["outcome", "log", str(world.calls["S1"][0]), "--code", "booked"],
        ["user", "add", "王芳", "--role", "staff", "--store", "S1"],
        ["user", "reset", "王芳"],
        ["user", "revoke", "王芳"],
    ):
        result = runner.invoke(cli, args, env=env)
        assert result.exit_code == 0, (args, result.output)
    sheet = tmp_path / "filled.csv"
    sheet.write_text(f"contact_id,outcome,reason\n{world.calls['S1'][1]},declined,price\n",
                     encoding="utf-8")  # fmt: skip
    assert runner.invoke(cli, ["outcome", "import", str(sheet)], env=env).exit_code == 0
    with engine.connect() as conn:
        rows = audit_rows(conn)
    made = [(r["action"], r["entity_id"]) for r in rows if str(r["actor"]).startswith("cli")]
    assert made == [
        (AuditAction.CAMPAIGN_LAUNCHED, "lapsed_12_24"),  # the dry run is not a launch
        (AuditAction.OUTCOME_LOGGED, str(world.calls["S1"][0])),
        (AuditAction.USER_ADDED, "王芳"), (AuditAction.USER_RESET, "王芳"),
        (AuditAction.USER_REVOKED, "王芳"), (AuditAction.OUTCOMES_IMPORTED, "filled.csv"),
    ]  # fmt: skip
    imported = next(r for r in rows if r["action"] == AuditAction.OUTCOMES_IMPORTED)
    assert imported["detail"] == {"read": 1, "recorded": 1, "already_there": 0, "rejected": 0}
    assert not any("password" in str(r["detail"]).lower() for r in rows)
