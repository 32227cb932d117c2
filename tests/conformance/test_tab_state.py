"""A tab's Reflex state, over Reflex's own event protocol against the app in production mode.

The tab token is in every websocket URL, so logs keep it. Whoever connects with
a closed tab's token, without that tab's session cookie, must get none of the
user's data: not in the first hydrate, not in any later delta. And a worker
keeps a bounded number of tab states, each for a bounded time.

The app runs from a copy of the project whose app module also calls
`tab_state.install` (a no-op once `setup()` does it) and answers
`GET /_test/tab-states` with how many tab states its worker holds.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import urllib.parse
import uuid
from typing import Any

import httpx
import pytest
import websockets
from reflex.istate.data import RouterData
from reflex.istate.manager.token import BaseStateToken
from reflex.state import State
from reflex_base import constants
from reflex_base.event import Event
from reflex_base.registry import RegistrationContext

from app.app import DEVELOPMENT
from reflex_logto.reflex.account_state import AccountState
from reflex_logto.reflex.state import AuthState
from tests.support.app_server import ROOT, AppServer, free_port, project_copy
from tests.support.provider_browser import forms

pytestmark = pytest.mark.browser

MAX_TAB_STATES = 12
EXPIRATION = 15  # seconds: REFLEX_REDIS_TOKEN_EXPIRATION, which Reflex's in-memory manager uses too

STATE = "reflex___state____state"
AUTH = f"{STATE}.reflex_logto___reflex___state____auth_state"
ACCOUNT = f"{AUTH}.reflex_logto___reflex___account_state____account_state"
NAMESPACE = "/_event"
TIMEOUT = 30

PROBE = '''

# Added by tests/conformance/test_tab_state.py to its copy of the project.
from starlette.applications import Starlette as _Starlette
from starlette.responses import JSONResponse as _JSONResponse
from starlette.routing import Route as _Route


async def _count_tab_states(request):
    return _JSONResponse({"states": len(app.state_manager.states)})


app.api_transformer = [*app.api_transformer, _Starlette(routes=[_Route("/_test/tab-states", _count_tab_states)])]
'''
INSTALL = f'''
from reflex_logto.reflex import tab_state as _tab_state

_tab_state.install(app, max_states={MAX_TAB_STATES})
'''


class Tab:
    """One page load: a websocket with a tab token and a browser's cookies, and every frame it got."""

    def __init__(self, socket, path: str):
        self.socket = socket
        self.path = path
        self.frames: list[str] = []
        self.state: dict[str, dict[str, Any]] = {}
        self.navigations: list[str] = []
        self.new_token: str | None = None

    @classmethod
    async def open(cls, base: str, token: str, path: str, cookie: str = "") -> Tab:
        """Connect as a page of the app does, hydrate, and wait for the page's on_load handlers."""
        endpoint = f"{base.replace('http', 'ws', 1)}/_event/?token={token}&EIO=4&transport=websocket"
        headers = {"Cookie": cookie} if cookie else {}
        socket = await websockets.connect(endpoint, origin=base, additional_headers=headers, open_timeout=TIMEOUT)
        tab = cls(socket, path.split("?")[0])
        if not (await tab._receive()).startswith("0"):
            raise AssertionError("no Engine.IO open packet")
        router_data = {"pathname": tab.path, "asPath": path}
        if "?" in path:
            router_data["query"] = dict(urllib.parse.parse_qsl(path.split("?", 1)[1]))
        hydrate = {"name": f"{STATE}.hydrate_and_load", "payload": {}, "router_data": router_data}
        await socket.send(f"40{NAMESPACE},{json.dumps({'event': hydrate})}")
        await tab.wait(lambda: tab.state.get(STATE, {}).get("is_hydrated_rx_state_") is True or tab.navigations)
        return tab

    async def send(self, state: str, handler: str) -> None:
        event = {"name": f"{state}.{handler}", "payload": {}, "router_data": {"pathname": self.path, "asPath": self.path}}
        await self.socket.send(f"42{NAMESPACE},{json.dumps(['event', event])}")

    async def wait(self, condition) -> None:
        async with asyncio.timeout(TIMEOUT):
            while not condition():
                frame = await self._receive()
                if frame == "2":  # Engine.IO ping
                    await self.socket.send("3")
                elif frame.startswith(f"42{NAMESPACE},"):
                    name, *args = json.loads(frame[len(f"42{NAMESPACE},"):])
                    if name == "event":
                        self._apply(args[0])
                    elif name == "new_token":
                        self.new_token = args[0]

    async def navigation(self) -> str:
        await self.wait(lambda: self.navigations)
        return self.navigations.pop(0)

    def deltas(self) -> list[dict]:
        """The state deltas received, in order."""
        out = []
        for frame in self.frames:
            if frame.startswith(f"42{NAMESPACE},"):
                name, *args = json.loads(frame[len(f"42{NAMESPACE},"):])
                if name == "event" and args[0].get("delta"):
                    out.append(args[0]["delta"])
        return out

    def _apply(self, update: dict[str, Any]) -> None:
        for substate, values in (update.get("delta") or {}).items():
            self.state.setdefault(substate, {}).update(values)
        for event in update.get("events") or []:
            code = event.get("payload", {}).get("javascript_code", "")
            if event.get("name") == "_call_script" and code.startswith("window.location."):
                self.navigations.append(json.loads(code[code.index("(") + 1:code.rindex(")")]))

    async def _receive(self) -> str:
        frame = await self.socket.recv()
        frame = frame if isinstance(frame, str) else frame.decode()
        self.frames.append(frame)
        return frame

    def var(self, state: str, name: str) -> Any:
        return self.state.get(state, {}).get(f"{name}_rx_state_")

    async def close(self) -> None:
        await self.socket.close()


