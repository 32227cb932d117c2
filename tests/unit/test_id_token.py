import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from reflex_logto.errors import InvalidIdToken, InvalidProviderMetadata, UnknownSigningKey
from reflex_logto.oidc.id_token import allowed_algorithms, validate_id_token
from tests.support.fake_provider import FakeProvider

NOW = int(time.time())


@pytest.fixture
def op():
    provider = FakeProvider()
    provider.nonce = "nonce-1"
    return provider


def check(op, token, *, keys=None, nonce="nonce-1", algorithms=("ES384",), now=NOW):
    return validate_id_token(
        token,
        keys or KeySet.import_key_set(op.jwks()),
        issuer=op.issuer,
        client_id=op.client_id,
        nonce=nonce,
        algorithms=algorithms,
        now=now,
    )


def test_valid_token_gives_its_claims(op):
    claims = check(op, op.id_token())
    assert claims["sub"] == "user-1"
    assert claims["email"] == "ada@example.com"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "https://other.example/oidc"}, "iss"),
        ({"aud": "another-app"}, "aud"),
        ({"aud": ["test-app", "untrusted-api"], "azp": "test-app"}, "another party"),
        ({"aud": ["test-app"], "azp": "someone-else"}, "azp"),
        ({"nonce": "other"}, "nonce"),
        ({"exp": NOW - 3600}, "expired"),
        ({"iat": NOW + 3600}, "future"),
        ({"sub": ""}, "sub"),
        ({"sub": 7}, "sub"),
    ],
)
def test_wrong_claim_is_refused(op, overrides, reason):
    with pytest.raises(InvalidIdToken, match=f"(?i){reason}"):
        check(op, op.id_token(**overrides))


@pytest.mark.parametrize("claim", ["iss", "sub", "aud", "exp", "iat", "nonce"])
def test_missing_claim_is_refused(op, claim):
    token = op.id_token()
    claims = jwt.decode(token, KeySet.import_key_set(op.jwks()), algorithms=["ES384"]).claims
    del claims[claim]
    forged = jwt.encode({"alg": "ES384", "kid": "key-1"}, claims, op.key, algorithms=["ES384"])
    with pytest.raises(InvalidIdToken):
        check(op, forged)


def test_expiry_within_leeway_is_accepted(op):
    assert check(op, op.id_token(exp=NOW - 30))["sub"] == "user-1"


def test_signature_from_another_key_is_refused(op):
    stranger = ECKey.generate_key("P-384", parameters={"kid": "key-1"})
    with pytest.raises(InvalidIdToken, match="signature"):
        check(op, op.id_token(key=stranger))


def test_alg_none_is_refused_even_if_listed(op):
    header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    body = op.id_token().split(".")[1]
    with pytest.raises(InvalidIdToken):
        check(op, f"{header}.{body}.", algorithms=allowed_algorithms(["none", "ES384"]))


def test_hs256_with_the_client_secret_is_refused(op):
    secret = OctKey.import_key("the-client-secret-the-client-secret")
    token = jwt.encode({"alg": "HS256"}, {"iss": op.issuer, "sub": "x", "aud": op.client_id, "exp": NOW + 60, "iat": NOW, "nonce": "nonce-1"}, secret)
    keys = KeySet([secret])
    with pytest.raises(InvalidIdToken):
        check(op, token, keys=keys, algorithms=allowed_algorithms(["HS256", "ES384"]))


def test_unknown_kid_asks_for_a_refetch(op):
    rotated = ECKey.generate_key("P-384", parameters={"kid": "key-2"})
    with pytest.raises(UnknownSigningKey):
        check(op, op.id_token(key=rotated))


def test_rsa_key_signs_when_rs256_is_allowed(op):
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    token = op.id_token(key=rsa, header={"alg": "RS256", "kid": "rsa-1"})
    assert check(op, token, keys=KeySet([rsa]), algorithms=("RS256",))["sub"] == "user-1"


def test_allowed_algorithms_keep_only_asymmetric_ones():
    assert allowed_algorithms(["ES384", "HS256", "none", "RS256"]) == ("ES384", "RS256")
    assert allowed_algorithms(None) == ("RS256",)
    with pytest.raises(InvalidProviderMetadata):
        allowed_algorithms(["HS256", "none"])


def test_missing_token_is_refused(op):
    with pytest.raises(InvalidIdToken, match="no id_token"):
        check(op, None)
