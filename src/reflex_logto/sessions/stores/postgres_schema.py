"""The PostgreSQL store's tables and functions, made on first use.

Every name starts with the store's prefix (`logto_` unless the app picks
another), so the tables sit beside the app's own in its database and schema.
Creating them needs the CREATE privilege on the schema once; afterwards the
role needs only to read and write these tables and run these functions.
`schema_sql()` is the same script, for a migration tool that runs it instead
(`python -c "from reflex_logto.sessions.stores.postgres_schema import schema_sql; print(schema_sql())"`).
Needs PostgreSQL 11 or later (hashtextextended).

Two steps keep a bound on sign-in transactions: an insert counts and evicts,
a claim drops a browser's oldest. Each is a function here (one round trip)
that first takes one transaction-scoped advisory lock, so that the count and
the eviction agree across workers; nothing else takes that lock, and it is
held only for the function's few statements.
"""

from __future__ import annotations

import re

import asyncpg

from reflex_logto.errors import ConfigurationError, StoreUnavailable

DEFAULT_PREFIX = "logto_"
SCHEMA_VERSION = 1
# A lock key of our own for the schema and for the bounds (pg_advisory_xact_lock takes a bigint).
LOCK_NAMESPACE = "reflex-logto"

TABLE_NAMES = ("transactions", "handoffs", "sessions", "ended_sessions", "logout_tokens")  # each after the prefix
_PREFIX = re.compile(r"[a-z_][a-z0-9_]{0,30}")

TABLES = """
CREATE TABLE IF NOT EXISTS {p}transactions (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY,  -- only grows: the span of seq bounds the count
    id          TEXT PRIMARY KEY,      -- random: names the transaction in the start URL
    state_hash  TEXT NOT NULL UNIQUE,  -- sha256 of `state`: the callback finds it by this
    binding     TEXT,                  -- sha256 of the browser's binding cookie, once claimed
    payload     BYTEA NOT NULL,        -- sealed: state, nonce, PKCE verifier, return path
    expires_at  DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS {p}handoffs (
    id          TEXT PRIMARY KEY,      -- random: names the handoff in a backend route URL
    kind        TEXT NOT NULL,         -- 'sign_in' or 'sign_out'
    binding     TEXT NOT NULL,         -- sha256 of the cookie that must come with it
    payload     BYTEA NOT NULL,        -- sealed
    expires_at  DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS {p}sessions (
    id            TEXT PRIMARY KEY,     -- sha256 of the session id in the cookie
    handle        TEXT NOT NULL UNIQUE, -- random public name, for the user's list of sessions
    sub           TEXT NOT NULL,
    sid           TEXT,                 -- the provider's session (ID token `sid`), for back-channel logout
    claims        TEXT NOT NULL,        -- the ID token's claims, JSON
    tokens        BYTEA NOT NULL,       -- sealed TokenSet
    refresh_at    DOUBLE PRECISION,     -- when the access token is due for renewal
    user_agent    TEXT NOT NULL,
    acting_party  TEXT,                 -- who acts for the user (impersonation), if anyone
    created_at    DOUBLE PRECISION NOT NULL,
    last_used_at  DOUBLE PRECISION NOT NULL,
    expires_at    DOUBLE PRECISION NOT NULL,           -- the absolute end
    refresh_lease DOUBLE PRECISION NOT NULL DEFAULT 0, -- no other refresh before then
    refresh_owner TEXT                  -- who holds the lease: a refresh under way, or NULL for a wait
);
CREATE TABLE IF NOT EXISTS {p}ended_sessions (
    id          TEXT PRIMARY KEY,       -- as sessions.id
    reason      TEXT NOT NULL,          -- why, for the page that still shows it
    expires_at  DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS {p}logout_tokens (
    jti         TEXT PRIMARY KEY,       -- back-channel logout tokens seen, so none is replayed
    expires_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS {p}transactions_seq ON {p}transactions (seq);
CREATE INDEX IF NOT EXISTS {p}transactions_eviction ON {p}transactions ((binding IS NOT NULL), expires_at);
CREATE INDEX IF NOT EXISTS {p}transactions_binding ON {p}transactions (binding, expires_at) WHERE binding IS NOT NULL;
CREATE INDEX IF NOT EXISTS {p}handoffs_expiry ON {p}handoffs (expires_at);
CREATE INDEX IF NOT EXISTS {p}sessions_expiry ON {p}sessions (expires_at);
CREATE INDEX IF NOT EXISTS {p}sessions_sub ON {p}sessions (sub);
CREATE INDEX IF NOT EXISTS {p}sessions_sid ON {p}sessions (sid) WHERE sid IS NOT NULL;
CREATE INDEX IF NOT EXISTS {p}ended_sessions_expiry ON {p}ended_sessions (expires_at);
CREATE INDEX IF NOT EXISTS {p}logout_tokens_expiry ON {p}logout_tokens (expires_at);
CREATE TABLE IF NOT EXISTS {p}schema (version INTEGER NOT NULL);
"""

