"""What can go wrong during sign-in, one class per cause, each with a short code.

The code is all that reaches the browser; `messages.py` turns it into a sentence.
"""


class ConfigurationError(Exception):
    """A setting is missing or malformed; raised at start-up, naming the variable."""


class SignInError(Exception):
    """Sign-in could not finish. The message is for the server log, never the page."""

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
    """The token endpoint refused the code or answered with something unusable."""

    code = "token_request_failed"


class InvalidIdToken(SignInError):
    """The ID token failed validation (signature, issuer, audience, time or nonce)."""

    code = "invalid_id_token"


class ProviderUnavailable(SignInError):
    """The provider could not be reached, timed out, or answered with a server error."""

    code = "provider_unavailable"


class InvalidProviderMetadata(SignInError):
    """The discovery document is unusable, or names another issuer than configured."""

    code = "invalid_provider_metadata"


class RefreshRejected(SignInError):
    """The provider refused the refresh token (revoked, expired or reused): the session is over."""

    code = "session_revoked"


class StoreUnavailable(SignInError):
    """The session store (Redis, or the SQLite file) could not be reached or refused the request."""

    code = "store_unavailable"


class InvalidLogoutToken(Exception):
    """A back-channel logout token failed validation; the route answers 400."""
