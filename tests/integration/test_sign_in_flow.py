"""The whole flow against the real development provider, over HTTP, no browser.

The app's own code runs unchanged: AuthState's handlers, the backend routes
(through ASGI), the OIDC client. A plain HTTP client plays the browser.
"""

import logging
import urllib.parse

import httpx
import pytest

from reflex_logto.config import AuthConfig
from reflex_logto.reflex import runtime
from reflex_logto.reflex.routes import auth_routes
from tests.support.app_flow import BACKEND, cookie_header, path_of, sign_in, stored_tokens
from tests.support.provider_browser import ProviderBrowser
from tests.support.reflex_state import auth_state, navigation, run

pytestmark = pytest.mark.integration

SESSION_COOKIE, BINDING_COOKIE = "logto_session", "logto_signin"  # over http: no prefix

async def test_full_sign_in_validates_the_id_token_and_creates_a_session(app, dev_provider):
    provider_browser = ProviderBrowser(dev_provider.origin)
    home = await sign_in(app, provider_browser)
    assert home.signed_in
    claims = {row["key"]: row["value"] for row in home.claims}
    assert claims["iss"] == dev_provider.issuer
    assert claims["sub"] == "dm8x2q4kz1pa"
    assert claims["email"] == "demo@example.com"
    assert claims["aud"] == runtime.get_flow().config.client_id
    # The session keeps a refresh token (offline_access + prompt=consent).
    assert stored_tokens(app.cookies[SESSION_COOKIE]).refresh_token
    provider_browser.close()


async def test_sign_out_ends_the_session_here_and_at_the_provider(app, dev_provider):
    provider_browser = ProviderBrowser(dev_provider.origin)
    await sign_in(app, provider_browser)
    revocations = dev_provider.counts().get("/oidc/token/revocation", 0)

    async def silent_sign_in() -> str:
        start = navigation(await run(auth_state("/").sign_in))
        authorize = (await app.get(start)).headers["location"]
        return provider_browser.open(authorize.replace("prompt=consent", "prompt=none"))

    assert "code=" in await silent_sign_in()  # the provider session is alive before sign-out

    signed_out_route = navigation(await run(auth_state("/", cookie=cookie_header(app)).sign_out))
    response = await app.get(signed_out_route)
    assert response.status_code == 303 and response.headers["cache-control"] == "no-store"
    assert SESSION_COOKIE not in app.cookies  # cleared by the route
    assert dev_provider.counts()["/oidc/token/revocation"] == revocations + 1
    assert "id_token_hint" not in response.headers["location"]  # no token in a URL

    landed = provider_browser.sign_out(response.headers["location"])
    assert landed == f"{BACKEND}/"

    home = auth_state("/", cookie=cookie_header(app))
    await run(home.load_session)
    assert not home.signed_in

    # The provider's own session is gone: a silent sign-in needs a login now.
    assert "error=login_required" in await silent_sign_in()
    provider_browser.close()


async def test_the_sign_out_form_ends_the_session_as_the_handler_does(app, dev_provider):
    """Sent by a page whose tab isn't live yet (or has no script): the same sign-out, by HTTP."""
    provider_browser = ProviderBrowser(dev_provider.origin)
    await sign_in(app, provider_browser)
    session_id = app.cookies[SESSION_COOKIE]
    revocations = dev_provider.counts().get("/oidc/token/revocation", 0)

    response = await app.post("/auth/sign-out", headers={"origin": BACKEND})
    assert response.status_code == 303 and response.headers["cache-control"] == "no-store"
    assert SESSION_COOKIE not in app.cookies  # cleared in the same answer
    assert (await runtime.get_flow().sessions.lookup(session_id)).session is None  # ended here
    assert dev_provider.counts()["/oidc/token/revocation"] == revocations + 1  # once the answer has gone
    # Straight to the provider's end-session endpoint, as the signed-out route sends the handler's tab.
    assert response.headers["location"].startswith(f"{dev_provider.issuer}/session/end?")
    assert "id_token_hint" not in response.headers["location"]
    assert provider_browser.sign_out(response.headers["location"]) == f"{BACKEND}/"

    response = await app.post("/auth/sign-out", headers={"origin": BACKEND})  # signed out already: home
    assert response.status_code == 303 and response.headers["location"] == f"{BACKEND}/"
    provider_browser.close()


async def test_a_second_sign_in_reuses_the_provider_session_with_a_new_app_session(app, dev_provider):
    provider_browser = ProviderBrowser(dev_provider.origin)
    await sign_in(app, provider_browser)
    first = app.cookies[SESSION_COOKIE]
    home = await sign_in(app, provider_browser)  # the provider skips its form this time
    assert home.signed_in
    assert app.cookies[SESSION_COOKIE] != first
    assert (await runtime.get_flow().sessions.lookup(first)).session is None  # replaced, not left behind
    provider_browser.close()


