"""Access tokens for API resources (RFC 8707) against the real development provider."""

import asyncio

import pytest
from joserfc import jwt

from reflex_logto.reflex import runtime
from tests.support.app_flow import sign_in, stored_tokens
from tests.support.provider_browser import ProviderBrowser

pytestmark = pytest.mark.integration

API = "http://localhost:3999/api"


@pytest.fixture
def resource(dev_provider):
    dev_provider.put_resource(API, ["read:demo", "write:demo"])
    return API


@pytest.mark.app_env(LOGTO_RESOURCES=API, LOGTO_SCOPES="openid offline_access profile email read:demo")
async def test_resource_token_is_a_jwt_for_the_api_cached_and_single_flight(app, dev_provider, resource):
    dev_provider.put_user("apiuser", "api-password", name="Api User", api_scopes=["read:demo", "write:demo"])
    browser = ProviderBrowser(dev_provider.origin)
    await sign_in(app, browser, username="apiuser", password="api-password")
    flow = runtime.get_flow()
    session = (await flow.sessions.lookup(app.cookies["logto_session"])).session
    before = dev_provider.counts().get("/oidc/token", 0)
    refresh_token_before = stored_tokens(app.cookies["logto_session"]).refresh_token

    tokens = await asyncio.gather(*(flow.lifecycle.access_token_for(session, API) for _ in range(5)))
    assert len(set(tokens)) == 1
    assert dev_provider.counts()["/oidc/token"] == before + 1  # five callers, one request
    assert await flow.lifecycle.access_token_for(session, API) == tokens[0]  # cached
    assert dev_provider.counts()["/oidc/token"] == before + 1

    claims = jwt.decode(tokens[0], await flow.client.keys(), algorithms=["ES384"]).claims
    assert claims["aud"] == API and claims["sub"] == session.sub
    assert set(claims["scope"].split()) == {"read:demo"}  # asked for read:demo only, though allowed more
    # Logto doesn't rotate a young refresh token of a confidential app: the session keeps its own.
    assert stored_tokens(app.cookies["logto_session"]).refresh_token == refresh_token_before
    assert (await flow.client.refresh(stored_tokens(app.cookies["logto_session"]))).access_token  # and it works
    browser.close()


@pytest.mark.app_env(LOGTO_RESOURCES=API)
async def test_an_unconfigured_resource_is_refused_before_any_request(app, dev_provider, resource):
    browser = ProviderBrowser(dev_provider.origin)
    await sign_in(app, browser)
    session = (await runtime.get_flow().sessions.lookup(app.cookies["logto_session"])).session
    with pytest.raises(ValueError):
        await runtime.get_flow().lifecycle.access_token_for(session, "https://elsewhere.example/api")
    browser.close()


@pytest.mark.app_env(LOGTO_SCOPES="openid offline_access profile urn:logto:scope:organizations read:members invite:member")
async def test_organization_tokens_per_organization(app, dev_provider):
    dev_provider.put_user("orguser", "org-password", name="Org User",
                          organizations=[{"id": "org-a", "roles": ["admin"]}, {"id": "org-b", "roles": ["member"]}])
    browser = ProviderBrowser(dev_provider.origin)
    await sign_in(app, browser, username="orguser", password="org-password")
    flow = runtime.get_flow()
    session = (await flow.sessions.lookup(app.cookies["logto_session"])).session
    assert session.claims["organizations"] == ["org-a", "org-b"]
    keys = await flow.client.keys()
    scopes = {}
    for org in ("org-a", "org-b"):
        token = await flow.lifecycle.organization_token(session, org)
        claims = jwt.decode(token, keys, algorithms=["ES384"]).claims
        # As Logto's: the organization is the audience, and there is no organization_id claim.
        assert claims["aud"] == f"urn:logto:organization:{org}" and "organization_id" not in claims
        assert await flow.client.verify_access_token(token, resource=claims["aud"], organization_id=org)
        scopes[org] = set(claims["scope"].split())
    assert scopes == {"org-a": {"read:members", "invite:member"}, "org-b": {"read:members"}}
    requests = dev_provider.counts()["/oidc/token"]
    with pytest.raises(ValueError):
        await flow.lifecycle.organization_token(session, "org-not-mine")
    assert dev_provider.counts()["/oidc/token"] == requests  # refused before asking
    browser.close()
