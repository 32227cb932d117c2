"""A page that carries a first state is sent rendered with it, by a Node.js process beside the
worker; whenever that process can't answer in time, the page is sent as built, carrying the same
state, and the process is started again. (Here the renderer is a fake that misbehaves on request;
the real one renders the real build in tests/browser/test_page_renderer.py.)"""

import asyncio
import json
import os
import re
import time

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from reflex_logto.reflex import rendering
from reflex_logto.reflex.first_state import carry_first_state
from reflex_logto.reflex.state import AuthState
from tests.support.fake_provider import APP_URL
from tests.support.renderers import fake_renderer, set_mode

BUILT = b"<!DOCTYPE html><html><head><title>Home</title></head><body><p>Loading</p></body></html>"
AUTH = AuthState.get_full_name()
BLOCK = re.compile(rb'<script type="application/json" id="__reflex_logto_first_state">(.*?)</script>')
NAVIGATION = {"sec-fetch-dest": "document"}


def built_page(request):
    """A built page, as the app's inner layers send it: with a cookie of theirs."""
    return HTMLResponse(BUILT, headers={"set-cookie": "inner=1; Path=/; HttpOnly"})


def app() -> Starlette:
    return carry_first_state(is_page=lambda path: True, signs_in_on_load=lambda path: False)(
        Starlette(routes=[Route("/{path:path}", built_page)])
    )


async def visit(path: str = "/", cookie: str = "") -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url=APP_URL) as client:
        return await client.get(path, headers={**NAVIGATION, **({"cookie": cookie} if cookie else {})})


def carried(response: httpx.Response) -> dict:
    found = BLOCK.search(response.content)
    assert found, response.text
    return json.loads(found.group(1))


@pytest.fixture
def web_dir(tmp_path):
    return tmp_path / "web"


@pytest.fixture
async def signed_in(rp):
    await rp.sign_in()
    return rp


async def test_a_page_is_sent_rendered_with_the_state_it_carries(signed_in, web_dir):
    async with fake_renderer(web_dir):
        response = await visit("/orders/7?tab=items", signed_in.cookie_header())

    assert b"<p>rendered /orders/7 for Ada</p>" in response.content  # the render, not the build
    page_carries = carried(response)
    assert page_carries["rendered"] is True  # the browser hydrates from the same state
    assert page_carries["state"][AUTH]["user_name_rx_state_"] == "Ada"
    # Its buttons take no click until React has hydrated it (the receiver removes the style),
    # but a Sign in button's, whose form posts the sign-in without a script.
    assert (
        b'<style id="__reflex_logto_until_hydrated">:is(button,[role="button"]):not(form[data-logto-form] *)'
        b"{pointer-events:none!important}</style></head>"
    ) in response.content
    # Still the app's response: its cookies kept; no cache keeps it; whole.
    assert "inner=1; Path=/; HttpOnly" in response.headers.get_list("set-cookie")
    assert response.headers["cache-control"] == "private, no-store"
    assert int(response.headers["content-length"]) == len(response.content)


async def test_signed_out_a_page_is_rendered_signed_out(rp, web_dir):
    async with fake_renderer(web_dir):
        response = await visit("/")
    assert b"for </p>" in response.content and carried(response)["rendered"] is True
    assert carried(response)["state"][AUTH]["signed_in_rx_state_"] is False


@pytest.mark.parametrize("mode", ["fail", "slow", "cut"])
async def test_a_render_that_fails_or_takes_too_long_leaves_the_page_as_built(signed_in, web_dir, mode):
    async with fake_renderer(web_dir, mode):
        started = time.monotonic()
        response = await visit("/", signed_in.cookie_header())
        took = time.monotonic() - started

    assert BLOCK.sub(b"", response.content) == BUILT  # nor any style: its buttons show once hydrated
    assert "rendered" not in carried(response)  # applied once React has hydrated the built page
    assert carried(response)["state"][AUTH]["signed_in_rx_state_"] is True
    assert took < rendering.RENDER_TIMEOUT_SECONDS + 1


async def test_a_renderer_that_stops_is_started_again(signed_in, web_dir, monkeypatch):
    monkeypatch.setattr(rendering, "RESTART_AFTER_SECONDS", 0.0)
    async with fake_renderer(web_dir, "exit") as renderer:
        first = renderer._process
        assert BLOCK.sub(b"", (await visit("/", signed_in.cookie_header())).content) == BUILT
        await asyncio.wait_for(first.wait(), 5)  # gone

        set_mode(web_dir, "page")
        assert BLOCK.sub(b"", (await visit("/", signed_in.cookie_header())).content) == BUILT  # starts it again
        assert await renderer.started() and renderer._process is not first
        assert b"rendered / for Ada" in (await visit("/", signed_in.cookie_header())).content


async def test_a_renderer_that_keeps_failing_is_stopped(signed_in, web_dir):
    async with fake_renderer(web_dir, "fail") as renderer:
        for _ in range(rendering.MAX_FAILURES):
            await visit("/", signed_in.cookie_header())
        await asyncio.wait_for(renderer._process.wait(), 5)
        assert not renderer.ready


