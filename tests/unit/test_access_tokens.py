"""The app's API checks JWT access tokens: issuer, audience (the API), expiry, scope."""

import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from reflex_logto.oidc.access_token import InsufficientScope, InvalidAccessToken, check_access_token
from tests.support.fake_provider import APP_URL

API = f"{APP_URL}/api"
NOW = int(time.time())



def access_token(op, *, key=None, **overrides):
    claims = {"iss": op.issuer, "aud": API, "sub": "user-1", "exp": NOW + 300, "iat": NOW, "scope": "read:demo", **overrides}
    signing = key or op.key
    return jwt.encode({"alg": "ES384", "kid": signing.kid, "typ": "at+jwt"}, {k: v for k, v in claims.items() if v is not None},
                      signing, algorithms=["ES384"])


def check(op, token, scopes=("read:demo",)):
    return check_access_token(token, KeySet([op.key]), issuer=op.issuer, resource=API, algorithms=["ES384"],
                              required_scopes=scopes, now=NOW)


def test_a_good_token_passes(op):
    assert check(op, access_token(op))["sub"] == "user-1"


@pytest.mark.parametrize(
    "overrides", [{"aud": "https://other.example/api"}, {"iss": "https://impostor.example/oidc"}, {"exp": NOW - 3600}, {"exp": None}]
)
def test_wrong_audience_issuer_or_time_is_invalid(op, overrides):
    with pytest.raises(InvalidAccessToken):
        check(op, access_token(op, **overrides))


def test_a_missing_scope_is_its_own_refusal(op):
    with pytest.raises(InsufficientScope) as refused:
        check(op, access_token(op, scope="openid write:other"))
    assert refused.value.missing == ["read:demo"]


def test_a_forged_signature_is_invalid(op):
    with pytest.raises(InvalidAccessToken):
        check(op, access_token(op, key=ECKey.generate_key("P-384", parameters={"kid": "key-1"})))


async def test_the_api_answers_a_good_token_and_explains_refusals(op, api):
    good = await api.get("/api/demo", headers={"Authorization": f"Bearer {access_token(op)}"})
    assert good.status_code == 200 and good.json()["message"] == "Hello, user-1"
    no_scope = await api.get("/api/demo", headers={"Authorization": f"Bearer {access_token(op, scope='openid')}"})
    assert no_scope.status_code == 403
    assert no_scope.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="read:demo"'
    wrong_api = await api.get("/api/demo", headers={"Authorization": f"Bearer {access_token(op, aud='https://x.example')}"})
    assert wrong_api.status_code == 401 and wrong_api.json()["error"] == "invalid_token"
    for header in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer "}, {"Authorization": "Bearer not.a.jwt"}):
        assert (await api.get("/api/demo", headers=header)).status_code == 401


def test_an_id_token_or_other_jwt_is_not_an_access_token(op):
    op.nonce = "n"
    id_token_for_the_api = op.id_token(aud=API, scope="read:demo")  # signed by the provider, typ JWT
    with pytest.raises(InvalidAccessToken, match="typ"):
        check(op, id_token_for_the_api)


def test_an_organization_token_is_not_the_users_own(op):
    with pytest.raises(InvalidAccessToken, match="organization"):
        check(op, access_token(op, organization_id="org-acme"))
    claims = check_access_token(access_token(op, organization_id="org-acme"), KeySet([op.key]), issuer=op.issuer,
                                resource=API, algorithms=["ES384"], organization_id="org-acme", now=NOW)
    assert claims["organization_id"] == "org-acme"
    with pytest.raises(InvalidAccessToken):
        check_access_token(access_token(op, organization_id="org-acme"), KeySet([op.key]), issuer=op.issuer,
                           resource=API, algorithms=["ES384"], organization_id="org-other", now=NOW)


def check_organization(op, token, organization_id):
    return check_access_token(token, KeySet([op.key]), issuer=op.issuer, resource=f"urn:logto:organization:{organization_id}",
                              algorithms=["ES384"], organization_id=organization_id, now=NOW)


def test_a_logto_organization_token_is_accepted_for_its_own_organization_only(op):
    # As Logto issues them: no organization_id claim, the organization in the audience.
    token = access_token(op, aud="urn:logto:organization:org-acme", scope="read:members", client_id="app")
    assert check_organization(op, token, "org-acme")["scope"] == "read:members"
    with pytest.raises(InvalidAccessToken, match="aud"):
        check_organization(op, token, "org-globex")


def test_an_organization_token_is_not_a_token_for_the_users_own_api(op):
    token = access_token(op, aud=[API, "urn:logto:organization:org-acme"])
    with pytest.raises(InvalidAccessToken, match="organization"):
        check(op, token)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [({"sub": None}, "sub"), ({"sub": 42}, "sub"), ({"sub": " "}, "sub"), ({"nbf": NOW + 3600}, "nbf"),
     ({"iat": NOW + 3600}, "iat"), ({"exp": "soon"}, "exp"), ({"scope": ["read:demo"]}, "scope")],
)
def test_every_registered_claim_it_relies_on_is_checked(op, overrides, reason):
    with pytest.raises(InvalidAccessToken, match=reason):
        check(op, access_token(op, **overrides))
