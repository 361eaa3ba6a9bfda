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
from collections.abc import Callable, Iterator
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


#: How the dashboard shows a group with nothing recorded (the JSON's ``unknown``).
UNKNOWN_GROUP = {"未登记": "unknown"}


def assert_shown(shown: dict[str, str], expected: dict[str, Any], keys: list[str]) -> None:
    for key in keys:
        value, got = expected[key], shown_number(shown[key])
        if value is None:
            assert got is None, (key, shown[key])
        elif isinstance(value, int):
            assert got == value, (key, shown[key], value)
        else:  # one decimal of a percentage, or two of an amount
            assert got == pytest.approx(value, abs=0.0005 if abs(value) <= 1 else 0.005), key


def check_dashboard(
    page: Any, report: Callable[..., list[dict[str, Any]]], names: dict[str, str] | None = None
) -> None:
    """The dashboard open in ``page`` shows, in its tables and charts, the numbers of
    ``report(*args)`` (``revisit report [args] --format json`` for the same filters: runs,
    ``staff``, ``churn``, ``upsell --by …``); campaigns shown by ``names`` (name → display
    name) where given."""
    names = names or {}
    code_of = {v: k for k, v in names.items()}

    def shown_name(code: str) -> str:
        return names.get(code, code)

    runs = report()
    shown = page.eval_on_selector("#rv-runs", ROWS_JS)
    assert [(r["campaign"], r["day"]) for r in shown] == [
        (shown_name(r["campaign"]), r["as_of"]) for r in runs]  # fmt: skip
    counts = ["targeted", "holdout", "contacted", "delivered", "reached", "booked", "returned",
              "return_rate", "holdout_return_rate", "lift", "revenue"]  # fmt: skip
    for row, expected in zip(shown, runs, strict=True):
        assert_shown(row, expected, counts)
    funnel = page.eval_on_selector("#rv-funnel", ROWS_JS)
    stages = ["targeted", "contacted", "delivered", "reached", "booked", "returned"]
    assert [shown_number(r["count"]) for r in funnel] == [sum(r[s] for r in runs) for s in stages]

    staff = report("staff")
    shown_staff = page.eval_on_selector("#rv-staff", ROWS_JS)
    assert [r["staff"] for r in shown_staff] == [r["staff"] for r in staff]
    for row, expected in zip(shown_staff, staff, strict=True):
        assert_shown(row, expected, ["listed", "called", "reached", "booked", "returned",
                                     "reach_rate", "return_rate"])  # fmt: skip
    churn = report("churn")
    shown_churn = page.eval_on_selector("#rv-churn", ROWS_JS)
    assert [(r["campaign"], r["store"]) for r in shown_churn] == [
        (shown_name(r["campaign"]), r["store"]) for r in churn]  # fmt: skip
    for row, expected in zip(shown_churn, churn, strict=True):
        assert_shown(row, expected, ["declined", "share"])
    for by in ("month", "grade", "advisor", "team"):
        upsell = report("upsell", "--by", by)
        shown_upsell = page.eval_on_selector(f"#rv-upsell_{by}", ROWS_JS)
        groups = [UNKNOWN_GROUP.get(g, g) for g in (r[by] for r in shown_upsell)]
        assert groups == [r[by] for r in upsell]
        for row, expected in zip(shown_upsell, upsell, strict=True):
            assert_shown(row, expected, ["work_orders", "work_orders_with_items", "upsell_rate",
                                         "items", "accepted", "upsell_success_rate",
                                         "accepted_amount"])  # fmt: skip

    # the charts draw the same numbers
    drawn = page.evaluate("""() => echarts.getInstanceByDom(
        document.getElementById('rv-chart-funnel')).getOption().series[0].data""")
    assert drawn[::-1] == [sum(r[s] for r in runs) for s in stages]  # top stage drawn first
    series = page.evaluate("""() => echarts.getInstanceByDom(document.getElementById(
        'rv-chart-trend')).getOption().series.map(s => [s.name, s.data])""")
    months = sorted({r["as_of"][:7] for r in runs})
    for name, data in series:  # each campaign's return rate by month, its holdout's beside it
        shown_campaign, _, holdout = name.partition(" · ")
        campaign = code_of.get(shown_campaign, shown_campaign)
        part, whole = ("holdout_returned", "holdout") if holdout else ("returned", "contacted")
        for month, drawn_rate in zip(months, data, strict=True):
            mine = [r for r in runs if r["campaign"] == campaign and r["as_of"][:7] == month]
            total = sum(r[whole] for r in mine)
            expected = round(100 * sum(r[part] for r in mine) / total, 1) if total else None
            assert drawn_rate == expected, (name, month)
    assert len(series) == 2 * len({r["campaign"] for r in runs})
