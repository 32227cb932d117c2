"""Backend routes: the only places that set or clear the HttpOnly cookies.

Each answers with a redirect, never a page, and never signs anyone out on its
own: the signed-out route clears a cookie only once its session is gone.
"""

from __future__ import annotations

import logging
import secrets

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.formparsers import MultiPartException
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from . import cookies
from .errors import InvalidLogoutToken, SignInError
from .runtime import get_flow

log = logging.getLogger("app.auth")

_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=_NO_STORE)


async def start_sign_in(request: Request) -> RedirectResponse:
    flow = get_flow()
    secure = flow.config.secure_cookies
    # Reuse the browser's binding, so two tabs signing in at once both finish.
    binding = request.cookies.get(cookies.cookie_name(cookies.SIGN_IN_BINDING, secure=secure))
    if not binding or len(binding) != 43:
        binding = secrets.token_urlsafe(32)
    url = await flow.claim_sign_in(request.path_params["txn_id"], binding)
    if url is None:
        return _redirect(flow.callback_error_url("invalid_transaction"))
    response = _redirect(url)
    cookies.set_cookie(
        response, cookies.SIGN_IN_BINDING, binding, max_age=cookies.BINDING_COOKIE_MAX_AGE, secure=secure
    )
    return response


async def complete_sign_in(request: Request) -> RedirectResponse:
    flow = get_flow()
    secure = flow.config.secure_cookies
    binding = request.cookies.get(cookies.cookie_name(cookies.SIGN_IN_BINDING, secure=secure))
    previous = request.cookies.get(cookies.cookie_name(cookies.SESSION, secure=secure))
    result = await flow.complete_sign_in(
        request.path_params["handoff_id"], binding, previous, user_agent=request.headers.get("user-agent", "")
    )
    if result is None:
        return _redirect(flow.callback_error_url("invalid_transaction"))
    session_id, return_url = result
    response = _redirect(return_url)
    cookies.set_cookie(
        response, cookies.SESSION, session_id, max_age=flow.sessions.max_age, secure=secure
    )
    return response


async def complete_sign_out(request: Request) -> RedirectResponse:
    flow = get_flow()
    secure = flow.config.secure_cookies
    session_id = request.cookies.get(cookies.cookie_name(cookies.SESSION, secure=secure))
    response = _redirect(await flow.complete_sign_out(request.path_params["handoff_id"], session_id))
    if await flow.current_session(session_id) is None:
        cookies.clear_cookie(response, cookies.SESSION, secure=secure)
    return response


async def backchannel_logout(request: Request) -> Response:
    """OpenID Connect Back-Channel Logout 1.0: the provider ends sessions, server to server."""
    flow = get_flow()
    try:
        form = await request.form(max_files=0, max_fields=10, max_part_size=32_768)
        token = form.get("logout_token")
        await flow.lifecycle.backchannel_logout(token if isinstance(token, str) else "")
    except InvalidLogoutToken as err:
        log.warning("back-channel logout refused: %s", err)
        return JSONResponse({"error": "invalid_request"}, status_code=400, headers=_NO_STORE)
    except (SignInError, MultiPartException, ValueError) as err:
        log.warning("back-channel logout failed: %s", err)
        return JSONResponse({"error": "invalid_request"}, status_code=400, headers=_NO_STORE)
    return Response(status_code=200, headers=_NO_STORE)


def auth_routes() -> Starlette:
    """The routes to pass to `rx.App(api_transformer=...)`; Reflex mounts itself below them."""
    return Starlette(
        routes=[
            Route("/auth/sign-in/{txn_id}", start_sign_in, methods=["GET"]),
            Route("/auth/session/{handoff_id}", complete_sign_in, methods=["GET"]),
            Route("/auth/signed-out/{handoff_id}", complete_sign_out, methods=["GET"]),
            Route("/auth/backchannel-logout", backchannel_logout, methods=["POST"]),
        ]
    )
