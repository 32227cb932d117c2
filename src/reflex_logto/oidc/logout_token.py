"""Back-channel logout token validation: a pure function, like the ID token's.

See OpenID Connect Back-Channel Logout 1.0, section 2.6.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from typing import Any

from joserfc.jwk import KeySet

from reflex_logto.errors import InvalidLogoutToken
from reflex_logto.oidc.id_token import LEEWAY
from reflex_logto.oidc.signed import decode

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_AGE = 10 * 60  # seconds: an older logout token (by `iat`) is refused


@dataclasses.dataclass(frozen=True)
class LogoutRequest:
    sub: str | None
    sid: str | None
    jti: str
    expires_at: float
    """Until when the `jti` must be remembered to refuse a replay."""


def validate_logout_token(
    token: Any,
    keys: KeySet,
    *,
    issuer: str,
    client_id: str,
    algorithms: Iterable[str],
    now: int | None = None,
) -> LogoutRequest:
    """Verify the signature and claims of a logout token; say whose sessions to end."""
    now = int(time.time()) if now is None else now
    decoded = decode(token, keys, algorithms, invalid=InvalidLogoutToken)
    typ = decoded.header.get("typ")
    if typ is not None and str(typ).lower() not in ("logout+jwt", "application/logout+jwt", "jwt"):
        raise InvalidLogoutToken(f"typ {typ!r}")
    claims = decoded.claims
    if claims.get("iss") != issuer:
        raise InvalidLogoutToken("iss")
    aud = claims.get("aud")
    if client_id not in ([aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []):
        raise InvalidLogoutToken("aud")
    iat = claims.get("iat")
    if not isinstance(iat, (int, float)) or isinstance(iat, bool) or iat > now + LEEWAY or iat < now - MAX_AGE:
        raise InvalidLogoutToken("iat missing, in the future, or too old")
    exp = claims.get("exp")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp < now - LEEWAY:
        raise InvalidLogoutToken("exp missing or past")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise InvalidLogoutToken("jti missing")
    events = claims.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_LOGOUT_EVENT), dict):
        raise InvalidLogoutToken("events does not name a back-channel logout")
    if "nonce" in claims:
        raise InvalidLogoutToken("a logout token must not carry a nonce")
    sub, sid = claims.get("sub"), claims.get("sid")
    sub = sub if isinstance(sub, str) and sub else None
    sid = sid if isinstance(sid, str) and sid else None
    if sub is None and sid is None:
        raise InvalidLogoutToken("neither sub nor sid")
    return LogoutRequest(sub=sub, sid=sid, jti=jti, expires_at=max(float(exp or 0), iat + MAX_AGE) + LEEWAY)
