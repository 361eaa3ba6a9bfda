"""The ``revisit`` command. Commands live in one module per domain (``revisit.cli.data``, …);
this module owns the Typer app, the settings and the translation of library errors."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy.engine import Engine

from revisit.entry.engine import open_engine
from revisit.errors import RevisitError
from revisit.settings import Settings

# Wide enough for the report tables when the output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 150)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 150)

app = typer.Typer(
    name="revisit",
    help="Bring car owners back to the service shop: import, cohorts, campaigns, reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

F = TypeVar("F", bound=Callable[..., Any])


@app.callback()
def main(ctx: typer.Context) -> None:
    """revisit — who to contact today, about what, through which channel, and did it work."""
    ctx.obj = Settings()


def settings_of(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Settings) else Settings()


def engine_of(ctx: typer.Context) -> Engine:
    """The database engine for this invocation, migrated on first use."""
    return open_engine(settings_of(ctx).database_url)


def handles_errors(fn: F) -> F:
    """Turn library errors into a red message and an exit code instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RevisitError as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from exc

    return wrapper  # type: ignore[return-value]


def _register() -> None:
    # Each module registers its commands on `app` when imported.
    from revisit.cli import campaigns, data, demo, dev, outcomes, report, reports, runs  # noqa: F401


_register()
