"""The dependencies routes declare, defined once: ``SettingsDep``, ``EngineDep``,
``CurrentUser`` (``request.state.user``), ``LeadUser`` and ``ManagerUser``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.engine import Engine

from revisit.access.users import SignedIn
from revisit.campaigns.statuses import Role
from revisit.settings import Settings


def get_settings(request: Request) -> Settings:
    """The settings :func:`revisit.web.create_app` was built with."""
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    """The database engine :func:`revisit.web.create_app` was built with."""
    engine: Engine = request.app.state.engine
    return engine


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]


def current_user(request: Request) -> SignedIn:
    """The signed-in user (set by :class:`revisit.web.security.AccessGate`). Raises HTTP 401
    on a public path, where nobody is signed in."""
    user = getattr(request.state, "user", None)
    if not isinstance(user, SignedIn):
        raise HTTPException(401, "sign in first")
    return user


CurrentUser = Annotated[SignedIn, Depends(current_user)]


def requires(role: Role) -> Callable[[SignedIn], SignedIn]:
    """A dependency: the signed-in user when their role is ``role`` or above, else HTTP 404
    (a page they may not use answers as if it did not exist)."""

    def check(user: CurrentUser) -> SignedIn:
        if not user.at_least(role):
            raise HTTPException(404)
        return user

    return check


LeadUser = Annotated[SignedIn, Depends(requires(Role.LEAD))]
ManagerUser = Annotated[SignedIn, Depends(requires(Role.MANAGER))]
