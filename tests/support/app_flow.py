"""The whole sign-in, driven over HTTP against the development provider (no browser)."""

from __future__ import annotations

import urllib.parse

import httpx

from reflex_logto.oidc.client import TokenSet
from reflex_logto.reflex import runtime
from reflex_logto.sessions.sealing import Sealer
from reflex_logto.sessions.stores import digest
from tests.support.reflex_state import auth_state, navigation, run

BACKEND = "http://localhost:3999"


def stored_tokens(session_id: str) -> TokenSet:
    """The tokens the server keeps for a session, read straight from its database."""
    flow = runtime.get_flow()
    key = digest(session_id)
    (blob,) = flow.storage.execute("SELECT tokens FROM sessions WHERE id = ?", (key,)).fetchone()
    return TokenSet.from_dict(Sealer(flow.config.cookie_secret.reveal()).open(blob, record=key))


def cookie_header(browser: httpx.AsyncClient) -> str:
    return "; ".join(f"{name}={value}" for name, value in browser.cookies.items())


def path_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def sign_in(app_browser, provider_browser, username="demo", password="demo-password", responses=None):
    """Click Sign in, sign in at the provider, finish on /callback; return the home page's state.

    `responses`, if given, collects the session route's response.
    """
    start = navigation(await run(auth_state("/").sign_in))
    response = await app_browser.get(start)
    assert response.status_code == 303
    callback_url = provider_browser.sign_in(response.headers["location"], username, password)
    assert callback_url.startswith(f"{BACKEND}/callback?")

    callback = auth_state(path_of(callback_url), cookie=cookie_header(app_browser))
    session_route = navigation(await run(callback.finish_sign_in))
    assert callback.error_code == "", callback.error_message
    response = await app_browser.get(session_route)
    assert response.status_code == 303 and response.headers["location"] == f"{BACKEND}/"
    if responses is not None:
        responses.append(response)

    home = auth_state("/", cookie=cookie_header(app_browser))
    await run(home.load_session)
    return home
