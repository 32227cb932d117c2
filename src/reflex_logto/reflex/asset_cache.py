"""The frontend's content-hashed build files: kept by the browser, whichever way a page opens.

Two layers. Reflex serves its build with validators only, so a browser asked again
for every script on every page load; a name carrying its content's hash never
changes meaning, so `cache_hashed_assets` marks those files immutable for a year
(the HTML pages, which name them, are still checked every time). And a page
opened by the provider's redirect gets a fresh partition of the HTTP cache, so
the callback fetched every script again: a small service worker keeps the same
files in Cache Storage, which is not split that way (`service_worker.js` says
what it does and doesn't touch), engaged only for the trips to the provider.
Served, and registered, only where one origin serves both the pages and the
backend (production); dev mode's Vite server is left alone.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import reflex as rx
from reflex_base.components.memo import memo
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HASHED = re.compile(r"^/assets/[^/]+-[A-Za-z0-9_-]{8}\.(?:js|css|woff2?)$")
IMMUTABLE = (b"cache-control", b"public, max-age=31536000, immutable")
SERVICE_WORKER_NAME = "service-worker.js"


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


def build_files(directory: Path) -> list[str]:
    """The content-hashed files of the frontend build Reflex serves from `directory`, as URL paths."""
    assets = directory / "assets"
    if not assets.is_dir():
        return []
    return sorted(path for file in assets.iterdir() if HASHED.match(path := f"/assets/{file.name}"))


def static_dir() -> Path:
    """Where Reflex's production server finds the built frontend (reflex/utils/exec.py)."""
    from reflex.utils import prerequisites
    from reflex_base import constants

    return prerequisites.get_web_dir() / constants.Dirs.STATIC


def service_worker_route(prefix: str, find_static_dir: Callable[[], Path] = static_dir) -> Route:
    """`{prefix}/service-worker.js`, allowed to control every page of the origin; it names the
    files of the build being served, read once, on the first request."""
    template = resources.files("reflex_logto.reflex").joinpath("service_worker.js").read_text()

    @functools.cache
    def script() -> bytes:
        return template.replace("__BUILD__", json.dumps(build_files(find_static_dir()))).encode()

    async def serve(request: Request) -> Response:
        return Response(
            script(),
            media_type="text/javascript",
            # Checked on each visit, so a new build's worker takes over at once.
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
        )

    return Route(f"{prefix}/{SERVICE_WORKER_NAME}", serve, methods=["GET"])


# The worker is engaged for the trips to the provider only: registered as the tab leaves
# (sign-in, sign-out; the browser finishes a registration begun by a page that has left), so
# the page the provider sends it back to, in its fresh cache partition, loads every script
# from Cache Storage; and released by that page once it has loaded, since for every other
# page load the HTTP cache, which then holds the files, is quicker (bench/RESULTS.md). The
# files stay in Cache Storage, so the next registration installs at once.
_REGISTER = """if (typeof window !== "undefined") (() => {
  if (!("serviceWorker" in navigator) || !window.isSecureContext) return;
  window.__reflexLogtoCacheAssets = () => navigator.serviceWorker
    .register(__URL__, { scope: "/" })
    .catch((error) => console.warn("reflex-logto: asset cache not registered", error));
  if (!navigator.serviceWorker.controller) return;
  const release = () => navigator.serviceWorker.getRegistration("/").then((registration) => registration?.unregister());
  const idle = () => (window.requestIdleCallback ?? setTimeout)(release);
  if (document.readyState === "complete") idle();
  else window.addEventListener("load", idle, { once: true });
})();"""


class _Registration(rx.Fragment):
    """Defines the page's way to register the worker as the app's scripts load: before React
    has hydrated the page, so a Sign in or Sign out clicked then (`components._SUBMIT_EARLY`) registers
    it too. Renders nothing."""

    def add_custom_code(self) -> list[str]:
        from reflex_logto.reflex.runtime import get_config

        return [_REGISTER.replace("__URL__", json.dumps(f"{get_config().routes_prefix}/{SERVICE_WORKER_NAME}"))]


@memo
def logto_asset_cache() -> rx.Component:
    return _Registration.create()


def registration_wrap() -> rx.Component:
    """What `setup` adds to the app's wraps (production only): every page registers the worker
    when the tab leaves for the provider, and releases it once the page it came back to has loaded."""
    return rx.Fragment.create(logto_asset_cache())
