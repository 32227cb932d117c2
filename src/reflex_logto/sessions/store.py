"""Server-side sessions: the browser holds a random id, the server holds the rest.

The store keeps the id's SHA-256, the ID token's claims, and the tokens
sealed with a key derived from LOGTO_COOKIE_SECRET. A session ends at its
absolute lifetime, after its idle timeout, or when something ends it; the
reason is kept for an hour so an open page can say why it was signed out.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from typing import Any, TypeGuard

from reflex_logto.config import SESSION_IDLE_TIMEOUT, SESSION_MAX_AGE
from reflex_logto.oidc.client import TokenSet
from reflex_logto.sessions.sealing import Sealer, SealError
from reflex_logto.sessions.stores import SessionRecord, Storage, digest

SESSION_ID_BYTES = 32
TOUCH_INTERVAL = 60  # seconds: last use is written at most this often per session (less for short idle timeouts)
ENDED_REASON_TTL = 60 * 60  # 1 hour, in seconds
REFRESH_LEASE = 15  # seconds a refresh may hold a session before another worker may try


@dataclasses.dataclass(frozen=True)
class Session:
    key: str
    """The store's key (the id's hash), never the id itself."""
    handle: str
    sub: str
    sid: str | None
    claims: dict[str, Any]
    refresh_at: float | None
    user_agent: str
    acting_party: str | None
    created_at: float
    last_used_at: float
    expires_at: float


@dataclasses.dataclass(frozen=True)
class Lookup:
    """A session, or why there is none (None: there never was one)."""

    session: Session | None
    ended_reason: str | None = None


def looks_like_session_id(value: str | None) -> TypeGuard[str]:
    """Cheap shape check before a store lookup: our ids are 43 URL-safe characters."""
    return value is not None and len(value) == 43 and value.replace("-", "").replace("_", "").isalnum()


def _session(record: SessionRecord) -> Session:
    return Session(
        key=record.key,
        handle=record.handle,
        sub=record.sub,
        sid=record.sid,
        claims=json.loads(record.claims),
        refresh_at=record.refresh_at,
        user_agent=record.user_agent,
        acting_party=record.acting_party,
        created_at=record.created_at,
        last_used_at=record.last_used_at,
        expires_at=record.expires_at,
    )


class SessionStore:
    def __init__(
        self,
        storage: Storage,
        sealer: Sealer,
        *,
        max_age: int = SESSION_MAX_AGE,
        idle_timeout: int = SESSION_IDLE_TIMEOUT,
    ):
        self._storage = storage
        self._sealer = sealer
        self.max_age = max_age
        self.idle_timeout = idle_timeout
        self.touch_interval = min(TOUCH_INTERVAL, max(1, idle_timeout // 10))

    async def create(self, tokens: TokenSet, *, user_agent: str = "", now: float | None = None) -> str:
        """Store a new session and return its id, newly random at every sign-in."""
        session_id, _ = await self.open(tokens, user_agent=user_agent, now=now)
        return session_id

    async def open(self, tokens: TokenSet, *, user_agent: str = "", now: float | None = None) -> tuple[str, Session]:
        """Store a new session: its id, and the session as a lookup would find it."""
        now = time.time() if now is None else now
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        key = digest(session_id)
        record = SessionRecord(
            key=key,
            handle=secrets.token_urlsafe(12),
            sub=tokens.claims["sub"],
            sid=tokens.claims.get("sid"),
            claims=json.dumps(tokens.claims),
            refresh_at=_refresh_at(tokens),
            user_agent=user_agent[:512],
            acting_party=tokens.acting_party,
            created_at=now,
            last_used_at=now,
            expires_at=now + self.max_age,
        )
        sealed = self._sealer.seal(tokens.to_dict(), record=key)
        await self._storage.insert_session(record, sealed, deadline=self._deadline(now, record.expires_at), now=now)
        return session_id, _session(record)

    def _deadline(self, last_used_at: float, expires_at: float) -> float:
        """When a session ends unless it is used again."""
        return min(expires_at, last_used_at + self.idle_timeout)

    async def lookup(self, session_id: str | None, *, touch: bool = True, now: float | None = None) -> Lookup:
        """The live session for this id, ending it first if it outlived a lifetime.

        `touch` counts this as use (a page load, an action); a page's periodic
        check does not, so an open tab alone doesn't keep a session alive.
        """
        if not looks_like_session_id(session_id):
            return Lookup(None)
        now = time.time() if now is None else now
        key = digest(session_id)
        found = await self._storage.get_session(key)
        if found is None:
            return Lookup(None, await self.ended_reason(key, now=now))
        record, sealed_tokens = found
        session = _session(record)
        if not self._sealer.can_open(sealed_tokens):
            # Sealed with a secret that has since been dropped: nothing usable is left.
            await self.end(key, "expired", now=now)
            return Lookup(None, "expired")
        if now >= session.expires_at:
            await self.end(key, "expired", now=now)
            return Lookup(None, "expired")
        if now - session.last_used_at >= self.idle_timeout:
            await self.end(key, "idle", now=now)
            return Lookup(None, "idle")
        if touch and now - session.last_used_at >= self.touch_interval:
            await self._storage.touch_session(key, now, self._deadline(now, session.expires_at))
            session = dataclasses.replace(session, last_used_at=now)
        return Lookup(session)

    async def ended_reason(self, key: str, *, now: float | None = None) -> str | None:
        """Why the session with this key ended, if it did within the last hour."""
        now = time.time() if now is None else now
        return await self._storage.ended_reason(key, now)

    async def tokens(self, key: str) -> TokenSet | None:
        """The session's tokens (by store key), or None if it is gone or won't open."""
        return self._open(key, await self._storage.session_tokens(key))

    async def end(self, key: str, reason: str, *, now: float | None = None) -> TokenSet | None:
        """End one session (by store key); return its tokens, if it existed."""
        now = time.time() if now is None else now
        return self._open(key, await self._storage.end_session(key, reason, now + ENDED_REASON_TTL, now=now))

    def _open(self, key: str, sealed: bytes | None) -> TokenSet | None:
        """The session's sealed tokens opened, or None if there are none or they won't open."""
        if sealed is None:
            return None
        try:
            return TokenSet.from_dict(self._sealer.open(sealed, record=key))
        except SealError:
            return None

    async def delete(self, session_id: str | None, reason: str = "signed_out") -> TokenSet | None:
        """End the session this cookie names; return its tokens, if it existed."""
        if not looks_like_session_id(session_id):
            return None
        return await self.end(digest(session_id), reason)

    async def list_for(self, sub: str, *, now: float | None = None) -> list[Session]:
        """The user's live sessions, most recently used first."""
        now = time.time() if now is None else now
        return [_session(record) for record in await self._storage.sessions_of(sub, now, now - self.idle_timeout)]

    async def count_live(self, *, now: float | None = None) -> int:
        """How many sessions are live: within both lifetimes."""
        now = time.time() if now is None else now
        return await self._storage.count_live(now, now - self.idle_timeout)

    async def keys_where(self, *, sub: str | None = None, sid: str | None = None) -> list[str]:
        """Store keys of the sessions of this user and/or provider session."""
        return await self._storage.session_keys(sub, sid)

    # -- refresh ------------------------------------------------------------

    async def take_refresh_lease(self, key: str, owner: str, *, now: float | None = None) -> bool:
        """Claim the right to refresh this session's tokens; False if a refresh or a retry wait holds it."""
        now = time.time() if now is None else now
        return await self._storage.take_lease(key, owner, now, now + REFRESH_LEASE)

    async def lease_is_a_wait(self, key: str, *, now: float | None = None) -> bool:
        """Whether the lease is a retry wait after a failure (rather than a refresh under way)."""
        now = time.time() if now is None else now
        return await self._storage.lease_is_a_wait(key, now)

    async def end_refresh_wait(self, key: str) -> None:
        """Let the next refresh try at once (a user asked to retry); a refresh under way is left alone."""
        await self._storage.end_wait(key)

    async def release_refresh_lease(self, key: str, owner: str, *, retry_after: float = 0) -> None:
        """Give the lease back; with `retry_after`, nobody refreshes for that many seconds."""
        await self._storage.release_lease(key, owner, time.time() + retry_after if retry_after else 0)

    async def save_refreshed(self, key: str, owner: str, tokens: TokenSet) -> bool:
        """Store refreshed tokens and release the lease, in one statement; False if the
        session ended meanwhile, or the lease is no longer ours."""
        sealed = self._sealer.seal(tokens.to_dict(), record=key)
        return await self._storage.save_refreshed(key, owner, sealed, json.dumps(tokens.claims), _refresh_at(tokens))

    # -- back-channel logout -------------------------------------------------

    async def end_for_logout_token(
        self, jti: str, expires_at: float, *, sub: str | None, sid: str | None, now: float | None = None
    ) -> int | None:
        """Spend a logout token and end the sessions it names, all or nothing.

        Returns how many ended, or None if the token was spent before (a replay).
        """
        now = time.time() if now is None else now
        return await self._storage.spend_logout_token(jti, expires_at, sub, sid, now + ENDED_REASON_TTL, now=now)


def _refresh_at(tokens: TokenSet) -> float | None:
    """When to renew: never, without a refresh token to do it with."""
    return tokens.refresh_at if tokens.refresh_token else None
