"""Every error the package raises, under one base, and the one place library errors become ours.

Each class has a short `code`; the code is all that reaches the browser, and
`reflex.messages` turns it into a sentence. `translate` is called from every
`except` that catches an Authlib, joserfc or httpx error, so the same failure
always becomes the same class (as openid-client's `errorHandler`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import httpx
from joserfc.errors import JoseError


class AuthError(Exception):
    """Base of every error of reflex-logto. The message is for the server log, never the page."""

    code = "default"


class ConfigurationError(AuthError):
    """A setting is missing or malformed; raised at start-up, naming the variable."""

    code = "configuration"


class SignInError(AuthError):
    """Sign-in (or a token for a signed-in user) could not be had."""

    code = "sign_in_failed"


class AuthorizationDenied(SignInError):
    """The provider answered the authorization request with an error."""

    code = "access_denied"

    def __init__(self, error: str, description: str = ""):
        super().__init__(f"provider returned error={error!r}")
        self.error = error
        self.description = description


class InvalidTransaction(SignInError):
    """No sign-in is waiting for this callback: missing, expired, reused or another browser's."""

    code = "invalid_transaction"


class InvalidCallback(SignInError):
    """The callback's parameters are malformed or contradict the sign-in that started it."""

    code = "invalid_callback"


class TokenRequestFailed(SignInError):
    """The token endpoint refused the request or answered with something unusable."""

    code = "token_request_failed"


class InvalidIdToken(SignInError):
    """The ID token failed validation (signature, issuer, audience, time or nonce)."""

    code = "invalid_id_token"


class UnknownSigningKey(InvalidIdToken):
    """A JWT names a key (`kid`) the cached key set does not have: worth one throttled re-fetch."""


class ProviderUnavailable(SignInError):
    """The provider could not be reached, timed out, or answered with a server error."""

    code = "provider_unavailable"


class InvalidProviderMetadata(SignInError):
    """The discovery document or key set is unusable, or names another issuer than configured."""

    code = "invalid_provider_metadata"


class RefreshRejected(SignInError):
    """The provider refused the refresh token (revoked, expired or reused): the session is over."""

    code = "session_revoked"


class RefreshRefused(TokenRequestFailed):
    """The provider answered a refresh with an error that asking again won't change
    (`invalid_scope`, `invalid_request`, ...): the session can't be renewed, though it was not revoked."""

    code = "refresh_refused"


class StoreUnavailable(SignInError):
    """The session store (Redis, or the SQLite file) could not be reached or refused the request."""

    code = "store_unavailable"


class SessionEnded(AuthError):
    """The caller's session is over; `reason` says why ("signed_out", "revoked", "expired", "idle", ...)."""

    code = "session_ended"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class InvalidAccessToken(AuthError):
    """An access token sent to the app's API is missing, malformed, badly signed, expired,
    or for another issuer, API or organization: answer 401."""

    code = "invalid_token"


class InsufficientScope(AuthError):
    """A valid access token without a scope the API needs: answer 403."""

    code = "insufficient_scope"

    def __init__(self, missing: Iterable[str]):
        self.missing = sorted(missing)
        super().__init__(f"missing scope {' '.join(self.missing)}")


class InvalidLogoutToken(AuthError):
    """A back-channel logout token failed validation or was replayed: answer 400."""

    code = "invalid_logout_token"


Step = Literal["discovery", "keys", "code_exchange", "refresh", "userinfo"]

# Token endpoint errors after which the refresh token is worth nothing (RFC 6749, section 5.2).
_REFRESH_REFUSALS = frozenset({"invalid_grant", "unauthorized_client", "invalid_client"})


def translate(err: BaseException, step: Step) -> AuthError:
    """The package's error for a failure of Authlib, joserfc or httpx during `step`.

    Call it as `raise translate(err, "refresh") from err`.
    """
    if isinstance(err, AuthError):
        return err
    oauth_error = getattr(err, "error", None)
    if type(err).__name__ == "OAuthError" or (isinstance(oauth_error, str) and hasattr(err, "description")):
        said = f"the token endpoint said {oauth_error}"
        if oauth_error == "invalid_client":
            said += ": it does not accept the app's credentials, check LOGTO_APP_ID and LOGTO_APP_SECRET"
        if step == "refresh":
            return RefreshRejected(said) if oauth_error in _REFRESH_REFUSALS else RefreshRefused(said)
        return TokenRequestFailed(said)
    if isinstance(err, httpx.HTTPError):
        return ProviderUnavailable(f"{step}: {type(err).__name__}")
    if isinstance(err, JoseError):
        return InvalidIdToken(f"{step}: {err}")
    if isinstance(err, ValueError):  # a body that is not JSON
        if step in ("discovery", "keys"):
            return InvalidProviderMetadata(f"{step}: the answer is not JSON")
        if step == "refresh":
            return ProviderUnavailable("refresh: the answer is not JSON")
        return TokenRequestFailed(f"{step}: the answer is not JSON")
    return SignInError(f"{step}: {type(err).__name__}")
