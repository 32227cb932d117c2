"""The two HttpOnly cookies, written by one helper so set and clear always match.

`session`: the opaque session id. `signin`: a random value that binds a
sign-in transaction to the browser that started it. Both are set only by
backend routes (JavaScript can't write HttpOnly cookies) and read by event
handlers from the websocket's request headers.
"""

from __future__ import annotations

from starlette.requests import cookie_parser
from starlette.responses import Response

from .transactions import TRANSACTION_TTL

SESSION = "logto_session"
SIGN_IN_BINDING = "logto_signin"


def cookie_name(base: str, *, secure: bool) -> str:
    # The __Host- prefix (https only) pins the cookie to this host and path /,
    # so a sibling subdomain can't plant one.
    return f"__Host-{base}" if secure else base


def set_cookie(response: Response, base: str, value: str, *, max_age: int, secure: bool) -> None:
    response.set_cookie(
        cookie_name(base, secure=secure),
        value,
        max_age=max_age,
        path="/",
        secure=secure,
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, base: str, *, secure: bool) -> None:
    set_cookie(response, base, "", max_age=0, secure=secure)


def read_cookie(cookie_header: str | None, base: str, *, secure: bool) -> str | None:
    """The cookie's value from a `Cookie:` header, or None."""
    if not cookie_header:
        return None
    return cookie_parser(cookie_header).get(cookie_name(base, secure=secure)) or None


BINDING_COOKIE_MAX_AGE = TRANSACTION_TTL
