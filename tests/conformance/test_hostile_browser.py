"""A hostile browser against the app's real sign-in code: forged callbacks, open
redirects, planted and forged cookies, and a victim's tab with an attacker's cookie."""

from __future__ import annotations

import time
import urllib.parse

import pytest

from reflex_logto.reflex.account_state import AccountState
from tests.support.fake_provider import APP_URL
from tests.support.reflex_state import auth_state, navigation, run
from tests.support.relying_party import refused_safely


async def test_state_missing(rp, op):
    params = await rp.begin()
    query = await rp.code_response(params)
    del query["state"]
    page, route = await rp.callback(query)
    assert page.error_code == "invalid_callback"
    refused_safely(rp, page, route, bad_response_at=0)


async def test_state_wrong(rp, op):
    params = await rp.begin()
    page, route = await rp.callback(await rp.code_response(params, state="forged-state"))
    assert page.error_code == "invalid_transaction"
    refused_safely(rp, page, route, bad_response_at=0)


async def test_state_replayed_and_code_replayed(rp, op):
    params = await rp.begin()
    response = await rp.code_response(params)
    first, route = await rp.callback(response)
    assert first.error_code == "" and route
    mark = len(op.requests)
    again, route = await rp.callback(response)
    assert again.error_code == "invalid_transaction" and route is None
    assert rp.exchange_requests(mark) == []  # the code is never sent a second time


async def test_state_expired(rp, op, monkeypatch):
    params = await rp.begin()
    rp.flow.storage.execute("UPDATE transactions SET expires_at = ?", (time.time() - 1,))
    page, route = await rp.callback(await rp.code_response(params))
    assert page.error_code == "invalid_transaction"
    refused_safely(rp, page, route, bad_response_at=0)


async def test_login_csrf_state_started_in_another_browser(rp, op):
    # The attacker starts a sign-in in their browser and gets a code for their account...
    params = await rp.begin()
    attackers_callback = await rp.code_response(params)
    # ...and makes the victim's browser (its own cookies, or none) land on it.
    for victims_cookie in ("", f"logto_signin={'v' * 43}", f"__Host-logto_signin={'v' * 43}"):
        page, route = await rp.callback(attackers_callback, cookie=victims_cookie)
        assert page.error_code == "invalid_transaction"
        assert route is None
    assert rp.count("sessions") == 0 and rp.count("handoffs") == 0


async def test_a_callback_brought_by_another_browser_leaves_the_real_one_s_sign_in(rp, op):
    # The victim's callback URL reaches another browser first (a leaked link, a forged redirect)...
    params = await rp.begin()
    victims_callback = await rp.code_response(params)
    mark = len(op.requests)
    page, route = await rp.callback(victims_callback, cookie=f"__Host-logto_signin={'x' * 43}")
    assert page.error_code == "invalid_transaction" and route is None
    assert rp.exchange_requests(mark) == []  # the code was not sent
    # ...and the victim's own browser still signs in with it.
    page, route = await rp.callback(victims_callback)
    assert page.error_code == "" and route is not None


@pytest.mark.parametrize(
    "query",
    [
        "",
        "code=&state=",
        "code=a&code=b&state=x&state=y",
        "state=" + "s" * 100_000,
        "code=%00%01&state=%ff%fe",
        "state=\u202e\u0000&code=\U0001f600",
        "error=" + "e" * 10_000,
        "error_description=only",
        "app_error=%3Cscript%3E",
        "iss[]=a&state[]=b",
    ],
)
async def test_absurd_callback_parameters_are_refused_clearly(rp, op, query):
    await rp.begin()
    page, route = await rp.callback(query)
    assert page.error_code and page.error_message and route is None
    assert rp.count("sessions") == 0 and op.count("/token") == 0


async def test_provider_error_for_another_browsers_state_shows_none_of_its_text(rp, op):
    params = await rp.begin()
    page, route = await rp.callback(
        {"error": "access_denied", "error_description": "Call +1 555 0100 to unlock", "state": params["state"], "iss": op.issuer},
        cookie="",
    )
    assert page.error_code == "invalid_transaction" and page.provider_error == ""


