"""A provider that says whatever a test tells it to, as an httpx transport.

For the cases a real provider never produces (wrong issuer, bad signature,
broken responses). The app's own client code runs against it unchanged.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

ISSUER = "https://op.example/oidc"
CLIENT_ID = "test-app"
APP_URL = "https://app.example"


def app_config(op: FakeProvider, **changes: Any):
    """The AuthConfig of an app at APP_URL that signs in with this fake provider."""
    from reflex_logto.config import AuthConfig, Secret

    return AuthConfig(
        issuer=op.issuer,
        client_id=op.client_id,
        client_secret=Secret("client-secret"),
        base_url=APP_URL,
        cookie_secret=Secret("c" * 32),
        **changes,
    )


class FakeProvider:
    def __init__(self, issuer: str = ISSUER, client_id: str = CLIENT_ID):
        self.issuer = issuer
        self.client_id = client_id
        self.key = ECKey.generate_key("P-384", parameters={"kid": "key-1", "alg": "ES384", "use": "sig"})
        self.discovery: dict[str, Any] = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/auth",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "userinfo_endpoint": f"{issuer}/me",
            "revocation_endpoint": f"{issuer}/token/revocation",
            "end_session_endpoint": f"{issuer}/session/end",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES384"],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
        }
        self.requests: list[httpx.Request] = []
        # What the token endpoint answers; tests replace it.
        self.token_response: Callable[[httpx.Request], httpx.Response] = self._good_token_response
        self.nonce: str | None = None
        self.claims: dict[str, Any] = {"name": "Ada", "email": "ada@example.com"}
        self.expires_in = 3600
        self.issued = 0  # token responses so far; numbers the tokens
        # Replace to serve another key set (None: the one key above), or another userinfo.
        self.jwks_document: dict[str, Any] | None = None
        self.userinfo: Callable[[httpx.Request], httpx.Response] = lambda request: httpx.Response(
            200, json={"sub": "user-1", **self.claims}
        )

    # -- building blocks ----------------------------------------------------

    def jwks(self) -> dict[str, Any]:
        if self.jwks_document is not None:
            return self.jwks_document
        return KeySet([self.key]).as_dict(private=False)

    def id_token(self, *, key: ECKey | None = None, header: dict[str, Any] | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "user-1",
            "aud": self.client_id,
            "exp": now + 3600,
            "iat": now,
            "nonce": self.nonce,
            **self.claims,
            **overrides,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        signing_key = key or self.key
        header = header or {"alg": "ES384", "kid": signing_key.kid}
        return jwt.encode(header, claims, signing_key, algorithms=[header["alg"]])

    def _good_token_response(self, request: httpx.Request) -> httpx.Response:
        """Code exchange: the first tokens. Refresh: new (rotated) tokens and a new ID token."""
        self.issued += 1
        grant = form(request).get("grant_type")
        first = grant == "authorization_code"
        return httpx.Response(
            200,
            json={
                "access_token": "at-123" if first else f"at-{self.issued}",
                "refresh_token": "rt-456" if first else f"rt-{self.issued}",
                "id_token": self.id_token(**({} if first else {"nonce": None})),
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "scope": "openid offline_access profile email",
            },
        )

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r.url.path == urllib.parse.urlsplit(self.issuer).path + path)

    # -- the transport -------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        base = urllib.parse.urlsplit(self.issuer).path
        path = request.url.path.removeprefix(base)
        if path == "/.well-known/openid-configuration":
            return httpx.Response(200, json=self.discovery)
        if path == "/jwks":
            return httpx.Response(200, json=self.jwks())
        if path == "/token":
            return self.token_response(request)
        if path == "/token/revocation":
            return httpx.Response(200)
        if path == "/me":
            return self.userinfo(request)
        return httpx.Response(404, json={"error": "not_found"})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def form(request: httpx.Request) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(request.content.decode()))


def json_body(request: httpx.Request) -> Any:
    return json.loads(request.content)
