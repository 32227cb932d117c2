"""How a sign-in that reached the callback ended, as the callback page shows it.

One mapping for both places that finish a sign-in (the callback request, and the
callback page's handler where the backend doesn't serve the pages).
"""

from __future__ import annotations

import logging

from reflex_logto.errors import AuthorizationDenied, SignInError

log = logging.getLogger(__name__)


def failure(err: Exception) -> dict[str, str]:
    """A code from `messages.py`, and the provider's own words when it refused (shown escaped);
    logged as the case deserves: a refusal is news, a failed check a warning, anything else a bug."""
    if isinstance(err, AuthorizationDenied):
        log.info("provider refused sign-in: %s", err.error)
        return {"error_code": err.code, "provider_error": f"{err.error}: {err.description}" if err.description else err.error}
    if isinstance(err, SignInError):
        log.warning("sign-in failed (%s): %s", err.code, err)
        return {"error_code": err.code}
    log.error("sign-in failed unexpectedly", exc_info=err)
    return {"error_code": "default"}
