"""What the page says for each error code. Nothing else about an error reaches the browser."""

MESSAGES: dict[str, str] = {
    "access_denied": "The sign-in service did not sign you in.",
    "invalid_transaction": (
        "This sign-in has expired or was already used. Sign-in links work once, "
        "for 10 minutes, in the browser that started them."
    ),
    "invalid_callback": "The sign-in response was incomplete or did not match the sign-in you started.",
    "token_request_failed": "The sign-in service did not accept the sign-in. It may have expired.",
    "invalid_id_token": "The sign-in service's answer could not be verified, so you were not signed in.",
    "provider_unavailable": "The sign-in service can't be reached right now.",
    "invalid_provider_metadata": "The sign-in service is not set up the way this app expects.",
    "session_revoked": "Your sign-in is no longer valid. Please sign in again.",
    "session_not_kept": (
        "You signed in, but this browser did not keep the session cookie. "
        "Allow cookies for this site and try again."
    ),
    "sign_out_failed": "Signing out did not finish. Please try again.",
    "too_many_attempts": "Too many sign-in attempts from this page. Wait a minute and try again.",
    "store_unavailable": "Signing in is unavailable for a moment: the app can't reach its session store. Please try again shortly.",
    "default": "Something went wrong while signing you in.",
}


def message_for(code: str) -> str:
    """The sentence the page shows for an error code (the default one for an unknown code)."""
    return MESSAGES.get(code, MESSAGES["default"])


# Why a page that was signed in now shows signed out.
NOTICES: dict[str, str] = {
    "signed_out": "You signed out.",
    "expired": "Your session reached its time limit. Please sign in again.",
    "idle": "You were signed out after a period of inactivity.",
    "revoked": "Your sign-in was ended at the sign-in service. Please sign in again.",
    "provider_logout": "You signed out at the sign-in service.",
    "ended_elsewhere": "This session was ended from another device.",
    "replaced": "You signed in again in another tab.",
    "refresh_refused": "The sign-in service would not renew your sign-in. Please sign in again.",
}


def notice_for(reason: str) -> str:
    return NOTICES.get(reason, "You are signed out.")
