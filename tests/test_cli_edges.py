"""Every command, given bad arguments or a bad database, ends with one clear line and an exit
code — never a traceback. The commands are enumerated from the Typer app, so a new command
is driven too (and must be given its own bad cases below)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from revisit.cli import app
from tests.test_runs import NO_TWILIO, ROOT, dealership


def leaf_commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every runnable command of the app, as the words that invoke it."""
    if hasattr(command, "commands"):  # a group (runnable itself when it says so)
        if path and getattr(command, "invoke_without_command", False):
            yield path
        for name, sub in command.commands.items():
            yield from leaf_commands(sub, (*path, name))
    else:
        yield path


def params_of(path: tuple[str, ...]) -> list[Any]:
    command: Any = typer.main.get_command(app)
    for word in path:
        command = command.commands[word]
    return list(command.params)


COMMANDS = sorted(leaf_commands(typer.main.get_command(app)))

# Per command: (arguments, a fragment of the one-line message). {tmp} is a scratch folder.
BAD: dict[tuple[str, ...], list[tuple[list[str], str]]] = {
    ("import",): [
        (["{tmp}/nope"], "no such file or folder"),
        (["{tmp}/file.txt", "--problems", "{tmp}/file.txt/problems.txt"], "File exists"),
    ],
    ("overview",): [(["--format", "xml"], "use table or json")],
    ("cohort",): [(["lapsed_12_25"], "unknown cohort 'lapsed_12_25' (did you mean lapsed_12_24?)")],
    ("campaign", "list"): [],  # no argument to get wrong; a missing folder is tested below
    ("campaign", "preview"): [
        (["maintenance_du"], "'maintenance_du' (did you mean maintenance_due?)")
    ],
    ("campaign", "overview"): [],
    ("campaign", "plan"): [(["--as-of", "2026-13-01"], "'2026-13-01'")],
    ("campaign", "run"): [
        (["nope", "--now", "2026-11-23T10:00"], "unknown campaign 'nope'"),
        (["maintenance_due", "--rate", "0"], "--rate"),
    ],
    ("campaign", "daily"): [(["--concurrency", "0"], "--concurrency")],
    ("campaign", "pause"): [(["999"], "no campaign run with id 999"), (["x"], "Invalid value")],
    ("campaign", "resume"): [(["999"], "no campaign run with id 999")],
    ("demo-data",): [
        (["{tmp}/file.txt"], "is a file"),
        (["{tmp}/demo", "--vehicles", "0"], "--vehicles"),
    ],
    ("dev", "fake-twilio"): [(["--error-number", "+86139"], "expected PHONE=CODE")],
    ("dev", "dispatch-run"): [
        (["--run-id", "999"], "no campaign run with id 999"),
        (["--run-id", "1", "--window", "9-20"], "send window '9-20'"),
    ],
    ("demo-month-after",): [(["{tmp}/file.txt", "--as-of", "2026-11-23"], "is a file")],
    ("demo-day-after",): [
        (["{tmp}/file.txt", "--day", "2026-11-23"], "is a file"),
        (["{tmp}/day", "--day", "2026-11-23", "--share", "0"], "share must be above 0"),
        (["{tmp}/day", "--day", "2026-13-45"], "'2026-13-45' is not a date"),
    ],
    ("attribute",): [],  # no argument to get wrong; a missing database is tested below
    ("outcome", "log"): [
        (["999999", "--code", "booked"], "unknown contact 999999"),
        (["1", "--code", "flying"], "unknown outcome 'flying'"),
    ],
    ("outcome", "amend"): [
        (["999999", "--code", "booked"], "unknown contact 999999"),
        (["1", "--code", "flying"], "unknown outcome 'flying'"),
        (["1", "--callback", "2026-13-45"], "'2026-13-45' is not a date"),
    ],
    ("outcome", "import"): [(["{tmp}/nope.csv"], "nope.csv")],
    ("report",): [
        (["--campaign", "maintenance_du"], "unknown campaign 'maintenance_du'"),
        (["--store", "S9"], "unknown store 'S9'"),
        (["--since", "2026-13-01"], "'2026-13-01' is not a date"),
        (["--by", "colour"], "unknown breakdown 'colour'"),
        (["--format", "xml"], "unknown format 'xml'"),
        (["--format", "html"], "--format html: give --output FILE"),
        (["--format", "html", "--output", "{tmp}/d.html", "--lang", "fr"], "unknown language 'fr'"),
        (
            ["--format", "html", "--output", "{tmp}/d.html", "--period", "day"],
            "unknown period 'day'",
        ),
        (
            ["--format", "html", "--output", "{tmp}/d.html", "--by", "store"],
            "--by: not with --format html",
        ),
        (
            ["--format", "html", "--output", "{tmp}/d.html", "--store", "default", "--store", "S9"],
            "unknown store 'S9'",
        ),
        (
            [
                "--format",
                "html",
                "--output",
                "{tmp}/d.html",
                "--since",
                "2026-12-01",
                "--until",
                "2026-11-01",
            ],
            "the period is empty: since 2026-12-01 is after until 2026-11-01",
        ),
        (
            ["--since", "2026-12-01", "--until", "2026-11-01"],
            "the period is empty: since 2026-12-01 is after until 2026-11-01",
        ),
    ],
    ("report", "churn"): [
        (["--store", "S9"], "unknown store 'S9'"),
        (
            ["--since", "2026-12-01", "--until", "2026-11-01"],
            "the period is empty: since 2026-12-01 is after until 2026-11-01",
        ),
    ],
    ("report", "staff"): [
        (["--campaign", "nope"], "unknown campaign 'nope'"),
        (
            ["--since", "2026-12-01", "--until", "2026-11-01"],
            "the period is empty: since 2026-12-01 is after until 2026-11-01",
        ),
    ],
    ("report", "upsell"): [
        (["--by", "planet"], "unknown grouping 'planet'"),
        (
            ["--since", "2026-12-01", "--until", "2026-11-01"],
            "the period is empty: since 2026-12-01 is after until 2026-11-01",
        ),
    ],
    ("report", "tickets"): [
        (["--store", "S9"], "unknown store 'S9'"),
        (["--format", "xml"], "unknown format 'xml'"),
        (
            ["--since", "2026-12-01", "--until", "2026-11-01"],
            "the period is empty: since 2026-12-01 is after until 2026-11-01",
        ),
    ],
    ("tickets",): [
        (["--status", "closed"], "unknown status 'closed'"),
        (["--store", "S9"], "unknown store 'S9'"),
    ],
    ("tickets", "show"): [(["999"], "no ticket 999"), (["x"], "Invalid value")],
    ("tickets", "start"): [(["999"], "no ticket 999"), (["x"], "Invalid value")],
    ("tickets", "resolve"): [
        (["999", "--note", "done"], "no ticket 999"),
        (["1"], "Missing option '--note'"),
    ],
    ("optout", "import"): [
        (["{tmp}/nope.csv"], "No such file or directory"),
        (["{tmp}/file.txt"], "no phone or customer_id column"),
    ],
    ("reconcile-status",): [
        (["--hours", "-1"], "Invalid value for '--hours'"),
        (["--hours", "200", "--max-days", "1"], "--hours 200.0 must be ≥ 0 and within"),
    ],
    ("serve",): [(["--port", "abc"], "Invalid value for '--port'")],
    ("user", "add"): [
        (["王芳", "--role", "boss", "--store", "QZ"], "unknown role 'boss'"),
        (["王芳", "--role", "staff"], "a staff user needs at least one --store"),
        (["王芳", "--role", "staff", "--store", "S9"], "unknown store(s) S9"),
        (["root", "--role", "admin", "--store", "QZ"], "an admin sees every store"),
    ],
    ("user", "list"): [],
    ("user", "revoke"): [(["nobody"], "no user 'nobody'")],
    ("user", "reset"): [(["nobody"], "no user 'nobody'")],
}
# Arguments that reach the database, for the commands that use one.
USES_DB: dict[tuple[str, ...], list[str]] = {
    ("overview",): [],
    ("cohort",): ["lapsed_12_24"],
    ("campaign", "preview"): ["maintenance_due"],
    ("campaign", "overview"): [],
    ("campaign", "plan"): [],
    ("campaign", "run"): ["maintenance_due", "--now", "2026-11-23T10:00"],
    ("campaign", "daily"): ["--now", "2026-11-23T10:00"],
    ("dev", "dispatch-run"): ["--run-id", "1"],
    ("demo-month-after",): ["{tmp}/month", "--as-of", "2026-11-23"],
    ("demo-day-after",): ["{tmp}/day", "--day", "2026-11-23"],
    ("attribute",): [],
    ("outcome", "log"): ["1", "--code", "booked"],
    ("outcome", "amend"): ["1", "--code", "booked"],
    ("outcome", "import"): ["{tmp}/file.txt"],
    ("report",): [],
    ("report", "churn"): [],
    ("report", "staff"): [],
    ("report", "upsell"): [],
    ("report", "tickets"): [],
    ("tickets",): [],
    ("tickets", "show"): ["1"],
    ("tickets", "start"): ["1"],
    ("tickets", "resolve"): ["1", "--note", "done"],
    ("optout", "import"): ["{tmp}/optouts.csv"],
    ("reconcile-status",): [],
    ("serve",): [],  # refused before it listens
    ("user", "add"): ["王芳", "--role", "staff", "--store", "QZ"],
    ("campaign", "pause"): ["1"],
    ("campaign", "resume"): ["1"],
    ("user", "list"): [],
    ("user", "revoke"): ["王芳"],
    ("user", "reset"): ["王芳"],
}
LEAD: dict[tuple[str, ...], list[str]] = {
    ("import",): ["{tmp}/export"], ("demo-data",): ["{tmp}/demo"], ("cohort",): ["lapsed_12_24"],
    ("campaign", "preview"): ["maintenance_due"], ("campaign", "run"): ["maintenance_due"],
    ("demo-month-after",): ["{tmp}/month"], ("outcome", "log"): ["1", "--code", "booked"],
    ("outcome", "amend"): ["1", "--code", "booked"],
    ("outcome", "import"): ["{tmp}/file.txt"], ("demo-day-after",): ["{tmp}/day"],
    ("optout", "import"): ["{tmp}/file.txt"],
    ("tickets", "show"): ["1"], ("tickets", "start"): ["1"],
    ("tickets", "resolve"): ["1", "--note", "done"],
    ("user", "add"): ["王芳", "--role", "staff", "--store", "QZ"],
    ("user", "revoke"): ["王芳"], ("user", "reset"): ["王芳"],
    ("campaign", "pause"): ["1"], ("campaign", "resume"): ["1"],
}  # fmt: skip
NO_DB = {("import",), ("demo-data",), ("campaign", "list"), ("dev", "fake-twilio")}


