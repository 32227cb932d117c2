"""A session's life after sign-in: fresh tokens, and every way it can end.

Refresh is single-flight per session, across tabs, handlers and worker
processes: an in-process lock, then a lease in the session's record with an
owner. Under the lease the tokens are read again (another worker may have
just refreshed), the provider is asked once, and the new tokens, rotated
refresh token included, are stored by the same statement that gives the
lease back. That write is shielded from cancellation: once the provider has
rotated the refresh token, the new one is stored or revoked, never lost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from reflex_logto.errors import (
    InvalidIdToken,
    InvalidLogoutToken,
    ProviderUnavailable,
    RefreshRefused,
    RefreshRejected,
    SessionEnded,
    SignInError,
    TokenRequestFailed,
    UnknownSigningKey,
)
from reflex_logto.oidc.client import OidcClient, TokenSet
from reflex_logto.oidc.logout_token import validate_logout_token
from reflex_logto.sessions.store import REFRESH_LEASE, Session, SessionStore

log = logging.getLogger(__name__)

T = TypeVar("T")
ScopedFetch = Callable[[TokenSet], Awaitable[tuple[dict[str, Any], str | None]]]

LEASE_POLL = 0.05  # seconds between looks at another worker's refresh
PAGE_WAIT = 0.5  # seconds a page's check waits for a refresh before it answers
REFRESH_TIMEOUT = REFRESH_LEASE - 3  # seconds: a refresh ends well before its lease lapses
RETRY_AFTER = 5  # seconds between refresh attempts while the provider fails


class SessionLifecycle:
    def __init__(self, client: OidcClient, sessions: SessionStore):
        self.client = client
        self.sessions = sessions
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._running: dict[str, asyncio.Task[TokenSet]] = {}

    # -- tokens -------------------------------------------------------------

    async def keep_fresh(self, session: Session) -> bool | None:
        """For an open page: renew the tokens if due, waiting at most PAGE_WAIT.

        Returns False when nothing was due, True once renewed, None while a
        renewal is still under way (a slow provider never holds the page's
        event queue). Raises like `fresh_tokens`. Costs nothing when not due.
        """
        if not _due(session.refresh_at):
            return False
        task = self._running.get(session.key)
        if task is None:
            task = asyncio.create_task(self.fresh_tokens(session))
            self._running[session.key] = task
            task.add_done_callback(functools.partial(self._finished, session.key))
        await asyncio.wait({task}, timeout=PAGE_WAIT)
        if not task.done():
            return None
        task.result()  # raises SessionEnded or ProviderUnavailable
        return True

    def _finished(self, key: str, task: asyncio.Task) -> None:
        if self._running.get(key) is task:
            del self._running[key]
        if not task.cancelled():
            task.exception()  # retrieved here; the pages waiting on it get it too

    async def fresh_tokens(self, session: Session) -> TokenSet:
        """The session's tokens, with an access token that is not yet due for renewal.

        Raises:
            SessionEnded: the session is over (the provider refused the refresh token,
                or it was ended meanwhile).
            ProviderUnavailable: a refresh was due, the provider is down, and the
                access token has expired (while it is still valid, it is returned).
        """
        if not _due(session.refresh_at):
            return await self._stored(session.key)
        async with self._lock(session.key):
            return await self._single_flight(
                session.key,
                fresh=lambda tokens: None if _due(tokens.refresh_at) else tokens,
                # A refresh is under way elsewhere; this access token still works.
                while_busy=lambda tokens: tokens if tokens.expires_at is not None and tokens.expires_at > time.time() else None,
                renew=lambda owner, tokens: self._refresh_under_lease(session.key, owner, tokens),
            )

    def _lock(self, key: str) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks.setdefault(key, asyncio.Lock())
        return lock

    async def _stored(self, key: str) -> TokenSet:
        tokens = await self.sessions.tokens(key)
        if tokens is None:
            raise SessionEnded(await self.sessions.ended_reason(key) or "signed_out")
        return tokens

    async def _single_flight(
        self,
        key: str,
        *,
        fresh: Callable[[TokenSet], T | None],
        renew: Callable[[str, TokenSet], Awaitable[T]],
        while_busy: Callable[[TokenSet], T | None] = lambda tokens: None,
    ) -> T:
        """`fresh(tokens)` if it has an answer; otherwise renew it under the session's lease.

        The one lease loop of every renewal (the session's tokens, API and
        organization tokens): other tabs, handlers and workers wait for the
        holder, or use what `while_busy` allows; under the lease the tokens are
        read again, since a renewal may have landed just before. `renew` runs
        shielded: once the provider has answered, its answer is stored or revoked.
        """
        deadline = time.monotonic() + REFRESH_LEASE + 1
        owner = secrets.token_hex(8)
        while True:
            tokens = await self._stored(key)
            if (answer := fresh(tokens)) is not None:
                return answer
            if await self.sessions.take_refresh_lease(key, owner):
                tokens = await self._stored(key)
                if (answer := fresh(tokens)) is not None:
                    await self.sessions.release_refresh_lease(key, owner)
                    return answer
                break
            if (answer := while_busy(tokens)) is not None:
                return answer
            if await self.sessions.lease_is_a_wait(key) or time.monotonic() > deadline:
                raise ProviderUnavailable("a renewal is due and the provider is not answering")
            await asyncio.sleep(LEASE_POLL)
        return await asyncio.shield(renew(owner, tokens))

    async def _refresh_under_lease(self, key: str, owner: str, tokens: TokenSet) -> TokenSet:
        try:
            refreshed = await asyncio.wait_for(self.client.refresh(tokens), REFRESH_TIMEOUT)
        except UnknownSigningKey as err:  # a new key we may not fetch yet: the provider's moment, not the user's
            return await self._refresh_failed(key, owner, tokens, err)
        except (RefreshRejected, InvalidIdToken) as err:
            log.warning("the provider refused the refresh token, so the session ends: %s", err)
            await self.sessions.end(key, "revoked")
            raise SessionEnded("revoked") from err
        except RefreshRefused as err:
            # Answered, not down: asking again gets the same answer, so don't.
            log.warning("the provider refused to renew the session's tokens, so the session ends: %s", err)
            await self.sessions.end(key, "refresh_refused")
            raise SessionEnded("refresh_refused") from err
        except (TimeoutError, SignInError) as err:
            return await self._refresh_failed(key, owner, tokens, err)
        except BaseException:
            await self.sessions.release_refresh_lease(key, owner)
            raise
        if await self.sessions.save_refreshed(key, owner, refreshed):
            log.debug("tokens refreshed")
            return refreshed
        # The session ended while the provider answered: its new grant must not outlive it.
        if refreshed.refresh_token:
            await self.client.revoke(refreshed.refresh_token)
        return await self._stored(key)

    async def _refresh_failed(self, key: str, owner: str, tokens: TokenSet, err: BaseException) -> TokenSet:
        await self.sessions.release_refresh_lease(key, owner, retry_after=RETRY_AFTER)
        still_valid = tokens.expires_at is not None and tokens.expires_at > time.time()
        log.warning(
            "refresh failed (%s: %s); %s, trying again in %ss", type(err).__name__, err,
            "the access token is still valid" if still_valid else "the access token has expired", RETRY_AFTER,
        )
        if still_valid:
            return tokens
        raise ProviderUnavailable(f"refresh failed and the access token has expired: {err}") from err

    # -- API resources (RFC 8707) ------------------------------------------------

    async def access_token_for(self, session: Session, resource: str) -> str:
        """An access token for one of the configured API resources, cached, renewed when due.

        Renewal is a refresh token grant with `resource`, single-flight with
        every other refresh of the session (the same lease).

        Raises:
            ValueError: `resource` is not one the app configured.
            SessionEnded, ProviderUnavailable: as `fresh_tokens`.
        """
        if resource not in self.client.config.resources:
            raise ValueError(f"{resource!r} is not in LOGTO_RESOURCES")
        return await self._scoped_token(session, resource, lambda tokens: self.client.resource_token(tokens, resource))

    async def organization_token(self, session: Session, organization_id: str) -> str:
        """An organization token (Logto's organizations) for one of the user's organizations.

        Raises:
            ValueError: the user is not a member (per the ID token's `organizations` claim).
            SessionEnded, ProviderUnavailable: as `fresh_tokens`.
        """
        members_of = session.claims.get("organizations")
        if not isinstance(members_of, list) or organization_id not in members_of:
            raise ValueError("not one of the user's organizations")
        return await self._scoped_token(
            session,
            f"urn:logto:organization:{organization_id}",
            lambda tokens: self.client.organization_token(tokens, organization_id),
        )

    async def _scoped_token(self, session: Session, audience: str, fetch: ScopedFetch) -> str:
        """A cached token for `audience` (an API or an organization), fetched under the session's lease."""

        def cached(tokens: TokenSet) -> str | None:
            entry = tokens.resource_tokens.get(audience)
            return entry["access_token"] if entry and not _due(entry.get("refresh_at")) else None

        if (answer := cached(await self._stored(session.key))) is not None:
            return answer
        async with self._lock(session.key):
            return await self._single_flight(
                session.key,
                fresh=cached,
                renew=lambda owner, tokens: self._scoped_token_under_lease(session.key, owner, tokens, audience, fetch),
            )

    async def _scoped_token_under_lease(
        self, key: str, owner: str, tokens: TokenSet, audience: str, fetch: ScopedFetch
    ) -> str:
        try:
            issued, rotated = await asyncio.wait_for(fetch(tokens), REFRESH_TIMEOUT)
        except RefreshRejected as err:
            await self.sessions.end(key, "revoked")
            raise SessionEnded("revoked") from err
        except TokenRequestFailed:
            # Refused for this API or organization only (not a member, no such target):
            # the session and its other tokens are fine, and nothing waits.
            await self.sessions.release_refresh_lease(key, owner)
            raise
        except (TimeoutError, SignInError) as err:
            await self.sessions.release_refresh_lease(key, owner, retry_after=RETRY_AFTER)
            raise ProviderUnavailable(f"no access token for {audience}: {err}") from err
        except BaseException:
            await self.sessions.release_refresh_lease(key, owner)
            raise
        updated = dataclasses.replace(
            tokens,
            refresh_token=rotated or tokens.refresh_token,
            resource_tokens={**tokens.resource_tokens, audience: issued},
        )
        if await self.sessions.save_refreshed(key, owner, updated):
            return issued["access_token"]
        if rotated:
            await self.client.revoke(rotated)
        await self._stored(key)  # raises SessionEnded: it ended meanwhile
        raise ProviderUnavailable("the session changed while its token was renewed")

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
        client_id = self.client.config.client_id
        try:
            request = await self.client.verify_jwt(
                lambda keys, metadata: validate_logout_token(
                    logout_token, keys, issuer=metadata.issuer, client_id=client_id, algorithms=metadata.id_token_algorithms
                )
            )
        except UnknownSigningKey as err:
            raise InvalidLogoutToken("signed with a key the provider does not list") from err
        # The token is spent only if its sessions end, and its sessions end only once.
        ended = await self.sessions.end_for_logout_token(request.jti, request.expires_at, sub=request.sub, sid=request.sid)
        if ended is None:
            raise InvalidLogoutToken("this logout token was already used")
        log.debug("back-channel logout ended %d session(s)", ended)
        return ended


def _due(refresh_at: float | None) -> bool:
    """Whether the access token needs renewing now (unknown expiry: never)."""
    return refresh_at is not None and time.time() >= refresh_at
