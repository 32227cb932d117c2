"""The callback request finishes the sign-in where one origin serves the pages: it answers with
the built callback page and the session cookie, and the page's handler only reads how it ended.
The in-page handoff (POST to the session route) for where it doesn't."""

import asyncio
import json
import re
import urllib.parse

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from reflex_logto.reflex import routes
from reflex_logto.reflex.first_state import carry_first_state
from reflex_logto.reflex.state import AuthState
from tests.support.fake_provider import APP_URL
from tests.support.reflex_state import auth_state, client_redirect, navigation, run
from tests.support.renderers import fake_renderer, set_mode

PAGE = b"<!doctype html><html><head><title>Signing in</title></head><body><p>Signing in...</p></body></html>"
CARRIED = re.compile(rb'<script type="application/json" id="__reflex_logto_first_state">(.*?)</script>')


def carried(response) -> dict | None:
    """What the page carries to the tab (`first_state.py`), or None."""
    found = CARRIED.search(response.content)
    return json.loads(found.group(1)) if found else None


@pytest.fixture(autouse=True)
def built_callback_page(tmp_path, monkeypatch):
    """A frontend build holding the callback page, where Reflex's server looks for it."""
    client = tmp_path / "web" / "build" / "client"
    client.mkdir(parents=True)
    (client / "callback.html").write_bytes(PAGE)
    monkeypatch.setenv("REFLEX_WEB_WORKDIR", str(tmp_path / "web"))
    routes._built_page.cache_clear()
    yield
    routes._built_page.cache_clear()


def sets(response, name: str) -> bool:
    """Whether the response sets cookie `name` (with its __Host- prefix: the test app is https)."""
    return any(
        header.startswith(f"__Host-{name}=") and not header.startswith(f"__Host-{name}=;")
        for header in response.headers.get_list("set-cookie")
    )


def answer_slowly(rp, seconds: float, answer=None) -> None:
    """The provider's token endpoint takes `seconds` to give its answer (by default its own)."""
    answer = answer or rp.op.token_response

    async def slow(request):
        await asyncio.sleep(seconds)
        return answer(request)

    rp.op.token_response = slow


async def land_on_callback(rp, query: dict[str, str]):
    """The provider's redirect to /callback, as the browser follows it; then the page's handler."""
    url = f"/callback?{urllib.parse.urlencode(query)}"
    response = await rp.browser.get(url)
    page = auth_state(url, cookie=rp.cookie_header())
    return response, page, await run(page.finish_sign_in)


async def test_the_callback_request_signs_in_and_the_page_moves_on_without_a_page_load(rp):
    params = await rp.begin("/orders/7?tab=items")
    response, page, events = await land_on_callback(rp, await rp.code_response(params))

    assert response.status_code == 200 and CARRIED.sub(b"", response.content) == PAGE
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"  # the URL holds the code
    assert sets(response, "logto_session") and sets(response, "logto_signin_result")
    assert all("httponly" in header.lower() for header in response.headers.get_list("set-cookie"))
    assert rp.count("sessions") == 1
    # The page goes on by itself, with the user already shown; its handler has nothing to do.
    assert carried(response)["go"] == "/orders/7?tab=items"
    assert events == [] and page.error_code == ""


async def test_the_page_carries_the_new_session_and_where_to_go_and_its_handler_does_nothing(rp):
    params = await rp.begin("/orders/7?tab=items")
    query = await rp.code_response(params)
    response = await rp.browser.get(f"/callback?{urllib.parse.urlencode(query)}")

    page_carries = carried(response)
    state = page_carries["state"][AuthState.get_full_name()]
    assert state["signed_in_rx_state_"] is True and state["user_sub_rx_state_"] == "user-1"
    assert page_carries["go"] == "/orders/7?tab=items"  # a path of this app, never a URL
    assert int(response.headers["content-length"]) == len(response.content)
    outcome, status = rp.flow.cookies.callback_result(rp.cookie_header())
    assert status == "carried"
    assert await rp.flow.take_callback_result(outcome, rp.flow.cookies.binding(rp.cookie_header())) is None  # none kept

    # The page went on by itself: its handler sends the tab nowhere and shows nothing.
    page = auth_state(f"/callback?{urllib.parse.urlencode(query)}", cookie=rp.cookie_header())
    events = await run(page.finish_sign_in)
    assert events == [] and page.error_code == "" and page.pending == ""
    assert rp.count("sessions") == 1