# `$$` bodies: the statements run with the caller's clock (`now`), never the server's.
FUNCTIONS = """
CREATE OR REPLACE FUNCTION {p}insert_transaction(
    txn_id TEXT, state TEXT, sealed BYTEA, expiry DOUBLE PRECISION, now DOUBLE PRECISION, cap INTEGER
) RETURNS INTEGER LANGUAGE plpgsql AS $$
DECLARE
    excess BIGINT;
    removed BIGINT;
    evicted INTEGER := 0;
BEGIN
    PERFORM pg_advisory_xact_lock({lock});
    -- No fewer rows than this span (two index seeks); only a span past the cap has them counted.
    SELECT coalesce(max(seq) - min(seq) + 1, 0) - cap + 1 INTO excess FROM {p}transactions;
    IF excess > 0 THEN
        SELECT count(*) - cap + 1 INTO excess FROM {p}transactions;
    END IF;
    IF excess > 0 THEN  -- expired ones go first, uncounted, then the oldest unclaimed, then the oldest claimed
        DELETE FROM {p}transactions WHERE expires_at <= now;
        GET DIAGNOSTICS removed = ROW_COUNT;
        excess := excess - removed;
    END IF;
    IF excess > 0 THEN
        DELETE FROM {p}transactions WHERE id IN (
            SELECT id FROM {p}transactions ORDER BY (binding IS NOT NULL), expires_at LIMIT excess);
        GET DIAGNOSTICS evicted = ROW_COUNT;
    END IF;
    INSERT INTO {p}transactions (id, state_hash, payload, expires_at) VALUES (txn_id, state, sealed, expiry);
    RETURN evicted;
END $$;

CREATE OR REPLACE FUNCTION {p}claim_transaction(
    txn_id TEXT, browser TEXT, now DOUBLE PRECISION, expiry DOUBLE PRECISION, per_binding INTEGER
) RETURNS BYTEA LANGUAGE plpgsql AS $$
DECLARE
    sealed BYTEA;
BEGIN
    PERFORM pg_advisory_xact_lock({lock});
    UPDATE {p}transactions SET binding = browser, expires_at = expiry
        WHERE id = txn_id AND binding IS NULL AND expires_at > now RETURNING payload INTO sealed;
    IF sealed IS NULL THEN
        RETURN NULL;
    END IF;
    -- This browser's newest `per_binding` stay, this one among them; its older ones go.
    DELETE FROM {p}transactions WHERE id IN (
        SELECT id FROM {p}transactions WHERE binding = browser AND id <> txn_id
        ORDER BY expires_at DESC OFFSET per_binding - 1);
    RETURN sealed;
END $$;
"""


def checked_prefix(prefix: str) -> str:
    """The prefix, if it makes plain lower-case SQL names (it is spliced into every statement)."""
    if not _PREFIX.fullmatch(prefix):
        raise ConfigurationError(
            "the PostgreSQL table prefix must be lower-case letters, digits and _ (up to 31), not starting with a digit"
        )
    return prefix


def lock_key(prefix: str) -> str:
    """SQL for this prefix's advisory lock key: stores with other prefixes never wait for it."""
    return f"hashtextextended('{LOCK_NAMESPACE}:{prefix}', 0)"


def schema_sql(prefix: str = DEFAULT_PREFIX) -> str:
    """The whole script: tables, indexes and functions for `prefix`, and the version they are at."""
    prefix = checked_prefix(prefix)
    version = f"DELETE FROM {prefix}schema;\nINSERT INTO {prefix}schema (version) VALUES ({SCHEMA_VERSION});\n"
    return TABLES.format(p=prefix) + FUNCTIONS.format(p=prefix, lock=lock_key(prefix)) + version


async def create_schema(connection: asyncpg.Connection, prefix: str = DEFAULT_PREFIX) -> None:
    """Make the tables and functions unless they are there at this version; workers starting together make them once."""
    prefix = checked_prefix(prefix)
    async with connection.transaction():
        await connection.execute(f"SELECT pg_advisory_xact_lock({lock_key(prefix)})")
        exists = await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{prefix}schema")
        version = await connection.fetchval(f"SELECT max(version) FROM {prefix}schema") if exists else None
        if version == SCHEMA_VERSION:
            return
        if version is not None and version > SCHEMA_VERSION:
            # A newer release made these tables: this one must not touch them.
            raise StoreUnavailable(
                f"the session tables ({prefix}*) are at schema version {version}; this reflex-logto knows {SCHEMA_VERSION}: upgrade it"
            )
        await connection.execute(schema_sql(prefix))
