"""A real Prefect server, the ``revisit`` process work pool, the deployments of prefect.yaml
and workers, started as separate processes for the deployment tests; every process is
stopped at the end, also when a step fails.

The server keeps its own ``PREFECT_HOME`` and its own SQLite database in a temporary folder,
listens on a free loopback port and has no UI; nothing of the developer's Prefect profile is
read or written.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
POOL = "revisit"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def prefect_cli() -> str:
    """The ``prefect`` executable beside this interpreter; skips the test (with the reason)
    when it is missing or cannot start."""
    venv_bin = Path(sys.executable).parent
    exe = shutil.which("prefect", path=str(venv_bin)) or shutil.which("prefect")
    if exe is None:
        pytest.skip("the prefect CLI is not installed: no real-server test")
    probe = subprocess.run([exe, "version"], capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        pytest.skip(f"the prefect CLI cannot start: {probe.stderr.strip()[-300:]}")
    return exe


@dataclass
class PrefectServer:
    """A running server: its API URL, the environment that points a client at it, and the
    processes started against it (stopped by :func:`running_server`)."""

    exe: str
    home: Path
    api_url: str
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def run(self, *args: str, cwd: Path = ROOT, timeout: float = 180) -> str:
        """A ``prefect`` command against this server; its output, or a failure with it."""
        done = subprocess.run(
            [self.exe, *args], cwd=cwd, env=self.env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
        if done.returncode != 0:
            pytest.fail(f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        """Start a long-running ``prefect`` process (a worker), its output in a log file."""
        log = (self.home / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [self.exe, *args], cwd=ROOT, env={**self.env, **(env or {})}, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.procs.append(proc)

    def log(self, name: str) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process started by :meth:`PrefectServer.start` and its children (its process
    group): SIGTERM, then SIGKILL after 15 s."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _wait_healthy(server: PrefectServer, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"prefect server exited:\n{server.log('server')}")
        try:
            if httpx.get(f"{server.api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"prefect server not healthy after 120 s:\n{server.log('server')}")


@contextmanager
def running_server(home: Path) -> Iterator[PrefectServer]:
    """Start ``prefect server start`` on a free loopback port with ``home`` as its
    ``PREFECT_HOME`` (and its SQLite database there); stop it and every process started
    through it on the way out."""
    exe = prefect_cli()
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
        "PREFECT_HOME": str(home),
        "PREFECT_PROFILES_PATH": str(home / "profiles.toml"),
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{home / 'server.db'}",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_LOGGING_LEVEL": "INFO",
    }
    server = PrefectServer(exe, home, api_url, env)
    try:
        server.start("server", "server", "start", "--host", "127.0.0.1", "--port", str(port))
        _wait_healthy(server, server.procs[0])
        yield server
    finally:
        for proc in reversed(server.procs):
            stop_process(proc)
