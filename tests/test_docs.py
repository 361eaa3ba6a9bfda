"""The README cannot drift from the code: every command, every setting, every sub-package and
the glossary's words are in it."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main
from pydantic import AliasChoices

from revisit.cli import app
from revisit.settings import Settings
from tests.test_cli_edges import leaf_commands

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def env_name(field: str) -> str:
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"REVISIT_{field.upper()}"


def test_every_command_is_in_the_readme() -> None:
    commands = ["revisit " + " ".join(p) for p in leaf_commands(typer.main.get_command(app))]
    assert len(commands) >= 10
    missing = [c for c in commands if not re.search(rf"`{re.escape(c)}\b", README)
               and f"{c} " not in README]  # fmt: skip
    assert missing == []


def test_every_command_has_help() -> None:
    from typer.testing import CliRunner

    for path in leaf_commands(typer.main.get_command(app)):
        result = CliRunner().invoke(app, [*path, "--help"])
        assert result.exit_code == 0 and len(result.output) > 200, path


def test_every_setting_is_in_the_configuration_table() -> None:
    table = section("Configuration")
    missing = [f for f in Settings.model_fields if f"`{env_name(f)}`" not in table]
    assert missing == []


def test_the_code_map_names_every_sub_package_and_top_folder() -> None:
    code_map = section("Code map")
    packages = sorted(p.parent.name for p in (ROOT / "revisit").glob("*/__init__.py"))
    assert "entry" in packages
    missing = [f"revisit/{p}/" for p in packages if f"`revisit/{p}/`" not in code_map]
    missing += [f for f in ("flows/", "templates/", "campaigns/", "devtools/", "bench/")
                if f"`{f}`" not in code_map]  # fmt: skip
    assert missing == []


def test_the_glossary_explains_the_words_of_the_code() -> None:
    glossary = section("Glossary")
    words = ("as_of", "plan", "contact", "run", "outbox", "reach cache", "holdout", "send window")
    assert [w for w in words if f"\n| {w} |" not in glossary] == []