async def test_where_pages_are_rendered_the_callback_sends_the_browser_straight_to_the_return_page(rp, tmp_path):
    """The return page shows the user as its HTML arrives (`rendering.py`): no callback page to
    load first; the same checks, the same cookies."""
    async with fake_renderer(tmp_path / "web"):
        params = await rp.begin("/orders/7?tab=items")
        query = await rp.code_response(params)
        response = await rp.browser.get(f"/callback?{urllib.parse.urlencode(query)}")

        assert response.status_code == 303 and response.content == b""
        assert response.headers["location"] == "https://app.example/orders/7?tab=items"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"  # the URL holds the code
        assert sets(response, "logto_session")
        assert rp.flow.cookies.callback_result(rp.cookie_header()) is None  # no outcome: no page to read it
        assert all("httponly" in header.lower() for header in response.headers.get_list("set-cookie"))
        assert rp.count("sessions") == 1

        # The same URL again (a replay) spends nothing: it is refused on the callback page.
        again, page, events = await land_on_callback(rp, query)
        assert again.status_code == 200 and not sets(again, "logto_session")
        assert page.error_code == "invalid_transaction" and rp.count("sessions") == 1


@pytest.mark.parametrize("arrives", ["after the render", "during the render"])
async def test_the_return_page_is_rendered_as_the_redirect_travels_and_its_request_finds_it(rp, tmp_path, arrives):
    """Its request carries the same state: it gets the render the callback began, not one of its own."""
    async with fake_renderer(tmp_path / "web") as renderer:
        params = await rp.begin("/orders/7?tab=items")
        if arrives == "during the render":
            set_mode(tmp_path / "web", "late")  # each render takes 150 ms
        response = await rp.browser.get(f"/callback?{urllib.parse.urlencode(await rp.code_response(params))}")
        assert response.status_code == 303
        if arrives == "after the render":
            await asyncio.gather(*renderer._preparing)
            set_mode(tmp_path / "web", "fail")  # from now on a render of its own would leave the page as built
        else:
            await asyncio.sleep(0.05)
            assert len(renderer._under_way) == 1  # the callback's, still at the renderer

        landed = await visit(PAGE, "/orders/7?tab=items", rp.cookie_header())
        assert b"<p>rendered /orders/7 for Ada</p><p>render 1</p>" in landed.content
        assert not renderer._under_way and not renderer._preparing


async def test_a_return_path_that_is_no_page_is_not_rendered(rp, tmp_path):
    async with fake_renderer(tmp_path / "web") as renderer:
        params = await rp.begin("/api/orders")
        callback = routes.auth_routes(is_page=lambda path: not path.startswith("/api/"))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=callback), base_url=APP_URL) as browser:
            browser.cookies = rp.browser.cookies
            response = await browser.get(f"/callback?{urllib.parse.urlencode(await rp.code_response(params))}")
        assert response.status_code == 303 and response.headers["location"] == "https://app.example/api/orders"
        assert not renderer._preparing and not renderer._under_way and not renderer._recent


async def visit(built: bytes, path: str, cookie: str) -> httpx.Response:
    """Load a page as a browser navigates to it, through the layer that renders it."""
    app = carry_first_state(is_page=lambda path: True, signs_in_on_load=lambda path: False)(
        Starlette(routes=[Route("/{path:path}", lambda request: HTMLResponse(built))])
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=APP_URL) as browser:
        return await browser.get(path, headers={"sec-fetch-dest": "document", "cookie": cookie})


