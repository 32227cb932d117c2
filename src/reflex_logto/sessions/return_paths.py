"""Where the browser lands after sign-in: always a path on this app, never a URL.

The return path is chosen when sign-in starts and stored with the transaction;
nothing in the callback URL can change it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_RETURN_PATH_LENGTH = 2048
DEFAULT_RETURN_PATH = "/"


def safe_return_path(candidate: object) -> str:
    """`candidate` if it is a same-origin path (with query), else "/"."""
    if not isinstance(candidate, str) or not candidate or len(candidate) > MAX_RETURN_PATH_LENGTH:
        return DEFAULT_RETURN_PATH
    # Browsers drop tabs and newlines and read "\" as "/", so "/\evil" or
    # "/\t/evil" would mean "//evil": another host.
    if any(ch in candidate for ch in "\\\t\r\n") or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in candidate):
        return DEFAULT_RETURN_PATH
    if not candidate.startswith("/") or candidate.startswith("//"):
        return DEFAULT_RETURN_PATH
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc:
        return DEFAULT_RETURN_PATH
    # Percent-encoded slashes and backslashes at the start can be decoded by a
    # proxy or framework into "//host"; such paths are never ours.
    lowered = parts.path.lower()
    if lowered.startswith(("/%2f", "/%5c")):
        return DEFAULT_RETURN_PATH
    return parts.path + (f"?{parts.query}" if parts.query else "")
