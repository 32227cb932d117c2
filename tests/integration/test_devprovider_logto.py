"""The development provider behaves as Logto 1.42 where a client can tell.

Each expectation here was first seen at a real Logto built from its source
(see /work/shared/real-logto): organization permissions only through the
resource urn:logto:resource:organizations, organization tokens without an
`organization_id` claim, Logto's refusals and error bodies, which refreshes
carry an ID token, Logto's refresh token rotation, and `first_screen`.

The authorization requests are made by hand (the provider's sign-in form is
filled over HTTP, as tests/support/provider_browser.py does), so these tests
check the provider alone, whatever the app's own client sends.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import urllib.parse

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.provider_browser import ProviderBrowser, forms

pytestmark = pytest.mark.integration

API = "http://localhost:3999/api"
ORGANIZATIONS_SCOPE = "urn:logto:scope:organizations"
ORGANIZATIONS_RESOURCE = "urn:logto:resource:organizations"
# The organization roles of the users file the tests start the provider with (app/dev_users.json).
ADMIN_PERMISSIONS = {"read:members", "invite:member"}
MEMBER_PERMISSIONS = {"read:members"}
ORG_SCOPES = f"openid offline_access profile {ORGANIZATIONS_SCOPE} read:members invite:member"


class Client:
    """A confidential client at the provider, speaking OAuth by hand."""

    def __init__(self, provider, client_id: str, client_secret: str | None, redirect_uri: str):
        self.provider = provider
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri

    def authorization_url(self, scope: str, resources=(), **extra: str) -> tuple[str, str]:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = [
            ("client_id", self.client_id), ("redirect_uri", self.redirect_uri), ("response_type", "code"),
            ("scope", scope), ("state", secrets.token_urlsafe(8)), ("nonce", secrets.token_urlsafe(8)),
            ("prompt", "consent"), ("code_challenge", challenge), ("code_challenge_method", "S256"),
            *(("resource", resource) for resource in resources), *extra.items(),
        ]
        return f"{self.provider.issuer}/auth?{urllib.parse.urlencode(query)}", verifier

    def sign_in(self, username: str, password: str, scope: str, resources=()) -> dict:
        """The whole authorization code flow; the token response."""
        url, verifier = self.authorization_url(scope, resources)
        browser = ProviderBrowser(self.provider.origin)
        try:
            callback = browser.sign_in(url, username, password)
        finally:
            browser.close()
        code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))["code"]
        response = self.token(grant_type="authorization_code", code=code, redirect_uri=self.redirect_uri,
                              code_verifier=verifier)
        assert response.status_code == 200, response.text
        return response.json()

    def token(self, **form: str) -> httpx.Response:
        if self.client_secret is None:  # a public client
            return httpx.post(f"{self.provider.issuer}/token", data={**form, "client_id": self.client_id}, timeout=10)
        return httpx.post(f"{self.provider.issuer}/token", data=form, auth=(self.client_id, self.client_secret), timeout=10)

    def refresh(self, refresh_token: str, **form: str) -> httpx.Response:
        return self.token(grant_type="refresh_token", refresh_token=refresh_token, **form)


@pytest.fixture
def client(dev_provider, registered_app):
    return Client(dev_provider, registered_app["LOGTO_APP_ID"], registered_app["LOGTO_APP_SECRET"],
                  f"{registered_app['LOGTO_BASE_URL']}/callback")


@pytest.fixture
def member(dev_provider):
    """A user who is admin of org-a and member of org-b, and holds the API's read:demo."""
    username = f"orgs-{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(12)
    sub = dev_provider.put_user(username, password, name="Org Member", api_scopes=["read:demo"],
                                organizations=[{"id": "org-a", "roles": ["admin"]}, {"id": "org-b", "roles": ["member"]}])
    return {"username": username, "password": password, "sub": sub}


@pytest.fixture
def api(dev_provider):
    dev_provider.put_resource(API, ["read:demo", "write:demo"])
    return API