class Browser:
    """One browser tab's token and the browser's cookies for the app and the provider (no JavaScript)."""

    def __init__(self, base: str):
        self.base = base
        self.token = str(uuid.uuid4())
        self.http = httpx.AsyncClient(timeout=TIMEOUT)

    def cookie(self) -> str:
        host = urllib.parse.urlsplit(self.base).hostname
        return "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar if c.domain.removesuffix(".local") == host)

    async def open(self, path: str) -> Tab:
        return await Tab.open(self.base, self.token, path, self.cookie())

    async def follow(self, url: str, credentials: tuple[str, str]) -> str:
        """Follow redirects and the provider's sign-in form until a page of the app."""
        response = await self.http.get(url)
        while True:
            if response.is_redirect:
                url = urllib.parse.urljoin(str(response.url), response.headers["location"])
                if url.startswith(self.base) and not urllib.parse.urlsplit(url).path.startswith("/auth/"):
                    return url
                response = await self.http.get(url)
            elif response.status_code == 200 and "<form" in response.text:
                form = forms(response.text)[0]
                action = urllib.parse.urljoin(str(response.url), form["action"])
                username, password = credentials
                response = await self.http.post(action, data={"username": username, "password": password})
            else:
                raise AssertionError(f"{response.status_code} from {response.url}: {response.text[:200]}")

    async def sign_in(self, credentials: tuple[str, str]) -> Tab:
        """Sign in as a tab does (Sign in, the provider's form, /callback); the home page, loaded, still open."""
        home = await self.open("/")
        await home.send(AUTH, "sign_in")
        to_provider = await home.navigation()
        await home.close()
        callback_url = await self.follow(to_provider, credentials)
        parts = urllib.parse.urlsplit(callback_url)
        callback = await self.open(f"{parts.path}?{parts.query}")
        to_session = await callback.navigation()
        await callback.close()
        landing = await self.follow(to_session, credentials)
        home = await self.open(urllib.parse.urlsplit(landing).path)
        assert home.var(AUTH, "signed_in") is True, home.var(AUTH, "error_code")
        return home

    async def aclose(self) -> None:
        await self.http.aclose()


def wiring() -> str:
    """What the test appends to its copy's app module (read when the app starts)."""
    return PROBE + INSTALL


