"""Decoding a signed JWT with the provider's keys: the one place joserfc's errors become ours."""

from __future__ import annotations

from collections.abc import Iterable

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from reflex_logto.errors import AuthError, UnknownSigningKey

MAX_TOKEN_LENGTH = 16_384  # characters: no honest token is near it


def decode(token: object, keys: KeySet, algorithms: Iterable[str], *, invalid: type[AuthError]) -> jwt.Token:
    """The verified token (signature, algorithm in `algorithms`); claims are the caller's to check.

    Raises:
        UnknownSigningKey: its `kid` is not in `keys` (worth one re-fetch of the key set).
        invalid: anything else about it is wrong.
    """
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise invalid("no token, or too long")
    try:
        return jwt.decode(token, keys, algorithms=list(algorithms))
    except InvalidKeyIdError as err:
        raise UnknownSigningKey("no key for this token's kid") from err
    except (JoseError, ValueError, TypeError, KeyError) as err:
        raise invalid(f"signature or format: {err}") from err