async def test_wrong_password_keeps_the_user_at_the_provider(app, dev_provider):
    start = navigation(await run(auth_state("/").sign_in))
    authorize = (await app.get(start)).headers["location"]
    provider_browser = ProviderBrowser(dev_provider.origin)
    page = provider_browser.open(authorize)
    action = urllib.parse.urljoin(str(page.url), f"/interaction/{page.url.path.rsplit('/', 1)[1]}/login")
    response = provider_browser.http.post(action, data={"username": "demo", "password": "nope"})
    assert response.status_code == 200 and "Wrong username or password." in response.text
    provider_browser.close()


async def test_start_route_refuses_an_unknown_transaction(app):
    response = await app.get("/auth/sign-in/not-a-transaction")
    assert response.status_code == 303
    assert response.headers["location"] == f"{BACKEND}/callback?app_error=invalid_transaction"
    assert "set-cookie" not in response.headers


async def test_signed_out_route_never_signs_a_live_session_out(app, dev_provider):
    provider_browser = ProviderBrowser(dev_provider.origin)
    await sign_in(app, provider_browser)
    session_id = app.cookies[SESSION_COOKIE]
    # A cross-site GET of the route (no handoff) leaves the session and its cookie alone.
    response = await app.get("/auth/signed-out/forged")
    assert response.status_code == 303 and response.headers["location"] == f"{BACKEND}/"
    assert "set-cookie" not in response.headers
    assert (await runtime.get_flow().sessions.lookup(session_id)).session is not None
    provider_browser.close()


async def test_session_cookie_attributes(app, dev_provider):
    provider_browser = ProviderBrowser(dev_provider.origin)
    start = navigation(await run(auth_state("/").sign_in))
    response = await app.get(start)
    binding = app.cookies[BINDING_COOKIE]
    assert response.headers["set-cookie"] == (
        f"logto_signin={binding}; HttpOnly; Path=/; SameSite=Lax"  # for the browser session
    )
    callback_url = provider_browser.sign_in(response.headers["location"], "demo", "demo-password")
    callback = auth_state(path_of(callback_url), cookie=cookie_header(app))
    response = await app.get(navigation(await run(callback.finish_sign_in)))
    session_id = app.cookies[SESSION_COOKIE]
    assert response.headers.get_list("set-cookie") == [
        f"logto_session={session_id}; HttpOnly; Max-Age=1209600; Path=/; SameSite=lax",
        "logto_signin_done=1; HttpOnly; Max-Age=60; Path=/; SameSite=lax",
    ]
    provider_browser.close()


async def test_debug_log_names_every_step_and_no_secret(app, dev_provider, caplog, registered_app):
    caplog.set_level(logging.DEBUG, logger="reflex_logto")
    provider_browser = ProviderBrowser(dev_provider.origin)
    await sign_in(app, provider_browser)
    session_id = app.cookies[SESSION_COOKIE]
    binding = app.cookies[BINDING_COOKIE]
    tokens = stored_tokens(session_id)
    await app.get(navigation(await run(auth_state("/", cookie=cookie_header(app)).sign_out)))
    provider_browser.close()

    messages = [record.getMessage() for record in caplog.records]
    for step in ("sign-in started", "transaction claimed", "state matches", "code redeemed", "session created",
                 "session ended", "refresh token revoked", "end-session endpoint"):
        assert any(step in message for message in messages), step
    for secret in (tokens.id_token, tokens.access_token, tokens.refresh_token, session_id, binding,
                   registered_app["LOGTO_APP_SECRET"], registered_app["LOGTO_COOKIE_SECRET"]):
        assert secret not in caplog.text


async def test_login_hint_prefills_the_providers_form(registered_app, dev_provider, tmp_path):
    from reflex_logto.oidc.options import SignInOptions

    config = AuthConfig.from_env({**registered_app, "LOGTO_SESSION_DB": str(tmp_path / "s.sqlite3")})
    runtime.configure(config, backend_url=BACKEND, sign_in_options={"as_demo": SignInOptions(login_hint="demo")})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=auth_routes()), base_url=BACKEND) as browser:
        start = navigation(await run(lambda: auth_state("/").sign_in_with("as_demo")))
        authorize = (await browser.get(start)).headers["location"]
    provider_browser = ProviderBrowser(dev_provider.origin)
    page = provider_browser.open(authorize)
    assert 'id="username" name="username" value="demo"' in page.text
    provider_browser.close()
    await runtime.shutdown()