def base_env(db_url: str, tmp: Path) -> dict[str, str]:
    return {
        "REVISIT_DATABASE_URL": db_url, "REVISIT_OUTPUT_DIR": str(tmp / "out"),
        "REVISIT_CAMPAIGNS_DIR": str(ROOT / "campaigns"),
        "REVISIT_TEMPLATES_DIR": str(ROOT / "templates"),
    } | {k: "" for k in NO_TWILIO}  # fmt: skip


def invoke(args: list[str], env: dict[str, str], tmp: Path) -> Any:
    return CliRunner().invoke(app, [a.replace("{tmp}", str(tmp)) for a in args], env=env)


def assert_clean_failure(result: Any, fragment: str) -> None:
    """Non-zero exit, no traceback, and the message is there."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    flat = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())
    assert fragment in flat, result.output


def test_every_command_has_bad_cases_and_a_database_stance() -> None:
    assert set(BAD) == set(COMMANDS), "give a new command its bad arguments in BAD"
    assert set(USES_DB) | NO_DB == set(COMMANDS) and not set(USES_DB) & NO_DB


@pytest.fixture
def dealer_env(engine: Engine, db_url: str, tmp_path: Path) -> dict[str, str]:
    dealership(engine)
    (tmp_path / "file.txt").write_text("not a folder")
    return base_env(db_url, tmp_path)


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_bad_arguments_end_in_one_line(
    path: tuple[str, ...], dealer_env: dict[str, str], tmp_path: Path
) -> None:
    lead = LEAD.get(path, [])  # valid required arguments, so the option is what is wrong
    cases = [*BAD[path], ([*lead, "--no-such-option"], "No such option")]
    names = {name for p in params_of(path) for name in p.opts}
    if "--as-of" in names:
        cases.append(([*lead, "--as-of", "2026-13-45"], "'2026-13-45' is not a date"))
    if "--now" in names:
        cases.append(([*lead, "--now", "tomorrow"], "'tomorrow' is not an ISO date-time"))
    for args, fragment in cases:
        assert_clean_failure(invoke([*path, *args], dealer_env, tmp_path), fragment)


@pytest.mark.parametrize("path", sorted(USES_DB), ids=" ".join)
def test_a_missing_database_is_named_and_not_created(path: tuple[str, ...], tmp_path: Path) -> None:
    """Regression (issue 11, item 11): a wrong SQLite path silently created an empty database
    and `campaign daily` reported "done", 0 everywhere."""
    missing = tmp_path / "typo.db"
    url = f"sqlite:///{missing}"
    result = invoke([*path, *USES_DB[path]], base_env(url, tmp_path), tmp_path)
    assert_clean_failure(result, f"no database {url} ({missing}); run `revisit import")
    assert not missing.exists()


def test_the_relative_default_from_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another instance: run from a folder without the default ./revisit.db."""
    monkeypatch.chdir(tmp_path)
    env = base_env("", tmp_path)
    del env["REVISIT_DATABASE_URL"]
    monkeypatch.delenv("REVISIT_DATABASE_URL", raising=False)
    result = invoke(["campaign", "daily"], env, tmp_path)
    assert_clean_failure(result, f"no database sqlite:///revisit.db ({tmp_path / 'revisit.db'})")
    assert not (tmp_path / "revisit.db").exists()


