"""The app as a relying party under test: its real handlers and routes, a scripted provider.

Drives AuthState's handlers as Reflex calls them and the backend routes
through ASGI, with the provider an httpx transport whose answers each test
chooses. `refused_safely` is the bar every attack must meet.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import httpx

from reflex_logto.reflex import runtime
from reflex_logto.reflex.messages import MESSAGES
from reflex_logto.reflex.routes import auth_routes
from tests.support.fake_provider import APP_URL, FakeProvider, app_config
from tests.support.reflex_state import auth_state, navigation, run

EXCHANGE_PATHS = ("/token", "/me")


class RelyingParty:
    def __init__(self, op: FakeProvider, db_path: str, **config_changes: Any):
        self.op = op
        runtime.configure(app_config(op, session_db=db_path, **config_changes), backend_url=APP_URL, transport=op.transport())
        self.flow = runtime.get_flow()
        self.browser = httpx.AsyncClient(transport=httpx.ASGITransport(app=auth_routes()), base_url=APP_URL)

    async def close(self) -> None:
        await self.browser.aclose()
        await runtime.shutdown()

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.browser.cookies.items())

    async def begin(self, page: str = "/") -> dict[str, str]:
        """Click Sign in on `page` and follow the start route; the authorization request's parameters."""
        start = navigation(await run(auth_state(page).sign_in))
        response = await self.browser.get(start)
        assert response.status_code == 303, response.headers
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(response.headers["location"]).query))
        self.op.nonce = params.get("nonce")
        return params

    async def callback(self, query: dict[str, str] | str, *, cookie: str | None = None):
        """Land on /callback with `query`; the page's state and what it asked the browser to do."""
        query_string = query if isinstance(query, str) else urllib.parse.urlencode(query)
        page = auth_state(f"/callback?{query_string}", cookie=self.cookie_header() if cookie is None else cookie)
        events = await run(page.finish_sign_in)
        return page, navigation(events)

    async def code_response(self, params: dict[str, str], **extra: str) -> dict[str, str]:
        """What an honest provider sends back: code, state and iss (extra entries override)."""
        return {"code": "code-1", "state": params["state"], "iss": self.op.issuer, **extra}

    async def sign_in(self, page: str = "/") -> str:
        """A whole successful sign-in; the URL the browser lands on."""
        params = await self.begin(page)
        state, session_route = await self.callback(await self.code_response(params))
        assert state.error_code == "", state.error_code
        response = await self.browser.get(session_route)
        assert response.status_code == 303
        return response.headers["location"]

    def count(self, table: str) -> int:
        return self.flow.storage.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    def exchange_requests(self, since: int) -> list[str]:
        return [r.url.path for r in self.op.requests[since:] if r.url.path.endswith(EXCHANGE_PATHS)]


def refused_safely(rp: RelyingParty, page, session_route: str | None, *, bad_response_at: int) -> None:
    """A clear error on the page; no session, no cookie, nothing more asked of the provider."""
    assert page.error_code in MESSAGES and page.error_code != "default", page.error_code
    assert page.error_message
    assert session_route is None  # the browser is not sent to pick up a session cookie
    assert rp.count("sessions") == 0 and rp.count("handoffs") == 0
    assert "logto_session" not in rp.cookie_header()
    assert rp.exchange_requests(bad_response_at) == [], rp.exchange_requests(bad_response_at)
