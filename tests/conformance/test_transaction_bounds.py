"""A browser that floods sign-in starts keeps what the store holds bounded, and a real
sign-in beside it still works: per page (connection and tab), per browser, in total."""

from __future__ import annotations

import time
import urllib.parse

import httpx
import pytest
from reflex.istate.data import RouterData
from reflex_base import constants

from reflex_logto.reflex.messages import MESSAGES
from reflex_logto.reflex.rate_limits import SIGN_IN_STARTS_PER_MINUTE
from reflex_logto.reflex.routes import auth_routes
from reflex_logto.reflex.state import AuthState
from reflex_logto.sessions.stores import digest
from reflex_logto.sessions.transactions import MAX_PER_BINDING, MAX_TRANSACTIONS
from tests.support.fake_provider import APP_URL
from tests.support.reflex_state import default_origin, navigation, run
from tests.support.relying_party import refused_safely

FLOOD = 1_000  # sign-in starts, as fast as the handler takes them


def tab(path: str = "/", *, connection: str, token: str) -> AuthState:
    """A tab's state on `path`, with its websocket's id and its tab token, as Reflex sets them."""
    state = AuthState()
    state.router = RouterData.from_router_data(
        {
            constants.RouteVar.HEADERS: {"origin": default_origin(), "cookie": ""},
            constants.RouteVar.ORIGIN: path,
            constants.RouteVar.PATH: path.split("?")[0],
            constants.RouteVar.SESSION_ID: connection,
            constants.RouteVar.CLIENT_TOKEN: token,
        }
    )
    return state


def authorization_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 303, response.headers
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(response.headers["location"]).query))


async def finish(rp, op, params: dict[str, str], *, browser: httpx.AsyncClient | None = None) -> httpx.Response:
    """The callback for `params` in `browser` (the relying party's own by default), then its session route."""
    browser = browser or rp.browser
    op.nonce = params["nonce"]
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    page, session_route = await rp.callback(await rp.code_response(params), cookie=cookie)
    assert page.error_code == "", page.error_code
    response = await browser.get(session_route)
    assert response.status_code == 303
    return response


# Each of the ways one browser can send starts: one tab on one websocket clicking; one
# websocket sending loads of a protected page under ever new tab tokens; one tab token
# reconnecting ever anew.
FLOODS = {
    "one-tab-clicking-sign-in": lambda n: (tab(connection="attacker-sid", token="attacker-tab"), "sign_in"),
    "one-connection-new-tab-tokens": lambda n: (tab("/profile", connection="attacker-sid", token=f"tab-{n}"), "require_sign_in"),
    "one-tab-token-new-connections": lambda n: (tab(connection=f"sid-{n}", token="attacker-tab"), "sign_in"),
}


@pytest.mark.parametrize("flood", FLOODS)
async def test_a_flood_of_sign_in_starts_stays_bounded_and_a_real_sign_in_still_works(rp, op, flood):
    users_tab = tab("/profile", connection="users-sid", token="users-tab")
    state = None
    for n in range(FLOOD):
        if n == FLOOD // 2:  # in the middle of it, a real user clicks Sign in in another tab
            start = navigation(await run(users_tab.sign_in))
            params = authorization_params(await rp.browser.get(start))
        if state is None or flood != "one-tab-clicking-sign-in":
            state, handler = FLOODS[flood](n)
        await run(getattr(state, handler))
    assert rp.count("transactions") <= SIGN_IN_STARTS_PER_MINUTE + 1  # the flood's, and the user's
    assert state.error_code == "too_many_attempts" and state.pending == ""
    assert state.error_message == MESSAGES["too_many_attempts"]
    response = await finish(rp, op, params)
    assert response.headers["location"] == f"{APP_URL}/profile"
    assert rp.count("sessions") == 1
    assert users_tab.error_code == ""


