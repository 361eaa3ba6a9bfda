"""The dependencies routes declare, defined once: ``SettingsDep``, ``EngineDep``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine

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
