"""``revisit outcome log|amend|import`` (call results) and ``revisit attribute`` (returns)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from revisit.campaigns.statuses import TicketStatus
from revisit.cli.app import (
    app,
    cli_actor,
    console,
    engine_of,
    err_console,
    handles_errors,
    settings_of,
)
from revisit.cli.options import parse_day
from revisit.delivery.notify import WebhookError
from revisit.errors import RevisitError
from revisit.outcomes.amend import amend_call_outcome
from revisit.outcomes.attribution import attribute_returns
from revisit.outcomes.calls import FieldProblem, log_call_outcome
from revisit.outcomes.sheets import SheetReport, import_sheet
from revisit.outcomes.tickets import notify_new_tickets

outcome_app = typer.Typer(help="Call outcomes: log one, or import filled-in call lists.")
app.add_typer(outcome_app, name="outcome")


class OutcomeError(RevisitError):
    """An outcome that cannot be recorded."""

    exit_code = 1


@outcome_app.command("log")
@handles_errors
def log_command(
    ctx: typer.Context,
    contact_id: Annotated[int, typer.Argument(help="The contact (联系编号 on the call list).")],
    code: Annotated[
        str,
        typer.Option(
            "--code",
            help="booked, will_come, callback, not_reached, declined, do_not_contact, "
            "dissatisfied (or 已预约, …); may be left out when --reason names it "
            "(wrong_number, price, …).",
        ),
    ] = "",
    reason: Annotated[
        str,
        typer.Option(
            "--reason",
            help="not_reached: no_answer, wrong_number, busy; declined: price, quality, …; "
            "dissatisfied: quality, waiting_time, price, attitude, other.",
        ),
    ] = "",
    callback: Annotated[
        dt.date | None,
        typer.Option(
            "--callback",
            parser=parse_day,
            metavar="YYYY-MM-DD",
            help="The day to call back (with callback).",
        ),
    ] = None,
    staff: Annotated[str | None, typer.Option("--staff", help="Who called.")] = None,
    note: Annotated[
        str | None,
        typer.Option("--note", help="What the customer said (required with dissatisfied)."),
    ] = None,
) -> None:
    """Record what came of one call (and its side effects: a sold car, a wrong number, a
    do-not-contact request, a callback on the day's call list, a ticket for the service
    manager when the customer is dissatisfied)."""
    if not code and not reason:
        raise OutcomeError(f"contact {contact_id}: give --code (or a --reason that names it)")
    day = callback.isoformat() if callback else ""
    try:
        managers = settings_of(ctx).service_managers
        with engine_of(ctx).begin() as conn:
            done = log_call_outcome(conn, contact_id=contact_id, code=code, reason=reason,
                                    callback=day, staff=staff, note=note,
                                    managers=managers, actor=cli_actor())  # fmt: skip
    except FieldProblem as problem:
        raise OutcomeError(f"contact {contact_id}: {problem}") from None
    if done.duplicate:
        console.print(f"contact {contact_id}: {done.describe()} was already recorded",
                      highlight=False)  # fmt: skip
    else:
        extra = " (callback added to that day's call list)" if done.callback_added else ""
        extra += " (ticket opened for the service manager)" if done.ticket_opened else ""
        for ticket_id, status, added in done.existing_tickets:
            state = "already open" if status != TicketStatus.RESOLVED else "already resolved"
            words = "; the customer's words were added to it" if added else ""
            extra += f" (ticket #{ticket_id} {state} for this contact{words})"
        console.print(f"contact {contact_id}: {done.describe()} recorded{extra}", highlight=False)
    _tell_managers(ctx)


@outcome_app.command("amend")
@handles_errors
def amend_command(
    ctx: typer.Context,
    contact_id: Annotated[int, typer.Argument(help="The contact (联系编号 on the call list).")],
    code: Annotated[
        str, typer.Option("--code", help="The right outcome (as for `revisit outcome log`).")
    ] = "",
    reason: Annotated[str, typer.Option("--reason", help="Its reason or category.")] = "",
    callback: Annotated[
        dt.date | None,
        typer.Option(
            "--callback",
            parser=parse_day,
            metavar="YYYY-MM-DD",
            help="The day to call back (with callback).",
        ),
    ] = None,
    staff: Annotated[str | None, typer.Option("--staff", help="Who called.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="What the customer said.")] = None,
) -> None:
    """Correct the outcome recorded for a contact (the newest) instead of logging a second
    one: replaced in place and audited with what it was; a callback it added is taken back
    while no caller has it, and the new outcome's effects follow."""
    day = callback.isoformat() if callback else ""
    try:
        with engine_of(ctx).begin() as conn:
            done = amend_call_outcome(conn, contact_id=contact_id, code=code, reason=reason,
                                      callback=day, staff=staff, note=note,
                                      managers=settings_of(ctx).service_managers,
                                      actor=cli_actor())  # fmt: skip
    except FieldProblem as problem:
        raise OutcomeError(f"contact {contact_id}: {problem}") from None
    if not done.changed:
        console.print(f"contact {contact_id}: nothing to change", highlight=False)
        return
    extra = " (its callback taken back)" if done.callback_withdrawn else ""
    extra += " (callback added to that day's call list)" if done.callback_added else ""
    extra += " (ticket opened for the service manager)" if done.ticket_opened else ""
    console.print(f"contact {contact_id}: amended {done.describe()}{extra}", highlight=False)
    _tell_managers(ctx)


