"""A session's life after sign-in: fresh tokens, and every way it can end.

Refresh is single-flight per session, across tabs, handlers and worker
processes: an in-process lock, then a lease in the session's row. The
rotated refresh token is written in the same statement that releases the
lease, so nobody ever uses a refresh token the provider has already replaced.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref

from .db import Database
from .errors import InvalidIdToken, InvalidLogoutToken, ProviderUnavailable, RefreshRejected, SignInError
from .logout_token import UnknownLogoutKey, validate_logout_token
from .provider import OidcClient, TokenSet
from .sessions import REFRESH_LEASE, Lookup, Session, SessionStore

log = logging.getLogger("app.auth")

LEASE_POLL = 0.05  # seconds between looks at another worker's refresh


class SessionEnded(Exception):
    """The session is over; `reason` says why ("revoked", "expired", "idle", ...)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SessionLifecycle:
    def __init__(self, client: OidcClient, sessions: SessionStore, db: Database):
        self.client = client
        self.sessions = sessions
        self._db = db
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def lookup(self, session_id: str | None, *, touch: bool = True) -> Lookup:
        return await self.sessions.lookup(session_id, touch=touch)

    # -- tokens -------------------------------------------------------------

    async def fresh_tokens(self, session: Session) -> TokenSet:
        """The session's tokens, with an access token that is not yet due for renewal.

        Raises:
            SessionEnded: the provider refused the refresh token; the session is ended.
            ProviderUnavailable: a refresh was due, the provider is down, and the
                access token has expired (while it is still valid, it is returned).
        """
        if not _due(session.refresh_at):
            tokens = await self.sessions.tokens(session.key)
            if tokens is None:
                raise SessionEnded("signed_out")
            return tokens
        lock = self._locks.get(session.key)
        if lock is None:
            lock = self._locks.setdefault(session.key, asyncio.Lock())
        async with lock:
            return await self._refresh_once(session.key)

    async def _refresh_once(self, key: str) -> TokenSet:
        deadline = time.monotonic() + REFRESH_LEASE + 1
        while True:
            tokens = await self.sessions.tokens(key)
            if tokens is None:
                raise SessionEnded(await self._ended_reason(key))
            if not _due(tokens.refresh_at):
                return tokens  # another tab or worker refreshed it meanwhile
            if await self.sessions.take_refresh_lease(key):
                break
            if time.monotonic() > deadline:
                raise ProviderUnavailable("another worker's refresh did not finish")
            await asyncio.sleep(LEASE_POLL)
        try:
            refreshed = await self.client.refresh(tokens)
        except (RefreshRejected, InvalidIdToken) as err:
            log.info("refresh refused, session ended: %s", err)
            await self.sessions.end(key, "revoked")
            raise SessionEnded("revoked") from err
        except SignInError as err:
            await self.sessions.release_refresh_lease(key)
            if tokens.expires_at is not None and tokens.expires_at > time.time():
                log.warning("refresh failed (%s); the access token is still valid", err.code)
                return tokens
            raise ProviderUnavailable(f"refresh failed and the access token has expired: {err}") from err
        await self.sessions.save_refreshed(key, refreshed)
        log.debug("tokens refreshed")
        return refreshed

    async def _ended_reason(self, key: str) -> str:
        row = self._db.execute("SELECT reason FROM ended_sessions WHERE id = ?", (key,)).fetchone()
        return row[0] if row else "signed_out"

    # -- ending sessions -----------------------------------------------------

    async def end(self, key: str, reason: str, *, revoke: bool) -> bool:
        tokens = await self.sessions.end(key, reason)
        if tokens is None:
            return False
        if revoke and tokens.refresh_token:
            await self.client.revoke(tokens.refresh_token)
        return True

    async def end_by_handle(self, current: Session, handle: str) -> bool:
        """End one of the current user's sessions, named by its public handle."""
        for session in await self.sessions.list_for(current.sub):
            if session.handle == handle:
                return await self.end(session.key, "ended_elsewhere", revoke=True)
        return False

    async def end_others(self, current: Session) -> int:
        """End every session of the current user except this one."""
        ended = 0
        for session in await self.sessions.list_for(current.sub):
            if session.key != current.key:
                ended += await self.end(session.key, "ended_elsewhere", revoke=True)
        return ended

    async def backchannel_logout(self, logout_token: str) -> int:
        """End the sessions a valid logout token names; return how many.

        Raises:
            InvalidLogoutToken: the token is invalid or replayed; nothing changed.
        """
        metadata = await self.client.metadata()
        check = dict(issuer=metadata.issuer, client_id=self.client.config.client_id, algorithms=metadata.id_token_algorithms)
        try:
            request = validate_logout_token(logout_token, await self.client.keys(), **check)
        except UnknownLogoutKey:
            request = validate_logout_token(logout_token, await self.client.keys(refresh=True), **check)
        now = time.time()
        self._db.execute("DELETE FROM logout_tokens WHERE expires_at <= ?", (now,))
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO logout_tokens (jti, expires_at) VALUES (?, ?)", (request.jti, request.expires_at)
        )
        if inserted.rowcount != 1:
            raise InvalidLogoutToken("this logout token was already used")
        keys = await self.sessions.keys_where(sub=request.sub, sid=request.sid)
        for key in keys:
            await self.sessions.end(key, "provider_logout")
        log.debug("back-channel logout ended %d session(s)", len(keys))
        return len(keys)


def _due(refresh_at: float | None) -> bool:
    """Whether the access token needs renewing now (unknown expiry: never)."""
    return refresh_at is not None and time.time() >= refresh_at
