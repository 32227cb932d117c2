"""Long caching for the frontend's built files, whose names carry a hash of their content.

Reflex serves its build with validators only, so a browser asks again for
every script on every page load: a round of 304s that held back each reload
and each page after the provider's redirect. A name with a content hash
never changes meaning, so those files may be kept for a year; the HTML pages,
which name them, are still checked every time.
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HASHED = re.compile(r"^/assets/[^/]+-[A-Za-z0-9_-]{8}\.(?:js|css|woff2?)$")
IMMUTABLE = (b"cache-control", b"public, max-age=31536000, immutable")


def cache_hashed_assets(app: ASGIApp) -> ASGIApp:
    """Wrap the app: built assets with a content hash in their name are cached for a year."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not HASHED.match(scope["path"]):
            await app(scope, receive, send)
            return

        async def send_cacheable(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 304):
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"cache-control"]
                message = {**message, "headers": [*headers, IMMUTABLE]}
            await send(message)

        await app(scope, receive, send_cacheable)

    return wrapped
