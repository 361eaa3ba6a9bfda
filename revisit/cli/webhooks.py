"""``revisit serve`` (the web app: staff pages and Twilio's webhooks) and
``revisit reconcile-status`` (delivery statuses by polling, where webhooks cannot arrive)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from revisit.cli.app import app, console, engine_of, err_console, handles_errors, settings_of


@app.command("serve")
@handles_errors
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
) -> None:
    """Serve the web app: the staff pages (sign-in required; sessions signed with
    REVISIT_SECRET_KEY), POST /twilio/status (delivery statuses), POST /twilio/inbound
    (replies, opt-out words) and GET /healthz.

    Twilio must reach it at REVISIT_PUBLIC_URL (a proxy in front of this address); requests
    are accepted only with a valid X-Twilio-Signature for that URL and TWILIO_AUTH_TOKEN.
    """
    import uvicorn

    from revisit.web import create_app

    settings = settings_of(ctx)
    if settings.secret_key is None and not settings.dev_sessions:
        err_console.print(
            "[yellow]warning[/yellow] REVISIT_SECRET_KEY is not set: the pages answer 503 "
            "(set it to sign users in; the webhooks work without it).",
            highlight=False,
        )
    if not settings.public_url or not settings.twilio_auth_token:
        err_console.print(
            "[yellow]warning[/yellow] REVISIT_PUBLIC_URL or TWILIO_AUTH_TOKEN is not set: "
            "every Twilio webhook will be refused (403).",
            highlight=False,
        )
    else:
        console.print(
            f"Point Twilio at {settings.public_url}/twilio/status (status callbacks, set on "
            f"every SMS) and {settings.public_url}/twilio/inbound (the number's incoming "
            "messages).",
            highlight=False,
        )
    uvicorn.run(create_app(settings, engine_of(ctx)), host=host, port=port, log_level="info")


@app.command("reconcile-status")
@handles_errors
def reconcile_status(
    ctx: typer.Context,
    hours: Annotated[
        float,
        typer.Option(
            "--hours",
            min=0,
            help="Ask about messages without a final status after this many hours.",
        ),
    ] = 6.0,
    max_days: Annotated[
        float, typer.Option("--max-days", min=0.01, help="Give up on messages older than this.")
    ] = 7.0,
) -> None:
    """Poll the SMS provider for messages that have no final delivery status after --hours
    (for deployments that cannot receive status callbacks); statuses only move forward."""
    from revisit.entry.statuses import reconcile_statuses

    summary = reconcile_statuses(engine_of(ctx), settings_of(ctx), hours=hours, max_days=max_days)
    console.print_json(json.dumps(summary.as_dict(), ensure_ascii=False))
    if summary.errors:
        err_console.print(
            f"[yellow]warning[/yellow] {summary.errors} messages could not be asked about "
            f"({summary.first_error}); the next run asks again.",
            highlight=False, soft_wrap=True,
        )  # fmt: skip
