"""Serving the web app on a loopback port for tests, as Twilio would reach it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI


@contextmanager
def serve_app(make_app: Callable[[str], FastAPI], *, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``make_app(base_url)`` in a background thread on a loopback port; yields the base
    URL (``http://127.0.0.1:PORT``), which the app may need as its public URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    url = f"http://{host}:{sock.getsockname()[1]}"
    app = make_app(url)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        raise RuntimeError("the web app did not start")
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
