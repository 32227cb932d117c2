"""AccountState: what a signed-in user can do with their sessions and tokens.

Privileged handlers: each re-resolves the user from the session cookie first
and refuses at once if it is gone, whatever this tab's state says.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import reflex as rx

from reflex_logto.errors import ProviderUnavailable, SessionEnded, SignInError, StoreUnavailable
from reflex_logto.reflex.access import checks_session
from reflex_logto.reflex.claims import claim_rows
from reflex_logto.reflex.runtime import get_flow
from reflex_logto.reflex.state import AuthState
from reflex_logto.reflex.user_agents import describe
from reflex_logto.sessions.store import Session

log = logging.getLogger(__name__)

MAX_HANDLE_LENGTH = 64


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


class AccountState(AuthState):
    """The user's sessions, and a live check of their access token with the provider."""

    sessions: list[dict[str, str]] = []
    """The user's live sessions: handle, device, signed in, last used, and whether it is this one."""
    provider_check: str = ""
    """The outcome of the last "Check with the provider"."""
    userinfo: list[dict[str, str]] = []
    """What the provider's userinfo endpoint said, as claim rows."""

    async def _signed_in(self) -> Session | None:
        try:
            session = await self._session()
        except StoreUnavailable as err:  # the page says so; nothing to list meanwhile
            self._fail(err, "session lookup")
            return None
        if session is None:
            self.sessions, self.userinfo, self.provider_check = [], [], ""
        return session

    async def _list(self, current: Session) -> None:
        try:
            sessions = await get_flow().sessions.list_for(current.sub)
        except StoreUnavailable as err:
            self._fail(err, "listing sessions")
            return
        self.sessions = [
            {
                "handle": session.handle,
                "device": describe(session.user_agent),
                "created": _when(session.created_at),
                "last_used": _when(session.last_used_at),
                "current": "yes" if session.key == current.key else "",
            }
            for session in sessions
        ]

    @rx.event
    @checks_session
    async def load_sessions(self):
        """List the user's sessions (on page load and after a change)."""
        current = await self._signed_in()
        if current is not None:
            await self._list(current)

    @rx.event
    @checks_session
    async def end_session(self, handle: str):
        """End one of this user's other sessions, by the handle the list showed."""
        current = await self._signed_in()
        if current is None or not isinstance(handle, str) or not 0 < len(handle) <= MAX_HANDLE_LENGTH:
            return
        if handle != current.handle:
            await get_flow().lifecycle.end_by_handle(current, handle)
        await self._list(current)

    @rx.event
    @checks_session
    async def end_other_sessions(self):
        """End every session of this user but this one."""
        current = await self._signed_in()
        if current is None:
            return
        ended = await get_flow().lifecycle.end_others(current)
        log.debug("ended %d other session(s)", ended)
        await self._list(current)

    @rx.event
    @checks_session
    async def check_with_provider(self):
        """Call the provider's userinfo endpoint with the user's access token (refreshed if due)."""
        self.pending = "check"
        yield
        try:
            await self._check_with_provider()
        finally:
            self.pending = ""

    async def _check_with_provider(self) -> None:
        current = await self._signed_in()
        if current is None:
            return
        flow = get_flow()
        try:
            tokens = await flow.lifecycle.fresh_tokens(current)
            info = await flow.client.userinfo(tokens.access_token, expected_sub=current.sub)
        except SessionEnded as ended:
            self._show_signed_out(ended.reason)
            return
        except ProviderUnavailable:
            self.userinfo = []
            self.provider_check = "The sign-in service can't be reached right now. Try again in a moment."
            return
        except SignInError as err:
            log.warning("userinfo check failed: %s", err)
            self.userinfo = []
            self.provider_check = "The sign-in service did not confirm your sign-in."
            return
        self.userinfo = claim_rows(info)
        self.provider_check = (
            f"Confirmed by the sign-in service at {datetime.now(UTC).strftime('%H:%M:%S UTC')} "
            f"({len(info)} claims in user info)."
        )
