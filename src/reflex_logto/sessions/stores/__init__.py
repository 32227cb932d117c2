"""Where sign-in transactions, handoffs and sessions are kept.

Two implementations of one `Storage` interface: SQLite, embedded, for one
machine (several workers share the file), and Redis, networked, for several
machines. The stores in `transactions.py` and `sessions.py` hold the rules
(lifetimes, binding, sealing); a storage only keeps records and makes each
step atomic. It never sees a bearer value in clear: ids and bindings arrive
hashed, tokens and transaction secrets sealed.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
from collections.abc import AsyncIterator
from typing import Protocol
from urllib.parse import urlsplit

from reflex_logto.errors import StoreUnavailable

SessionRow = tuple
"""A session as stored: key, handle, sub, sid, claims (JSON), refresh_at, user_agent,
acting_party, created_at, last_used_at, expires_at."""

REDIS_SCHEMES = ("redis", "rediss", "unix")


def digest(value: str) -> str:
    """What a store keeps in place of a bearer value: a leaked store opens nothing."""
    return hashlib.sha256(value.encode()).hexdigest()


class Storage(Protocol):
    """Where transactions, handoffs and sessions are kept: each method one atomic step."""

    # -- sign-in transactions ----------------------------------------------
    async def insert_transaction(self, txn_id: str, state_hash: str, payload: bytes, expires_at: float, *, now: float) -> None: ...
    async def claim_transaction(self, txn_id: str, binding_hash: str, now: float) -> bytes | None:
        """Bind an unclaimed, unexpired transaction; its payload, or None."""
    async def take_transaction(self, state_hash: str) -> tuple[str, str | None, bytes, float] | None:
        """Remove and return (id, binding hash, payload, expires_at)."""

    # -- handoffs ------------------------------------------------------------
    async def insert_handoff(self, handoff_id: str, kind: str, binding_hash: str, payload: bytes, expires_at: float, *, now: float) -> None: ...
    async def take_handoff(self, handoff_id: str) -> tuple[str, str, bytes, float] | None:
        """Remove and return (kind, binding hash, payload, expires_at)."""

    # -- sessions ------------------------------------------------------------
    async def insert_session(self, row: SessionRow, tokens: bytes, *, deadline: float, now: float) -> None:
        """`deadline`: when it ends unless used again (the earlier of both lifetimes)."""
    async def get_session(self, key: str) -> tuple[SessionRow, bytes] | None:
        """The row and (at least the start of) its sealed tokens."""
    async def touch_session(self, key: str, now: float, deadline: float) -> None: ...
    async def session_tokens(self, key: str) -> bytes | None: ...
    async def end_session(self, key: str, reason: str, reason_until: float, *, now: float) -> bytes | None:
        """Remove the session, remember why until `reason_until`; its sealed tokens, or None."""
    async def ended_reason(self, key: str, now: float) -> str | None: ...
    async def sessions_of(self, sub: str, now: float, idle_since: float) -> list[SessionRow]:
        """The user's sessions within both lifetimes, most recently used first."""
    async def count_live(self, now: float, idle_since: float) -> int: ...
    async def session_keys(self, sub: str | None, sid: str | None) -> list[str]: ...

    # -- refresh leases ------------------------------------------------------
    async def take_lease(self, key: str, owner: str, now: float, until: float) -> bool: ...
    async def lease_is_a_wait(self, key: str, now: float) -> bool: ...
    async def end_wait(self, key: str) -> None: ...
    async def release_lease(self, key: str, owner: str, until: float) -> None: ...
    async def save_refreshed(self, key: str, owner: str, tokens: bytes, claims: str, refresh_at: float | None) -> bool: ...

    # -- back-channel logout -------------------------------------------------
    async def spend_logout_token(
        self, jti: str, expires_at: float, sub: str | None, sid: str | None, reason_until: float, *, now: float
    ) -> int | None:
        """Record the token and end its sessions, all or nothing; how many, or None if it was seen before."""

    def atomic(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Steps that stand or fall together (SQLite); with Redis each step is atomic on its own."""

    async def close(self) -> None: ...


def open_storage(url: str | None, sqlite_path: str) -> Storage:
    """Redis for a redis://, rediss:// or unix:// URL; otherwise SQLite at `sqlite_path`."""
    if url and urlsplit(url).scheme in REDIS_SCHEMES:
        from reflex_logto.sessions.stores.redis import RedisStorage

        return RedisStorage(url)
    from reflex_logto.sessions.stores.sqlite import SqliteStorage

    return SqliteStorage(sqlite_path)


def unavailable_on(errors: type[Exception] | tuple[type[Exception], ...], name: str):
    """Class decorator: the storage's methods raise StoreUnavailable, naming the cause, on `errors`."""

    def wrap(method):
        @functools.wraps(method)
        async def guarded(*args, **kwargs):
            try:
                return await method(*args, **kwargs)
            except errors as err:
                raise StoreUnavailable(f"the session store ({name}) failed: {type(err).__name__}: {err}") from err

        return guarded

    def decorate(cls):
        for attribute, method in list(vars(cls).items()):
            if not attribute.startswith("_") and attribute != "close" and inspect.iscoroutinefunction(method):
                setattr(cls, attribute, wrap(method))
        return cls

    return decorate


@contextlib.asynccontextmanager
async def no_transaction() -> AsyncIterator[None]:
    yield
