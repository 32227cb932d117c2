"""What the token endpoint returns, as a frozen value the stores keep sealed."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from reflex_logto.errors import TokenRequestFailed

REFRESH_EARLY = 60  # seconds before expiry when an access token is renewed


@dataclasses.dataclass(frozen=True)
class TokenSet:
    """What the token endpoint returned, after the ID token checked out."""

    id_token: str
    claims: dict[str, Any]
    access_token: str
    refresh_token: str | None
    expires_at: int | None
    scope: str
    refresh_at: int | None = None
    """When to renew the access token: a minute early, or a quarter of a short lifetime."""
    acting_party: str | None = None
    """Who acts for the user (`act.sub` of the ID token, or of a JWT access token): impersonation."""
    resource_tokens: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    """Access tokens for API resources (RFC 8707): {indicator: {access_token, refresh_at}}."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> TokenSet:
        return cls(**value)


def access_token_of(token: dict[str, Any]) -> str:
    access_token = token.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise TokenRequestFailed("token response has no access_token")
    return access_token


def token_set(token: dict[str, Any], claims: dict[str, Any], *, refresh_token: str | None) -> TokenSet:
    """A TokenSet of a token response; the access token's lifetime from `expires_in`, if it is sane."""
    expires_in = token.get("expires_in")
    lifetime = expires_in if isinstance(expires_in, int) and not isinstance(expires_in, bool) and expires_in > 0 else None
    now = int(time.time())
    return TokenSet(
        id_token=token.get("id_token") or "",
        claims=claims,
        access_token=token["access_token"],
        refresh_token=refresh_token,
        expires_at=now + lifetime if lifetime else None,
        scope=str(token.get("scope", "")),
        refresh_at=now + lifetime - min(REFRESH_EARLY, lifetime // 4) if lifetime else None,
    )
