"""The sign-in cookie, given with the app's pages: so a Sign in click can go straight to the provider.

A sign-in transaction is bound to the browser that starts it by the HttpOnly
sign-in cookie, which only an HTTP response can set. The Sign in handler runs
over the websocket, so a browser without the cookie takes one more hop, the
start route, which sets it on the way to the provider. A page response that
sets it first saves that hop: the websocket the page opens carries the cookie,
and the handler binds the transaction to it at once.

The cookie lives as long as the browser session (no Max-Age), so a value the
websocket saw when it opened is still the browser's when the callback comes.
The responses that set it are marked private: a shared cache that kept one
would give every visitor the same binding, which is what the binding is there
to prevent.

Pages that load at once in a browser with no cookie yet each set one, and the
last stays: a tab whose websocket opened before that last response came would
bind its sign-in to a value the browser no longer holds, and its callback says
the sign-in came from another browser (Try again, from that page, signs in).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reflex_logto.reflex.cookies import CookiePolicy, valid_binding

# Not pages: the build, Reflex's websocket, uploads and health checks.
NOT_PAGES = ("/assets", "/_event", "/_upload", "/ping", "/_health")


def bind_on_pages(policy: CookiePolicy, own_routes: tuple[str, ...] = ()) -> Callable[[ASGIApp], ASGIApp]:
    """Wrap the app: a page (an HTML GET answered 200) for a browser without a sign-in cookie
    the app made sets one. `own_routes` (the auth routes, the callback) set their own. (A 304
    names no type, so a page the browser revalidates sets none: its click takes the hop.)"""
    skipped = (*NOT_PAGES, *own_routes)

    def wrap(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["method"] != "GET" or under(scope["path"], skipped):
                await app(scope, receive, send)
                return
            if valid_binding(policy.binding(request_header(scope, b"cookie"))):
                await app(scope, receive, send)
                return

            async def send_binding(message: Message) -> None:
                if message["type"] == "http.response.start" and message["status"] == 200 and is_html(message):
                    headers = [h for h in message.get("headers", []) if h[0].lower() != b"cache-control"]
                    message = {
                        **message,
                        "headers": [
                            *headers,
                            (b"cache-control", b"private, no-cache"),
                            (b"set-cookie", policy.binding_header(secrets.token_urlsafe(32)).encode("latin-1")),
                        ],
                    }
                await send(message)

            await app(scope, receive, send_binding)

        return wrapped

    return wrap


def request_header(scope: Scope, name: bytes) -> str | None:
    """The request's header `name` (lower case), its values joined as for a cookie; None without one."""
    values = [v for k, v in scope["headers"] if k.lower() == name]
    return b"; ".join(values).decode("latin-1") if values else None


def under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == prefix or path.startswith(prefix.rstrip("/") + "/") for prefix in prefixes)


def is_html(message: Message) -> bool:
    return any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in message.get("headers", []))
