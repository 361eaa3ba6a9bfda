"""``revisit tickets``: the dissatisfied-customer tickets — list them, show one, start one,
resolve one (:mod:`revisit.outcomes.tickets`). The owner calls the customer back, so the CLI
shows the phone in full (the staff chat gets it masked)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from revisit.campaigns.outcome_codes import label
from revisit.campaigns.statuses import TicketStatus
from revisit.cli.app import app, console, engine_of, handles_errors
from revisit.entry.lookup import check_known
from revisit.outcomes.tickets import (
    TicketError,
    TicketView,
    get_ticket,
    list_tickets,
    resolve_ticket,
    start_ticket,
)

tickets_app = typer.Typer(
    help="Dissatisfied-customer tickets: list them (default), show one, start one, resolve one.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(tickets_app, name="tickets")

TicketId = Annotated[int, typer.Argument(help="The ticket's number (# in the list).")]
STATUSES = ", ".join(TicketStatus)


def _statuses(status: str | None) -> list[TicketStatus] | None:
    if status is None:
        return None
    try:  # any case, and "in progress" / "in-progress" as well
        return [TicketStatus("_".join(status.replace("-", " ").split()).casefold())]
    except ValueError:
        raise TicketError(f"--status: unknown status {status!r}; use {STATUSES}") from None


def _age(t: TicketView) -> str:
    hours = t.age.total_seconds() / 3600
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.0f} d"


def tickets_table(tickets: list[TicketView]) -> Table:
    """The tickets as a rich table, the phone in full; an overdue one (not resolved a day
    after it was opened) is flagged in red, and the legend says so when one is."""
    flagged = any(t.overdue for t in tickets)
    table = Table(
        title="Dissatisfied-customer tickets",
        caption="⚑ not resolved a day after it was opened" if flagged else None,
    )
    for name in ("#", "status", "age", "store", "owner", "customer", "phone", "visit",
                 "advisor", "category", "customer's words", "resolution"):  # fmt: skip
        table.add_column(name, justify="right" if name in ("#", "age") else "left")
    for t in tickets:
        status = f"[red]⚑ {t.status}[/red]" if t.overdue else t.status
        table.add_row(
            str(t.id), status, _age(t), t.store_id, t.owner,
            t.customer_name or t.customer_id, t.full_phone, t.visit_id or t.vin or "—",
            t.advisor or "—", label(t.category), t.words, t.resolution or "",
        )  # fmt: skip
    return table


@tickets_app.callback()
@handles_errors
def tickets_command(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help=f"Only tickets in this status: {STATUSES}.")
    ] = None,
    store: Annotated[str | None, typer.Option("--store", help="One store's tickets.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print them as JSON.")] = False,
) -> None:
    """List the tickets, oldest first, with their age and the customer's phone; one not
    resolved a day after it was opened is flagged (⚑)."""
    if ctx.invoked_subcommand is not None:
        return
    statuses = _statuses(status)
    engine = engine_of(ctx)
    check_known(engine, store=store)
    with engine.connect() as conn:
        tickets = list_tickets(conn, store_ids=[store] if store else None, statuses=statuses)
    if as_json:
        typer.echo(json.dumps([t.as_dict() for t in tickets], ensure_ascii=False, indent=1))
    elif not tickets:
        which = ", ".join(x for x in (statuses and statuses[0].value, store and f"store {store}")
                          if x)  # fmt: skip
        console.print("no tickets" + (f" ({which})" if which else ""), highlight=False)
    else:
        console.print(tickets_table(tickets))


def ticket_lines(t: TicketView) -> list[str]:
    """One ticket in full, a field a line (the customer's words uncut), times in UTC."""
    flag = " ⚑ overdue" if t.overdue else ""
    when = [(name, at) for name, at in (("opened", t.opened_at), ("words added", t.amended_at),
            ("started", t.started_at), ("resolved", t.resolved_at)) if at]  # fmt: skip
    lines = [
        f"ticket #{t.id}: {t.status}{flag} ({_age(t)} old)",
        f"store: {' '.join(x for x in (t.store_id, t.store_name) if x)} · owner: {t.owner}",
        f"customer: {t.customer_name or t.customer_id} ({t.customer_id}) {t.full_phone}",
        f"visit: {' / '.join(x for x in (t.vin, t.visit_id) if x) or '—'}"
        f" · advisor: {t.advisor or '—'}",
        f"category: {label(t.category)} ({t.category})",
        f"from: {t.campaign} ({t.channel}) · logged by {t.caller or '—'}",
        *(f"{name}: {at:%Y-%m-%d %H:%M} UTC" for name, at in when),
        "customer's words:",
        *(f"  {line}" for line in t.words.splitlines()),
    ]
    if t.resolution:
        lines += ["resolution:", *(f"  {line}" for line in t.resolution.splitlines())]
    return lines


@tickets_app.command("show")
@handles_errors
def show_command(ctx: typer.Context, ticket_id: TicketId) -> None:
    """Print one ticket in full: the customer's phone and words, every date."""
    with engine_of(ctx).connect() as conn:
        t = get_ticket(conn, ticket_id)
    for line in ticket_lines(t):
        console.print(line, highlight=False, markup=False, soft_wrap=True)


@tickets_app.command("start")
@handles_errors
def start_command(ctx: typer.Context, ticket_id: TicketId) -> None:
    """Take a ticket up: open → in_progress."""
    with engine_of(ctx).begin() as conn:
        start_ticket(conn, ticket_id)
        t = get_ticket(conn, ticket_id)
    console.print(f"ticket {t.id} ({t.customer_name or t.customer_id}): in progress")


@tickets_app.command("resolve")
@handles_errors
def resolve_command(
    ctx: typer.Context,
    ticket_id: TicketId,
    note: Annotated[str, typer.Option("--note", help="What was done (required).")],
) -> None:
    """Close a ticket with what was done: open or in_progress → resolved."""
    with engine_of(ctx).begin() as conn:
        resolve_ticket(conn, ticket_id, note=note)
        t = get_ticket(conn, ticket_id)
    console.print(f"ticket {t.id} ({t.customer_name or t.customer_id}): resolved")
