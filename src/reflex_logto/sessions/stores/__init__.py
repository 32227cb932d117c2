"""Where sign-in transactions, handoffs and sessions are kept.

Three implementations of one `Storage` interface: SQLite, embedded, for one
machine (several workers share the file); PostgreSQL, the app's own database,
and Redis, both networked, for several machines. The stores in `transactions.py` and `store.py` hold the rules
(lifetimes, binding, sealing); a storage only keeps records and makes each
step atomic. It never sees a bearer value in clear: ids and bindings arrive
hashed, tokens and transaction secrets sealed.

To keep them somewhere else, write a class with the methods of `Storage`
(it is a Protocol: no base class needed). What it hands back are the frozen
records `SessionRecord`, `TransactionRecord` and `HandoffRecord`. The tests
every storage must pass are `StorageContract`, in
`reflex_logto.sessions.stores.contract`: subclass it in your own tests and
provide a `storage` fixture (see that module's docstring).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import inspect
from collections.abc import AsyncIterator
from typing import Protocol
from urllib.parse import urlsplit

from reflex_logto.errors import StoreUnavailable

__all__ = [
    "HandoffRecord",
    "POSTGRES_SCHEMES",
    "REDIS_SCHEMES",
    "SessionRecord",
    "Storage",
    "TransactionRecord",
    "digest",
    "open_storage",
]

REDIS_SCHEMES = ("redis", "rediss", "unix")
POSTGRES_SCHEMES = ("postgresql", "postgres")


def postgres_url(url: str) -> str | None:
    """The URL as asyncpg takes it, if it names PostgreSQL; None if not.

    SQLAlchemy's forms, as in Reflex's `db_url` (`postgresql+psycopg2://...`), lose their driver.
    """
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0].lower() not in POSTGRES_SCHEMES:
        return None
    return f"postgresql://{rest}"


def digest(value: str) -> str:
    """What a store keeps in place of a bearer value: a leaked store opens nothing."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class SessionRecord:
    """A session as stored, without its sealed tokens (they travel separately)."""

    key: str
    """The session id's `digest`: the record's key, never the id itself."""
    handle: str
    """A random public name, for the user's list of sessions."""
    sub: str
    """The user (the ID token's `sub`)."""
    sid: str | None
    """The provider's session (the ID token's `sid`), for back-channel logout."""
    claims: str
    """The ID token's claims, as JSON."""
    refresh_at: float | None
    """When the access token is due for renewal; None: never (no refresh token)."""
    user_agent: str
    """The browser that signed in, as it named itself."""
    acting_party: str | None
    """Who acts for the user (impersonation), if anyone."""
    created_at: float
    """When the user signed in (epoch seconds, as every time here)."""
    last_used_at: float
    """When the session was last used."""
    expires_at: float
    """The absolute end, however much it is used."""


@dataclasses.dataclass(frozen=True)
class TransactionRecord:
    """A sign-in transaction as stored."""

    id: str
    """The transaction's id, as in the start URL."""
    binding_hash: str | None
    """The `digest` of the binding cookie that claimed it; None while unclaimed."""
    payload: bytes
    """Sealed: state, nonce, PKCE verifier, return path."""
    expires_at: float


@dataclasses.dataclass(frozen=True)
class HandoffRecord:
    """A handoff (a finished sign-in or sign-out on its way to a backend route) as stored."""

    kind: str
    """'sign_in' or 'sign_out'."""
    binding_hash: str
    """The `digest` of the cookie that must come with it."""
    payload: bytes
    """Sealed."""
    expires_at: float


