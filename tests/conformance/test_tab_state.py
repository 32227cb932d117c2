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
import secrets
import time
import uuid

import httpx
import pytest
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
from tests.support.event_client import ACCOUNT, AUTH, STATE, Tab, UserAgent

pytestmark = pytest.mark.browser

MAX_TAB_STATES = 12
EXPIRATION = 15  # seconds: REFLEX_REDIS_TOKEN_EXPIRATION, which Reflex's in-memory manager uses too

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


async def open_tab(base: str, token: str, cookie: str = "") -> Tab:
    """A page of the app connecting with this tab token and cookie, hydrated."""
    return await (await Tab.connect(base, token, "/", cookie)).hydrated()


async def connect_with_token(base: str, token: str, cookie: str) -> Tab:
    """A connection with this tab token once its tab has closed (Reflex unlinks a closed tab's token
    a moment after the socket goes; before that, it would hand this connection a new token)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        tab = await open_tab(base, token, cookie)
        if tab.new_token is None:
            return tab
        await tab.close()
        assert time.monotonic() < deadline, "the closed tab's token stayed linked"
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("cookie", ["none", "another user's", "forged", "its own, its session ended"])
async def test_a_closed_tabs_token_without_its_cookie_gets_none_of_the_users_data(app_url, demo, mallory, cookie):
    victim = UserAgent(app_url)
    other = UserAgent(app_url)
    try:
        home = await victim.sign_in(demo)
        await home.wait(lambda: home.var("sessions", ACCOUNT))  # the home page lists the user's sessions
        handles = [row["handle"] for row in home.var("sessions", ACCOUNT)]
        secrets_of_the_user = [
            home.var("user_email"), home.var("user_name"), home.var("user_sub"), *handles,
        ]
        assert secrets_of_the_user[0] == "demo@example.com" and handles
        await home.close()

        # The tab's own browser, coming back with its cookie, finds its tab state as it left it.
        again = await connect_with_token(app_url, victim.token, victim.cookie_header())
        first = again.deltas()[0]
        assert first[AUTH]["user_email_rx_state_"] == "demo@example.com"
        await again.close()

        session_cookie = next(part for part in victim.cookie_header().split("; ") if "session=" in part)
        name = session_cookie.split("=", 1)[0]
        if cookie == "another user's":
            await (await other.sign_in(mallory)).close()
            presented = other.cookie_header()
        elif cookie == "its own, its session ended":
            elsewhere = await other.sign_in(demo)  # the same user in another browser ends the tab's session
            await elsewhere.send("end_other_sessions", state=ACCOUNT)
            await elsewhere.wait(lambda: len(elsewhere.var("sessions", ACCOUNT)) == 1)
            await elsewhere.close()
            presented = victim.cookie_header()
        else:
            presented = "" if cookie == "none" else f"{name}={'A' * 43}"

        stranger = await connect_with_token(app_url, victim.token, presented)
        assert stranger.deltas(), "no hydrate"
        for state, handler in [(AUTH, "heartbeat"), (ACCOUNT, "load_sessions"), (AUTH, "load_session")]:
            await stranger.send(handler, state=state)
        await stranger.send("sign_in")  # answered last: everything before it has been sent
        await stranger.navigation()
        await stranger.close()

        received = "\n".join(stranger.frames)
        for secret in secrets_of_the_user:
            assert secret not in received, f"{secret!r} reached a connection without the session cookie"
        assert stranger.var("user_email") != "demo@example.com"
    finally:
        await victim.aclose()
        await other.aclose()


async def test_anonymous_tab_states_stay_within_the_bound(app_url):
    still_open = UserAgent(app_url)
    first = await still_open.open("/")
    for _ in range(3 * MAX_TAB_STATES):
        tab = await open_tab(app_url, str(uuid.uuid4()))
        await tab.close()
    assert await tab_states(app_url) <= MAX_TAB_STATES

    # A tab whose state was dropped still works: its next event hydrates it afresh.
    await first.send("sign_in")
    # Its page gave it the sign-in cookie, so the click goes straight to the provider.
    assert "/oidc/auth?response_type=code&client_id=tab-state-tests&" in (await first.navigation()).url
    await first.close()


async def test_tab_states_expire_after_the_configured_time(app_url):
    for _ in range(3):
        tab = await open_tab(app_url, str(uuid.uuid4()))
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


async def test_a_hydrate_shows_who_is_signed_in_before_any_on_load(tab_state, rp, op):
    """The page's first state says who is signed in: the claims, or signed out and why."""
    op.claims = {**op.claims, "name": "Hydrated User"}
    await rp.sign_in()
    router_data = {constants.RouteVar.HEADERS: {"origin": rp.flow.config.origin, "cookie": rp.cookie_header()}}
    root = State(_reflex_internal_init=True)
    root.router_data = router_data
    auth = root.substates[AuthState.get_name()]
    guard, hydrate = tab_state.TabStateGuard(), Event(name=f"{STATE}.hydrate_and_load", payload={})

    await guard.preprocess(None, root, hydrate)
    assert (auth.loaded, auth.signed_in, auth.user_name) == (True, True, "Hydrated User")
    assert any(row["key"] == "name" for row in auth.claims)

    await guard.preprocess(None, root, Event(name=f"{AUTH}.heartbeat", payload={}))  # not a hydrate: no lookup
    session_id = rp.flow.cookies.session(rp.cookie_header())
    await rp.flow.sessions.delete(session_id, "revoked")
    await guard.preprocess(None, root, hydrate)
    assert (auth.loaded, auth.signed_in, auth.user_name, auth.notice) == (True, False, "", "revoked")


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
