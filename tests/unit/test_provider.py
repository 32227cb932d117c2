import base64
import hashlib
import urllib.parse

import httpx
import pytest
from joserfc.jwk import ECKey

from reflex_logto.errors import InvalidIdToken, InvalidProviderMetadata, ProviderUnavailable, TokenRequestFailed
from reflex_logto.oidc.client import OidcClient
from tests.support.fake_provider import FakeProvider, app_config, form


@pytest.fixture
def op():
    provider = FakeProvider()
    provider.nonce = "n-1"
    return provider


@pytest.fixture
async def client(op):
    oidc = OidcClient(app_config(op), transport=op.transport())
    yield oidc
    await oidc.aclose()


async def test_authorization_url_has_everything_a_logto_sign_in_needs(client):
    url = await client.authorization_url(state="s-1", nonce="n-1", code_verifier="v" * 64)
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query))
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://op.example/oidc/auth"
    challenge = base64.urlsafe_b64encode(hashlib.sha256(b"v" * 64).digest()).rstrip(b"=").decode()
    assert query == {
        "response_type": "code",
        "client_id": "test-app",
        "redirect_uri": "https://app.example/callback",
        "scope": "openid offline_access profile email",
        "state": "s-1",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "prompt": "consent",
    }


async def test_discovery_is_fetched_once(op, client):
    for _ in range(3):
        await client.authorization_url(state="s", nonce="n", code_verifier="v" * 64)
    assert op.count("/.well-known/openid-configuration") == 1


async def test_discovery_naming_another_issuer_is_refused(op, client):
    op.discovery["issuer"] = "https://evil.example/oidc"
    with pytest.raises(InvalidProviderMetadata, match="configured"):
        await client.metadata()


async def test_unreachable_provider_is_reported_as_such(op):
    def refuse(request):
        raise httpx.ConnectError("connection refused")

    oidc = OidcClient(app_config(op), transport=httpx.MockTransport(refuse))
    with pytest.raises(ProviderUnavailable):
        await oidc.metadata()


async def test_exchange_code_sends_the_verifier_and_validates_the_id_token(op, client):
    tokens = await client.exchange_code(code="code-1", code_verifier="v" * 64, nonce="n-1")
    token_request = next(r for r in op.requests if r.url.path.endswith("/token"))
    assert form(token_request) == {
        "grant_type": "authorization_code",
        "code": "code-1",
        "code_verifier": "v" * 64,
        "redirect_uri": "https://app.example/callback",
    }
    assert token_request.headers["authorization"].startswith("Basic ")
    assert tokens.claims["sub"] == "user-1"
    assert tokens.refresh_token == "rt-456"
    assert tokens.access_token == "at-123"


async def test_refused_code_is_a_token_request_failure(op, client):
    op.token_response = lambda request: httpx.Response(400, json={"error": "invalid_grant"})
    with pytest.raises(TokenRequestFailed, match="invalid_grant"):
        await client.exchange_code(code="c", code_verifier="v" * 64, nonce="n-1")


async def test_token_response_without_id_token_is_refused(op, client):
    op.token_response = lambda request: httpx.Response(200, json={"access_token": "a", "token_type": "Bearer"})
    with pytest.raises(InvalidIdToken):
        await client.exchange_code(code="c", code_verifier="v" * 64, nonce="n-1")


async def test_token_endpoint_error_page_is_provider_unavailable_or_failure(op, client):
    op.token_response = lambda request: httpx.Response(502, text="<html>bad gateway</html>")
    with pytest.raises((TokenRequestFailed, ProviderUnavailable)):
        await client.exchange_code(code="c", code_verifier="v" * 64, nonce="n-1")


async def test_rotated_key_is_fetched_once(op, client):
    await client.exchange_code(code="c", code_verifier="v" * 64, nonce="n-1")
    op.key = ECKey.generate_key("P-384", parameters={"kid": "key-2", "alg": "ES384", "use": "sig"})
    tokens = await client.exchange_code(code="c", code_verifier="v" * 64, nonce="n-1")
    assert tokens.claims["sub"] == "user-1"
    assert op.count("/jwks") == 2


