"""The embedded SQLite storage: the default, for one machine.

One connection per process, used from the event loop: a statement on a small
indexed table takes tens of microseconds, less than handing it to a thread
costs, and nothing here suspends, so the connection's transactions never
interleave. WAL mode lets several worker processes share the file; a writer
that finds it locked waits (busy_timeout), so writes are short: one
statement, or a few in one transaction.

The bounds on sign-in transactions cost an insert little: rowids only grow,
so the span between the lowest and highest (two index seeks) bounds how many
transactions are stored, and only a span past the cap (some 50,000 sign-ins
started in ten minutes) has them counted. The indexes give the eviction order
(unclaimed before claimed, soonest to expire first) and a binding's claimed
transactions, so making room removes a row by an index seek.
"""

from __future__ import annotations

import contextlib
import dataclasses
import operator
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

from reflex_logto.config import make_local_dir
from reflex_logto.sessions.stores import HandoffRecord, SessionRecord, TransactionRecord, unavailable_on

SCHEMA = """
CREATE TABLE IF NOT EXISTS transactions (
    id          TEXT PRIMARY KEY,      -- random: names the transaction in the start URL
    state_hash  TEXT NOT NULL UNIQUE,  -- sha256 of `state`: the callback finds it by this
    binding     TEXT,                  -- sha256 of the browser's binding cookie, once claimed
    payload     BLOB NOT NULL,         -- sealed: state, nonce, PKCE verifier, return path
    expires_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS handoffs (
    id          TEXT PRIMARY KEY,      -- random: names the handoff in a backend route URL
    kind        TEXT NOT NULL,         -- 'sign_in', 'sign_out' or 'callback_result'
    binding     TEXT NOT NULL,         -- sha256 of the cookie that must come with it
    payload     BLOB NOT NULL,         -- sealed
    expires_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id                TEXT PRIMARY KEY,     -- sha256 of the session id in the cookie
    handle            TEXT NOT NULL UNIQUE, -- random public name, for the user's list of sessions
    sub               TEXT NOT NULL,
    sid               TEXT,                 -- the provider's session (ID token `sid`), for back-channel logout
    claims            TEXT NOT NULL,        -- the ID token's claims, JSON
    tokens            BLOB NOT NULL,        -- sealed TokenSet
    refresh_at        REAL,                 -- when the access token is due for renewal (decided unsealed)
    user_agent        TEXT NOT NULL,
    acting_party      TEXT,                 -- who acts for the user (impersonation), if anyone
    created_at        REAL NOT NULL,
    last_used_at      REAL NOT NULL,
    expires_at        REAL NOT NULL,        -- the absolute end
    refresh_lease     REAL NOT NULL DEFAULT 0,  -- no other refresh before then (one under way, or a retry wait)
    refresh_owner     TEXT                  -- who holds the lease: a refresh under way, or NULL for a wait
);
CREATE TABLE IF NOT EXISTS ended_sessions (
    id          TEXT PRIMARY KEY,          -- as sessions.id
    reason      TEXT NOT NULL,             -- why, for the page that still shows it
    expires_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS logout_tokens (
    jti         TEXT PRIMARY KEY,          -- back-channel logout tokens seen, so none is replayed
    expires_at  REAL NOT NULL
);
-- What an insert at the cap removes first: unclaimed before claimed, soonest to expire first;
-- expired ones too (see EXPIRED): one index fewer to write.
CREATE INDEX IF NOT EXISTS transactions_eviction ON transactions (binding IS NOT NULL, expires_at);
CREATE INDEX IF NOT EXISTS transactions_binding ON transactions (binding, expires_at) WHERE binding IS NOT NULL;
CREATE INDEX IF NOT EXISTS handoffs_expiry ON handoffs (expires_at);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
CREATE INDEX IF NOT EXISTS sessions_sub ON sessions (sub);
CREATE INDEX IF NOT EXISTS sessions_sid ON sessions (sid);
CREATE INDEX IF NOT EXISTS ended_sessions_expiry ON ended_sessions (expires_at);
CREATE INDEX IF NOT EXISTS logout_tokens_expiry ON logout_tokens (expires_at);
"""
SCHEMA_VERSION = 5
# From these versions only the tables named changed: the others (sessions) are kept.
REBUILT_FROM = {4: ("transactions",)}  # 5: bounded transactions (indexes for eviction)
PURGE_INTERVAL = 60  # seconds
TABLES = ("transactions", "handoffs", "sessions", "ended_sessions", "logout_tokens")
# In the order of SessionRecord's fields (`id` is its `key`).
COLUMNS = "id, handle, sub, sid, claims, refresh_at, user_agent, acting_party, created_at, last_used_at, expires_at"
_session_values = operator.attrgetter(*(field.name for field in dataclasses.fields(SessionRecord)))
# What has expired, by table; transactions through their eviction index, unclaimed and claimed ones in turn.
EXPIRED = {table: "expires_at <= ?" for table in TABLES} | {
    "transactions": "(binding IS NOT NULL) IN (0, 1) AND expires_at <= ?"
}
# No fewer rowids than transactions in this span (a rowid is the highest yet, plus one); 0 when empty.
SPAN = "SELECT ifnull((SELECT max(rowid) FROM transactions) - (SELECT min(rowid) FROM transactions) + 1, 0)"