class Storage(Protocol):
    """Where transactions, handoffs and sessions are kept: each method one atomic step.

    Times are epoch seconds from the caller's clock (`now`); a storage checks
    expiry against them, never against its own clock.
    """

    # -- sign-in transactions ----------------------------------------------
    # "Oldest" is soonest to expire: among unclaimed ones the first inserted, among
    # claimed ones the first claimed. An expired transaction counts toward no bound.
    async def insert_transaction(
        self, txn_id: str, state_hash: str, payload: bytes, expires_at: float, *, now: float, limit: int
    ) -> int:
        """Keep a new, unclaimed transaction, found later by `state_hash`, never more than `limit` in all.

        To make room, remove expired ones, then the oldest unclaimed, then the oldest claimed;
        never the new one. How many unexpired ones were removed.
        """
    async def claim_transaction(
        self, txn_id: str, binding_hash: str, now: float, *, expires_at: float, per_binding: int
    ) -> bytes | None:
        """Bind an unclaimed, unexpired transaction, now lasting until `expires_at`; its payload, or None.

        The binding then holds at most `per_binding` claimed ones: its oldest beyond are removed,
        never the one just claimed.
        """
    async def take_transaction(self, state_hash: str, binding_hash: str | None) -> TransactionRecord | None:
        """Remove and return the transaction if it is bound to `binding_hash`, expired or not
        (the caller checks); one bound elsewhere, or not yet, is left as it is (None)."""

    # -- handoffs ------------------------------------------------------------
    async def insert_handoff(self, handoff_id: str, kind: str, binding_hash: str, payload: bytes, expires_at: float, *, now: float) -> None:
        """Keep a new handoff."""
    async def take_handoff(self, handoff_id: str) -> HandoffRecord | None:
        """Remove and return the handoff, of any kind, expired or not (the caller checks)."""

    # -- sessions ------------------------------------------------------------
    async def insert_session(self, record: SessionRecord, tokens: bytes, *, deadline: float, now: float) -> None:
        """`deadline`: when it ends unless used again (the earlier of both lifetimes)."""
    async def get_session(self, key: str) -> tuple[SessionRecord, bytes] | None:
        """The record and (at least the first 5 bytes of) its sealed tokens."""
    async def touch_session(self, key: str, now: float, deadline: float) -> None:
        """Record a use at `now`; `deadline` as for `insert_session`. Nothing if it is gone."""
    async def session_tokens(self, key: str) -> bytes | None:
        """The session's sealed tokens, whole; None if it is gone."""
    async def end_session(self, key: str, reason: str, reason_until: float, *, now: float) -> bytes | None:
        """Remove the session, remember why until `reason_until`; its sealed tokens, or None."""
    async def ended_reason(self, key: str, now: float) -> str | None:
        """Why the session ended, until the `reason_until` it ended with; else None."""
    async def sessions_of(self, sub: str, now: float, idle_since: float) -> list[SessionRecord]:
        """The user's sessions within both lifetimes (expires_at > now, last_used_at > idle_since), most recently used first."""
    async def count_live(self, now: float, idle_since: float) -> int:
        """How many sessions are within both lifetimes (or, as Redis does, whose last deadline is still ahead)."""
    async def session_keys(self, sub: str | None, sid: str | None) -> list[str]:
        """Keys of the sessions matching both given; none if neither is given."""

    # -- refresh leases ------------------------------------------------------
    async def take_lease(self, key: str, owner: str, now: float, until: float) -> bool:
        """Hold the session's refresh lease until `until`; False if a lease runs past `now`."""
    async def lease_is_a_wait(self, key: str, now: float) -> bool:
        """Whether a lease past `now` is a retry wait (released with an `until`), not an owner's."""
    async def end_wait(self, key: str) -> None:
        """End a retry wait at once; an owner's lease is left alone."""
    async def release_lease(self, key: str, owner: str, until: float) -> None:
        """If `owner` holds the lease, give it up; with `until` > now it becomes a retry wait."""
    async def save_refreshed(self, key: str, owner: str, tokens: bytes, claims: str, refresh_at: float | None) -> bool:
        """Store refreshed tokens and release the lease if `owner` holds it; False, writing nothing, if not."""

    # -- back-channel logout -------------------------------------------------
    async def spend_logout_token(
        self, jti: str, expires_at: float, sub: str | None, sid: str | None, reason_until: float, *, now: float
    ) -> int | None:
        """Record the token and end its sessions, all or nothing; how many, or None if it was seen before."""

    def atomic(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Steps that stand or fall together (SQLite); with Redis each step is atomic on its own."""

    async def close(self) -> None:
        """Let go of connections and files."""


def open_storage(url: str | None, sqlite_path: str) -> Storage:
    """Redis for a redis://, rediss:// or unix:// URL, PostgreSQL for a postgresql:// one;
    otherwise SQLite at `sqlite_path`."""
    if url and urlsplit(url).scheme in REDIS_SCHEMES:
        from reflex_logto.sessions.stores.redis import RedisStorage

        return RedisStorage(url)
    if url and (postgres := postgres_url(url)):
        from reflex_logto.sessions.stores.postgres import PostgresStorage

        return PostgresStorage(postgres)
    from reflex_logto.sessions.stores.sqlite import SqliteStorage

    return SqliteStorage(sqlite_path)


def unavailable(err: Exception, name: str) -> StoreUnavailable:
    """The error a storage raises when `err` (its driver's) stops a step."""
    return StoreUnavailable(f"the session store ({name}) failed: {type(err).__name__}: {err}")


def unavailable_on(errors: type[Exception] | tuple[type[Exception], ...], name: str):
    """Class decorator: the storage's methods raise StoreUnavailable, naming the cause, on `errors`."""

    def wrap(method):
        @functools.wraps(method)
        async def guarded(*args, **kwargs):
            try:
                return await method(*args, **kwargs)
            except errors as err:
                raise unavailable(err, name) from err

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
