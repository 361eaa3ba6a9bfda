"""The FastAPI application factory."""

from __future__ import annotations

import logging
import secrets

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.middleware.sessions import SessionMiddleware

from revisit import __version__
from revisit.access.throttle import LoginThrottle
from revisit.entry.clocks import real_clock
from revisit.entry.daily import Clock
from revisit.settings import Settings
from revisit.web.csrf import check_csrf
from revisit.web.errors import install_error_pages
from revisit.web.launches import Launcher, ThreadLauncher
from revisit.web.pages import HERE
from revisit.web.prefect_launches import PrefectLauncher
from revisit.web.routers import auth, calls, campaigns, dashboard, health, twilio
from revisit.web.security import AccessGate, BodyLimit, SecurityHeaders

SESSION_COOKIE = "revisit_session"
SESSION_HOURS = 12  # a working day: sign in again the next morning
_log = logging.getLogger(__name__)


def session_key(settings: Settings) -> str | None:
    """The key that signs session cookies: ``REVISIT_SECRET_KEY``, or with
    ``REVISIT_DEV_SESSIONS`` one made up for this process; None when neither is set."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value()
    if settings.dev_sessions:
        return secrets.token_urlsafe(32)
    return None


def launcher_for(settings: Settings) -> Launcher:
    """How the app launches campaigns: as flow runs of the ``launch-campaign`` deployment
    when the settings name a Prefect API (:attr:`Settings.prefect_api_url`), else in
    threads of this process."""
    if settings.prefect_api_url:
        return PrefectLauncher(settings.prefect_api_url)
    return ThreadLauncher()


def create_app(
    settings: Settings,
    engine: Engine,
    *,
    clock: Clock = real_clock,
    launcher: Launcher | None = None,
) -> FastAPI:
    """The revisit web app on ``engine`` (already migrated: see
    :func:`revisit.entry.engine.open_engine`) with ``settings``. No interactive API docs:
    the app is not an API for third parties, and its pages must work offline.

    ``clock`` (an aware "now" per call) tells the pages what today is and plans previews;
    ``launcher`` starts launches (default: :func:`launcher_for` the
    settings — through Prefect when they name its API, else in a thread).

    Every route needs a signed-in user except ``/twilio/*`` (signature-checked),
    ``/healthz``, ``/login`` and ``/static/*`` (:class:`AccessGate`); every state-changing
    request needs the session's CSRF token (:func:`check_csrf`, app-wide). Without a secret
    key the pages answer 503 and the webhooks still work."""
    app = FastAPI(
        title="revisit", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
        dependencies=[Depends(check_csrf)],
    )  # fmt: skip
    app.state.settings = settings
    app.state.engine = engine
    app.state.throttle = LoginThrottle()
    app.state.clock = clock
    app.state.launches = launcher if launcher is not None else launcher_for(settings)
    key = session_key(settings)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (health, twilio, auth, calls, campaigns, dashboard):
        app.include_router(module.router)
    install_error_pages(app)
    # Added innermost first: the gate runs inside the session, inside the limits.
    app.add_middleware(AccessGate, engine=engine, configured=key is not None)
    app.add_middleware(
        SessionMiddleware, secret_key=key or secrets.token_urlsafe(32),
        session_cookie=SESSION_COOKIE, max_age=SESSION_HOURS * 3600,
        same_site="lax", https_only=settings.https,
    )  # fmt: skip
    app.add_middleware(BodyLimit)
    app.add_middleware(SecurityHeaders)
    return app
