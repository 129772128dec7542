"""The web app's access token, as Jupyter does it: the printed URL carries ``?token=``; the app
answers with an HttpOnly, SameSite=Strict cookie and a redirect to the same URL without it, so
the token leaves the address bar and later requests carry the cookie. A request with neither
(nor an ``Authorization: Bearer`` header) gets 401. Form posts (the kill switch, cancel-all)
also carry a CSRF value derived from the token, which another site's page cannot know."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

COOKIE = "toolkit_web_token"


def csrf_value(token: str) -> str:
    """The form field value that proves a post came from one of our pages."""
    return hmac.new(token.encode(), b"toolkit-web-csrf", hashlib.sha256).hexdigest()


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


def token_middleware(
    token: str | None,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """An HTTP middleware enforcing ``token`` (None: no token, loopback only)."""

    async def check(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        if token is None:
            return await call_next(request)
        given = request.query_params.get("token")
        if given is not None:
            if not _same(given, token):
                return _denied("wrong token")
            query = "&".join(
                f"{k}={v}" for k, v in request.query_params.multi_items() if k != "token"
            )
            target = request.url.path + (f"?{query}" if query else "")
            response: Response = RedirectResponse(target, status_code=303)
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
            return response
        header = request.headers.get("authorization", "")
        bearer = header[7:] if header.lower().startswith("bearer ") else None
        if _same(request.cookies.get(COOKIE), token) or _same(bearer, token):
            return await call_next(request)
        return _denied("no token")

    return check


def _denied(why: str) -> Response:
    return PlainTextResponse(
        f"401 {why}: open the URL that `toolkit web` printed (it carries ?token=...)\n",
        status_code=401,
        headers={"WWW-Authenticate": "Bearer"},
    )
