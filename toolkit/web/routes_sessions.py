"""Pages of live sessions: the list, a session's page, its server-sent events, and the two
confirmed actions (kill switch, cancel-all) sent through the journal's command channel."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from toolkit.charts import session_equity_figure
from toolkit.live.commands import session_running, submit, wait
from toolkit.live.journal import Journal
from toolkit.web.auth import csrf_value
from toolkit.web.sessions import (
    SessionNotFound,
    SessionPage,
    check_session,
    find_journals,
    session_page,
    version,
)

router = APIRouter()

ACTIONS = {
    "kill": (
        "Kill switch",
        "cancels the strategy's working orders and schedules, flattens it at its next bar and "
        "lets it trade no more; it survives a restart (journaled guard event manual_kill)",
    ),
    "cancel_all": (
        "Cancel all",
        "cancels every working order of the session; every schedule is cancelled first so "
        "none sends a new child. Strategies decide again at their next bar",
    ),
}
HEARTBEAT = 15.0  # seconds between SSE comments that keep proxies and the browser connected


def _journals(request: Request) -> dict[str, Any]:
    return find_journals(request.app.state.settings.journals)


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context, status_code=status)  # type: ignore[no-any-return]


@router.get("/sessions", response_class=HTMLResponse)
def sessions(request: Request) -> Response:
    journals = _journals(request)
    return _render(
        request,
        "sessions.html",
        {
            "title": "Live sessions",
            "rows": request.app.state.index.rows(journals),
            "journals": journals,
        },
    )


@router.get("/api/sessions")
def sessions_json(request: Request) -> JSONResponse:
    rows = request.app.state.index.rows(_journals(request))
    return JSONResponse([{**r.__dict__, "state": r.state} for r in rows])


def _page(request: Request, journal: str, sid: str) -> SessionPage:
    return session_page(_journals(request), journal, sid)


def _figure(page: SessionPage) -> dict[str, Any]:
    fig = session_equity_figure(page.equity_rows)
    out: dict[str, Any] = json.loads(fig.to_json())
    return out


def _context(request: Request, page: SessionPage) -> dict[str, Any]:
    return {
        "title": f"Session {page.summary.session_id}",
        "page": page,
        "s": page.summary,
        "tca_rows": _tca_rows(page),
        # inside <script>: no "</" that could close it (a strategy named so)
        "figure": json.dumps(_figure(page)).replace("</", "<\\/"),
    }


def _tca_rows(page: SessionPage) -> list[dict[str, Any]]:
    if page.orders.empty:
        return []
    return [
        {"order_ref": str(ref), **{str(k): v for k, v in row.items()}}
        for ref, row in page.orders.to_dict("index").items()
    ]


@router.get("/sessions/{journal}/{sid}", response_class=HTMLResponse)
async def session(request: Request, journal: str, sid: str) -> Response:
    page = await run_in_threadpool(_page, request, journal, sid)
    return _render(request, "session.html", _context(request, page))


@router.get("/api/sessions/{journal}/{sid}")
async def session_json(request: Request, journal: str, sid: str) -> JSONResponse:
    """The session's numbers as ``status`` computes them (summary and parent-order TCA)."""
    page = await run_in_threadpool(_page, request, journal, sid)
    s = page.summary
    body = {
        "session_id": s.session_id,
        "running": page.running,
        "capital": s.capital,
        "pnl": s.pnl,
        "realized": s.realized,
        "unrealized": s.unrealized,
        "commissions": s.commissions,
        "round_trips": len(s.trades),
        "win_rate": _finite(s.win_rate),
        "avg_trade": _finite(s.avg_trade),
        "slippage": s.slippage,
        "orders": s.orders,
        "fills": s.fills,
        "working_orders": s.working_orders,
        "guards": s.guards,
        "kill_switch": s.kill_switch,
        "positions": s.positions,
        "tca": None if s.tca is None else {k: _finite(v) for k, v in s.tca.__dict__.items()},
        "orders_tca": json.loads(
            page.orders.reset_index().to_json(orient="records", date_format="iso")
        )
        if not page.orders.empty
        else [],
        "version": page.version,
    }
    return JSONResponse(body)


def _finite(x: Any) -> Any:
    return None if isinstance(x, float) and math.isnan(x) else x


