"""The PostgreSQL storage: the app's own database, shared by every worker on every machine.

asyncpg, with a pool of connections per process. Each step that reads and
then writes is one statement (`UPDATE ... WHERE ... RETURNING`, a `DELETE`
that returns what it removed), which PostgreSQL makes atomic across workers:
of two concurrent updates of one row, the second re-checks its `WHERE` on the
row the first left. The bounds on sign-in transactions need a count and an
eviction to agree, so inserting and claiming one are functions of the schema
that take one advisory lock first: one round trip each, as a Lua script is
for Redis. Times are the caller's (epoch seconds), as for the other stores.

Tables and functions are prefixed `logto_` (or the `prefix` given), beside
the app's own, and made on first use (see `postgres_schema.py`). The pool
opens lazily, on the first step in the worker's event loop (a pool does not
survive a fork), and replaces a connection PostgreSQL closed (a restart): a
step that finds the database down raises StoreUnavailable, and the next one
after it is back works again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import logging
import operator
from collections.abc import AsyncIterator

import asyncpg

from reflex_logto.sessions.stores import HandoffRecord, SessionRecord, TransactionRecord, unavailable, unavailable_on
from reflex_logto.sessions.stores.postgres_schema import DEFAULT_PREFIX, checked_prefix, create_schema

log = logging.getLogger(__name__)

POOL_SIZE = 10  # connections per worker process, at most
TIMEOUT = 5  # seconds: connecting, or one statement
QUEUE_TIMEOUT = 30  # seconds a step may wait for a free connection: a busy worker queues, it doesn't fail
PURGE_INTERVAL = 60  # seconds
PURGE_BATCH = 10_000  # rows per table per purge: a purge stays short; a full batch purges again soon
# In the order of SessionRecord's fields (`id` is its `key`).
COLUMNS = "id, handle, sub, sid, claims, refresh_at, user_agent, acting_party, created_at, last_used_at, expires_at"
_session_values = operator.attrgetter(*(field.name for field in dataclasses.fields(SessionRecord)))

# Everything a broken connection or a refusing server raises; anything else is a bug, not an outage.
DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

# Ends sessions ($1, keys) and keeps why ($2) until $3, in one statement.
END_SESSIONS = """
WITH gone AS (DELETE FROM {p}sessions WHERE id = ANY($1::text[]) RETURNING id, tokens),
     kept AS (INSERT INTO {p}ended_sessions (id, reason, expires_at) SELECT id, $2, $3 FROM gone
              ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, expires_at = excluded.expires_at)
