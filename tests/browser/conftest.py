"""Fixtures of the real-browser tests (:mod:`tests.browser_support`)."""

from tests.browser_support import browser, checked_page

__all__ = ["browser", "checked_page"]
