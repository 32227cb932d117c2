"""The HttpOnly cookies, written by one helper so set and clear always match.

The session cookie holds the opaque session id. The sign-in cookie holds a
random value that binds a sign-in transaction to the browser that started
it. Two short-lived ones let a page that finds no session say why (the
sign-in-done marker) and let the callback page read how its sign-in ended.
All are set only by backend routes (JavaScript can't write HttpOnly cookies)
and read by event handlers from the websocket's request headers.
"""

from __future__ import annotations

import dataclasses
from typing import TypeGuard

from starlette.requests import cookie_parser
from starlette.responses import Response

from reflex_logto.config import AuthConfig
from reflex_logto.sessions.transactions import HANDOFF_TTL

CALLBACK_RESULT_MAX_AGE = HANDOFF_TTL
SIGN_IN_DONE_MAX_AGE = 60  # seconds: "a sign-in just finished here", for a page that finds no session cookie


@dataclasses.dataclass(frozen=True)
class CookiePolicy:
    session_name: str
    binding_name: str
    done_name: str
    """Set with the session cookie, on this host only: if it stuck and the session cookie did not,
    the browser refused the session cookie (a cookie domain it won't take, say)."""
    result_name: str
    """Set by the callback request that finished a sign-in: the id of its outcome, which the
    callback page's tab reads once (single use, this browser's only, gone within a minute)."""
    domain: str | None
    """Set to share the session with subdomains; the sign-in cookie stays on this host."""
    secure: bool

    @classmethod
    def from_config(cls, config: AuthConfig) -> CookiePolicy:
        secure = config.secure_cookies
        base = config.cookie_name
        # Over https, a prefix the browser enforces: __Host- pins a cookie to this
        # host and path / (no sibling subdomain can plant one); a cookie shared
        # through a Domain can only be __Secure-.
        host_prefix = "__Host-" if secure else ""
        session_prefix = ("__Secure-" if config.cookie_domain else "__Host-") if secure else ""
        return cls(
            session_name=f"{session_prefix}{base}",
            binding_name=f"{host_prefix}{base.removesuffix('_session')}_signin",
            done_name=f"{host_prefix}{base.removesuffix('_session')}_signin_done",
            result_name=f"{host_prefix}{base.removesuffix('_session')}_signin_result",
            domain=config.cookie_domain,
            secure=secure,
        )

    def set_session(self, response: Response, value: str, *, max_age: int) -> None:
        self._set(response, self.session_name, value, max_age=max_age, domain=self.domain)

    def clear_session(self, response: Response) -> None:
        self._set(response, self.session_name, "", max_age=0, domain=self.domain)

    def set_sign_in_done(self, response: Response) -> None:
        self._set(response, self.done_name, "1", max_age=SIGN_IN_DONE_MAX_AGE, domain=None)

    def clear_sign_in_done(self, response: Response) -> None:
        self._set(response, self.done_name, "", max_age=0, domain=None)

    def sign_in_done(self, cookie_header: str | None) -> bool:
        return _read(cookie_header, self.done_name) == "1"

    def set_callback_result(self, response: Response, result_id: str, status: str = "kept") -> None:
        """How the callback page learns the outcome `result_id`: "kept" for it to read, "pending"
        still to come (the page waits for it), "carried" by the page itself (nothing to read)."""
        assert status in CALLBACK_RESULT_STATUSES
        self._set(response, self.result_name, f"{result_id}.{status}", max_age=CALLBACK_RESULT_MAX_AGE, domain=None)

    def clear_callback_result(self, response: Response) -> None:
        self._set(response, self.result_name, "", max_age=0, domain=None)

    def callback_result(self, cookie_header: str | None) -> tuple[str, str] | None:
        """(the outcome's id, its status: "kept", "pending" or "carried"), or None."""
        result_id, _, status = (_read(cookie_header, self.result_name) or "").partition(".")
        return (result_id, status) if result_id and status in CALLBACK_RESULT_STATUSES else None

    def set_binding(self, response: Response, value: str) -> None:
        response.raw_headers.append((b"set-cookie", self.binding_header(value).encode("latin-1")))

    def binding_header(self, value: str) -> str:
        """The sign-in cookie's `Set-Cookie` value: for the browser session (no Max-Age), so a
        binding a tab's websocket saw is the browser's still when the callback comes."""
        secure = "; Secure" if self.secure else ""
        return f"{self.binding_name}={value}; HttpOnly; Path=/; SameSite=Lax{secure}"

    def _set(self, response: Response, name: str, value: str, *, max_age: int, domain: str | None) -> None:
        response.set_cookie(
            name, value, max_age=max_age, path="/", domain=domain, secure=self.secure, httponly=True, samesite="lax"
        )

    def session(self, cookie_header: str | None) -> str | None:
        return _read(cookie_header, self.session_name)

    def binding(self, cookie_header: str | None) -> str | None:
        return _read(cookie_header, self.binding_name)


CALLBACK_RESULT_STATUSES = ("kept", "pending", "carried")


def valid_binding(value: str | None) -> TypeGuard[str]:
    """A sign-in cookie value as the app makes them (32 random bytes, base64url)."""
    return value is not None and len(value) == 43


def _read(cookie_header: str | None, name: str) -> str | None:
    """The cookie's value from a `Cookie:` header, or None."""
    if not cookie_header:
        return None
    return cookie_parser(cookie_header).get(name) or None