@pytest.fixture
def keys(dev_provider):
    return KeySet.import_key_set(httpx.get(f"{dev_provider.issuer}/jwks", timeout=10).json())


def decode(token: str, keys: KeySet) -> tuple[dict, dict]:
    """A JWT's header and claims, its ES384 signature checked against the provider's keys."""
    decoded = jwt.decode(token, keys, algorithms=["ES384"])
    return dict(decoded.header), dict(decoded.claims)


def refused(response: httpx.Response, status: int, error: str, description: str, **extra: str) -> None:
    """Refused as Logto refuses: its status, OAuth error, description, and Logto's `code` and `message`."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error and body["error_description"] == description, body
    assert body["code"] == f"oidc.{error}" and body["message"], body  # Logto's koaOidcErrorHandler
    for name, value in extra.items():
        assert body[name] == value, body
    assert "access_token" not in body and "id_token" not in body


# --- 1. organization permissions come only with urn:logto:resource:organizations


def test_organization_permissions_only_when_the_authorization_named_the_organizations_resource(client, member, keys):
    without = client.sign_in(member["username"], member["password"], ORG_SCOPES)
    response = client.refresh(without["refresh_token"], organization_id="org-a")
    assert response.status_code == 200, response.text
    _, claims = decode(response.json()["access_token"], keys)
    assert "scope" not in claims and response.json()["scope"] == ""  # a token for the organization, no permission

    with_resource = client.sign_in(member["username"], member["password"], ORG_SCOPES, [ORGANIZATIONS_RESOURCE])
    tokens = {}
    for organization in ("org-a", "org-b"):
        response = client.refresh(with_resource["refresh_token"], organization_id=organization)
        assert response.status_code == 200, response.text
        _, claims = decode(response.json()["access_token"], keys)
        tokens[organization] = set(claims["scope"].split())
        assert set(response.json()["scope"].split()) == tokens[organization]
    assert tokens == {"org-a": ADMIN_PERMISSIONS, "org-b": MEMBER_PERMISSIONS}  # each organization's roles


def test_a_refresh_asking_for_organization_permissions_without_the_resource_is_invalid_scope(client, member):
    tokens = client.sign_in(member["username"], member["password"], ORG_SCOPES)
    missing = "refresh token missing requested scope"
    refused(client.refresh(tokens["refresh_token"], organization_id="org-a", scope="read:members"),
            400, "invalid_scope", missing, scope="read:members")
    refused(client.refresh(tokens["refresh_token"], scope="openid read:members invite:member"),
            400, "invalid_scope", "refresh token missing requested scopes", scope="read:members invite:member")
    # Checked before membership, as Logto does.
    refused(client.refresh(tokens["refresh_token"], organization_id="org-not-mine", scope="read:members"),
            400, "invalid_scope", missing)
    # The refusal costs nothing: the refresh token still works.
    assert client.refresh(tokens["refresh_token"]).status_code == 200

    # With the resource named, the same request is granted.
    granted = client.sign_in(member["username"], member["password"], ORG_SCOPES, [ORGANIZATIONS_RESOURCE])
    response = client.refresh(granted["refresh_token"], organization_id="org-a", scope="read:members")
    assert response.status_code == 200 and response.json()["scope"] == "read:members", response.text


# --- 2. organization tokens shaped, and refused, as Logto's


def test_an_organization_token_is_shaped_as_logtos(client, member, keys, dev_provider):
    tokens = client.sign_in(member["username"], member["password"], ORG_SCOPES, [ORGANIZATIONS_RESOURCE])
    response = client.refresh(tokens["refresh_token"], organization_id="org-b")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600

    header, claims = decode(body["access_token"], keys)
    assert header["typ"] == "at+jwt" and header["alg"] == "ES384" and header["kid"]
    assert list(claims) == ["jti", "sub", "iat", "exp", "scope", "client_id", "iss", "aud"]  # Logto's, in its order
    assert "organization_id" not in claims
    assert claims["aud"] == "urn:logto:organization:org-b"
    assert claims["sub"] == member["sub"] and claims["client_id"] == client.client_id
    assert claims["iss"] == dev_provider.issuer and claims["exp"] - claims["iat"] == 3600
    assert set(claims["scope"].split()) == MEMBER_PERMISSIONS


def test_an_api_token_for_an_organization_carries_organization_id(client, member, keys, api):
    tokens = client.sign_in(member["username"], member["password"], f"{ORG_SCOPES} read:demo", [api, ORGANIZATIONS_RESOURCE])
    response = client.refresh(tokens["refresh_token"], organization_id="org-a", resource=api)
    assert response.status_code == 200, response.text
    _, claims = decode(response.json()["access_token"], keys)
    assert claims["aud"] == api and claims["organization_id"] == "org-a" and claims["scope"] == "read:demo"


def test_organization_tokens_are_refused_to_a_non_member_and_without_the_organizations_scope(client, member, dev_provider):
    tokens = client.sign_in(member["username"], member["password"], ORG_SCOPES, [ORGANIZATIONS_RESOURCE])
    not_member = "user is not a member of the organization"
    refused(client.refresh(tokens["refresh_token"], organization_id="org-c"), 403, "access_denied", not_member)

    outsider = f"outsider-{secrets.token_hex(3)}"
    dev_provider.put_user(outsider, "outsider-password", name="Outsider")
    theirs = client.sign_in(outsider, "outsider-password", ORG_SCOPES, [ORGANIZATIONS_RESOURCE])
    refused(client.refresh(theirs["refresh_token"], organization_id="org-a"), 403, "access_denied", not_member)

    # A grant without urn:logto:scope:organizations: no organization token, even for a member.
    plain = client.sign_in(member["username"], member["password"], "openid offline_access read:members",
                           [ORGANIZATIONS_RESOURCE])
    refused(client.refresh(plain["refresh_token"], organization_id="org-a"), 403, "insufficient_scope",
            "refresh token missing required scope", scope=ORGANIZATIONS_SCOPE)
    refused(client.refresh(plain["refresh_token"], organization_id="org-c"), 403, "access_denied", not_member)
    assert client.refresh(plain["refresh_token"]).status_code == 200  # nothing was spent


# --- 3. the ID token on refreshes, rotation


def test_a_refresh_carries_an_id_token_exactly_when_its_scopes_hold_openid(client, member, keys, api):
    tokens = client.sign_in(member["username"], member["password"], f"{ORG_SCOPES} read:demo", [api, ORGANIZATIONS_RESOURCE])
    refresh_token = tokens["refresh_token"]
    cases = {
        # No `scope`: the refresh token's, which holds openid.
        "plain": ({}, True),
        "api": ({"resource": api}, True),
        "organization": ({"organization_id": "org-a"}, True),
        # A `scope` without openid: no ID token.
        "api, scope without openid": ({"resource": api, "scope": "read:demo"}, False),
        "organization, scope without openid": ({"organization_id": "org-a", "scope": "read:members"}, False),
        "organization, scope with openid": ({"organization_id": "org-a", "scope": "openid read:members"}, True),
        "plain, scope openid": ({"scope": "openid"}, True),
    }
    for name, (form, expected) in cases.items():
        response = client.refresh(refresh_token, **form)
        assert response.status_code == 200, (name, response.text)
        body = response.json()
        assert ("id_token" in body) is expected, name
        if expected:
            _, claims = decode(body["id_token"], keys)
            assert claims["sub"] == member["sub"] and claims["aud"] == client.client_id, name
        refresh_token = body["refresh_token"]


def test_refresh_tokens_rotate_as_logtos_do(client, member, dev_provider):
    """Logto rotates a confidential client's refresh token only once it is 70% through its life,
    a public client's always, and never when the client turned rotation off."""
    tokens = client.sign_in(member["username"], member["password"], "openid offline_access")
    first = client.refresh(tokens["refresh_token"]).json()
    assert first["refresh_token"] == tokens["refresh_token"]  # fresh: kept, not rotated
    assert client.refresh(tokens["refresh_token"]).status_code == 200  # and still good

    def another(**metadata) -> Client:
        client_id, secret = f"rot-{secrets.token_hex(4)}", secrets.token_urlsafe(32)
        dev_provider.put_client(client_id, secret, base_url="http://localhost:3999", **metadata)
        if metadata.get("token_endpoint_auth_method") == "none":
            secret = None
        return Client(dev_provider, client_id, secret, "http://localhost:3999/callback")

    public = another(token_endpoint_auth_method="none")
    public_tokens = public.sign_in(member["username"], member["password"], "openid offline_access")
    rotated = public.refresh(public_tokens["refresh_token"]).json()["refresh_token"]
    assert rotated != public_tokens["refresh_token"]
    refused(public.refresh(public_tokens["refresh_token"]), 400, "invalid_grant", "grant request is invalid",
            error_uri="https://openid.sh/debug/invalid_grant")
    refused(public.refresh(rotated), 400, "invalid_grant", "grant request is invalid")  # reuse ended the grant

    # 7 s refresh tokens: past 70% of that (5 s) the confidential client's rotates.
    short = another(refresh_token_ttl=7)
    never = another(refresh_token_ttl=7, rotate_refresh_token=False)
    short_tokens = short.sign_in(member["username"], member["password"], "openid offline_access")
    never_tokens = never.sign_in(member["username"], member["password"], "openid offline_access")
    assert short.refresh(short_tokens["refresh_token"]).json()["refresh_token"] == short_tokens["refresh_token"]
    time.sleep(5.2)
    rotated = short.refresh(short_tokens["refresh_token"]).json()["refresh_token"]
    assert rotated != short_tokens["refresh_token"]
    assert short.refresh(rotated).status_code == 200
    kept = never.refresh(never_tokens["refresh_token"]).json()["refresh_token"]
    assert kept == never_tokens["refresh_token"]