async def test_a_renderer_that_never_says_ready_is_given_up_on(signed_in, web_dir, monkeypatch):
    monkeypatch.setattr(rendering, "START_TIMEOUT_SECONDS", 0.5)
    async with fake_renderer(web_dir, "mute") as renderer:
        assert not renderer.ready
        await asyncio.wait_for(renderer._process.wait(), 5)  # not left running
        response = await visit("/", signed_in.cookie_header())
    assert BLOCK.sub(b"", response.content) == BUILT


async def test_the_renderer_ends_with_the_worker_and_leaves_no_socket(rp, web_dir):
    async with fake_renderer(web_dir) as renderer:
        process, socket_path = renderer._process, renderer.socket_path
        assert socket_path.exists() and oct(socket_path.parent.stat().st_mode & 0o777) == "0o700"
    assert process.returncode is not None
    assert not socket_path.exists() and not socket_path.parent.exists()
    assert rendering.get_renderer() is None


async def test_without_node_or_a_server_build_pages_are_sent_as_built(signed_in, web_dir):
    async with rendering.rendering(web_dir, "/usr/bin/node"):  # no server build in web_dir
        assert rendering.get_renderer() is None
        assert BLOCK.sub(b"", (await visit("/", signed_in.cookie_header())).content) == BUILT
    rendering.server_build(web_dir).parent.mkdir(parents=True)
    rendering.server_build(web_dir).touch()
    async with rendering.rendering(web_dir, None):
        assert rendering.get_renderer() is None


async def test_the_renderer_of_another_process_is_not_used(rp, web_dir, monkeypatch):
    async with fake_renderer(web_dir):
        monkeypatch.setattr(os, "getpid", lambda: -1)  # as in a worker forked after it started
        assert rendering.get_renderer() is None


async def test_a_new_build_is_not_rendered_by_the_renderer_of_the_old_one(signed_in, web_dir):
    """The old renderer's pages would name scripts the new build no longer has."""
    async with fake_renderer(web_dir) as renderer:
        old = renderer._process
        assert b"rendered / for Ada" in (await visit("/", signed_in.cookie_header())).content
        rendering.server_build(web_dir).write_text("// built again")

        assert BLOCK.sub(b"", (await visit("/", signed_in.cookie_header())).content) == BUILT
        await asyncio.wait_for(old.wait(), 5)  # the old one stopped at once, not a minute later
        assert await renderer.started() and renderer._process is not old
        assert b"rendered / for Ada" in (await visit("/", signed_in.cookie_header())).content


async def test_a_page_is_rendered_again_only_for_another_state(signed_in, web_dir, monkeypatch):
    """A render is the same page for the same state. Signed out, the state shows no one: the
    same page for every visitor, kept for the build. A user's page is kept among the latest few,
    for their next request with nothing changed: only a request carrying that very state gets it."""
    async with fake_renderer(web_dir) as renderer:
        first, again = await visit("/"), await visit("/")
        assert b"render 1<" in first.content and again.content == first.content
        assert b"render 2<" in (await visit("/?tab=2")).content  # another page

        ada = (await visit("/", signed_in.cookie_header())).content
        assert b"rendered / for Ada" in ada and b"render 3<" in ada
        assert (await visit("/", signed_in.cookie_header())).content.count(b"render 3<") == 1  # reloaded: kept

        monkeypatch.setattr(rendering, "MAX_RECENT", 1)
        bob = {AUTH: {"user_name_rx_state_": "Bob"}}
        assert b"for Bob</p><p>render 4<" in (await renderer.render("http://localhost/", bob) or b"")
        assert b"for Bob</p><p>render 4<" in (await renderer.render("http://localhost/", bob) or b"")
        # Ada's page made way for Bob's: hers is rendered again, and still hers.
        assert b"for Ada</p><p>render 5<" in (await visit("/", signed_in.cookie_header())).content


async def test_a_request_that_goes_away_leaves_the_render_it_waited_for_to_the_others(web_dir):
    async with fake_renderer(web_dir, "late") as renderer:
        ada = {AUTH: {"user_name_rx_state_": "Ada"}}
        first = asyncio.ensure_future(renderer.render("http://localhost/", ada))
        second = asyncio.ensure_future(renderer.render("http://localhost/", ada))
        await asyncio.sleep(0.05)
        first.cancel()
        assert b"for Ada</p><p>render 1<" in (await second or b"")  # one render, not cancelled with the first
        assert b"for Ada</p><p>render 1<" in (await renderer.render("http://localhost/", ada) or b"")


async def test_a_render_begun_by_the_renderer_of_an_older_build_is_not_kept(web_dir):
    async with fake_renderer(web_dir, "late") as renderer:
        under_way = asyncio.ensure_future(renderer.render("http://localhost/", {}, shared=True))
        await asyncio.sleep(0.05)
        rendering.server_build(web_dir).write_text("// built again")
        assert await renderer.render("http://localhost/", {}, shared=True) is None  # replaced: sent as built
        await under_way
        assert await renderer.started()
        assert not renderer._kept and renderer._failures == 0