@pytest.fixture(scope="module")
def app_url(dev_provider, tmp_path_factory):
    project = project_copy(tmp_path_factory.mktemp("tab-state-project"))
    with open(project / "app" / "app.py", "a") as module:
        module.write(wiring())
    port = free_port()
    base_url = f"http://localhost:{port}"
    client_secret = secrets.token_urlsafe(32)
    dev_provider.put_client("tab-state-tests", client_secret, base_url=base_url, client_name="Tab state tests")
    env = {
        "LOGTO_ENDPOINT": dev_provider.origin,
        "LOGTO_APP_ID": "tab-state-tests",
        "LOGTO_APP_SECRET": client_secret,
        "LOGTO_BASE_URL": base_url,
        "LOGTO_COOKIE_SECRET": secrets.token_urlsafe(32),
        "LOGTO_SESSION_DB": str(tmp_path_factory.mktemp("tab-state-app") / "sessions.sqlite3"),
        "LOGTO_ENV_FILE": "/nonexistent/.env",
        "LOGTO_SCOPES": " ".join(DEVELOPMENT.scopes),
        "REFLEX_REDIS_TOKEN_EXPIRATION": str(EXPIRATION),
        "GRANIAN_WORKERS": "1",  # one worker: one in-memory state manager to count
    }
    log = ROOT / "test-output" / "app-tab-state.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text("")
    server = AppServer(env, port, log, project=project)
    try:
        server.wait_until_up()
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def demo():
    return ("demo", "demo-password")


@pytest.fixture(scope="module")
def mallory(dev_provider):
    username, password = f"mallory-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    dev_provider.put_user(username, password, name="Mallory Other", email=f"{username}@example.com")
    return (username, password)


async def tab_states(base: str) -> int:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{base}/_test/tab-states")).raise_for_status().json()["states"]