@pytest.mark.parametrize(
    "page",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "/%2F%2Fevil.example",
        "/%5Cevil.example",
        "/\t/evil.example",
        "/\r\n/evil.example",
        "javascript:alert(1)",
        "data:text/html,hi",
    ],
)
async def test_return_path_never_leaves_the_app(rp, op, page):
    # The "current page" is whatever the browser claims; the landing is always ours.
    landed = urllib.parse.urlsplit(await rp.sign_in(page))
    assert (landed.scheme, landed.netloc) == ("https", "app.example")
    assert landed.path.startswith("/") and not landed.path.startswith("//") and "\\" not in landed.path


async def test_return_path_keeps_a_real_page_and_its_query(rp, op):
    assert await rp.sign_in("/orders/42?tab=items") == f"{APP_URL}/orders/42?tab=items"


async def test_session_cookie_attributes_under_https(rp, op):
    params = await rp.begin()
    page, route = await rp.callback(await rp.code_response(params))
    response = await rp.browser.get(route)
    session, done = response.headers.get_list("set-cookie")
    name, value = session.split(";")[0].split("=", 1)
    assert name == "__Host-logto_session"
    assert session == f"{name}={value}; HttpOnly; Max-Age=1209600; Path=/; SameSite=lax; Secure"
    assert len(session) < 4096 and "Domain" not in session
    # The marker that a sign-in finished here: host-only, a minute, nothing secret in it.
    assert done == "__Host-logto_signin_done=1; HttpOnly; Max-Age=60; Path=/; SameSite=lax; Secure"


@pytest.mark.parametrize(
    "cookie_value",
    ["", "x", "A" * 43, "A" * 42, "A" * 4000, "../../etc/passwd", "%00", "é" * 43, "' OR 1=1 --"],
)
async def test_forged_truncated_or_unknown_session_ids_are_signed_out(rp, op, cookie_value):
    session_route_landing = await rp.sign_in()  # a real session exists meanwhile
    real = rp.browser.cookies["__Host-logto_session"]
    assert session_route_landing
    for value in (cookie_value, real[:-1], real + "A"):
        page = auth_state("/", cookie=f"__Host-logto_session={value}")
        await run(page.load_session)
        assert page.loaded and not page.signed_in and page.error_code == ""
        if value.isascii():  # what a browser can send in a Cookie header at all
            response = await rp.browser.get("/auth/signed-out", headers={"cookie": f"__Host-logto_session={value}"})
            assert response.status_code == 303


async def test_expired_session_id_is_signed_out(rp, op):
    await rp.sign_in()
    rp.flow.storage.execute("UPDATE sessions SET expires_at = ?", (time.time() - 1,))
    page = auth_state("/", cookie=rp.cookie_header())
    await run(page.load_session)
    assert not page.signed_in and page.notice == "expired"


async def test_session_fixation_a_planted_id_is_never_upgraded(rp, op):
    planted = "P" * 43
    rp.browser.cookies.set("__Host-logto_session", planted, domain="app.example")
    await rp.sign_in()
    issued = rp.browser.cookies["__Host-logto_session"]
    assert issued != planted
    page = auth_state("/", cookie=f"__Host-logto_session={planted}")
    await run(page.load_session)
    assert not page.signed_in


async def test_victims_tab_with_the_attackers_cookie_gains_nothing(rp, op):
    await rp.sign_in()
    victim_cookie = rp.cookie_header()
    victim_tab = auth_state("/", cookie=victim_cookie, state_class=AccountState)
    await run(victim_tab.load_session)
    await run(victim_tab.load_sessions)
    assert victim_tab.signed_in and victim_tab.sessions
    # The same tab state (the victim's claims and session list in it), but the
    # websocket now carries the attacker's cookie (here: none, or a forged one).
    for attacker_cookie in ("", "__Host-logto_session=" + "A" * 43):
        victim_tab.router = auth_state("/", cookie=attacker_cookie).router
        handle = victim_tab.sessions[0]["handle"] if victim_tab.sessions else "x"
        await run(victim_tab.check_with_provider)
        await run(lambda handle=handle: victim_tab.end_session(handle))
        await run(victim_tab.end_other_sessions)
        await run(victim_tab.sign_out)
        assert not victim_tab.signed_in and victim_tab.claims == [] and victim_tab.sessions == []
    # The victim's session is untouched by all of that.
    still = auth_state("/", cookie=victim_cookie)
    await run(still.load_session)
    assert still.signed_in


