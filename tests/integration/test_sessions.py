"""Sessions against the real development provider: refresh, revocation, lifetimes."""

import asyncio

import pytest

from reflex_logto.reflex import runtime
from reflex_logto.reflex.account_state import AccountState
from reflex_logto.reflex.state import AuthState
from tests.support.app_flow import cookie_header, sign_in, stored_tokens
from tests.support.provider_browser import ProviderBrowser
from tests.support.reflex_state import auth_state, run

pytestmark = pytest.mark.integration

SESSION_COOKIE, BINDING_COOKIE = "logto_session", "logto_signin"  # over http: no prefix


def tab(app_browser, state_class=AuthState):
    return auth_state("/", cookie=cookie_header(app_browser), state_class=state_class)


async def open_tab(app_browser, state_class=AuthState):
    state = tab(app_browser, state_class)
    await run(state.load_session)
    assert state.signed_in
    return state


def token_requests(dev_provider) -> int:
    return dev_provider.counts().get("/oidc/token", 0)


# Logto rotates a confidential app's refresh token once it is 70% through its life: 7 s of 10.
@pytest.mark.client(access_token_ttl=4, refresh_token_ttl=10)
async def test_short_lived_access_tokens_refresh_once_per_lifetime_across_tabs(app, dev_provider):
    browser = ProviderBrowser(dev_provider.origin)
    await sign_in(app, browser)
    tab_a, tab_b = await open_tab(app), await open_tab(app, AccountState)
    first = stored_tokens(app.cookies[SESSION_COOKIE])
    before = token_requests(dev_provider)

    # Three lifetimes: both tabs tick every half second, and tab B calls the provider now and then.
    seen = {first.access_token}
    for tick in range(24):
        calls = [run(tab_a.heartbeat), run(tab_b.heartbeat)]
        if tick % 4 == 0:
            calls.append(run(tab_b.check_with_provider))
        await asyncio.gather(*calls)
        assert tab_a.signed_in and tab_b.signed_in
        seen.add(stored_tokens(app.cookies[SESSION_COOKIE]).access_token)
        await asyncio.sleep(0.5)

    refreshes = token_requests(dev_provider) - before
    assert refreshes >= 3  # the 4 s tokens were renewed through the 12 s
    assert refreshes == len(seen) - 1  # each renewal was exactly one token request
    assert "Confirmed by the sign-in service" in tab_b.provider_check
    latest = stored_tokens(app.cookies[SESSION_COOKIE])
    assert latest.access_token != first.access_token
    assert latest.refresh_token != first.refresh_token  # rotated when due, and the rotation was kept
    browser.close()


@pytest.mark.client(access_token_ttl=4)
async def test_refresh_token_revoked_at_the_provider_signs_out_cleanly(app, dev_provider):
    browser = ProviderBrowser(dev_provider.origin)
    await sign_in(app, browser)
    page = await open_tab(app)
    tokens = stored_tokens(app.cookies[SESSION_COOKIE])
    assert await runtime.get_flow().client.revoke(tokens.refresh_token)  # the provider forgets it

    for _ in range(20):
        await run(page.heartbeat)
        if not page.signed_in:
            break
        await asyncio.sleep(0.5)
    assert not page.signed_in
    assert page.notice == "revoked" and page.error_code == ""
    assert "sign in again" in page.notice_message.lower()
    browser.close()


@pytest.mark.app_env(LOGTO_SESSION_IDLE_TIMEOUT="2")
async def test_idle_timeout_with_a_small_value(app, dev_provider):
    browser = ProviderBrowser(dev_provider.origin)
    await sign_in(app, browser)
    page = await open_tab(app)
    await asyncio.sleep(2.5)
    await run(page.heartbeat)
    assert not page.signed_in and page.notice == "idle"
    browser.close()


@pytest.mark.app_env(LOGTO_SESSION_MAX_AGE="3")
async def test_absolute_lifetime_with_a_small_value(app, dev_provider):
    browser = ProviderBrowser(dev_provider.origin)
    responses = []
    await sign_in(app, browser, responses=responses)
    assert "Max-Age=3;" in responses[0].headers["set-cookie"]  # the cookie's lifetime matches
    page = await open_tab(app)
    await asyncio.sleep(1.5)
    await run(page.load_session)  # used: still within its lifetime
    assert page.signed_in
    await asyncio.sleep(2)
    await run(page.load_session)
    assert not page.signed_in and page.notice == "expired"
    browser.close()


async def test_sessions_list_ends_another_session_and_not_another_users(app, dev_provider):
    first_browser = ProviderBrowser(dev_provider.origin)
    await sign_in(app, first_browser)
    first_cookie = cookie_header(app)
    app.cookies.clear()
    second_browser = ProviderBrowser(dev_provider.origin)
    await sign_in(app, second_browser)

    account = await open_tab(app, AccountState)
    await run(account.load_sessions)
    assert len(account.sessions) == 2
    other = next(s for s in account.sessions if not s["current"])
    await run(lambda: account.end_session(other["handle"]))
    assert len(account.sessions) == 1 and account.sessions[0]["current"] == "yes"

    gone = auth_state("/", cookie=first_cookie)
    await run(gone.load_session)
    assert not gone.signed_in and gone.notice == "ended_elsewhere"

    # A handle from someone else's list, or made up, ends nothing.
    await run(lambda: account.end_session("not-a-handle"))
    await run(lambda: account.end_session({"handle": 1}))
    assert len(account.sessions) == 1
    first_browser.close()
    second_browser.close()


async def test_a_stale_tab_is_refused_at_once_after_sign_out(app, dev_provider):
    browser = ProviderBrowser(dev_provider.origin)
    await sign_in(app, browser)
    stale = await open_tab(app, AccountState)
    await run(auth_state("/", cookie=cookie_header(app)).sign_out)  # another tab signs out
    calls = dev_provider.counts().get("/oidc/me", 0)
    await run(stale.check_with_provider)
    assert not stale.signed_in and stale.provider_check == "" and stale.notice == "signed_out"
    assert dev_provider.counts().get("/oidc/me", 0) == calls  # nothing reached the provider
    browser.close()


async def test_end_all_other_sessions(app, dev_provider):
    cookies_before = []
    for _ in range(3):
        browser = ProviderBrowser(dev_provider.origin)
        await sign_in(app, browser)
        cookies_before.append(cookie_header(app))
        app.cookies.clear()
        browser.close()
    account = auth_state("/", cookie=cookies_before[-1], state_class=AccountState)
    await run(account.load_session)
    await run(account.load_sessions)
    assert len(account.sessions) == 3
    await run(account.end_other_sessions)
    assert [s["current"] for s in account.sessions] == ["yes"]
    for cookie in cookies_before[:-1]:
        other = auth_state("/", cookie=cookie)
        await run(other.load_session)
        assert not other.signed_in and other.notice == "ended_elsewhere"