async def test_a_failed_sign_in_still_shows_on_the_callback_page_where_pages_are_rendered(rp, tmp_path):
    async with fake_renderer(tmp_path / "web"):
        params = await rp.begin()
        response, page, events = await land_on_callback(rp, await rp.code_response(params, state="forged"))
    assert response.status_code == 200 and CARRIED.sub(b"", response.content) == PAGE
    assert page.error_code == "invalid_transaction" and rp.count("sessions") == 0


async def test_a_page_that_can_not_carry_it_has_its_handler_send_the_tab_on(rp, tmp_path):
    (tmp_path / "web" / "build" / "client" / "callback.html").write_bytes(b"<p>Signing in...</p>")  # no head
    routes._built_page.cache_clear()
    params = await rp.begin("/orders/7")
    response, page, events = await land_on_callback(rp, await rp.code_response(params))
    assert carried(response) is None and rp.flow.cookies.callback_result(rp.cookie_header())[1] == "kept"
    assert client_redirect(events) == "https://app.example/orders/7" and page.error_code == ""


async def test_the_outcome_is_read_once_and_a_replayed_callback_signs_nobody_in(rp):
    params = await rp.begin()
    query = await rp.code_response(params)
    await land_on_callback(rp, query)
    again = auth_state(f"/callback?{urllib.parse.urlencode(query)}", cookie=rp.cookie_header())
    events = await run(again.finish_sign_in)  # its handler again (a reconnect): the page went on by itself
    assert events == [] and again.error_code == ""
    assert rp.count("sessions") == 1  # and no second session

    response, page, events = await land_on_callback(rp, query)  # the whole URL again
    assert response.status_code == 200 and not sets(response, "logto_session")
    assert page.error_code == "invalid_transaction" and client_redirect(events) is None
    assert rp.count("sessions") == 1


async def test_a_parameter_sent_twice_is_refused(rp):
    params = await rp.begin()
    query = urllib.parse.urlencode(await rp.code_response(params)) + "&code=other"
    response = await rp.browser.get(f"/callback?{query}")
    page = auth_state(f"/callback?{query}", cookie=rp.cookie_header())
    await run(page.finish_sign_in)
    assert not sets(response, "logto_session") and rp.count("sessions") == 0
    assert page.error_code == "invalid_callback"


async def test_a_head_request_spends_nothing(rp):
    params = await rp.begin()
    query = await rp.code_response(params)
    head = await rp.browser.head(f"/callback?{urllib.parse.urlencode(query)}")
    assert head.status_code == 200 and not sets(head, "logto_session") and rp.count("sessions") == 0
    response, page, events = await land_on_callback(rp, query)  # the browser's own GET still signs in
    assert sets(response, "logto_session") and carried(response)["go"] == "/" and events == []


async def test_a_head_request_spends_no_transaction_or_handoff_either(rp):
    start = navigation(await run(auth_state("/").sign_in))
    head = await rp.browser.head(start)
    assert head.status_code == 405 and head.headers["allow"] == "GET"
    claimed = await rp.browser.get(start)  # the browser's own GET still claims it
    assert claimed.status_code == 303 and claimed.headers["location"].startswith(rp.op.issuer)


async def test_a_refusal_from_the_provider_shows_its_words_on_the_page(rp):
    params = await rp.begin()
    query = {"state": params["state"], "iss": rp.op.issuer, "error": "access_denied", "error_description": "No <b>"}
    response, page, events = await land_on_callback(rp, query)
    assert not sets(response, "logto_session") and rp.count("sessions") == 0
    assert page.error_code == "access_denied" and page.provider_error == "access_denied: No <b>"
    assert client_redirect(events) is None


async def test_a_callback_from_another_browser_is_refused(rp):
    params = await rp.begin()
    query = await rp.code_response(params)
    rp.browser.cookies.clear()  # not the browser that started the sign-in
    response, page, _ = await land_on_callback(rp, query)
    assert not sets(response, "logto_session") and rp.count("sessions") == 0
    assert page.error_code == "invalid_transaction"


