"""Built assets named by their content's hash are cached for a year; pages are not; a service
worker keeps them in Cache Storage too."""

import subprocess

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from reflex_logto.reflex.asset_cache import build_files, cache_hashed_assets, service_worker_route


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


# The service worker that keeps the same files in Cache Storage


def built(tmp_path):
    """A frontend build as Reflex serves it: hashed assets, an unhashed one, pages."""
    for name in ("entry.client-ylr8JhQO.js", "root-BqX3_a9z.css", "logo.png", "app.js"):
        (tmp_path / "assets").mkdir(exist_ok=True)
        (tmp_path / "assets" / name).write_text("x")
    (tmp_path / "index.html").write_text("<!doctype html>")
    return tmp_path


def test_the_build_list_names_only_content_hashed_files(tmp_path):
    assert build_files(built(tmp_path)) == ["/assets/entry.client-ylr8JhQO.js", "/assets/root-BqX3_a9z.css"]
    assert build_files(tmp_path / "no-build") == []


async def test_the_worker_is_served_for_the_whole_origin_and_names_the_build(tmp_path):
    app = Starlette(routes=[service_worker_route("/auth", lambda: built(tmp_path))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://app") as client:
        response = await client.get("/auth/service-worker.js")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/javascript")
    assert response.headers["service-worker-allowed"] == "/"  # its scope is every page, not /auth/
    assert response.headers["cache-control"] == "no-cache"  # a new build's worker is seen at once
    assert '["/assets/entry.client-ylr8JhQO.js", "/assets/root-BqX3_a9z.css"]' in response.text
    assert "__BUILD__" not in response.text
    script = tmp_path / "worker.js"
    script.write_text(response.text)
    checked = subprocess.run(["node", "--check", str(script)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr

