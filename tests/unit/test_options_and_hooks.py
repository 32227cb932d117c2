"""Sign-in options the app declares, the hooks it registers, and the impersonation banner's data."""

import urllib.parse

import pytest

from reflex_logto.oidc.options import SIGN_UP, SignInOptions
from reflex_logto.reflex import runtime
from reflex_logto.sessions.hooks import Hooks
from tests.support.fake_provider import APP_URL, app_config
from tests.support.reflex_state import auth_state, navigation, run
from tests.support.relying_party import RelyingParty


def test_options_become_authorization_parameters():
    assert SignInOptions().params() == {"prompt": "consent"}
    assert SIGN_UP.params() == {"first_screen": "register", "interaction_mode": "signUp", "prompt": "consent"}
    options = SignInOptions(login_hint="ada@example.com", direct_sign_in="social:google", prompt="login", extra_params={"ui_locales": "fr"})
    assert options.params() == {
        "ui_locales": "fr", "login_hint": "ada@example.com", "direct_sign_in": "social:google", "prompt": "login",
    }
    with pytest.raises(ValueError, match="redirect_uri"):
        SignInOptions(extra_params={"redirect_uri": "https://evil.example"}).params()


async def authorization_params(op, tmp_path, handler_name, *args, options=None):
    runtime.configure(
        app_config(op, session_db=str(tmp_path / "s.sqlite3")), backend_url=APP_URL, transport=op.transport(),
        sign_in_options=options,
    )
    flow = runtime.get_flow()
    page = auth_state("/")
    start = navigation(await run(lambda: getattr(page, handler_name)(*args)))
    url = await flow.claim_sign_in(start.rsplit("/", 1)[1], "b" * 43)
    await runtime.shutdown()
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


async def test_create_account_opens_the_sign_up_screen(op, tmp_path):
    params = await authorization_params(op, tmp_path, "sign_up")
    assert params["first_screen"] == "register" and params["interaction_mode"] == "signUp"


async def test_the_browser_can_only_pick_a_declared_option(op, tmp_path):
    declared = {"google": SignInOptions(direct_sign_in="social:google")}
    params = await authorization_params(op, tmp_path, "sign_in_with", "google", options=declared)
    assert params["direct_sign_in"] == "social:google"
    for forged in ("made-up", {"login_hint": "victim"}, None, 7):
        params = await authorization_params(op, tmp_path, "sign_in_with", forged, options=declared)
        assert params["prompt"] == "consent" and not {"direct_sign_in", "login_hint", "first_screen"} & set(params)


async def test_hooks_run_once_per_sign_in_and_sign_out_and_a_failing_one_breaks_nothing(op, tmp_path):
    calls = []

    async def on_sign_in(claims, tokens):
        calls.append(("in", claims["sub"], tokens.access_token))
        raise RuntimeError("the app's database is down")

    async def on_sign_out(claims):
        calls.append(("out", claims["sub"]))

    party = RelyingParty(op, str(tmp_path / "s.sqlite3"))
    runtime.configure(party.flow.config, backend_url=APP_URL, transport=op.transport(), hooks=Hooks(on_sign_in, on_sign_out))
    party.flow = runtime.get_flow()
    assert await party.sign_in() == f"{APP_URL}/"
    await run(auth_state("/", cookie=party.cookie_header()).sign_out)
    assert calls == [("in", "user-1", "at-123"), ("out", "user-1")]
    await party.close()


async def acting_party_after_sign_in(rp) -> str:
    """Sign in through the app's real code; what the page then shows as the acting party."""
    await rp.sign_in()
    page = auth_state("/", cookie=rp.cookie_header())
    await run(page.load_session)
    return page.acting_party


def answer_with_access_token(op, claims, key) -> None:
    """The token endpoint answers with a JWT access token carrying `claims`, signed by `key`."""
    import httpx
    from joserfc import jwt

    def respond(request):
        access_token = jwt.encode({"alg": "ES384", "kid": op.key.kid}, claims, key, algorithms=["ES384"])
        return httpx.Response(200, json={"access_token": access_token, "id_token": op.id_token(), "token_type": "Bearer"})

    op.token_response = respond


async def test_impersonation_is_shown(op, rp):
    op.claims = {**op.claims, "act": {"sub": "support-agent-7"}}
    assert await acting_party_after_sign_in(rp) == "support-agent-7"


async def test_impersonation_in_a_jwt_access_token_is_shown(op, rp):
    claims = {"iss": op.issuer, "sub": "user-1", "aud": "https://api.example", "exp": 9999999999, "act": {"sub": "admin-3"}}
    answer_with_access_token(op, claims, op.key)
    assert await acting_party_after_sign_in(rp) == "admin-3"


async def test_an_unsigned_act_in_an_access_token_is_ignored(op, rp):
    from joserfc.jwk import ECKey

    stranger = ECKey.generate_key("P-384", parameters={"kid": op.key.kid})
    answer_with_access_token(op, {"iss": op.issuer, "exp": 9999999999, "act": {"sub": "mallory"}}, stranger)
    assert await acting_party_after_sign_in(rp) == ""
