"""``revisit dev …``: tools for local development — a fake Twilio and a dispatch worker."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from revisit.cli.app import app, console, engine_of, handles_errors, settings_of
from revisit.errors import RevisitError

dev_app = typer.Typer(help="Development tools: a fake Twilio, a dispatch worker.")
app.add_typer(dev_app, name="dev")


def _error_numbers(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in values:
        phone, _, code = item.partition("=")
        if not code.isdigit():
            raise typer.BadParameter(f"{item!r}: expected PHONE=CODE, e.g. +8613900000001=21610")
        out[phone] = int(code)
    return out


def _fake_twilio_classes() -> tuple[Any, Any]:
    """The fake Twilio lives in ``devtools/`` of a source checkout, not in the package."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "devtools" / "fake_twilio.py").is_file() and str(checkout) not in sys.path:
        sys.path.append(str(checkout))
    try:
        from devtools.fake_twilio import FakeConfig, FakeTwilio
    except ImportError as exc:
        raise RevisitError(
            "the fake Twilio comes with a source checkout of revisit (devtools/); "
            "run this command from one"
        ) from exc
    return FakeConfig, FakeTwilio


@dev_app.command("fake-twilio")
@handles_errors
def fake_twilio(
    port: int = typer.Option(8099, "--port", help="Port to listen on (loopback)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    latency_ms: float = typer.Option(0.0, "--latency-ms", help="Delay before each answer."),
    fail_rate: float = typer.Option(0.0, "--fail-rate", help="Share of creates answered 500."),
    fail_after_create_rate: float = typer.Option(
        0.0, "--fail-after-create-rate", help="Share answered 500 although the message was made."
    ),
    timeout_rate: float = typer.Option(
        0.0, "--timeout-rate", help="Share of creates that are made and then never answered."
    ),
    hang_seconds: float = typer.Option(30.0, "--hang-seconds", help="How long those hang."),
    cap_per_second: float | None = typer.Option(
        None, "--cap-per-second", help="Accept at most this many messages a second; 429 beyond."
    ),
    error_number: list[str] = typer.Option(
        [], "--error-number", help="PHONE=CODE: answer CODE (21610, 21211, 21408, …) for PHONE."
    ),
    error_all: int | None = typer.Option(
        None, "--error-all", help="Answer this code to every send (21408, 21606, …)."
    ),
    queue_seconds: float = typer.Option(
        0.0, "--queue-seconds", help="How long an accepted message stays queued (no DateSent)."
    ),
    sender_per_second: float | None = typer.Option(
        None, "--sender-per-second", help="The sender's throughput; a backlog queues beyond it."
    ),
    account_sid: str = typer.Option("AC" + "f" * 32, "--account-sid", help="Accepted SID."),
    auth_token: str = typer.Option("fake-auth-token", "--auth-token", help="Accepted token."),
    seed: int | None = typer.Option(None, "--seed", help="Seed for the injected failures."),
    deliver: str | None = typer.Option(
        None,
        "--deliver",
        help="Post signed status callbacks (sent, then this: delivered, undelivered, failed) "
        "to each message's StatusCallback.",
    ),
) -> None:
    """Serve a fake Twilio Messages API (create, fetch, list) with error injection and
    signed status callbacks."""
    import uvicorn

    FakeConfig, FakeTwilio = _fake_twilio_classes()

    config = FakeConfig(
        account_sid=account_sid,
        auth_token=auth_token,
        latency_ms=latency_ms,
        fail_rate=fail_rate,
        fail_after_create_rate=fail_after_create_rate,
        timeout_rate=timeout_rate,
        hang_seconds=hang_seconds,
        cap_per_second=cap_per_second,
        error_numbers=_error_numbers(error_number),
        error_all=error_all,
        queue_seconds=queue_seconds,
        sender_per_second=sender_per_second,
        seed=seed,
        deliver=deliver,
    )
    console.print(
        f"fake Twilio on http://{host}:{port} — export REVISIT_TWILIO_BASE_URL=http://{host}:{port}"
        f" TWILIO_ACCOUNT_SID={account_sid} TWILIO_AUTH_TOKEN=… TWILIO_FROM=+15005550006",
        highlight=False,
    )
    uvicorn.run(FakeTwilio(config).app(), host=host, port=port, log_level="warning", backlog=2048)


@dev_app.command("dispatch-run")
@handles_errors
def dispatch_run_command(
    ctx: typer.Context,
    run_id: int = typer.Option(..., "--run-id", help="The campaign run whose outbox to send."),
    rate: float = typer.Option(10.0, "--rate", min=0.01, help="Messages per second."),
    concurrency: int = typer.Option(10, "--concurrency", min=1, help="Requests in flight."),
    window: str | None = typer.Option(
        None,
        "--window",
        help="Narrow the campaign's send window further, e.g. 10:00-18:00 (local time). The "
        "campaign's own window always applies, on the real clock.",
    ),
    lease_seconds: float = typer.Option(
        30.0, "--lease-seconds", help="How long a crashed worker's contacts wait."
    ),
    settle_seconds: float = typer.Option(
        30.0, "--settle-seconds", help="How long an unknown outcome waits before reconciling."
    ),
    read_timeout: float = typer.Option(
        15.0,
        "--read-timeout",
        help="Seconds to await the provider's answer before the outcome counts as unknown.",
    ),
    max_consecutive_failures: int = typer.Option(
        20, "--max-consecutive-failures", min=1, help="Pause the run after this many in a row."
    ),
) -> None:
    """Send a run's pending SMS contacts (Twilio if configured, else the console), inside
    the run's campaign's send window."""
    from revisit.delivery.worker import run_worker

    summary = run_worker(
        engine_of(ctx),
        settings_of(ctx),
        run_id=run_id,
        rate=rate,
        concurrency=concurrency,
        window=window,
        lease_seconds=lease_seconds,
        settle_seconds=settle_seconds,
        read_timeout=read_timeout,
        max_consecutive_failures=max_consecutive_failures,
    )
    console.print_json(json.dumps(summary.as_dict(), ensure_ascii=False))
