"""``revisit user add|list|revoke|reset``: who may sign in to the web app, their role and
stores. Passwords are one-time: printed once here, changed by the user at first sign-in."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from revisit.access.users import add_user, list_users, parse_role, reset_user, revoke_user
from revisit.cli.app import app, cli_actor, console, engine_of, handles_errors

user_app = typer.Typer(help="Web app users: add, list, revoke, reset a password.")
app.add_typer(user_app, name="user")


def _show_password(name: str, password: str) -> None:
    console.print(
        f"One-time password for {name}: [bold]{password}[/bold]\n"
        "Give it to them in person; they choose their own at their first sign-in.",
        highlight=False,
    )


@user_app.command("add")
@handles_errors
def add_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Their name (a caller: as call lists name them).")],
    role: Annotated[str, typer.Option("--role", help="staff, lead, manager or admin.")],
    store: Annotated[
        list[str] | None,
        typer.Option("--store", help="A store they see (repeat for several; none for admin)."),
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="zh or en (default: the browser's).")
    ] = None,
) -> None:
    """Add a user and print their one-time password."""
    with engine_of(ctx).begin() as conn:
        password = add_user(conn, name=name, role=parse_role(role), stores=store or [],
                            language=language, actor=cli_actor())  # fmt: skip
    _show_password(name.strip(), password)


@user_app.command("list")
@handles_errors
def list_command(ctx: typer.Context) -> None:
    """Every user: role, stores, language, whether active."""
    with engine_of(ctx).connect() as conn:
        users = list_users(conn)
    table = Table(title=f"{len(users)} user(s)")
    for head in ("name", "role", "stores", "language", "active", "password"):
        table.add_column(head)
    for u in users:
        state = "one-time (to change)" if u["must_change_password"] else "set"
        table.add_row(u["name"], u["role"], u["stores"], u["language"],
                      "yes" if u["active"] else "revoked", state)  # fmt: skip
    console.print(table)


@user_app.command("revoke")
@handles_errors
def revoke_command(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The user to stop.")]
) -> None:
    """Stop a user signing in; their open sessions end at once."""
    with engine_of(ctx).begin() as conn:
        revoke_user(conn, name=name, actor=cli_actor())
    console.print(f"{name}: revoked (reset gives them a new one-time password)", highlight=False)


@user_app.command("reset")
@handles_errors
def reset_command(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The user.")]
) -> None:
    """Print a new one-time password for a user (also lets a revoked user back in); their
    open sessions end."""
    with engine_of(ctx).begin() as conn:
        password = reset_user(conn, name=name, actor=cli_actor())
    _show_password(name.strip(), password)