async def test_unknown_kids_do_not_hammer_the_jwks_endpoint(op, client):
    await client.keys()
    for i in range(5):
        stranger = ECKey.generate_key("P-384", parameters={"kid": f"random-{i}"})
        bad = op.id_token(key=stranger)
        op.token_response = lambda request, bad=bad: httpx.Response(
            200, json={"access_token": "a", "id_token": bad, "token_type": "Bearer"}
        )
        with pytest.raises(InvalidIdToken):
            await client.exchange_code(code="c", code_verifier="v" * 64, nonce="n-1")
    assert op.count("/jwks") == 2  # the first load, and one re-fetch


async def test_end_session_url_names_the_app_and_no_token(client):
    url = await client.end_session_url()
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert url.startswith("https://op.example/oidc/session/end?")
    assert query == {"client_id": "test-app", "post_logout_redirect_uri": "https://app.example/"}


async def test_revoke_sends_the_refresh_token(op, client):
    assert await client.revoke("rt-456") is True
    request = next(r for r in op.requests if r.url.path.endswith("/token/revocation"))
    assert form(request) == {"token": "rt-456", "token_type_hint": "refresh_token"}


async def test_revoke_failure_is_not_raised(op):
    def broken(request):
        if request.url.path.endswith("/revocation"):
            raise httpx.ReadTimeout("slow")
        return op.handle(request)

    oidc = OidcClient(app_config(op), transport=httpx.MockTransport(broken))
    assert await oidc.revoke("rt") is False


async def test_shared_client_keeps_no_tokens_after_an_exchange(op, client):
    await client.exchange_code(code="c", code_verifier="v" * 64, nonce="n-1")
    assert not client._http.token


async def test_a_token_endpoint_refusing_the_app_names_the_settings_to_check(client, op):
    op.token_response = lambda request: httpx.Response(401, json={"error": "invalid_client"})
    with pytest.raises(TokenRequestFailed, match="invalid_client: .*check LOGTO_APP_ID and LOGTO_APP_SECRET"):
        await client.exchange_code(code="c", code_verifier="v" * 64, nonce="n-1")


async def test_discovery_that_is_not_there_says_which_setting_points_at_it(op):
    op.discovery = None
    op.handle = lambda request: httpx.Response(404, json={"error": "not_found"})
    oidc = OidcClient(app_config(op), transport=httpx.MockTransport(op.handle))
    try:
        with pytest.raises(InvalidProviderMetadata, match=r"HTTP 404 \(is LOGTO_ENDPOINT, or OIDC_ISSUER, the provider's URL\?\)"):
            await oidc.metadata()
    finally:
        await oidc.aclose()


async def test_the_organizations_scope_brings_logtos_organizations_resource(op):
    config = app_config(op, scopes=("openid", "offline_access", "urn:logto:scope:organizations", "read:members"),
                        resources=("https://api.example/",))
    oidc = OidcClient(config, transport=op.transport())
    try:
        url = await oidc.authorization_url(state="s", nonce="n", code_verifier="v" * 64)
    finally:
        await oidc.aclose()
    resources = [v for k, v in urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query) if k == "resource"]
    assert resources == ["https://api.example/", "urn:logto:resource:organizations"]


async def test_no_organizations_resource_without_the_organizations_scope(client):
    url = await client.authorization_url(state="s", nonce="n", code_verifier="v" * 64)
    assert "resource=" not in url


async def test_a_refresh_asks_for_no_scope_so_the_grant_keeps_its_own(client, op):
    tokens = await client.exchange_code(code="c", code_verifier="v" * 64, nonce="n-1")
    op.nonce = None
    await client.refresh(tokens)
    refresh = form([r for r in op.requests if r.url.path.endswith("/token")][-1])
    assert refresh["grant_type"] == "refresh_token" and "scope" not in refresh