SELECT id, tokens FROM gone
"""
# Expired rows, by table, and the column that names a row.
PURGED = {"transactions": "id", "handoffs": "id", "sessions": "id", "ended_sessions": "id", "logout_tokens": "jti"}


class _Connection(asyncpg.Connection):
    """A pooled connection that goes back to the pool without a reset query (a round trip):
    the store leaves no session state behind (no SET, LISTEN or cursor; its advisory locks
    are the transaction's). An open transaction is still rolled back on release."""

    def get_reset_query(self) -> str:
        return ""


def _is_update(status: str) -> bool:
    """Whether a command tag says one row changed (`UPDATE 1`)."""
    return status.rsplit(" ", 1)[-1] == "1"


@unavailable_on(DRIVER_ERRORS, "PostgreSQL")
class PostgresStorage:
    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX):
        self._url = url  # may hold a password: never logged, never in an error message
        self.prefix = self._p = p = checked_prefix(prefix)
        self._end_sessions = END_SESSIONS.format(p=p)
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        # The connection of the `atomic()` block this task is in, if any.
        self._held: contextvars.ContextVar[asyncpg.Connection | None] = contextvars.ContextVar("held", default=None)
        self._purged_at = float("-inf")

    async def _open_pool(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is None:
                pool = await asyncpg.create_pool(
                    self._url, min_size=0, max_size=POOL_SIZE, timeout=TIMEOUT, command_timeout=TIMEOUT,
                    connection_class=_Connection,
                )
                try:
                    async with pool.acquire(timeout=QUEUE_TIMEOUT) as connection:
                        await create_schema(connection, self._p)
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
            return self._pool

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        held = self._held.get()
        if held is not None:
            yield held
            return
        pool = self._pool or await self._open_pool()
        async with pool.acquire(timeout=QUEUE_TIMEOUT) as connection:
            yield connection

    async def _execute(self, sql: str, *args) -> str:
        async with self._connection() as connection:
            return await connection.execute(sql, *args)

    async def _fetch(self, sql: str, *args) -> list[asyncpg.Record]:
        async with self._connection() as connection:
            return await connection.fetch(sql, *args)

    async def _fetchrow(self, sql: str, *args) -> asyncpg.Record | None:
        async with self._connection() as connection:
            return await connection.fetchrow(sql, *args)

    @contextlib.asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        """One transaction on one connection for every step inside: all of them, or none."""
        try:
            async with self._connection() as connection, connection.transaction():
                token = self._held.set(connection)
                try:
                    yield
                finally:
                    self._held.reset(token)
        except DRIVER_ERRORS as err:  # beginning or committing: the steps inside raise StoreUnavailable themselves
            raise unavailable(err, "PostgreSQL") from err

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def _purge(self, now: float) -> None:
        """Drop expired rows; at most once a minute per process (sooner if a batch was full).

        Rows another step holds are skipped, never waited for: a purge can't get stuck
        behind a step, nor a step behind a purge, and a failed one fails no request.
        """
        if now - self._purged_at < PURGE_INTERVAL or self._held.get() is not None:
            return
        self._purged_at = now
        try:
            async with self._connection() as connection:
                for name, key in PURGED.items():
                    table = self._p + name
                    status = await connection.execute(
                        f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE expires_at <= $1 "
                        "LIMIT $2 FOR UPDATE SKIP LOCKED)",
                        now, PURGE_BATCH,
                    )
                    if int(status.rsplit(" ", 1)[-1]) == PURGE_BATCH:
                        self._purged_at = float("-inf")  # more to do: again at the next insert
        except DRIVER_ERRORS as err:  # housekeeping: the step that ran it has succeeded
            log.warning("could not purge expired sign-in records: %s", type(err).__name__)

    # -- sign-in transactions ----------------------------------------------

    async def insert_transaction(
        self, txn_id: str, state_hash: str, payload: bytes, expires_at: float, *, now: float, limit: int
    ) -> int:
        evicted = await self._fetchrow(
            f"SELECT {self._p}insert_transaction($1, $2, $3, $4, $5, $6)", txn_id, state_hash, payload, expires_at, now, limit
        )
        await self._purge(now)
        return evicted[0] if evicted else 0

    async def claim_transaction(
        self, txn_id: str, binding_hash: str, now: float, *, expires_at: float, per_binding: int
    ) -> bytes | None:
        row = await self._fetchrow(
            f"SELECT {self._p}claim_transaction($1, $2, $3, $4, $5)", txn_id, binding_hash, now, expires_at, per_binding
        )
        return row[0] if row else None

    async def take_transaction(self, state_hash: str, binding_hash: str | None) -> TransactionRecord | None:
        row = await self._fetchrow(
            f"DELETE FROM {self._p}transactions WHERE state_hash = $1 AND binding = $2 RETURNING id, binding, payload, expires_at",
            state_hash, binding_hash,
        )
        return TransactionRecord(*row) if row else None

    # -- handoffs ------------------------------------------------------------

    async def insert_handoff(self, handoff_id: str, kind: str, binding_hash: str, payload: bytes, expires_at: float, *, now: float) -> None:
        await self._execute(
            f"INSERT INTO {self._p}handoffs (id, kind, binding, payload, expires_at) VALUES ($1, $2, $3, $4, $5)",
            handoff_id, kind, binding_hash, payload, expires_at,
        )

    async def take_handoff(self, handoff_id: str) -> HandoffRecord | None:
        row = await self._fetchrow(
            f"DELETE FROM {self._p}handoffs WHERE id = $1 RETURNING kind, binding, payload, expires_at", handoff_id
        )
        return HandoffRecord(*row) if row else None

    # -- sessions ------------------------------------------------------------

    async def insert_session(self, record: SessionRecord, tokens: bytes, *, deadline: float, now: float) -> None:
        await self._execute(
            f"INSERT INTO {self._p}sessions ({COLUMNS}, tokens) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            *_session_values(record), tokens,
        )
        await self._purge(now)

    async def get_session(self, key: str) -> tuple[SessionRecord, bytes] | None:
        # Only the sealed tokens' header: enough to know whether they still open.
        row = await self._fetchrow(f"SELECT {COLUMNS}, substr(tokens, 1, 5) FROM {self._p}sessions WHERE id = $1", key)
        return (SessionRecord(*row[:-1]), row[-1]) if row else None

    async def touch_session(self, key: str, now: float, deadline: float) -> None:
        await self._execute(f"UPDATE {self._p}sessions SET last_used_at = $1 WHERE id = $2", now, key)

    async def session_tokens(self, key: str) -> bytes | None:
        row = await self._fetchrow(f"SELECT tokens FROM {self._p}sessions WHERE id = $1", key)
        return row[0] if row else None

    async def end_session(self, key: str, reason: str, reason_until: float, *, now: float) -> bytes | None:
        row = await self._fetchrow(self._end_sessions, [key], reason, reason_until)
        return row["tokens"] if row else None

    async def ended_reason(self, key: str, now: float) -> str | None:
        row = await self._fetchrow(f"SELECT reason FROM {self._p}ended_sessions WHERE id = $1 AND expires_at > $2", key, now)
        return row[0] if row else None

    async def sessions_of(self, sub: str, now: float, idle_since: float) -> list[SessionRecord]:
        rows = await self._fetch(
            f"SELECT {COLUMNS} FROM {self._p}sessions WHERE sub = $1 AND expires_at > $2 AND last_used_at > $3 "
            "ORDER BY last_used_at DESC",
            sub, now, idle_since,
        )
        return [SessionRecord(*row) for row in rows]

    async def count_live(self, now: float, idle_since: float) -> int:
        row = await self._fetchrow(
            f"SELECT count(*) FROM {self._p}sessions WHERE expires_at > $1 AND last_used_at > $2", now, idle_since
        )
        return row[0] if row else 0

    async def session_keys(self, sub: str | None, sid: str | None) -> list[str]:
        return [row[0] for row in await self._matching(sub, sid)]

    async def _matching(self, sub: str | None, sid: str | None, *, lock: bool = False) -> list[asyncpg.Record]:
        clauses, params = [], []
        for column, value in (("sub", sub), ("sid", sid)):
            if value is not None:
                params.append(value)
                clauses.append(f"{column} = ${len(params)}")
        if not clauses:
            return []
        # Locked in key order: two logouts ending overlapping sessions wait for each other, never deadlock.
        suffix = " ORDER BY id FOR UPDATE" if lock else ""
        return await self._fetch(f"SELECT id FROM {self._p}sessions WHERE {' AND '.join(clauses)}{suffix}", *params)

    # -- refresh leases ------------------------------------------------------

    async def take_lease(self, key: str, owner: str, now: float, until: float) -> bool:
        status = await self._execute(
            f"UPDATE {self._p}sessions SET refresh_lease = $1, refresh_owner = $2 WHERE id = $3 AND refresh_lease <= $4",
            until, owner, key, now,
        )
        return _is_update(status)

    async def lease_is_a_wait(self, key: str, now: float) -> bool:
        row = await self._fetchrow(f"SELECT refresh_lease, refresh_owner FROM {self._p}sessions WHERE id = $1", key)
        return row is not None and row[0] > now and row[1] is None

    async def end_wait(self, key: str) -> None:
        await self._execute(f"UPDATE {self._p}sessions SET refresh_lease = 0 WHERE id = $1 AND refresh_owner IS NULL", key)

    async def release_lease(self, key: str, owner: str, until: float) -> None:
        await self._execute(
            f"UPDATE {self._p}sessions SET refresh_lease = $1, refresh_owner = NULL WHERE id = $2 AND refresh_owner = $3",
            until, key, owner,
        )

    async def save_refreshed(self, key: str, owner: str, tokens: bytes, claims: str, refresh_at: float | None) -> bool:
        status = await self._execute(
            f"UPDATE {self._p}sessions SET tokens = $1, claims = $2, refresh_at = $3, refresh_lease = 0, refresh_owner = NULL "
            "WHERE id = $4 AND refresh_owner = $5",
            tokens, claims, refresh_at, key, owner,
        )
        return _is_update(status)

    # -- back-channel logout -------------------------------------------------

    async def spend_logout_token(
        self, jti: str, expires_at: float, sub: str | None, sid: str | None, reason_until: float, *, now: float
    ) -> int | None:
        async with self.atomic():
            # A record of the same jti that has expired no longer counts (the caller checks the token's own expiry).
            await self._execute(f"DELETE FROM {self._p}logout_tokens WHERE jti = $1 AND expires_at <= $2", jti, now)
            # A concurrent spend of the same jti waits here for the first to commit, then finds it.
            inserted = await self._fetchrow(
                f"INSERT INTO {self._p}logout_tokens (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
                jti, expires_at,
            )
            if inserted is None:
                return None
            keys = [row[0] for row in await self._matching(sub, sid, lock=True)]
            ended = await self._fetch(self._end_sessions, keys, "provider_logout", reason_until) if keys else []
        return len(ended)