async def test_sign_out_cannot_be_triggered_cross_site(rp, op):
    await rp.sign_in()
    session_id = rp.browser.cookies["__Host-logto_session"]
    for path in ("/auth/signed-out", "/auth/signed-out/forged", "/auth/signed-out/" + "x" * 500):
        response = await rp.browser.get(path)
        assert response.status_code == 303 and "set-cookie" not in response.headers
    assert (await rp.flow.sessions.lookup(session_id)).session is not None
    assert (await rp.browser.post("/auth/signed-out")).status_code == 405
    # The Sign out form's route signs out only for a POST by a page of this app (its Origin).
    assert (await rp.browser.get("/auth/sign-out")).status_code == 405
    for origin in ({"origin": "https://evil.example"}, {"origin": "null"}, {}):
        response = await rp.browser.post("/auth/sign-out", headers=origin)
        # Nothing changes; the page says signing out did not finish.
        assert response.status_code == 303 and response.headers["location"].endswith("?app_error=sign_out_failed")
        assert "set-cookie" not in response.headers
    assert (await rp.flow.sessions.lookup(session_id)).session is not None
    response = await rp.browser.post("/auth/sign-out", headers={"origin": APP_URL})  # from the app's own page
    assert response.status_code == 303 and "__Host-logto_session=" in response.headers["set-cookie"]
    assert (await rp.flow.sessions.lookup(session_id)).session is None


async def test_binding_cookie_is_httponly_and_ends_with_the_browser_session(rp, op):
    start = navigation(await run(auth_state("/").sign_in))
    response = await rp.browser.get(start)
    header = response.headers["set-cookie"]
    assert header.startswith("__Host-logto_signin=")
    # No Max-Age: a value a tab's websocket saw is still the browser's when the callback comes.
    assert "Max-Age" not in header and "expires" not in header.lower()
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" in header


BINDING = "b" * 43


async def test_a_tab_whose_websocket_carried_the_binding_goes_straight_to_the_provider(rp, op):
    cookie = f"__Host-logto_signin={BINDING}"
    events = await run(auth_state("/", cookie=cookie).sign_in)
    leaving = urllib.parse.urlsplit(navigation(events))
    assert f"{leaving.scheme}://{leaving.netloc}{leaving.path}" == op.discovery["authorization_endpoint"]
    params = dict(urllib.parse.parse_qsl(leaving.query))
    op.nonce = params["nonce"]
    callback = await rp.code_response(params)
    # Bound at once to that browser: another one's callback (or none) can't take it.
    for victims_cookie in ("", f"__Host-logto_signin={'v' * 43}"):
        page, route = await rp.callback(callback, cookie=victims_cookie)
        assert page.error_code == "invalid_transaction" and route is None
    assert rp.count("sessions") == 0 and rp.count("handoffs") == 0


async def test_a_bound_sign_in_started_over_the_websocket_finishes(rp, op):
    cookie = f"__Host-logto_signin={BINDING}"
    leaving = navigation(await run(auth_state("/", cookie=cookie).sign_in))
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(leaving).query))
    op.nonce = params["nonce"]
    page, route = await rp.callback(await rp.code_response(params), cookie=cookie)
    assert page.error_code == "" and route is not None
    assert rp.count("handoffs") == 1


@pytest.mark.parametrize(
    ("cookie", "origin"),
    [
        (f"__Host-logto_signin={'b' * 42}", None),  # not a value the app makes
        ("logto_signin=" + BINDING, None),  # without the __Host- prefix the browser enforces
        (f"__Host-logto_signin={BINDING}", "https://sibling.example.com"),  # a sibling origin's websocket
    ],
)
async def test_a_binding_the_app_cannot_trust_goes_through_the_start_route(rp, op, cookie, origin):
    start = navigation(await run(auth_state("/", cookie=cookie, origin=origin).sign_in))
    assert urllib.parse.urlsplit(start).path.startswith("/auth/sign-in/")
