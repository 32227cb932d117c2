"""A store that fails part-way through finishing a sign-in (Redis out of memory:
reads and deletes still work, writes are refused). The browser is told, no
session is left, and the grant the provider just issued does not outlive it."""

import pytest

from reflex_logto.config import Secret
from tests.support.app_server import free_port
from tests.support.fake_provider import FakeProvider, form
from tests.support.reflex_state import auth_state, run
from tests.support.relying_party import RelyingParty


@pytest.fixture
async def rp(redis_server, tmp_path):
    redis_server.flush()
    party = RelyingParty(FakeProvider(), str(tmp_path / "unused.sqlite3"), session_db_url=Secret(redis_server.url))
    yield party
    redis_server.client.config_set("maxmemory", 0)
    await party.close()


async def test_a_store_refusing_writes_mid_sign_in_leaves_no_session_and_no_live_grant(rp, redis_server):
    params = await rp.begin()
    page, session_route = await rp.callback(await rp.code_response(params))
    assert page.error_code == "" and session_route
    redis_server.client.config_set("maxmemory", 1)  # every write from now on: OOM

    response = await rp.browser.get(session_route)

    assert response.status_code == 303
    assert response.headers["location"] == rp.flow.callback_error_url("default")
    assert "logto_session" not in rp.cookie_header()
    revoked = [form(r)["token"] for r in rp.op.requests if r.url.path.endswith("/revocation")]
    assert revoked == ["rt-456"]  # the refresh token of the sign-in that could not be kept
    redis_server.client.config_set("maxmemory", 0)
    assert await rp.flow.sessions.count_live() == 0
    again = await rp.browser.get(session_route)  # the handoff was used up: no second try
    assert again.status_code == 303 and "logto_session" not in rp.cookie_header()


@pytest.fixture(params=["redis://127.0.0.1:{port}/0", "postgresql://app:pw@127.0.0.1:{port}/app"])
async def no_store(request, tmp_path):
    """The app configured with a Redis, or a PostgreSQL, that is not there (nothing listens on the port)."""
    party = RelyingParty(FakeProvider(), str(tmp_path / "unused.sqlite3"),
                         session_db_url=Secret(request.param.format(port=free_port())))
    yield party
    await party.close()


async def test_an_unreachable_store_is_named_on_the_page(no_store):
    home = auth_state("/", cookie=f"{no_store.flow.cookies.session_name}=" + "A" * 43)
    await run(home.load_session)
    assert not home.loaded and not home.signed_in  # neither the user nor "signed out" is shown
    assert home.error_code == "store_unavailable"
    assert "session store" in home.error_message

    await run(home.sign_in)
    assert home.error_code == "store_unavailable" and home.pending == ""


async def test_the_heartbeat_leaves_a_signed_in_tab_alone_while_the_store_is_away(no_store, caplog):
    tab = auth_state("/", cookie=f"{no_store.flow.cookies.session_name}=" + "A" * 43)
    tab.signed_in, tab.user_name = True, "Ada"  # what the tab showed before the store went away
    with caplog.at_level("WARNING", logger="reflex_logto"):
        for _ in range(3):
            await run(tab.heartbeat)
    assert tab.signed_in and tab.user_name == "Ada" and tab.notice == ""
    warnings = [r for r in caplog.records if "session store is not answering" in r.getMessage()]
    assert len(warnings) <= 1 and not any(r.exc_info for r in caplog.records)  # no traceback a second per tab


async def test_the_unavailable_message_goes_once_the_store_answers(rp):
    home = auth_state("/", cookie=rp.cookie_header())
    home.error_code = "store_unavailable"  # a lookup failed a moment ago
    await run(home.load_session)
    assert home.loaded and home.error_code == ""


async def test_the_sessions_list_waits_for_the_store_without_an_error_toast(no_store, caplog):
    """A handler that raised would make Reflex show its generic error toast over the page."""
    from reflex_logto import AccountState

    account = auth_state("/", cookie=f"{no_store.flow.cookies.session_name}=" + "A" * 43, state_class=AccountState)
    with caplog.at_level("WARNING", logger="reflex_logto"):
        await run(account.load_sessions)  # raises nothing
    assert account.error_code == "store_unavailable" and account.sessions == []
    assert not any(r.exc_info for r in caplog.records)