# --- 4. first_screen


@pytest.mark.parametrize(("params", "sign_up"), [
    ({"first_screen": "register"}, True),
    ({"first_screen": "register", "interaction_mode": "signUp"}, True),  # what the app sends
    ({"first_screen": "identifier:register"}, True),
    ({"interaction_mode": "signUp"}, True),  # older Logto SDKs
    ({"first_screen": "sign_in", "interaction_mode": "signUp"}, False),  # first_screen wins
    ({"first_screen": "identifier:sign_in"}, False),
    ({"first_screen": "no-such-screen", "interaction_mode": "signUp"}, False),  # Logto ignores them all then
    ({}, False),
])
def test_first_screen_opens_the_sign_up_screen_as_logto_does(client, dev_provider, params, sign_up):
    url, _ = client.authorization_url("openid", **params)
    browser = ProviderBrowser(dev_provider.origin)
    try:
        page = browser.open(url)
        assert isinstance(page, httpx.Response) and page.status_code == 200
        (form,) = forms(page.text)
        assert form["action"].endswith("/register") is sign_up, page.text
        assert ("<h1>Create account</h1>" in page.text) is sign_up
    finally:
        browser.close()


def test_first_screen_register_signs_up_a_new_user(client, dev_provider):
    url, verifier = client.authorization_url("openid offline_access profile", first_screen="register")
    browser = ProviderBrowser(dev_provider.origin)
    try:
        page = browser.open(url)
        (form,) = forms(page.text)
        username = f"new-{secrets.token_hex(3)}"
        response = browser.http.post(urllib.parse.urljoin(str(page.url), form["action"]),
                                     data={"username": username, "name": "New User", "password": secrets.token_urlsafe(12)})
        callback = browser._follow(response)
    finally:
        browser.close()
    assert isinstance(callback, str) and callback.startswith(client.redirect_uri)
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))["code"]
    tokens = client.token(grant_type="authorization_code", code=code, redirect_uri=client.redirect_uri, code_verifier=verifier)
    assert tokens.status_code == 200 and tokens.json()["id_token"]