@router.get("/sessions/{journal}/{sid}/events")
async def events(request: Request, journal: str, sid: str) -> StreamingResponse:
    """Server-sent events of a session: ``update`` (the page's live part re-rendered and its
    equity figure) whenever the journal changed, ``ended`` once the session is over."""
    journals = _journals(request)
    path = journals.get(journal)
    if path is None:
        raise SessionNotFound(f"no journal {journal!r}")
    await run_in_threadpool(check_session, path, sid)  # a 404 now, not an error mid-stream
    poll = float(request.app.state.settings.poll)
    since = request.query_params.get("since", "")
    templates = request.app.state.templates

    async def stream() -> AsyncIterator[str]:
        seen = since
        beat = time.monotonic()
        # a session that stopped is announced once its journal has been quiet for a poll
        # (what it wrote while stopping is sent first)
        stopped = not await run_in_threadpool(session_running, path, sid)
        yield "retry: 2000\n\n"
        while not await request.is_disconnected():
            now = await run_in_threadpool(version, path, sid)
            if now != seen:
                page = await run_in_threadpool(session_page, journals, journal, sid)
                seen, stopped = page.version, not page.running
                html = templates.get_template("_live.html").render(
                    {**_context(request, page), "request": request}
                )
                data = json.dumps({"version": page.version, "html": html, "figure": _figure(page)})
                yield f"event: update\ndata: {data}\n\n"
                beat = time.monotonic()
            elif stopped:
                yield "event: ended\ndata: {}\n\n"
                return
            elif time.monotonic() - beat >= HEARTBEAT:
                yield ": heartbeat\n\n"
                beat = time.monotonic()
            await asyncio.sleep(poll)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/sessions/{journal}/{sid}/confirm/{action}", response_class=HTMLResponse)
async def confirm(request: Request, journal: str, sid: str, action: str) -> Response:
    page = await run_in_threadpool(_page, request, journal, sid)
    refused = _refusal(request, page, action)
    if refused is not None:
        return refused
    title, effect = ACTIONS[action]
    return _render(
        request,
        "confirm.html",
        {
            "title": f"{title}: session {sid}",
            "page": page,
            "action": action,
            "label": title,
            "effect": effect,
        },
    )


@router.post("/sessions/{journal}/{sid}/actions/{action}", response_class=HTMLResponse)
async def act(request: Request, journal: str, sid: str, action: str) -> Response:
    """Queue the confirmed command in the session's journal and wait for its outcome."""
    settings = request.app.state.settings
    form = {k: v[-1] for k, v in parse_qs((await request.body()).decode()).items()}
    if settings.token and form.get("csrf") != csrf_value(settings.token):
        return _message(request, "Refused", "the form did not come from this app", 403)
    page = await run_in_threadpool(_page, request, journal, sid)
    refused = _refusal(request, page, action)
    if refused is not None:
        return refused
    if form.get("confirm") != sid:
        return _message(
            request,
            "Not confirmed",
            f"type the session id {sid!r} to confirm; nothing was sent",
            400,
        )
    target = form.get("strategy", "") if action == "kill" else ""
    if target and target not in page.strategies:
        return _message(request, "Refused", f"{target!r} is not a strategy of {sid}", 400)

    def send() -> Any:
        with Journal(page.path) as j:
            cid = submit(j, sid, action, target, source="web")
            return wait(j, cid, settings.command_timeout)

    outcome = await run_in_threadpool(send)
    return _render(
        request,
        "outcome.html",
        {"title": f"{ACTIONS[action][0]}: {outcome.status}", "page": page, "outcome": outcome},
        200 if outcome.ok else 409,
    )


def _refusal(request: Request, page: SessionPage, action: str) -> Response | None:
    if action not in ACTIONS:
        return _message(request, "Not found", f"no action {action!r}", 404)
    if not request.app.state.settings.actions:
        return _message(
            request,
            "Read-only",
            "this web app is read-only; start it with `toolkit web --actions` to allow the "
            "kill switch and cancel-all",
            403,
        )
    if not session_running(page.path, page.summary.session_id):
        return _message(
            request,
            "Not running",
            f"session {page.summary.session_id} is not running; commands go to a running session",
            409,
        )
    return None


def _message(request: Request, title: str, message: str, status: int) -> Response:
    return _render(request, "error.html", {"title": title, "message": message}, status)
