"""The app's own API: a provider-signed token that is malformed in any claim the check relies on is a 401."""

import time

import pytest

from tests.unit.test_access_tokens import access_token

NOW = int(time.time())


@pytest.mark.parametrize(
    "overrides",
    [{"sub": None}, {"sub": 7}, {"sub": ["user-1"]}, {"sub": ""}, {"nbf": NOW + 3600}, {"iat": NOW + 3600},
     {"exp": "tomorrow"}, {"exp": True}, {"scope": {"read:demo": True}}, {"aud": None}, {"iss": None}],
    ids=["no-sub", "int-sub", "list-sub", "empty-sub", "future-nbf", "future-iat", "str-exp", "bool-exp",
         "dict-scope", "no-aud", "no-iss"],
)
async def test_a_provider_signed_token_with_a_bad_claim_gets_401(op, api, overrides):
    response = await api.get("/api/demo", headers={"Authorization": f"Bearer {access_token(op, **overrides)}"})
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_token"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
