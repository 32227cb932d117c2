"""The demo app's own small API: data for a JWT access token with the `read:demo` scope."""

from __future__ import annotations

import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import reflex_logto

API_PATH = "/api/demo"
API_SCOPE = "read:demo"


def api_resource() -> str:
    """The API's resource indicator: the app's own URL plus /api."""
    return f"{reflex_logto.get_config().base_url}/api"


async def demo(request: Request) -> JSONResponse:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return _refuse(401, "invalid_request", "a Bearer access token is required")
    try:
        claims = await reflex_logto.verify_access_token(token, resource=api_resource(), required_scopes=[API_SCOPE])
    except reflex_logto.InsufficientScope as err:
        return _refuse(403, "insufficient_scope", str(err), scope=" ".join(err.missing))
    except reflex_logto.InvalidAccessToken:
        return _refuse(401, "invalid_token", "the access token is not valid for this API")
    return JSONResponse(
        {"message": f"Hello, {claims['sub']}", "scopes": sorted(str(claims.get("scope", "")).split()),
         "served_at": int(time.time())},
        headers={"Cache-Control": "no-store"},
    )


def _refuse(status: int, error: str, description: str, *, scope: str | None = None) -> JSONResponse:
    # RFC 6750, section 3: the challenge says what was wrong, and which scope is missing.
    challenge = f'Bearer error="{error}"' + (f', scope="{scope}"' if scope else "")
    return JSONResponse({"error": error, "error_description": description}, status_code=status,
                        headers={"WWW-Authenticate": challenge, "Cache-Control": "no-store"})


def api_routes() -> Starlette:
    return Starlette(routes=[Route(API_PATH, demo, methods=["GET"])])
