"""Backend routes: the only places that set or clear the HttpOnly cookies.

Each answers with a redirect, never a stack trace, and none signs anyone out
on its own: the signed-out route clears a cookie only once its session is gone.
"""

from __future__ import annotations

import functools
import logging
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from reflex_logto.errors import InvalidLogoutToken, SignInError
from reflex_logto.reflex.runtime import get_flow

log = logging.getLogger(__name__)

_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=_NO_STORE)


def _failing_safely(route: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Whatever breaks inside a browser-facing route, the browser lands on a page that says so."""

    @functools.wraps(route)
    async def guarded(request: Request) -> Response:
        try:
            return await route(request)
        except Exception:
            log.exception("auth route %s failed", request.url.path)
            return _redirect(get_flow().callback_error_url("default"))

    return guarded


@_failing_safely
async def start_sign_in(request: Request) -> Response:
    flow = get_flow()
    # Reuse the browser's binding, so two tabs signing in at once both finish.
    binding = flow.cookies.binding(request.headers.get("cookie"))
    if not binding or len(binding) != 43:
        binding = secrets.token_urlsafe(32)
    url = await flow.claim_sign_in(request.path_params["txn_id"], binding)
    if url is None:
        return _redirect(flow.callback_error_url("invalid_transaction"))
    response = _redirect(url)
    flow.cookies.set_binding(response, binding)
    return response


@_failing_safely
async def complete_sign_in(request: Request) -> Response:
    flow = get_flow()
    header = request.headers.get("cookie")
    result = await flow.complete_sign_in(
        request.path_params["handoff_id"],
        flow.cookies.binding(header),
        flow.cookies.session(header),
        user_agent=request.headers.get("user-agent", ""),
    )
    if result is None:
        return _redirect(flow.callback_error_url("invalid_transaction"))
    session_id, return_url = result
    response = _redirect(return_url)
    flow.cookies.set_session(response, session_id, max_age=flow.sessions.max_age)
    flow.cookies.set_sign_in_done(response)
    return response


@_failing_safely
async def complete_sign_out(request: Request) -> Response:
    flow = get_flow()
    session_id = flow.cookies.session(request.headers.get("cookie"))
    response = _redirect(await flow.complete_sign_out(request.path_params.get("handoff_id"), session_id))
    if (await flow.sessions.lookup(session_id, touch=False)).session is None:
        flow.cookies.clear_session(response)
        flow.cookies.clear_sign_in_done(response)
    return response


async def backchannel_logout(request: Request) -> Response:
    """OpenID Connect Back-Channel Logout 1.0: the provider ends sessions, server to server."""
    flow = get_flow()
    try:
        token = await _logout_token(request)
        await flow.lifecycle.backchannel_logout(token)
    except (InvalidLogoutToken, SignInError, ValueError) as err:
        log.warning("back-channel logout refused: %s", err)
        return JSONResponse({"error": "invalid_request"}, status_code=400, headers=_NO_STORE)
    except Exception:
        log.exception("back-channel logout failed")
        return JSONResponse({"error": "server_error"}, status_code=400, headers=_NO_STORE)
    return Response(status_code=200, headers=_NO_STORE)


MAX_LOGOUT_REQUEST_BYTES = 64 * 1024


async def _logout_token(request: Request) -> str:
    """The `logout_token` of a form-encoded body of at most 64 KiB (Back-Channel Logout 1.0, 2.5)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise InvalidLogoutToken("not a form-encoded request")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_LOGOUT_REQUEST_BYTES:
            raise InvalidLogoutToken("request too large")
    values = [v for k, v in urllib.parse.parse_qsl(body.decode("utf-8", "replace")) if k == "logout_token"]
    if len(values) != 1:
        raise InvalidLogoutToken("expected exactly one logout_token")
    return values[0]


def auth_routes(prefix: str = "/auth") -> Starlette:
    """The routes to pass to `rx.App(api_transformer=...)`; Reflex mounts itself below them.

    `prefix` is the config's `routes_prefix` (LOGTO_ROUTES_PREFIX).
    """
    return Starlette(
        routes=[
            Route(f"{prefix}/sign-in/{{txn_id}}", start_sign_in, methods=["GET"]),
            Route(f"{prefix}/session/{{handoff_id}}", complete_sign_in, methods=["GET"]),
            Route(f"{prefix}/signed-out", complete_sign_out, methods=["GET"]),
            Route(f"{prefix}/signed-out/{{handoff_id}}", complete_sign_out, methods=["GET"]),
            Route(f"{prefix}/backchannel-logout", backchannel_logout, methods=["POST"]),
        ]
    )
