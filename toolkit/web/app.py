"""The local web app (``toolkit web``): report folders and live sessions in a browser.

Server-rendered pages (FastAPI + Jinja2 templates in ``toolkit/web/templates``), plotly figures
from :mod:`toolkit.charts` with plotly.js served from the installed plotly package (no
JavaScript build chain, nothing fetched from the internet), a running session's page updated by
server-sent events. Bound to 127.0.0.1 with a token by default (:mod:`toolkit.web.auth`);
read-only unless started with actions allowed, and then only the kill switch and cancel-all,
each confirmed on a page of its own and sent through the session's journaled command channel
(:mod:`toolkit.live.commands`): the running session executes it and journals the outcome.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from toolkit.web.auth import csrf_value, token_middleware
from toolkit.web.reports import ReportNotFound
from toolkit.web.sessions import SessionIndex, SessionNotFound

TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class WebSettings:
    """What the app serves and how."""

    journals: tuple[Path, ...] = (Path("live/state"),)  # journal files or folders of them
    reports: Path = Path("reports")
    token: str | None = None  # None: no token (only allowed on a loopback address)
    actions: bool = False  # allow the kill switch and cancel-all (confirmed)
    poll: float = 1.0  # seconds between looks at a running session's journal (SSE)
    command_timeout: float = 15.0  # seconds to wait for the session to take a command
    extra: dict[str, Any] = field(default_factory=dict)


def money(x: Any) -> str:
    """Currency as ``status`` prints it: thousands separators, two decimals."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "" if x is None else str(x)
    return "n/a" if math.isnan(v) else f"{v:,.2f}"


def number(x: Any, digits: int = 1) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "" if x is None else str(x)
    if math.isnan(v):
        return ""
    return f"{v:,.{digits}f}"


def shares(x: Any) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "" if x is None else str(x)
    return f"{v:,.0f}" if v == int(v) else f"{v:,.4g}"


def percent(x: Any) -> str:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return ""
    return "n/a" if math.isnan(v) else f"{v:.1%}"


def stamp(x: Any) -> str:
    """A journal timestamp without microseconds (UTC, as journaled)."""
    text = "" if x is None else str(x)
    return text.replace("T", " ")[:19]


@cache
def plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def create_app(settings: WebSettings) -> FastAPI:
    """The app for ``settings``; serve it with uvicorn (``toolkit web``) or test it with an
    HTTP client."""
    from toolkit.web.routes_reports import router as reports_router
    from toolkit.web.routes_sessions import router as sessions_router

    app = FastAPI(title="ibkr-toolkit", docs_url=None, redoc_url=None, openapi_url=None)
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.filters.update(money=money, number=number, shares=shares, percent=percent, stamp=stamp)
    env.globals.update(
        csrf=csrf_value(settings.token) if settings.token else "", actions=settings.actions
    )
    app.state.settings = settings
    app.state.templates = templates
    app.state.index = SessionIndex()
    app.middleware("http")(token_middleware(settings.token))

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return RedirectResponse("/sessions", status_code=303)

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly() -> Response:
        return Response(
            plotly_js(),
            media_type="application/javascript",
            headers={"Cache-Control": "max-age=86400"},
        )

    @app.exception_handler(SessionNotFound)
    @app.exception_handler(ReportNotFound)
    def not_found(request: Request, exc: Exception) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "error.html", {"title": "Not found", "message": str(exc)}, status_code=404
        )

    app.include_router(sessions_router)
    app.include_router(reports_router)
    return app
