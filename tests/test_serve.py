"""``revisit serve`` as an operator starts it: a process on a port, answering /healthz and
refusing unsigned webhooks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.factories import make_customer

ROOT = Path(__file__).resolve().parent.parent


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_revisit_serve_answers_healthz_and_refuses_unsigned_callbacks(
    db_url: str, engine: Engine
) -> None:
    with Session(engine) as s:  # a database with imported data: what `serve` opens
        make_customer(s)
        s.commit()
    port = _port()
    env = {
        **os.environ, "REVISIT_DATABASE_URL": db_url, "TWILIO_AUTH_TOKEN": "token",
        "REVISIT_PUBLIC_URL": "https://revisit.example.com",
    }  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "revisit.cli", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        base, deadline, health = f"http://127.0.0.1:{port}", time.monotonic() + 30, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert health is not None and health.json()["status"] == "ok"
        unsigned = httpx.post(f"{base}/twilio/status", data={"MessageSid": "SM1"})
        assert unsigned.status_code == 403
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert b"https://revisit.example.com/twilio/status" in out
