"""A hostile provider against the app's real sign-in code: every attack must fail safely.

Each case scripts one misbehaviour of the provider; the app's handlers,
routes and OIDC client run unchanged. A refused case must meet
`refused_safely`: a clear error, no session, no cookie, and no further
token or userinfo request after the bad response. Case ids follow the
OpenID Foundation's relying-party certification tests where one exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from tests.support.fake_provider import FakeProvider
from tests.support.relying_party import RelyingParty, refused_safely

NOW = int(time.time())


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_signed(op: FakeProvider, header: dict, secret: bytes | None, **overrides) -> str:
    """A token built by hand: HS256 with any secret (even empty), or unsigned for secret=None."""
    now = int(time.time())
    claims = {"iss": op.issuer, "sub": "user-1", "aud": op.client_id, "exp": now + 300, "iat": now,
              "nonce": op.nonce, **overrides}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = b"" if secret is None else hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def answer_with_id_token(op: FakeProvider, make_token) -> None:
    """The token endpoint answers with whatever ID token `make_token(op)` builds."""
    op.token_response = lambda request: httpx.Response(
        200, json={"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": make_token(op)}
    )


def stranger_key(kid: str = "key-1") -> ECKey:
    return ECKey.generate_key("P-384", parameters={"kid": kid})


def without(claim: str):
    def make(op: FakeProvider) -> str:
        claims = jwt.decode(op.id_token(), KeySet([op.key]), algorithms=["ES384"]).claims
        del claims[claim]
        return jwt.encode({"alg": "ES384", "kid": op.key.kid}, claims, op.key, algorithms=["ES384"])

    return make


BAD_ID_TOKENS = {
    "rp-id_token-bad-sig-es384": lambda op: op.id_token(key=stranger_key()),
    "rp-id_token-sig-none": lambda op: hand_signed(op, {"alg": "none"}, None),
    "hs256-keyed-with-client-secret": lambda op: hand_signed(op, {"alg": "HS256"}, b"client-secret"),
    "hs256-keyed-with-provider-public-key": lambda op: hand_signed(
        op, {"alg": "HS256", "kid": "key-1"}, json.dumps(op.jwks()["keys"][0]).encode()
    ),
    "hs256-keyed-with-empty-key": lambda op: hand_signed(op, {"alg": "HS256"}, b""),
    "rp-id_token-issuer-mismatch": lambda op: op.id_token(iss="https://impostor.example/oidc"),
    "rp-id_token-aud": lambda op: op.id_token(aud="someone-else"),
    "aud-missing": without("aud"),
    "aud-with-untrusted-extra": lambda op: op.id_token(aud=[op.client_id, "untrusted-api"], azp=op.client_id),
    "azp-not-the-app": lambda op: op.id_token(aud=[op.client_id], azp="someone-else"),
    "rp-id_token-sub": without("sub"),
    "sub-empty": lambda op: op.id_token(sub=""),
    "rp-id_token-iat": without("iat"),
    "iat-in-the-future": lambda op: op.id_token(iat=NOW + 3600),
    "exp-missing": without("exp"),
    "exp-past": lambda op: op.id_token(exp=NOW - 3600),
    "rp-nonce-invalid": lambda op: op.id_token(nonce="not-the-one-sent"),
    "nonce-missing": without("nonce"),
    "rp-id_token-kid-absent-multiple-jwks": lambda op: op.id_token(header={"alg": "ES384"}),
}


async def sign_in_with_bad_response(rp: RelyingParty, op: FakeProvider):
    params = await rp.begin()
    mark = len(op.requests)
    page, session_route = await rp.callback(await rp.code_response(params))
    token_calls = [i for i, r in enumerate(op.requests) if i >= mark and r.url.path.endswith("/token")]
    return page, session_route, (token_calls[0] + 1 if token_calls else mark)


@pytest.mark.parametrize("case", list(BAD_ID_TOKENS))
async def test_bad_id_token_is_refused(rp, op, case):
    if case == "rp-id_token-kid-absent-multiple-jwks":
        op.jwks_document = KeySet([op.key, stranger_key("key-2")]).as_dict(private=False)
    if case == "rp-id_token-sig-none":
        op.discovery["id_token_signing_alg_values_supported"] = ["none", "ES384"]  # listed, still refused
    answer_with_id_token(op, BAD_ID_TOKENS[case])
    page, session_route, after = await sign_in_with_bad_response(rp, op)
    assert page.error_code == "invalid_id_token"
    refused_safely(rp, page, session_route, bad_response_at=after)


async def test_expiry_within_leeway_is_accepted(rp, op):
    answer_with_id_token(op, lambda op: op.id_token(exp=int(time.time()) - 30))
    assert await rp.sign_in() == "https://app.example/"


async def test_rp_id_token_kid_absent_single_jwks_is_accepted(rp, op):
    answer_with_id_token(op, lambda op: op.id_token(header={"alg": "ES384"}))
    assert await rp.sign_in() == "https://app.example/"


async def test_unknown_key_types_in_the_jwks_are_ignored(rp, op):
    op.jwks_document = {"keys": [
        {"kty": "XYZ", "kid": "weird", "x": "1"},
        {"kty": "EC", "crv": "P-384", "kid": "broken"},  # missing coordinates
        {"kty": "RSA", "use": "enc", "kid": "enc-1", "n": "sXch", "e": "AQAB"},
        *KeySet([op.key]).as_dict(private=False)["keys"],
    ]}
    assert await rp.sign_in() == "https://app.example/"


async def test_rp_key_rotation_op_sign_key_from_ec_to_rsa(rp, op):
    op.discovery["id_token_signing_alg_values_supported"] = ["ES384", "RS256"]
    await rp.sign_in()
    jwks_fetches = op.count("/jwks")
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig"})
    op.jwks_document = KeySet([rsa]).as_dict(private=False)
    answer_with_id_token(op, lambda op: op.id_token(key=rsa, header={"alg": "RS256", "kid": "rsa-1"}))
    rp.browser.cookies.clear()
    assert await rp.sign_in() == "https://app.example/"
    assert op.count("/jwks") == jwks_fetches + 1


async def test_rp_discovery_issuer_not_matching_config(rp, op):
    op.discovery["issuer"] = "https://impostor.example/oidc"
    from tests.support.reflex_state import auth_state, navigation, run

    page = auth_state("/")
    events = await run(page.sign_in)
    assert page.error_code == "invalid_provider_metadata" and navigation(events) is None
    assert rp.count("transactions") == 0 and op.count("/token") == 0


@pytest.mark.parametrize(
    ("case", "response"),
    [
        ("iss-wrong", {"iss": "https://impostor.example/oidc"}),
        ("iss-missing-though-advertised", {"iss": None}),
    ],
)
async def test_authorization_response_iss_rfc9207(rp, op, case, response):
    params = await rp.begin()
    query = {k: v for k, v in (await rp.code_response(params, **{k: v for k, v in response.items() if v})).items()}
    if response.get("iss") is None:
        query.pop("iss")
    mark = len(op.requests)
    page, session_route = await rp.callback(query)
    assert page.error_code == "invalid_callback"
    refused_safely(rp, page, session_route, bad_response_at=mark)


def timeout(request):
    raise httpx.ReadTimeout("the token endpoint did not answer in time")


TOKEN_RESPONSES = {
    "no-id-token": (lambda r: httpx.Response(200, json={"access_token": "a", "token_type": "Bearer"}), "invalid_id_token"),
    "not-json": (lambda r: httpx.Response(200, text="<html>hello</html>"), "token_request_failed"),
    "server-error-5xx": (lambda r: httpx.Response(503, json={"error": "temporarily_unavailable"}), "provider_unavailable"),
    "slower-than-the-timeout": (timeout, "provider_unavailable"),
    "ten-megabytes": (lambda r: httpx.Response(200, content=b'{"access_token": "' + b"a" * 10_000_000 + b'"}'), "token_request_failed"),
    "error-invalid-grant": (lambda r: httpx.Response(400, json={"error": "invalid_grant"}), "token_request_failed"),
    "access-token-missing": (lambda r: httpx.Response(200, json={"token_type": "Bearer", "id_token": "x.y.z"}), "token_request_failed"),
}


@pytest.mark.parametrize("case", list(TOKEN_RESPONSES))
async def test_broken_token_response_is_refused(rp, op, case):
    respond, code = TOKEN_RESPONSES[case]
    op.token_response = respond
    page, session_route, after = await sign_in_with_bad_response(rp, op)
    assert page.error_code == code
    refused_safely(rp, page, session_route, bad_response_at=after)


async def test_rp_userinfo_bad_sub_claim(rp, op):
    from reflex_logto.reflex.account_state import AccountState
    from tests.support.reflex_state import auth_state, run

    await rp.sign_in()
    op.userinfo = lambda request: httpx.Response(200, json={"sub": "someone-else", "name": "Mallory"})
    page = auth_state("/", cookie=rp.cookie_header(), state_class=AccountState)
    await run(page.load_session)
    await run(page.check_with_provider)
    assert page.provider_check == "The sign-in service did not confirm your sign-in."
    assert "Mallory" not in repr(page.get_delta())


@pytest.mark.parametrize(("claim", "value"), [("sub", "someone-else"), ("iss", "https://impostor.example/oidc"), ("aud", "other-app")])
async def test_refresh_with_another_identity_ends_the_session(rp, op, claim, value):
    from tests.support.reflex_state import auth_state, run

    op.expires_in = 4
    await rp.sign_in()
    page = auth_state("/", cookie=rp.cookie_header())
    await run(page.load_session)
    flow = rp.flow
    session = (await flow.sessions.lookup(rp.browser.cookies["__Host-logto_session"])).session
    tokens = await flow.sessions.tokens(session.key)
    assert await flow.sessions.take_refresh_lease(session.key, "test")
    await flow.sessions.save_refreshed(session.key, "test", type(tokens)(**{**tokens.to_dict(), "refresh_at": 0}))
    # The provider's next ID token names another identity, correctly signed.
    if claim == "iss":
        answer_with_id_token(op, lambda op: op.id_token(iss=value, nonce=None))
        op.token_response = _with_refresh(op.token_response)
    else:
        op.claims = {**op.claims, claim: value}
    await run(page.heartbeat)
    assert not page.signed_in and page.notice == "revoked"
    assert rp.count("sessions") == 0


def _with_refresh(respond):
    def wrapped(request):
        response = respond(request)
        body = response.json()
        return httpx.Response(200, json={**body, "refresh_token": "rt-new"})

    return wrapped


async def test_many_unknown_kids_cost_one_jwks_fetch(rp, op):
    await rp.flow.client.keys()  # cached
    fetches = op.count("/jwks")
    for i in range(5):
        answer_with_id_token(op, lambda op, i=i: op.id_token(key=stranger_key(f"random-{i}")))
        page, session_route, after = await sign_in_with_bad_response(rp, op)
        refused_safely(rp, page, session_route, bad_response_at=after)
    assert op.count("/jwks") == fetches + 1


@pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")
def test_hs256_with_a_secret_really_verifies(op):
    """The forged HS256 tokens above are well-formed: only the algorithm policy stops them."""
    token = hand_signed(op, {"alg": "HS256"}, b"client-secret")
    assert jwt.decode(token, OctKey.import_key(b"client-secret"), algorithms=["HS256"]).claims["sub"] == "user-1"
