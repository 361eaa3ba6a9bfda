"""A screenshot of a page written by revisit (the dashboard of ``revisit report --format
html``), taken by Debian's Chromium under Playwright — the README's ``docs/dashboard.png``
(``make dashboard-screenshot`` after ``make demo``). The browser is ``REVISIT_CHROMIUM``
(default ``/usr/bin/chromium``), never a downloaded one; the page may request nothing that
leaves the machine, and a console error fails the screenshot.

    python -m devtools.screenshot out/dashboard.html docs/dashboard.png --width 1366
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import ConsoleMessage, Route, sync_playwright

LOCAL = ("file", "data", "blob", "about")


def screenshot(page_file: Path, png: Path, *, width: int = 1366, height: int = 900) -> list[str]:
    """Write a full-page PNG of ``page_file`` (opened from file:) to ``png``; returns the
    problems seen (console errors, requests that would have left the machine, aborted)."""
    chromium = os.environ.get("REVISIT_CHROMIUM", "/usr/bin/chromium")
    problems: list[str] = []

    def route(r: Route) -> None:
        if urlsplit(r.request.url).scheme in LOCAL:
            r.continue_()
        else:
            problems.append(f"external request: {r.request.url}")
            r.abort()

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console error: {message.text}")

    with sync_playwright() as pw:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = pw.chromium.launch(executable_path=chromium, args=args)
        context = browser.new_context(viewport={"width": width, "height": height},
                                      locale="zh-CN")  # fmt: skip
        context.route("**/*", route)
        page = context.new_page()
        page.on("console", console)
        page.goto(page_file.resolve().as_uri())
        page.wait_for_load_state("load")
        png.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(png), full_page=True)
        browser.close()
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("page", type=Path, help="an HTML file")
    parser.add_argument("png", type=Path, help="where to write the screenshot")
    parser.add_argument("--width", type=int, default=1366, help="viewport width in px")
    args = parser.parse_args(argv)
    if not args.page.is_file():
        print(f"{args.page}: no such file", file=sys.stderr)
        return 2
    problems = screenshot(args.page, args.png, width=args.width)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{args.png} written" + (f", {len(problems)} problem(s)" if problems else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
