"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from revisit import __version__
from revisit.settings import Settings
from revisit.web.routers import health, twilio


def create_app(settings: Settings, engine: Engine) -> FastAPI:
    """The revisit web app on ``engine`` (already migrated: see
    :func:`revisit.entry.engine.open_engine`) with ``settings``. No interactive API docs:
    the app is not an API for third parties, and its pages must work offline."""
    app = FastAPI(
        title="revisit", version=__version__, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.settings = settings
    app.state.engine = engine
    app.include_router(health.router)
    app.include_router(twilio.router)
    return app
