"""ID token validation: a pure function of the token, the keys and the clock.

See OpenID Connect Core 1.0, section 3.1.3.7. joserfc checks the signature;
Authlib's `CodeIDToken` checks the claims; this module adds what both leave to
the caller: the algorithm allow-list, a non-empty `sub`, and no audience but us.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from authlib.oidc.core import CodeIDToken
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from reflex_logto.errors import InvalidIdToken, InvalidProviderMetadata
from reflex_logto.oidc.signed import decode

# Only public-key signatures: `none` and the HS* family (keyed with the client
# secret, or worse, with a public key) are never accepted.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}
)
LEEWAY = 60  # seconds of clock skew tolerated on exp and iat


def allowed_algorithms(discovered: Iterable[str] | None) -> tuple[str, ...]:
    """The discovered signing algorithms that we accept, in the provider's order."""
    # Discovery may omit the list; RS256 is the OpenID default (Discovery 1.0, section 3).
    algorithms = tuple(a for a in (discovered or ("RS256",)) if a in ASYMMETRIC_ALGORITHMS)
    if not algorithms:
        raise InvalidProviderMetadata(
            f"no acceptable ID token signing algorithm among {list(discovered or [])}"
        )
    return algorithms


def validate_id_token(
    id_token: str,
    keys: KeySet,
    *,
    issuer: str,
    client_id: str,
    nonce: str | None,
    algorithms: Iterable[str],
    access_token: str | None = None,
    now: int | None = None,
    leeway: int = LEEWAY,
) -> dict[str, Any]:
    """Verify the signature and every claim; return the claims.

    Raises:
        UnknownSigningKey: the `kid` is not in `keys` (the caller may re-fetch once).
        InvalidIdToken: anything else is wrong.
    """
    if not isinstance(id_token, str) or not id_token:
        raise InvalidIdToken("the token response has no id_token")
    token = decode(id_token, keys, algorithms, invalid=InvalidIdToken)

    claims = CodeIDToken(
        token.claims,
        token.header,
        {"iss": {"essential": True, "value": issuer}, "aud": {"essential": True, "value": client_id}},
        {"nonce": nonce, "client_id": client_id, "access_token": access_token},
    )
    try:
        claims.validate(now=int(time.time()) if now is None else now, leeway=leeway)
    except (JoseError, ValueError, TypeError) as err:
        raise InvalidIdToken(f"claims: {err}") from err
    _check_subject_and_audience(token.claims, client_id)
    if nonce is not None and token.claims.get("nonce") != nonce:
        raise InvalidIdToken("claims: nonce")  # Authlib skips the check for an empty nonce
    return dict(token.claims)


def _check_subject_and_audience(claims: Mapping[str, Any], client_id: str) -> None:
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise InvalidIdToken("claims: sub must be a non-empty string")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or client_id not in audiences:
        raise InvalidIdToken("claims: aud does not name this app")
    # Core 3.1.3.7 step 3: reject audiences the client does not trust; we trust none.
    if any(a != client_id for a in audiences):
        raise InvalidIdToken("claims: aud names another party too")