@unavailable_on(sqlite3.Error, "SQLite")
class SqliteStorage:
    def __init__(self, path: str):
        if path != ":memory:":
            make_local_dir(Path(path).parent)
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute("PRAGMA busy_timeout=5000")
        self._purged_at = float("-inf")
        self._migrate()

    def _migrate(self) -> None:
        # One process at a time: workers starting together must not both rebuild.
        with self._transaction():
            version = self.connection.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                # Before 1.0 the schema changes wholesale: start afresh (everyone signs in again),
                # unless only some tables changed (then sign-ins under way start again).
                for table in REBUILT_FROM.get(version, TABLES):
                    self.connection.execute(f"DROP TABLE IF EXISTS {table}")
                for statement in filter(str.strip, SCHEMA.split(";")):
                    self.connection.execute(statement)
                self.connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        return self.connection.execute(sql, params)

    @contextlib.contextmanager
    def _transaction(self):
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    @contextlib.contextmanager
    def _step(self):
        """Several statements as one atomic step; inside `atomic()`, part of its transaction."""
        if self.connection.in_transaction:
            yield
        else:
            with self._transaction():
                yield

    @contextlib.asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        # The body's storage calls never suspend (see the module's docstring).
        with self._transaction():
            yield

    def _purge_expired(self, now: float) -> None:
        """Drop expired rows; at most once a minute per process."""
        if now - self._purged_at < PURGE_INTERVAL:
            return
        self._purged_at = now
        for table in TABLES:
            self.execute(f"DELETE FROM {table} WHERE {EXPIRED[table]}", (now,))

    async def close(self) -> None:
        self.connection.close()

    # -- sign-in transactions ----------------------------------------------

    async def insert_transaction(
        self, txn_id: str, state_hash: str, payload: bytes, expires_at: float, *, now: float, limit: int
    ) -> int:
        self._purge_expired(now)
        evicted = 0
        with self._step():
            over = self.execute(SPAN).fetchone()[0] - limit + 1  # at least how many too many, if any
            if over > 0:
                over = self.execute("SELECT count(*) FROM transactions").fetchone()[0] - limit + 1
            if over > 0:  # at the cap: expired ones go first, then the oldest unclaimed, then the oldest claimed
                over -= self.execute(f"DELETE FROM transactions WHERE {EXPIRED['transactions']}", (now,)).rowcount
            if over > 0:
                evicted = self.execute(
                    "DELETE FROM transactions WHERE id IN "
                    "(SELECT id FROM transactions ORDER BY binding IS NOT NULL, expires_at LIMIT ?)",
                    (over,),
                ).rowcount
            self.execute(
                "INSERT INTO transactions (id, state_hash, payload, expires_at) VALUES (?, ?, ?, ?)",
                (txn_id, state_hash, payload, expires_at),
            )
        return evicted

    async def claim_transaction(
        self, txn_id: str, binding_hash: str, now: float, *, expires_at: float, per_binding: int
    ) -> bytes | None:
        with self._step():
            rows = self.execute(
                "UPDATE transactions SET binding = ?, expires_at = ? "
                "WHERE id = ? AND binding IS NULL AND expires_at > ? RETURNING payload",
                (binding_hash, expires_at, txn_id, now),
            ).fetchall()
            if not rows:
                return None
            # This browser's newest `per_binding` stay, this one among them; its older ones go.
            self.execute(
                "DELETE FROM transactions WHERE id IN (SELECT id FROM transactions WHERE binding = ? AND id != ? "
                "ORDER BY expires_at DESC LIMIT -1 OFFSET ?)",
                (binding_hash, txn_id, per_binding - 1),
            )
        return rows[0][0]

    async def take_transaction(self, state_hash: str, binding_hash: str | None) -> TransactionRecord | None:
        row = self.execute(
            "DELETE FROM transactions WHERE state_hash = ? AND binding = ? RETURNING id, binding, payload, expires_at",
            (state_hash, binding_hash),
        ).fetchone()
        return TransactionRecord(*row) if row else None

    # -- handoffs ------------------------------------------------------------

    async def insert_handoff(self, handoff_id: str, kind: str, binding_hash: str, payload: bytes, expires_at: float, *, now: float) -> None:
        self.execute(
            "INSERT INTO handoffs (id, kind, binding, payload, expires_at) VALUES (?, ?, ?, ?, ?)",
            (handoff_id, kind, binding_hash, payload, expires_at),
        )

    async def take_handoff(self, handoff_id: str) -> HandoffRecord | None:
        row = self.execute(
            "DELETE FROM handoffs WHERE id = ? RETURNING kind, binding, payload, expires_at", (handoff_id,)
        ).fetchone()
        return HandoffRecord(*row) if row else None

    # -- sessions ------------------------------------------------------------

    async def insert_session(self, record: SessionRecord, tokens: bytes, *, deadline: float, now: float) -> None:
        self.execute(
            f"INSERT INTO sessions ({COLUMNS}, tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (*_session_values(record), tokens),
        )

    async def get_session(self, key: str) -> tuple[SessionRecord, bytes] | None:
        # Only the sealed tokens' header: enough to know whether they still open.
        row = self.execute(f"SELECT {COLUMNS}, substr(tokens, 1, 5) FROM sessions WHERE id = ?", (key,)).fetchone()
        return (SessionRecord(*row[:-1]), row[-1]) if row else None

    async def touch_session(self, key: str, now: float, deadline: float) -> None:
        self.execute("UPDATE sessions SET last_used_at = ? WHERE id = ?", (now, key))

    async def session_tokens(self, key: str) -> bytes | None:
        row = self.execute("SELECT tokens FROM sessions WHERE id = ?", (key,)).fetchone()
        return row[0] if row else None

    async def end_session(self, key: str, reason: str, reason_until: float, *, now: float) -> bytes | None:
        row = self.execute("DELETE FROM sessions WHERE id = ? RETURNING tokens", (key,)).fetchone()
        if row is None:
            return None
        self.execute(
            "INSERT OR REPLACE INTO ended_sessions (id, reason, expires_at) VALUES (?, ?, ?)", (key, reason, reason_until)
        )
        return row[0]

    async def ended_reason(self, key: str, now: float) -> str | None:
        row = self.execute("SELECT reason FROM ended_sessions WHERE id = ? AND expires_at > ?", (key, now)).fetchone()
        return row[0] if row else None

    async def sessions_of(self, sub: str, now: float, idle_since: float) -> list[SessionRecord]:
        rows = self.execute(
            f"SELECT {COLUMNS} FROM sessions WHERE sub = ? AND expires_at > ? AND last_used_at > ? "
            "ORDER BY last_used_at DESC",
            (sub, now, idle_since),
        )
        return [SessionRecord(*row) for row in rows]

    async def count_live(self, now: float, idle_since: float) -> int:
        return self.execute(
            "SELECT count(*) FROM sessions WHERE expires_at > ? AND last_used_at > ?", (now, idle_since)
        ).fetchone()[0]

    async def session_keys(self, sub: str | None, sid: str | None) -> list[str]:
        clauses, params = [], []
        for column, value in (("sub", sub), ("sid", sid)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if not clauses:
            return []
        return [row[0] for row in self.execute(f"SELECT id FROM sessions WHERE {' AND '.join(clauses)}", tuple(params))]

    # -- refresh leases ------------------------------------------------------

    async def take_lease(self, key: str, owner: str, now: float, until: float) -> bool:
        cursor = self.execute(
            "UPDATE sessions SET refresh_lease = ?, refresh_owner = ? WHERE id = ? AND refresh_lease <= ?",
            (until, owner, key, now),
        )
        return cursor.rowcount == 1

    async def lease_is_a_wait(self, key: str, now: float) -> bool:
        row = self.execute("SELECT refresh_lease, refresh_owner FROM sessions WHERE id = ?", (key,)).fetchone()
        return row is not None and row[0] > now and row[1] is None

    async def end_wait(self, key: str) -> None:
        self.execute("UPDATE sessions SET refresh_lease = 0 WHERE id = ? AND refresh_owner IS NULL", (key,))

    async def release_lease(self, key: str, owner: str, until: float) -> None:
        self.execute(
            "UPDATE sessions SET refresh_lease = ?, refresh_owner = NULL WHERE id = ? AND refresh_owner = ?",
            (until, key, owner),
        )

    async def save_refreshed(self, key: str, owner: str, tokens: bytes, claims: str, refresh_at: float | None) -> bool:
        cursor = self.execute(
            "UPDATE sessions SET tokens = ?, claims = ?, refresh_at = ?, refresh_lease = 0, refresh_owner = NULL "
            "WHERE id = ? AND refresh_owner = ?",
            (tokens, claims, refresh_at, key, owner),
        )
        return cursor.rowcount == 1

    # -- back-channel logout -------------------------------------------------

    async def spend_logout_token(
        self, jti: str, expires_at: float, sub: str | None, sid: str | None, reason_until: float, *, now: float
    ) -> int | None:
        with self._transaction():
            self.execute("DELETE FROM logout_tokens WHERE expires_at <= ?", (now,))
            inserted = self.execute("INSERT OR IGNORE INTO logout_tokens (jti, expires_at) VALUES (?, ?)", (jti, expires_at))
            if inserted.rowcount != 1:
                return None
            keys = await self.session_keys(sub, sid)
            for key in keys:
                await self.end_session(key, "provider_logout", reason_until, now=now)
        return len(keys)
