"""Checking a JWT access token sent to the app's own API (RFC 9068): a pure function of the
token, the keys and the clock."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from joserfc.jwk import KeySet

from reflex_logto.errors import InsufficientScope, InvalidAccessToken
from reflex_logto.oidc.id_token import LEEWAY
from reflex_logto.oidc.logto import ORGANIZATION_AUDIENCE
from reflex_logto.oidc.signed import decode


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InvalidAccessToken(f"{name} is not a number")
    return value


def check_access_token(
    token: str, keys: KeySet, *, issuer: str, resource: str, algorithms: Iterable[str],
    required_scopes: Iterable[str] = (), organization_id: str | None = None, now: int | None = None,
) -> dict[str, Any]:
    """The token's claims, if it is an access token (`typ` at+jwt) of this issuer, for
    `resource`, current (`exp`, `nbf`, `iat`), for a user (`sub`), with the scopes.

    `organization_id` None: a token for no organization (one an organization role
    granted is not the user's own). Logto names the organization of an organization
    token in its audience (`urn:logto:organization:<id>`); an `organization_id`
    claim is read too.

    Raises:
        UnknownSigningKey: its key is not in `keys`.
        InvalidAccessToken: anything about it is wrong (answer 401).
        InsufficientScope: it is valid but lacks a required scope (answer 403).
    """
    now = int(time.time()) if now is None else now
    decoded = decode(token, keys, algorithms, invalid=InvalidAccessToken)
    if str(decoded.header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
        raise InvalidAccessToken("not an access token (typ)")
    claims = dict(decoded.claims)
    if claims.get("iss") != issuer:
        raise InvalidAccessToken("iss")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if resource not in audiences:
        raise InvalidAccessToken("aud is not this API")
    organizations = {a.removeprefix(ORGANIZATION_AUDIENCE) for a in audiences if isinstance(a, str) and a.startswith(ORGANIZATION_AUDIENCE)}
    if isinstance(claims.get("organization_id"), str):
        organizations.add(claims["organization_id"])
    if organizations != ({organization_id} if organization_id is not None else set()):
        raise InvalidAccessToken("issued for another organization context")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise InvalidAccessToken("sub must be a non-empty string")
    exp = _number(claims, "exp")
    if exp is None or exp < now - LEEWAY:
        raise InvalidAccessToken("expired, or no exp")
    nbf = _number(claims, "nbf")
    if nbf is not None and nbf > now + LEEWAY:
        raise InvalidAccessToken("not valid yet (nbf)")
    iat = _number(claims, "iat")
    if iat is not None and iat > now + LEEWAY:
        raise InvalidAccessToken("issued in the future (iat)")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise InvalidAccessToken("scope is not a string")
    missing = set(required_scopes) - set(scope.split())
    if missing:
        raise InsufficientScope(missing)
    return claims
