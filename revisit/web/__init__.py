"""The web app (``revisit serve``): the staff pages, signed in and scoped to their stores,
and Twilio's webhooks.

:func:`create_app` takes the settings and the engine built once at the entry point; routes
reach them through the ``Annotated`` dependencies of :mod:`revisit.web.deps`, one router per
area in :mod:`revisit.web.routers`.
"""

from __future__ import annotations

from revisit.web.app import create_app

__all__ = ["create_app"]