async def connect_with_token(base: str, token: str, cookie: str) -> Tab:
    """A connection with this tab token once its tab has closed (Reflex unlinks a closed tab's token
    a moment after the socket goes; before that, it would hand this connection a new token)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        tab = await Tab.open(base, token, "/", cookie)
        if tab.new_token is None:
            return tab
        await tab.close()
        assert time.monotonic() < deadline, "the closed tab's token stayed linked"
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("cookie", ["none", "another user's", "forged", "its own, its session ended"])
async def test_a_closed_tabs_token_without_its_cookie_gets_none_of_the_users_data(app_url, demo, mallory, cookie):
    victim = Browser(app_url)
    other = Browser(app_url)
    try:
        home = await victim.sign_in(demo)
        await home.wait(lambda: home.var(ACCOUNT, "sessions"))  # the home page lists the user's sessions
        handles = [row["handle"] for row in home.var(ACCOUNT, "sessions")]
        secrets_of_the_user = [
            home.var(AUTH, "user_email"), home.var(AUTH, "user_name"), home.var(AUTH, "user_sub"), *handles,
        ]
        assert secrets_of_the_user[0] == "demo@example.com" and handles
        await home.close()

        # The tab's own browser, coming back with its cookie, finds its tab state as it left it.
        again = await connect_with_token(app_url, victim.token, victim.cookie())
        first = again.deltas()[0]
        assert first[AUTH]["user_email_rx_state_"] == "demo@example.com"
        await again.close()

        session_cookie = next(part for part in victim.cookie().split("; ") if "session=" in part)
        name = session_cookie.split("=", 1)[0]
        if cookie == "another user's":
            await (await other.sign_in(mallory)).close()
            presented = other.cookie()
        elif cookie == "its own, its session ended":
            elsewhere = await other.sign_in(demo)  # the same user in another browser ends the tab's session
            await elsewhere.send(ACCOUNT, "end_other_sessions")
            await elsewhere.wait(lambda: len(elsewhere.var(ACCOUNT, "sessions")) == 1)
            await elsewhere.close()
            presented = victim.cookie()
        else:
            presented = "" if cookie == "none" else f"{name}={'A' * 43}"

        stranger = await connect_with_token(app_url, victim.token, presented)
        assert stranger.deltas(), "no hydrate"
        for state, handler in [(AUTH, "heartbeat"), (ACCOUNT, "load_sessions"), (AUTH, "load_session")]:
            await stranger.send(state, handler)
        await stranger.send(AUTH, "sign_in")  # answered last: everything before it has been sent
        await stranger.navigation()
        await stranger.close()

        received = "\n".join(stranger.frames)
        for secret in secrets_of_the_user:
            assert secret not in received, f"{secret!r} reached a connection without the session cookie"
        assert stranger.var(AUTH, "user_email") != "demo@example.com"
    finally:
        await victim.aclose()
        await other.aclose()


async def test_anonymous_tab_states_stay_within_the_bound(app_url):
    still_open = Browser(app_url)
    first = await still_open.open("/")
    for _ in range(3 * MAX_TAB_STATES):
        tab = await Tab.open(app_url, str(uuid.uuid4()), "/")
        await tab.close()
    assert await tab_states(app_url) <= MAX_TAB_STATES

    # A tab whose state was dropped still works: its next event hydrates it afresh.
    await first.send(AUTH, "sign_in")
    assert (await first.navigation()).startswith(app_url)
    await first.close()


async def test_tab_states_expire_after_the_configured_time(app_url):
    for _ in range(3):
        tab = await Tab.open(app_url, str(uuid.uuid4()), "/")
        await tab.close()
    assert await tab_states(app_url) >= 3
    await asyncio.sleep(EXPIRATION + 3)
    assert await tab_states(app_url) == 0


@pytest.fixture(scope="module")
def tab_state():
    """The module, imported in a registration context of its own: until setup() imports it, its
    TabOwner state must stay out of the state tree the other tests of this run enumerate."""
    token = RegistrationContext.set(RegistrationContext.get().fork())
    try:
        from reflex_logto.reflex import tab_state

        yield tab_state
    finally:
        RegistrationContext.reset(token)


@pytest.mark.parametrize("origin", ["own", "https://sibling.localhost", ""])
@pytest.mark.parametrize("cookie", ["", "theme=dark", "{session}=" + "A" * 43, "a=b; {session}=" + "B" * 43 + "; c=d"])
async def test_the_guard_reads_the_session_cookie_as_auth_state_does(tab_state, rp, origin, cookie):
    headers = {"origin": rp.flow.config.origin if origin == "own" else origin,
               "cookie": cookie.format(session=rp.flow.cookies.session_name)}
    router_data = {constants.RouteVar.HEADERS: {k: v for k, v in headers.items() if v}, constants.RouteVar.PATH: "/"}
    root = State(_reflex_internal_init=True)
    root.router_data = router_data
    root.router = RouterData.from_router_data(router_data)
    auth = root.substates[AuthState.get_name()]
    assert tab_state.session_cookie(root) == rp.flow.cookies.session(auth._cookies())


async def test_a_reset_clears_every_auth_state(tab_state):
    root = State(_reflex_internal_init=True)
    auth = root.substates[AuthState.get_name()]
    account = await auth.get_state(AccountState)
    auth.signed_in, auth.user_email = True, "someone@example.com"
    account.sessions = [{"handle": "h1"}]
    await tab_state.reset_auth_states(auth)
    assert (auth.signed_in, auth.user_email, account.sessions) == (False, "", [])


async def test_a_tab_state_whose_owner_redis_let_expire_is_reset_even_for_the_same_cookie(tab_state, rp):
    cookie = f"{rp.flow.cookies.session_name}={'A' * 43}"
    router_data = {constants.RouteVar.HEADERS: {"origin": rp.flow.config.origin, "cookie": cookie}}
    root = State(_reflex_internal_init=True)
    root.router_data = router_data
    auth = root.substates[AuthState.get_name()]
    owner = await auth.get_state(tab_state.TabOwner)
    guard, heartbeat = tab_state.TabStateGuard(), Event(name=f"{AUTH}.heartbeat", payload={})

    await guard.preprocess(None, root, heartbeat)  # a new tab state: its owner is this cookie
    auth.user_email, owner._written_at = "someone@example.com", 0.0
    await guard.preprocess(None, root, heartbeat)  # the same cookie: kept, and the owner written again
    assert auth.user_email == "someone@example.com" and owner._written_at > 0

    owner._cookie = None  # what Redis hands back once the owner's key expired before AuthState's
    await guard.preprocess(None, root, heartbeat)
    assert auth.user_email == ""


async def test_the_memory_manager_drops_the_least_recently_used_unlocked_state(tab_state):
    manager = tab_state.BoundedStateManagerMemory(token_expiration=3600, max_states=3)
    t = [BaseStateToken(ident=str(uuid.uuid4()), cls=State) for _ in range(5)]
    try:
        async with manager.modify_state(t[0]):  # busy, and the least recently used
            for token in t[1:4]:
                await manager.get_state(token)
            assert set(manager.states) == {t[0].cache_key, t[2].cache_key, t[3].cache_key}
            await manager.get_state(t[2])  # used again: now the most recent
            await manager.get_state(t[4])
            assert set(manager.states) == {t[0].cache_key, t[2].cache_key, t[4].cache_key}
    finally:
        await manager.close()
