"""The app's HTTP surface, hardened for browsers: pages can't be framed, redirects are built
from LOGTO_BASE_URL (never from a forged Host), and CORS and the websocket serve the app's
own origins only.

`hardening_transformers(config)` gives plain ASGI wrappers for `rx.App(api_transformer=...)`;
Reflex applies them around its backend, which in production also serves the built pages.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reflex_logto.config import AuthConfig

log = logging.getLogger(__name__)

Transformer = Callable[[ASGIApp], ASGIApp]

REDACTED = "<redacted>"
_COOKIE_PREFIXES = ("__Host-", "__Secure-")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def hardening_transformers(config: AuthConfig) -> list[Transformer]:
    """The ASGI wrappers to append to `app.api_transformer`, innermost first."""
    from reflex_logto.reflex.setup import backend_url

    serving = origin_of(backend_url(config))
    own = tuple(dict.fromkeys((origin_of(config.origin), serving)))
    return [
        cors_guard(allowed_origins(config)),
        same_origin_redirects(own, serving),
        framing_headers(config.frame_ancestors),
    ]


# Framing and content sniffing


def security_headers(frame_ancestors: str) -> list[tuple[bytes, bytes]]:
    """The headers every response carries: CSP (frame-ancestors, base-uri, object-src),
    X-Frame-Options for browsers without CSP 2, and nosniff."""
    csp = f"frame-ancestors {frame_ancestors}; base-uri 'self'; object-src 'none'"
    headers = [(b"content-security-policy", csp.encode()), (b"x-content-type-options", b"nosniff")]
    frame_options = {"'none'": b"DENY", "'self'": b"SAMEORIGIN"}.get(frame_ancestors)
    if frame_options:
        headers.append((b"x-frame-options", frame_options))
    return headers


def framing_headers(frame_ancestors: str) -> Transformer:
    """Add `security_headers` to every HTTP response; our CSP is a policy of its own next
    to any the app sets (browsers enforce each), the other headers only where absent."""
    extra = security_headers(frame_ancestors)

    def wrap(app: ASGIApp) -> ASGIApp:
        async def with_headers(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    present = {(name.lower(), value) for name, value in headers}
                    names = {name for name, _ in present}
                    for name, value in extra:
                        if (name, value) not in present and (name == b"content-security-policy" or name not in names):
                            headers.append((name, value))
                    message = {**message, "headers": headers}
                await send(message)

            await app(scope, receive, send_with_headers)

        return with_headers

    return wrap


# Redirects


def origin_of(url: str) -> str:
    """scheme://host[:port] of an absolute URL, lower-case, without a default port."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    return f"{scheme}://{_authority(parts.netloc, scheme)}"


def _authority(netloc: str, scheme: str) -> str:
    """host[:port], lower-case, without userinfo or the scheme's default port."""
    hostport = netloc.rpartition("@")[2].lower()
    host, sep, port = hostport.rpartition(":") if not hostport.endswith("]") else (hostport, "", "")
    if not sep or not port.isdigit():
        return hostport.rstrip(":")
    return host if int(port) == _DEFAULT_PORTS.get(scheme) else f"{host}:{int(port)}"


def _request_authorities(scope: Scope) -> set[str]:
    """What a URL built from this request could name as its host: the Host header (as
    Starlette's URL(scope) uses it), or the server's address when that is missing or invalid."""
    scheme = scope.get("scheme", "http")
    authorities = set()
    host = _header(scope, b"host")
    if host:
        authorities.add(_authority(host, scheme))
    if server := scope.get("server"):
        address = f"[{server[0]}]" if ":" in server[0] else server[0]
        authorities.add(_authority(f"{address}:{server[1]}", scheme))
    return authorities


def safe_location(location: str, scope: Scope, own_origins: tuple[str, ...], serving_origin: str) -> str:
    """`location`, or the same path and query on `serving_origin` if it names an origin built
    from the request (a Host header, forged or not) that isn't one of the app's."""
    parts = urllib.parse.urlsplit(location)
    if not parts.netloc:
        return location
    scheme = (parts.scheme or scope.get("scheme", "http")).lower()
    if f"{scheme}://{_authority(parts.netloc, scheme)}" in own_origins:
        return location
    if _authority(parts.netloc, scheme) not in _request_authorities(scope):
        return location  # elsewhere on purpose: the provider's pages
    return serving_origin + urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))


def same_origin_redirects(own_origins: tuple[str, ...], serving_origin: str) -> Transformer:
    """Rewrite every `Location` built from the request's Host (Starlette's trailing-slash
    redirects, the static files' directory redirects) to the app's own origin."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def rewriting(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return

            async def send_safe(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = []
                    for name, value in message.get("headers", []):
                        if name.lower() == b"location":
                            location = value.decode("latin-1")
                            value = safe_location(location, scope, own_origins, serving_origin).encode("latin-1")
                        headers.append((name, value))
                    message = {**message, "headers": headers}
                await send(message)

            await app(scope, receive, send_safe)

        return rewriting

    return wrap


# CORS and the websocket


def allowed_origins(config: AuthConfig) -> tuple[str, ...]:
    """The origins whose pages may call the backend with the user's cookies: the app's own,
    and in dev mode the frontend's (Reflex serves it on its own port there)."""
    import reflex as rx
    from reflex_base.environment import environment

    origins = [config.origin]
    if environment.REFLEX_ENV_MODE.get() == rx.constants.Env.DEV:
        reflex_config = rx.config.get_config()
        frontend = reflex_config.deploy_url or f"http://localhost:{reflex_config.frontend_port or 3000}"
        origins.append(origin_of(frontend))
    return tuple(dict.fromkeys(origin_of(origin) for origin in origins))


def restrict_reflex_cors(origins: tuple[str, ...]) -> tuple[str, ...]:
    """Replace a "*" in Reflex's `cors_allowed_origins` (its default) by `origins`, for the
    CORS layers Reflex adds from then on; returns every origin Reflex now allows."""
    import reflex as rx

    reflex_config = rx.config.get_config()
    configured = tuple(reflex_config.cors_allowed_origins)
    if "*" in configured:
        log.info("CORS and the websocket limited to %s (rxconfig's cors_allowed_origins allows *)", " ".join(origins))
        reflex_config.cors_allowed_origins = origins
        return origins
    return tuple(dict.fromkeys((*origins, *configured)))


def cors_guard(origins: tuple[str, ...]) -> Transformer:
    """Refuse a websocket from a foreign Origin, and drop CORS grants to one from the
    responses of the layers inside (Reflex adds its own, allowing any origin)."""

    def wrap(app: ASGIApp) -> ASGIApp:
        # Applied while Reflex builds its ASGI app, before it adds its outermost CORS layer.
        allowed = {origin.lower() for origin in restrict_reflex_cors(origins)}

        async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
            origin = _header(scope, b"origin") if scope["type"] in ("http", "websocket") else None
            if origin is None or origin.lower() in allowed:
                await app(scope, receive, send)
            elif scope["type"] == "websocket":
                await _refuse_websocket(receive, send)
            else:
                await app(scope, receive, _without_cors_grants(send))

        return guarded

    return wrap


async def _refuse_websocket(receive: Receive, send: Send) -> None:
    """Close before accepting: the server answers the upgrade with 403."""
    await receive()  # websocket.connect
    await send({"type": "websocket.close", "code": 1008})


def _without_cors_grants(send: Send) -> Send:
    async def send_without(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if not k.lower().startswith(b"access-control-")]
            message = {**message, "headers": headers}
        await send(message)

    return send_without


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None
