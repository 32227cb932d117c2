import time

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from reflex_logto.errors import InvalidLogoutToken
from reflex_logto.oidc.logout_token import BACKCHANNEL_LOGOUT_EVENT, validate_logout_token

NOW = int(time.time())



def logout_token(op, *, key=None, typ="logout+jwt", **overrides):
    claims = {
        "iss": op.issuer, "aud": op.client_id, "iat": NOW, "exp": NOW + 120, "jti": "jti-1",
        "sub": "user-1", "sid": "sid-1", "events": {BACKCHANNEL_LOGOUT_EVENT: {}}, **overrides,
    }
    claims = {k: v for k, v in claims.items() if v is not None}
    signing = key or op.key
    header = {"alg": "ES384", "kid": signing.kid, **({"typ": typ} if typ else {})}
    return jwt.encode(header, claims, signing, algorithms=["ES384"])


def check(op, token):
    return validate_logout_token(
        token, KeySet.import_key_set(op.jwks()), issuer=op.issuer, client_id=op.client_id, algorithms=["ES384"], now=NOW
    )


def test_valid_token_names_the_sessions_to_end(op):
    request = check(op, logout_token(op))
    assert (request.sub, request.sid, request.jti) == ("user-1", "sid-1", "jti-1")
    assert request.expires_at > NOW


def test_sid_alone_or_sub_alone_is_enough(op):
    assert check(op, logout_token(op, sub=None)).sid == "sid-1"
    assert check(op, logout_token(op, sid=None)).sub == "user-1"


@pytest.mark.parametrize(
    "overrides",
    [
        {"iss": "https://other.example/oidc"},
        {"aud": "another-app"},
        {"iat": None},
        {"iat": NOW + 3600},
        {"iat": NOW - 3600},
        {"exp": NOW - 3600},
        {"exp": None},
        {"jti": None},
        {"events": None},
        {"events": {"http://schemas.openid.net/event/other": {}}},
        {"events": {BACKCHANNEL_LOGOUT_EVENT: "yes"}},
        {"nonce": "n"},
        {"sub": None, "sid": None},
    ],
)
def test_forged_or_malformed_tokens_are_refused(op, overrides):
    with pytest.raises(InvalidLogoutToken):
        check(op, logout_token(op, **overrides))


def test_an_id_token_is_not_a_logout_token(op):
    op.nonce = "n"
    with pytest.raises(InvalidLogoutToken):
        check(op, op.id_token())


def test_wrong_signature_or_typ_is_refused(op):
    with pytest.raises(InvalidLogoutToken):
        check(op, logout_token(op, key=ECKey.generate_key("P-384", parameters={"kid": "key-1"})))
    with pytest.raises(InvalidLogoutToken):
        check(op, logout_token(op, typ="at+jwt"))
    for garbage in (None, "", "a.b.c", "x" * 20_000):
        with pytest.raises(InvalidLogoutToken):
            check(op, garbage)