@pytest.mark.parametrize("path", sorted(USES_DB), ids=" ".join)
def test_an_empty_database_says_so(path: tuple[str, ...], db_url: str, tmp_path: Path) -> None:
    """A migrated database with nothing imported (what the old behaviour left behind)."""
    result = invoke([*path, *USES_DB[path]], base_env(db_url, tmp_path), tmp_path)
    assert_clean_failure(result, "holds no imported data (no customers); run `revisit import")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("sqlite:////nonexistent/x.db", "database sqlite:////nonexistent/x.db"),
        ("postgresql://revisit:hunter2@127.0.0.1:1/revisit",
         "cannot open the database postgresql+psycopg://revisit:***@127.0.0.1:1/revisit: "),
        ("mysql+nodriver://x/y", "not a database URL: 'mysql+nodriver://x/y'"),
        ("revisit.db", "not a database URL: 'revisit.db'"),
        # regression: a dialect whose driver is not installed printed a traceback
        ("mysql://x:secret@db/y", "not a supported database URL: mysql://x:***@db/y"),
        ("mssql+pyodbc://db/y", "not a supported database URL: mssql+pyodbc://db/y"),
    ],
)  # fmt: skip
def test_a_database_that_cannot_be_reached_is_one_line(
    url: str, fragment: str, tmp_path: Path
) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "customers.csv").write_text("customer_id,name,phone\nC1,张伟,13912345678\n")
    for args in (["import", str(export)], ["overview"], ["campaign", "daily"]):
        result = invoke(args, base_env(url, tmp_path), tmp_path)
        assert_clean_failure(result, fragment)
        assert "hunter2" not in result.output
        if url.startswith("sqlite"):
            assert "the folder /nonexistent does not exist" in result.output
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert len(errors) == 1


