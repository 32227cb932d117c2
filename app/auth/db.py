"""The embedded SQLite database behind the sign-in transactions and the sessions.

One connection per process, used from the event loop: a statement on a small
indexed table takes tens of microseconds, less than handing it to a thread
costs. WAL mode lets several worker processes share the file; a writer that
finds the file locked waits (busy_timeout), so writes are kept to one short
statement each. For several machines, this is the part to replace.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

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
    kind        TEXT NOT NULL,         -- 'sign_in' or 'sign_out'
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
CREATE INDEX IF NOT EXISTS transactions_expiry ON transactions (expires_at);
CREATE INDEX IF NOT EXISTS handoffs_expiry ON handoffs (expires_at);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at);
CREATE INDEX IF NOT EXISTS sessions_sub ON sessions (sub);
CREATE INDEX IF NOT EXISTS sessions_sid ON sessions (sid);
CREATE INDEX IF NOT EXISTS ended_sessions_expiry ON ended_sessions (expires_at);
CREATE INDEX IF NOT EXISTS logout_tokens_expiry ON logout_tokens (expires_at);
"""
SCHEMA_VERSION = 4
PURGE_INTERVAL = 60  # seconds
TABLES = ("transactions", "handoffs", "sessions", "ended_sessions", "logout_tokens")


def digest(value: str) -> str:
    """What the database keeps in place of a bearer value: a leaked file opens nothing."""
    return hashlib.sha256(value.encode()).hexdigest()


class Database:
    def __init__(self, path: str):
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute("PRAGMA busy_timeout=5000")
        self._purged_at = float("-inf")
        self._migrate()

    def _migrate(self) -> None:
        # One process at a time: workers starting together must not both rebuild.
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            if self.connection.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                # Before 1.0 the schema changes wholesale: start afresh (everyone signs in again).
                for table in TABLES:
                    self.connection.execute(f"DROP TABLE IF EXISTS {table}")
                for statement in filter(str.strip, SCHEMA.split(";")):
                    self.connection.execute(statement)
                self.connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.connection.execute("COMMIT")
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise

    def execute(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        return self.connection.execute(sql, params)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Statements that stand or fall together.

        The connection is shared by every coroutine of the process: nothing
        inside may suspend (the stores' methods never do, though they are async
        so that a networked store can take their place).
        """
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def purge_expired(self, now: float) -> None:
        """Drop expired rows; at most once a minute per process."""
        if now - self._purged_at < PURGE_INTERVAL:
            return
        self._purged_at = now
        for table in TABLES:
            self.execute(f"DELETE FROM {table} WHERE expires_at <= ?", (now,))

    def close(self) -> None:
        self.connection.close()
