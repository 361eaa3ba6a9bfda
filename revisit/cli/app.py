"""The ``revisit`` Typer app, the settings of an invocation and the translation of library
errors. Commands live in one module per domain (``revisit.cli.data``, …) and register on
``app``; :mod:`revisit.cli` imports them all.

Commands are thin: they parse options (:mod:`revisit.cli.options`), call the entry layer
(:mod:`revisit.entry`) and print. An expected failure (a :class:`RevisitError`, a file that
cannot be read or written) is one red line on stderr and an exit code, never a traceback."""

from __future__ import annotations

import functools
import getpass
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from sqlalchemy.engine import Engine

from revisit.entry.context import load_settings
from revisit.entry.engine import open_engine, open_existing
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


def _fail(message: object, code: int) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.callback()
def main(ctx: typer.Context) -> None:
    """revisit — who to contact today, about what, through which channel, and did it work."""
    try:
        ctx.obj = load_settings()  # the one Settings of this invocation
    except RevisitError as exc:
        raise _fail(exc, exc.exit_code) from exc


def settings_of(ctx: typer.Context) -> Settings:
    """The settings built by the callback for this invocation."""
    obj = ctx.find_root().obj
    assert isinstance(obj, Settings), "the revisit callback builds the settings"
    return obj


def engine_of(ctx: typer.Context) -> Engine:
    """An engine on the existing database (migrated on first use); a missing or empty one is
    a :class:`~revisit.errors.DatabaseError`: only ``revisit import`` creates a database."""
    return open_existing(settings_of(ctx).database_url)


def creating_engine_of(ctx: typer.Context) -> Engine:
    """An engine on the database, created when it does not exist (``revisit import``)."""
    return open_engine(settings_of(ctx).database_url)


def cli_actor() -> str:
    """Who an audit row says did a change from the command line: ``cli:<login name>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name (a container)
        return "cli"


def handles_errors(fn: F) -> F:
    """Turn library errors, and files that cannot be read or written, into one red line on
    stderr and an exit code (the error's, 2 for a file) instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RevisitError as exc:
            raise _fail(exc, exc.exit_code) from exc
        except OSError as exc:
            where = f": {exc.filename}" if exc.filename else ""
            raise _fail(f"{exc.strerror or exc}{where}", 2) from exc

    return wrapper  # type: ignore[return-value]