def test_import_creates_the_database_the_others_then_use(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    env = base_env(url, tmp_path)
    export = tmp_path / "export"
    export.mkdir()
    (export / "customers.csv").write_text("customer_id,name,phone\nC1,张伟,13912345678\n")
    assert invoke(["import", str(export)], env, tmp_path).exit_code == 0
    result = invoke(["overview", "--as-of", "2026-11-23", "--format", "json"], env, tmp_path)
    assert result.exit_code == 0 and '"customers": 1' in result.output, result.output


def test_a_broken_campaign_file_fails_alone_in_the_cli(
    dealer_env: dict[str, str], tmp_path: Path
) -> None:
    """Regression (issue 11, item 10) through `campaign daily`, `list` and `overview`."""
    folder = tmp_path / "campaigns"
    folder.mkdir()
    for path in (ROOT / "campaigns").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if path.stem == "declined_c":
            text = text.replace("holdout_pct: 10", "holdout_pc: 10")
        (folder / path.name).write_text(text, encoding="utf-8")
    env = dealer_env | {"REVISIT_CAMPAIGNS_DIR": str(folder)}
    daily = invoke(["campaign", "daily", "--as-of", "2026-11-23", "--now",
                    "2026-11-23T10:00"], env, tmp_path)  # fmt: skip
    assert_clean_failure(daily, "failed: declined_c:")
    assert daily.exit_code == 1 and "did you mean holdout_pct?" in daily.output
    assert "maintenance_due (sms)" in daily.output  # the others ran
    assert_clean_failure(invoke(["campaign", "list"], env, tmp_path), "broken: declined_c")
    overview = invoke(["campaign", "overview", "--as-of", "2026-11-23"], env, tmp_path)
    assert_clean_failure(overview, "broken: declined_c")
    assert "maintenance_due" in overview.output
    ok = invoke(["campaign", "preview", "maintenance_due", "--as-of", "2026-11-23"], env, tmp_path)
    assert ok.exit_code == 0, ok.output


def test_a_missing_campaigns_folder_is_one_line(dealer_env: dict[str, str], tmp_path: Path) -> None:
    env = dealer_env | {"REVISIT_CAMPAIGNS_DIR": str(tmp_path / "nowhere")}
    for args in (["campaign", "list"], ["campaign", "daily"], ["campaign", "run", "birthday"]):
        assert_clean_failure(invoke(args, env, tmp_path), "no such campaigns directory")


def test_a_bad_setting_is_one_line(dealer_env: dict[str, str], tmp_path: Path) -> None:
    env = dealer_env | {"REVISIT_DEFAULT_TIMEZONE": "Asia/Shangai"}
    assert_clean_failure(invoke(["campaign", "list"], env, tmp_path), "REVISIT_DEFAULT_TIMEZONE")


def test_now_without_offset_is_in_the_store_time_zone(
    dealer_env: dict[str, str], tmp_path: Path
) -> None:
    """`--now 2026-11-23T22:30` is after the send window in Shanghai: the SMS wait."""
    args = ["campaign", "run", "maintenance_due", "--now", "2026-11-23T22:30", "--json"]
    result = invoke(args, dealer_env, tmp_path)
    assert result.exit_code == 0, result.output
    assert '"status": "deferred"' in result.output and '"as_of": "2026-11-23"' in result.output
    assert dt.date(2026, 11, 23).isoformat() in result.output


def test_a_postgresql_database_that_does_not_exist_is_named(tmp_path: Path) -> None:
    """Another instance of the kind (needs a PostgreSQL server to answer)."""
    from tests.conftest import PG_URL

    if not PG_URL:
        pytest.skip("REVISIT_TEST_PG_URL is not set")
    url = PG_URL.rsplit("/", 1)[0] + "/revisit_no_such_db"
    result = invoke(["import", str(tmp_path)], base_env(url, tmp_path), tmp_path)
    assert_clean_failure(result, 'database "revisit_no_such_db" does not exist')
    assert "createdb revisit_no_such_db" in result.output
