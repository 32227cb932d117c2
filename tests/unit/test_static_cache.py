"""Built assets named by their content's hash are cached for a year; pages are not."""

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app.static_cache import cache_hashed_assets


def served(request):
    return PlainTextResponse("x", headers={"Cache-Control": "no-cache", "ETag": '"1"'})


APP = cache_hashed_assets(Starlette(routes=[Route("/{path:path}", served)]))


async def cache_control(path: str) -> str | None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=APP), base_url="http://app") as client:
        return (await client.get(path)).headers.get("cache-control")


@pytest.mark.parametrize("path", ["/assets/entry.client-ylr8JhQO.js", "/assets/__reflex_global_styles-NccINl-w.css"])
async def test_hashed_assets_are_immutable(path):
    assert await cache_control(path) == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("path", ["/", "/callback/", "/assets/logo.png", "/assets/app.js", "/favicon.ico", "/x/assets/a-12345678.js"])
async def test_pages_and_unhashed_files_keep_their_own_headers(path):
    assert await cache_control(path) == "no-cache"
