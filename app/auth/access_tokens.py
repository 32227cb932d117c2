"""Checking a JWT access token sent to the app's own API (RFC 9068 style): a pure check
and an async one that brings the provider's keys."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from .id_token import LEEWAY
from .runtime import get_flow


class InvalidAccessToken(Exception):
    """Missing, malformed, badly signed, expired, or for another issuer or API: 401."""


class InsufficientScope(Exception):
    """A valid token without the scope the API needs: 403."""

    def __init__(self, missing: Iterable[str]):
        self.missing = sorted(missing)
        super().__init__(f"missing scope {' '.join(self.missing)}")


def check_access_token(
    token: str, keys: KeySet, *, issuer: str, resource: str, algorithms: Iterable[str],
    required_scopes: Iterable[str] = (), organization_id: str | None = None, now: int | None = None,
) -> dict[str, Any]:
    """The token's claims, if it is an access token (`typ` at+jwt, RFC 9068) of this issuer,
    for this API, current, with the scopes, and for `organization_id` exactly (None: for no
    organization: a token an organization role granted is not the user's own)."""
    now = int(time.time()) if now is None else now
    if not token or len(token) > 16_384:
        raise InvalidAccessToken("no token")
    try:
        decoded = jwt.decode(token, keys, algorithms=list(algorithms))
    except InvalidKeyIdError:
        raise
    except (JoseError, ValueError, TypeError, KeyError) as err:
        raise InvalidAccessToken(f"signature or format: {err}") from err
    if str(decoded.header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
        raise InvalidAccessToken("not an access token (typ)")
    claims = decoded.claims
    if claims.get("organization_id") != organization_id:
        raise InvalidAccessToken("issued for another organization context")
    aud = claims.get("aud")
    if claims.get("iss") != issuer:
        raise InvalidAccessToken("iss")
    if resource not in ([aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []):
        raise InvalidAccessToken("aud is not this API")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp < now - LEEWAY:
        raise InvalidAccessToken("expired")
    granted = set(str(claims.get("scope", "")).split())
    missing = set(required_scopes) - granted
    if missing:
        raise InsufficientScope(missing)
    return dict(claims)


async def verify_access_token(
    token: str, *, resource: str, required_scopes: Iterable[str] = (), organization_id: str | None = None
) -> dict[str, Any]:
    """`check_access_token` with the provider's keys (re-fetched once, throttled, for a new kid)."""
    client = get_flow().client
    metadata = await client.metadata()
    check = dict(issuer=metadata.issuer, resource=resource, algorithms=metadata.id_token_algorithms,
                 required_scopes=tuple(required_scopes), organization_id=organization_id)
    try:
        return check_access_token(token, await client.keys(), **check)
    except InvalidKeyIdError:
        try:
            return check_access_token(token, await client.keys(refresh=True), **check)
        except InvalidKeyIdError as err:
            raise InvalidAccessToken("unknown signing key") from err
