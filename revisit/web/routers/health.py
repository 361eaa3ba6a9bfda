"""``GET /healthz``: the process is up and its database answers; ``GET /favicon.ico``: no
icon (204), so a browser's own request neither errors nor goes through sign-in."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from revisit.web.deps import EngineDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(engine: EngineDep) -> JSONResponse:
    """200 ``{"status": "ok"}`` when the database answers, else 503 with the reason."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        reason = str(exc).splitlines()[0][:200]
        return JSONResponse({"status": "error", "database": reason}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> Response:
    """204: the app has no icon; browsers ask for one on every page."""
    return Response(status_code=204)