async def test_a_browser_claiming_more_than_the_bound_keeps_its_newest(rp, op):
    other_browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=auth_routes()), base_url=APP_URL)
    async with other_browser:
        start = navigation(await run(tab(connection="other-sid", token="other-tab").sign_in))
        others = authorization_params(await other_browser.get(start))  # the oldest claim of all
        claims = []
        for n in range(MAX_PER_BINDING + 2):  # one browser, a tab after another, each following its start route
            start = navigation(await run(tab(connection=f"sid-{n}", token=f"tab-{n}").sign_in))
            claims.append(authorization_params(await rp.browser.get(start)))
        assert rp.count("transactions") == MAX_PER_BINDING + 1
        for evicted in claims[:2]:  # this browser's two oldest are gone
            mark = len(op.requests)
            page, route = await rp.callback(await rp.code_response(evicted))
            assert page.error_code == "invalid_transaction"
            refused_safely(rp, page, route, bad_response_at=mark)
        response = await finish(rp, op, claims[-1])  # its newest signs in
        assert response.headers["location"] == f"{APP_URL}/"
        await finish(rp, op, others, browser=other_browser)  # and the other browser's is untouched
        assert rp.count("sessions") == 2


def fill(rp, rows: list[tuple[str, str | None, float]]) -> None:
    """Store transactions directly: (id, binding or None, expires_at); their payloads never open."""
    connection = rp.flow.storage.connection
    connection.execute("BEGIN")
    connection.executemany(
        "INSERT INTO transactions (id, state_hash, binding, payload, expires_at) VALUES (?, ?, ?, ?, ?)",
        ((txn_id, digest(f"state-{txn_id}"), binding, b"sealed", expires_at) for txn_id, binding, expires_at in rows),
    )
    connection.execute("COMMIT")


def stored(rp, where: str) -> int:
    return rp.flow.storage.execute(f"SELECT count(*) FROM transactions WHERE {where}").fetchone()[0]


async def test_at_the_total_cap_a_start_evicts_the_oldest_unclaimed_first(rp, op):
    params = await rp.begin()  # a real user's sign-in, claimed, on its way to the provider
    now, claimed, unclaimed = time.time(), 20_000, MAX_TRANSACTIONS - 20_001
    # Claimed ones expiring before any unclaimed one (all well after the test): eviction by
    # expiry alone would take them.
    fill(rp, [(f"claimed-{n}", digest(f"browser-{n}"), now + 50 + n / 1e6) for n in range(claimed)])
    fill(rp, [(f"unclaimed-{n}", None, now + 55 + n / 1e5) for n in range(unclaimed)])
    assert rp.count("transactions") == MAX_TRANSACTIONS
    for n in range(20):  # twenty new tabs start a sign-in
        assert navigation(await run(tab(connection=f"sid-{n}", token=f"tab-{n}").sign_in))
    assert rp.count("transactions") == MAX_TRANSACTIONS
    assert stored(rp, "id LIKE 'claimed-%'") == claimed
    assert stored(rp, "id LIKE 'unclaimed-%'") == unclaimed - 20
    assert stored(rp, "id IN ('unclaimed-0', 'unclaimed-19')") == 0  # the oldest went
    response = await finish(rp, op, params)
    assert response.headers["location"] == f"{APP_URL}/"


async def test_at_the_total_cap_with_only_claimed_ones_the_oldest_claimed_goes(rp, op):
    params = await rp.begin()
    now = time.time()
    fill(rp, [(f"claimed-{n}", digest(f"browser-{n}"), now + 300 + n / 1e5) for n in range(MAX_TRANSACTIONS - 1)])
    start = navigation(await run(tab(connection="sid", token="tab").sign_in))
    assert rp.count("transactions") == MAX_TRANSACTIONS
    assert stored(rp, "id = 'claimed-0'") == 0 and stored(rp, "id = 'claimed-1'") == 1
    # The new one is kept (it evicted, it was not evicted), and the real sign-in still finishes.
    assert authorization_params(await rp.browser.get(start))
    await finish(rp, op, params)
