"""The backend routes through ASGI: back-channel logout, and failing safely."""

import httpx
import pytest
from joserfc.jwk import ECKey

from reflex_logto.oidc.client import TokenSet
from reflex_logto.reflex import runtime
from reflex_logto.reflex.routes import auth_routes
from tests.support.fake_provider import FakeProvider, app_config
from tests.unit.test_logout_token import logout_token


@pytest.fixture
def op():
    return FakeProvider()


@pytest.fixture
async def app(op, tmp_path):
    config = app_config(op, session_db=str(tmp_path / "s.sqlite3"))
    runtime.configure(config, backend_url="https://app.example", transport=op.transport())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=auth_routes()), base_url="https://app.example") as client:
        yield client
    await runtime.shutdown()


async def session_for(sub: str, sid: str) -> str:
    tokens = TokenSet(id_token="i", claims={"sub": sub, "sid": sid}, access_token="a", refresh_token=None, expires_at=None, scope="")
    return await runtime.get_flow().sessions.create(tokens)


async def test_backchannel_logout_ends_the_named_sessions_once(op, app):
    victim = await session_for("user-1", "sid-1")
    bystander = await session_for("user-2", "sid-2")
    token = logout_token(op)
    response = await app.post("/auth/backchannel-logout", data={"logout_token": token})
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    lookup = await runtime.get_flow().sessions.lookup(victim)
    assert lookup.session is None and lookup.ended_reason == "provider_logout"
    assert (await runtime.get_flow().sessions.lookup(bystander)).session is not None
    replay = await app.post("/auth/backchannel-logout", data={"logout_token": token})
    assert replay.status_code == 400 and replay.json() == {"error": "invalid_request"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"logout_token": ""},
        {"logout_token": "not.a.jwt"},
        {"something": "else"},
    ],
)
async def test_malformed_backchannel_requests_get_400(app, body):
    victim = await session_for("user-1", "sid-1")
    response = await app.post("/auth/backchannel-logout", data=body)
    assert response.status_code == 400
    assert (await runtime.get_flow().sessions.lookup(victim)).session is not None


async def test_forged_logout_token_gets_400_and_changes_nothing(op, app):
    victim = await session_for("user-1", "sid-1")
    stranger = ECKey.generate_key("P-384", parameters={"kid": "key-1"})
    response = await app.post("/auth/backchannel-logout", data={"logout_token": logout_token(op, key=stranger)})
    assert response.status_code == 400
    assert (await runtime.get_flow().sessions.lookup(victim)).session is not None


async def test_backchannel_logout_is_post_only(app):
    assert (await app.get("/auth/backchannel-logout")).status_code == 405


async def test_a_broken_store_lands_on_an_error_page_not_a_500(app):
    runtime.get_flow().storage.connection.close()  # the database goes away under the app
    response = await app.get("/auth/sign-in/anything")
    assert response.status_code == 303
    assert response.headers["location"] == "https://app.example/callback?app_error=default"
