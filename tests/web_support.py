"""Serving the web app on a loopback port for tests, as Twilio would reach it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fastapi import FastAPI

from devtools.fake_twilio import serve_in_thread


@contextmanager
def serve_app(make_app: Callable[[str], FastAPI], *, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``make_app(base_url)`` in a background thread on a loopback port; yields the base
    URL (``http://127.0.0.1:PORT``), which the app may need as its public URL."""
    with serve_in_thread(make_app, host=host, what="the web app") as url:
        yield url