async def test_a_slow_provider_gets_the_page_at_once_and_the_sign_in_ends_behind_it(rp, monkeypatch):
    """Past CALLBACK_WAIT_SECONDS the page comes first ("Signing in..."); its handler waits for
    the sign-in the request left running, then takes the session by the in-page handoff."""
    monkeypatch.setattr(routes, "CALLBACK_WAIT_SECONDS", 0.05)
    answer_slowly(rp, 0.3)
    params = await rp.begin("/orders/7")
    response, page, events = await land_on_callback(rp, await rp.code_response(params))

    assert response.status_code == 200 and response.content == PAGE
    assert sets(response, "logto_signin_result") and not sets(response, "logto_session")
    handoff = navigation(events)
    assert handoff and "/auth/session/" in handoff and page.error_code == ""
    taken = await rp.browser.post(handoff, headers={"Origin": "https://app.example"})
    assert taken.json() == {"location": "https://app.example/orders/7"} and sets(taken, "logto_session")
    assert rp.count("sessions") == 1


async def test_a_slow_provider_s_refusal_still_reaches_the_page(rp, monkeypatch):
    monkeypatch.setattr(routes, "CALLBACK_WAIT_SECONDS", 0.05)
    answer_slowly(rp, 0.3, lambda request: httpx.Response(400, json={"error": "invalid_grant"}))
    params = await rp.begin()
    response, page, events = await land_on_callback(rp, await rp.code_response(params))
    assert not sets(response, "logto_session") and navigation(events) is None
    assert page.error_code not in ("", "default") and rp.count("sessions") == 0


async def test_a_sign_in_that_can_not_end_in_time_says_so_and_leaves_nothing(rp, monkeypatch):
    monkeypatch.setattr(routes, "CALLBACK_WAIT_SECONDS", 0.05)
    monkeypatch.setattr(routes, "BEHIND_THE_PAGE_SECONDS", 0.2)
    answer_slowly(rp, 1)
    params = await rp.begin()
    _, page, events = await land_on_callback(rp, await rp.code_response(params))
    assert navigation(events) is None and page.error_code == "default"
    await asyncio.sleep(1)  # the token response the provider sends late changes nothing
    assert rp.count("sessions") == 0 and rp.count("handoffs") == 0


async def test_without_a_build_the_route_says_so(rp, monkeypatch, tmp_path):
    monkeypatch.setenv("REFLEX_WEB_WORKDIR", str(tmp_path / "nothing"))
    routes._built_page.cache_clear()
    response = await rp.browser.get("/callback?state=x&code=y")
    assert response.status_code == 404 and rp.count("sessions") == 0


# The in-page handoff: the callback page's own fetch to the session route


async def websocket_path_handoff(rp) -> str:
    """A sign-in finished by the page's handler (no callback request did it): the handoff URL."""
    params = await rp.begin()
    query = urllib.parse.urlencode(await rp.code_response(params))
    page = auth_state(f"/callback?{query}", cookie=rp.cookie_header())
    handoff = navigation(await run(page.finish_sign_in))
    assert handoff and "/auth/session/" in handoff
    return handoff


async def test_the_session_route_hands_over_to_the_page_s_own_fetch(rp):
    handoff = await websocket_path_handoff(rp)
    response = await rp.browser.post(handoff, headers={"Origin": "https://app.example"})
    assert response.status_code == 200 and response.json() == {"location": "https://app.example/"}
    assert sets(response, "logto_session") and response.headers["cache-control"] == "no-store"
    spent = await rp.browser.post(handoff, headers={"Origin": "https://app.example"})
    assert spent.status_code == 409 and "app_error=invalid_transaction" in spent.json()["location"]


@pytest.mark.parametrize("origin", [None, "https://evil.example", "null"])
async def test_the_session_route_refuses_a_fetch_from_another_origin(rp, origin):
    handoff = await websocket_path_handoff(rp)
    response = await rp.browser.post(handoff, headers={"Origin": origin} if origin else {})
    assert response.status_code == 403 and not sets(response, "logto_session")
    assert rp.count("sessions") == 0
    # Nothing was spent: the page's own origin still gets it.
    assert (await rp.browser.post(handoff, headers={"Origin": "https://app.example"})).status_code == 200