@outcome_app.command("import")
@handles_errors
def import_command(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Filled-in call lists (.csv or .xlsx).")],
) -> None:
    """Import filled-in call lists: every row with a 结果/outcome is recorded; bad rows are
    named as file:line: field: reason and skipped. Exits 1 when any row was rejected."""
    engine = engine_of(ctx)
    managers = settings_of(ctx).service_managers
    reports: list[SheetReport] = []
    for path in files:
        reports.append(import_sheet(engine, path, on_problem=_print_problem, managers=managers,
                                    actor=cli_actor()))  # fmt: skip
    table = Table(title="Outcome import")
    for name in ("file", "read", "no outcome yet", "recorded", "already there", "callbacks",
                 "tickets", "rejected"):  # fmt: skip
        table.add_column(name, justify="left" if name == "file" else "right")
    for r in reports:
        table.add_row(r.path, *(f"{n:,}" for n in (r.read, r.blank, r.inserted, r.duplicates,
                                                   r.callbacks, r.tickets)),
                      f"[red]{r.rejected:,}[/red]" if r.rejected else "0")  # fmt: skip
    console.print(table)
    _tell_managers(ctx)
    if any(r.rejected for r in reports):
        raise typer.Exit(1)


def _tell_managers(ctx: typer.Context) -> None:
    """Post the tickets (and additions) not yet announced to the staff webhook, if one is
    set. The outcomes are recorded by then, so a webhook that fails is one warning line, not
    a failure: what it did not take is announced by the next outcome command."""
    secret = settings_of(ctx).staff_webhook_url
    url = secret.get_secret_value() if secret else ""
    if not url:
        return
    import httpx

    try:
        with httpx.Client(timeout=10.0) as client:
            told = notify_new_tickets(engine_of(ctx), url=url, client=client)
    except WebhookError as exc:
        err_console.print(
            f"[yellow]warning[/yellow] {exc}; everything was recorded, and the ticket "
            "announcement will be retried by the next outcome command",
            highlight=False, soft_wrap=True,
        )  # fmt: skip
        return
    if told:
        console.print(f"{told} new ticket(s) announced on the staff webhook")


def _print_problem(problem: object) -> None:
    err_console.print(f"[red]rejected[/red] {problem}", highlight=False, soft_wrap=True)


@app.command("attribute")
@handles_errors
def attribute_command(ctx: typer.Context) -> None:
    """Recompute which contacts (and holdout members) came back within their campaign's
    attribution window; also runs after every import."""
    n = attribute_returns(engine_of(ctx))
    console.print(f"{n:,} contact(s) returned within their attribution window")
