"""AuthState's handlers, called as Reflex calls them, against a fake provider."""

import asyncio
import urllib.parse

import httpx
import pytest

from reflex_logto.reflex import runtime
from tests.support.fake_provider import FakeProvider, app_config
from tests.support.reflex_state import auth_state, navigation, run

BACKEND = "https://app.example"


@pytest.fixture
def op():
    return FakeProvider()


@pytest.fixture
def flow(op, tmp_path):
    config = app_config(op, session_db=str(tmp_path / "sessions.sqlite3"))
    runtime.configure(config, backend_url=BACKEND, transport=op.transport())
    yield runtime.get_flow()
    runtime._flow = None


def query(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


async def browser_reaches_provider(op, flow, binding="binding-a" + "x" * 34, page="/"):
    """Click Sign in, follow the start route; return the authorization request's parameters."""
    state = auth_state(page)
    events = await run(state.sign_in)
    start_url = navigation(events)
    assert start_url.startswith(f"{BACKEND}/auth/sign-in/")
    provider_url = await flow.claim_sign_in(start_url.rsplit("/", 1)[1], binding)
    params = query(provider_url)
    op.nonce = params["nonce"]
    return params


async def test_sign_in_button_stores_a_transaction_and_leaves(op, flow):
    state = auth_state("/")
    events = await run(state.sign_in)
    assert state.pending == "sign_in"  # the button spins until the page leaves
    assert navigation(events).startswith(f"{BACKEND}/auth/sign-in/")
    assert flow.storage.execute("SELECT count(*) FROM transactions").fetchone()[0] == 1


async def step_by_step(state, handler, *, op=None) -> list[tuple[str, str | None, int]]:
    """At each update the handler sends: the spinner (`pending`), where the tab is sent
    (if anywhere), and how many revocations the provider has had by then."""
    seen = []
    async for event in handler():
        revoked = op.count("/token/revocation") if op else 0
        seen.append((state.pending, navigation([event]) if event is not None else None, revoked))
    return seen


def waits_for_the_next_update(event) -> bool:
    return any('socket.once("event"' in str(getattr(value, "_var_value", "")) for _, value in event.args)


async def test_sign_in_sends_the_tab_on_its_way_then_the_spinner(op, flow):
    state = auth_state("/")
    seen = await step_by_step(state, state.sign_in)
    # The script goes out before any change of state, and leaves once the spinner (the
    # handler's last update) is applied: no render of it holds the page up.
    [(pending, leaving, _)] = seen
    assert pending == "" and leaving.startswith(f"{BACKEND}/auth/sign-in/")
    assert state.pending == "sign_in"
    events = await run(auth_state("/").sign_in)
    assert waits_for_the_next_update(events[0])


async def test_a_slow_sign_in_start_spins_first(op, tmp_path):
    async def slowly(request):
        if request.url.path.endswith("/openid-configuration"):
            await asyncio.sleep(0.3)  # discovery, on the first sign-in: a provider far away
        return op.handle(request)

    config = app_config(op, session_db=str(tmp_path / "sessions.sqlite3"))
    runtime.configure(config, backend_url=BACKEND, transport=httpx.MockTransport(slowly))
    try:
        state = auth_state("/")
        seen = [(state.pending, event) async for event in state.sign_in()]
        assert [(pending, event is None) for pending, event in seen] == [("sign_in", True), ("sign_in", False)]
        assert navigation([seen[1][1]]).startswith(f"{BACKEND}/auth/sign-in/")
        assert not waits_for_the_next_update(seen[1][1])  # nothing more is coming: it leaves at once
    finally:
        await runtime.shutdown()
        runtime._flow = None


async def test_whole_sign_in_then_home_shows_claims(op, flow):
    binding = "b" * 43
    params = await browser_reaches_provider(op, flow, binding)
    callback = auth_state(
        f"/callback?code=abc&state={params['state']}&iss={urllib.parse.quote(op.issuer)}",
        cookie=f"__Host-logto_signin={binding}",
    )
    events = await run(callback.finish_sign_in)
    assert callback.error_code == ""
    session_url = navigation(events)
    assert session_url.startswith(f"{BACKEND}/auth/session/")

    session_id, return_url = await flow.complete_sign_in(session_url.rsplit("/", 1)[1], binding)
    assert return_url == "https://app.example/"

    home = auth_state("/", cookie=f"__Host-logto_session={session_id}")
    await run(home.load_session)
    assert home.signed_in and home.loaded
    assert (home.user_name, home.user_email, home.user_sub) == ("Ada", "ada@example.com", "user-1")
    # The same cookie from a page of another origin (a sibling site) is not honoured.
    elsewhere = auth_state("/", cookie=f"__Host-logto_session={session_id}", origin="https://evil.app.example")
    await run(elsewhere.load_session)
    assert not elsewhere.signed_in and elsewhere.claims == []
    keys = [row["key"] for row in home.claims]
    assert keys == sorted(["iss", "sub", "aud", "exp", "iat", "nonce", "name", "email"])
    exp = next(row for row in home.claims if row["key"] == "exp")
    assert exp["readable"].endswith(" UTC")
    # No token or secret in anything this state would send to the browser.
    public = repr(home.get_delta()) + repr(callback.get_delta())
    for secret in ("at-123", "rt-456", session_id, binding, params["state"]):
        assert secret not in public


async def test_provider_error_is_shown_as_text(op, flow):
    binding = "e" * 43
    params = await browser_reaches_provider(op, flow, binding)
    state = auth_state(
        f"/callback?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
        f"&state={params['state']}&iss={urllib.parse.quote(op.issuer)}",
        cookie=f"__Host-logto_signin={binding}",
    )
    await run(state.finish_sign_in)
    assert state.error_code == "access_denied"
    assert state.provider_error == "access_denied: <script>alert(1)</script>"
    assert state.error_message == "The sign-in service did not sign you in."
    assert op.count("/token") == 0


async def test_error_response_for_no_sign_in_of_ours_shows_none_of_its_words(op, flow):
    state = auth_state("/callback?error=access_denied&error_description=Call%20this%20number&state=forged")
    await run(state.finish_sign_in)
    assert state.error_code == "invalid_transaction"
    assert state.provider_error == ""


async def test_callback_from_another_browser_is_refused(op, flow):
    params = await browser_reaches_provider(op, flow, "a" * 43)
    attacker = auth_state(f"/callback?code=abc&state={params['state']}", cookie="__Host-logto_signin=" + "z" * 43)
    events = await run(attacker.finish_sign_in)
    assert attacker.error_code == "invalid_transaction"
    assert navigation(events) is None
    assert op.count("/token") == 0


async def test_replayed_callback_is_refused(op, flow):
    binding = "r" * 43
    params = await browser_reaches_provider(op, flow, binding)
    url = f"/callback?code=abc&state={params['state']}&iss={urllib.parse.quote(op.issuer)}"
    first = auth_state(url, cookie=f"__Host-logto_signin={binding}")
    await run(first.finish_sign_in)
    again = auth_state(url, cookie=f"__Host-logto_signin={binding}")
    await run(again.finish_sign_in)
    assert (first.error_code, again.error_code) == ("", "invalid_transaction")
    assert op.count("/token") == 1


async def test_wrong_iss_parameter_is_refused_before_the_code_is_spent(op, flow):
    binding = "i" * 43
    params = await browser_reaches_provider(op, flow, binding)
    state = auth_state(f"/callback?code=abc&state={params['state']}&iss=https://evil.example", cookie=f"__Host-logto_signin={binding}")
    await run(state.finish_sign_in)
    assert state.error_code == "invalid_callback"
    assert op.count("/token") == 0


async def test_missing_iss_is_refused_when_the_provider_promises_it(op, flow):
    binding = "m" * 43
    params = await browser_reaches_provider(op, flow, binding)
    state = auth_state(f"/callback?code=abc&state={params['state']}", cookie=f"__Host-logto_signin={binding}")
    await run(state.finish_sign_in)
    assert state.error_code == "invalid_callback"


async def test_bad_id_token_creates_no_session(op, flow):
    binding = "t" * 43
    params = await browser_reaches_provider(op, flow, binding)
    op.nonce = "not-the-one-we-sent"
    state = auth_state(f"/callback?code=abc&state={params['state']}&iss={urllib.parse.quote(op.issuer)}", cookie=f"__Host-logto_signin={binding}")
    events = await run(state.finish_sign_in)
    assert state.error_code == "invalid_id_token"
    assert navigation(events) is None
    assert flow.storage.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
    assert flow.storage.execute("SELECT count(*) FROM handoffs").fetchone()[0] == 0


async def test_app_error_code_from_a_route_is_shown(flow):
    state = auth_state("/callback?app_error=invalid_transaction")
    await run(state.finish_sign_in)
    assert state.error_code == "invalid_transaction"


@pytest.mark.parametrize("cookie", ["", "__Host-logto_session=", "__Host-logto_session=forged", "__Host-logto_session=" + "A" * 43, "garbage;;=="])
async def test_unknown_session_is_signed_out_not_an_error(flow, cookie):
    state = auth_state("/", cookie=cookie)
    await run(state.load_session)
    assert state.loaded and not state.signed_in and state.error_code == ""


async def test_sign_out_ends_the_session_and_revokes(op, flow):
    op.nonce = "n"
    from reflex_logto.oidc.client import TokenSet

    tokens = TokenSet(id_token=op.id_token(), claims={"sub": "user-1"}, access_token="at", refresh_token="rt-9", expires_at=None, scope="")
    session_id = await flow.sessions.create(tokens)
    state = auth_state("/", cookie=f"__Host-logto_session={session_id}")
    seen = await step_by_step(state, state.sign_out, op=op)
    # The tab is sent on its way first, then the spinner; the token is revoked behind them.
    [(pending, signed_out_url, revoked), spinner] = seen
    assert pending == "" and revoked == 0 and spinner == ("sign_out", None, 0)
    assert signed_out_url.startswith(f"{BACKEND}/auth/signed-out/")
    assert (await flow.sessions.lookup(session_id)).session is None
    assert op.count("/token/revocation") == 1
    destination = await flow.complete_sign_out(signed_out_url.rsplit("/", 1)[1], session_id)
    assert destination.startswith(f"{op.issuer}/session/end?")
    assert query(destination) == {"client_id": "test-app", "post_logout_redirect_uri": "https://app.example/"}
    assert tokens.id_token not in destination


async def test_sign_out_from_a_signed_out_tab_just_goes_home(flow):
    state = auth_state("/", cookie="")
    events = await run(state.sign_out)
    assert navigation(events) == f"{BACKEND}/auth/signed-out"
    assert await flow.complete_sign_out(None, None) == "https://app.example/"


async def test_try_again_from_the_callback_page_returns_home(op, flow):
    state = auth_state("/callback?app_error=invalid_transaction")
    events = await run(state.sign_in)
    txn_id = navigation(events).rsplit("/", 1)[1]
    assert await flow.claim_sign_in(txn_id, "c" * 43)
    row = flow.storage.execute("SELECT state_hash FROM transactions").fetchone()
    assert row is not None


def test_claim_rows_read_seconds_and_logto_milliseconds():
    from reflex_logto import claim_rows

    rows = {r["key"]: r for r in claim_rows({"iat": 1700000000, "created_at": 1655799453171, "updated_at": 10**30, "x": True})}
    assert rows["iat"]["readable"] == "2023-11-14 22:13:20 UTC"
    assert rows["created_at"]["readable"] == "2022-06-21 08:17:33 UTC"
    assert rows["updated_at"]["readable"] == ""  # absurd, shown as is
    assert rows["x"] == {"key": "x", "value": "true", "readable": ""}
