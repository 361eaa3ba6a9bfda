"""Real-browser tests: Playwright for Python driving Debian's Chromium, never a downloaded
browser. The path comes from ``REVISIT_CHROMIUM`` (default ``/usr/bin/chromium``); without
it the browser tests skip, saying how to enable them. ``.ci/run`` installs ``chromium`` and
``fonts-noto-cjk``, so CI always runs them.

Fixtures (import them into a test module or conftest to use them): ``browser`` (one
Chromium per test module) and ``checked_page`` (a fresh page, zh-CN, whose :class:`PageGuard`
fails the test on any console error, page error, or request leaving 127.0.0.1 and file:).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("REVISIT_CHROMIUM", "/usr/bin/chromium")
ENABLE = (
    "install Debian's Chromium and CJK fonts (apt-get install chromium fonts-noto-cjk) or set "
    "REVISIT_CHROMIUM to a Chromium binary; `make install` brings Playwright"
)
#: Schemes that never leave the machine; http(s) and ws(s) only to these hosts.
LOCAL_SCHEMES = ("file", "data", "blob", "about")
LOCAL_HOSTS = ("127.0.0.1",)


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None when there is none."""
    found = shutil.which(CHROMIUM) if not os.path.isabs(CHROMIUM) else CHROMIUM
    return found if found and os.access(found, os.X_OK) else None


def is_local(url: str) -> bool:
    """Whether a request for ``url`` stays on this machine (file:, data:, blob:, about:, or
    http(s)/ws(s) to 127.0.0.1)."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return parts.scheme in ("http", "https", "ws", "wss") and parts.hostname in LOCAL_HOSTS


class PageGuard:
    """Watches a page: console errors, uncaught page errors, and every request that would
    leave the machine (aborted, and recorded). :meth:`check` fails the test with them."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.external: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.context.route("**/*", self._route)
        page.on("websocket", lambda ws: self._request(ws.url))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console error: {message.text} ({message.location})")

    def _request(self, url: str) -> bool:
        if is_local(url):
            return True
        self.external.append(url)
        return False

    def _route(self, route: Any) -> None:
        if self._request(route.request.url):
            route.continue_()
        else:
            route.abort()

    def check(self) -> None:
        """Fail with every console error and external request seen so far."""
        problems = [*self.errors, *(f"external request: {u}" for u in self.external)]
        assert problems == [], "\n".join(problems)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright (headless; --no-sandbox when running as root), one
    per test module: Playwright's sync API keeps an event loop running in this thread while
    it is open, so it is closed before the next module's tests (asyncio.run in a Prefect
    flow, say) need the thread. Keep browser tests in modules of their own."""
    path = chromium_path()
    if path is None:
        missing = f"browser tests: no Chromium at {CHROMIUM}: {ENABLE}"
        if os.environ.get("CI"):  # .ci/run installs it: there, a missing browser is a failure
            pytest.fail(missing)
        pytest.skip(missing)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - dev extras not installed
        pytest.skip(f"browser tests: Playwright is not installed: {ENABLE}")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, args=args, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def checked_page(browser: Any) -> Iterator[Any]:
    """A new page (desk width, zh-CN) with a :class:`PageGuard` as ``page.guard``, checked
    again when the test ends."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900},
                                  accept_downloads=True)  # fmt: skip
    page = context.new_page()
    page.guard = PageGuard(page)
    yield page
    try:
        page.guard.check()
    finally:
        context.close()


#: Every chart of the dashboard: trend, lift, funnel, reasons, staff, upsell.
CHARTS = 6
#: A table's body rows as objects: data-key → the text shown.
ROWS_JS = """table => [...table.tBodies[0].rows].map(row => Object.fromEntries(
    [...row.cells].map(c => [c.dataset.key, c.textContent.trim()])))"""


def shown_number(text: str) -> float | None:
    """A number as the page shows it (``1,234``, ``12.3%``, ``+2.1``) as a number (rates
    and points as fractions); ``—`` is None."""
    if text == "—":
        return None
    if text.endswith("%"):
        return float(text[:-1]) / 100
    if text.startswith(("+", "-")):
        return float(text) / 100
    return float(text.replace(",", ""))


def file_url(path: Path) -> str:
    """The file: URL of a local file."""
    return path.resolve().as_uri()
