"""Memory per signed-in session: the session store's bytes (SQLite on disk, Redis
in memory, PostgreSQL on disk: tables, indexes and TOAST) and a tab's Reflex state.

    .venv/bin/python bench/memory.py [--sessions 1000 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PYTEST_CURRENT_TEST", "bench/memory.py")  # lets Reflex states be made directly

from reflex_logto.oidc.client import TokenSet  # noqa: E402
from reflex_logto.sessions.sealing import Sealer  # noqa: E402
from reflex_logto.sessions.store import SessionStore  # noqa: E402
from reflex_logto.sessions.stores.postgres import PostgresStorage  # noqa: E402
from reflex_logto.sessions.stores.redis import RedisStorage  # noqa: E402
from reflex_logto.sessions.stores.sqlite import SqliteStorage  # noqa: E402
from tests.support.fake_provider import FakeProvider  # noqa: E402
from tests.support.postgres_server import PostgresServer  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402
from tests.support.reflex_state import auth_state  # noqa: E402


def tokens(op: FakeProvider, n: int) -> TokenSet:
    """Tokens of a realistic size: a signed ES384 ID token with Logto-like claims."""
    op.nonce = f"nonce-{n}"
    claims = {"iss": op.issuer, "sub": f"user-{n:08d}", "aud": op.client_id, "exp": 2_000_000_000, "iat": 1_700_000_000,
              "nonce": op.nonce, "name": "Ada Lovelace", "email": f"ada{n}@example.com", "email_verified": True,
              "picture": "https://example.com/avatar.png", "username": f"ada{n}", "sid": f"sid-{n:020d}"}
    return TokenSet(id_token=op.id_token(**claims), claims=claims, access_token="a" * 43, refresh_token="r" * 43,
                    expires_at=2_000_000_000, scope="openid offline_access profile email", refresh_at=1_999_999_000)


async def store_bytes(count: int) -> tuple[float, float]:
    folder = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    db = SqliteStorage(str(folder / "sessions.sqlite3"))
    store = SessionStore(db, Sealer("s" * 32))
    op = FakeProvider()
    before = db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
    made = [tokens(op, n) for n in range(count)]  # signing the ID tokens is the provider's work, not timed
    t = time.perf_counter()
    for token_set in made:
        await store.create(token_set, user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0")
    elapsed = time.perf_counter() - t
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    after = db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
    db.connection.close()
    return (after - before) / count, elapsed / count


async def redis_bytes(count: int) -> tuple[float, float]:
    """Redis's own used_memory per session (records and indexes), and the write time."""
    server = RedisServer(Path(tempfile.mkdtemp(prefix="bench-memory-redis-")))
    storage = RedisStorage(server.url)
    try:
        store = SessionStore(storage, Sealer("s" * 32))
        op = FakeProvider()
        made = [tokens(op, n) for n in range(count)]
        before = (await storage.redis.info("memory"))["used_memory"]
        t = time.perf_counter()
        for token_set in made:
            await store.create(token_set, user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0")
        elapsed = time.perf_counter() - t
        after = (await storage.redis.info("memory"))["used_memory"]
        return (after - before) / count, elapsed / count
    finally:
        await storage.close()
        server.stop()


async def postgres_bytes(server: PostgresServer, count: int) -> tuple[float, float]:
    """The session tables' size on disk per session (pg_total_relation_size: heap, indexes, TOAST), and the write time."""
    prefix = f"memory{count}_"
    storage = PostgresStorage(server.url, prefix=prefix)
    size = f"SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c WHERE c.relkind = 'r' AND c.relname LIKE '{prefix}%'"
    try:
        store = SessionStore(storage, Sealer("s" * 32))
        op = FakeProvider()
        made = [tokens(op, n) for n in range(count)]
        await storage.count_live(0, 0)  # the tables made, empty
        async with storage._connection() as connection:
            before = await connection.fetchval(size)
        t = time.perf_counter()
        for token_set in made:
            await store.create(token_set, user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0")
        elapsed = time.perf_counter() - t
        async with storage._connection() as connection:
            await connection.execute(f"VACUUM {prefix}sessions")  # the free-space map counted, as a live table has it
            after = await connection.fetchval(size)
        return (after - before) / count, elapsed / count
    finally:
        await storage.close()


def state_bytes(count: int) -> tuple[float, float]:
    op = FakeProvider()
    tracemalloc.start()
    start = tracemalloc.take_snapshot()
    states = []
    for n in range(count):
        state = auth_state("/", cookie="")
        session_claims = tokens(op, n).claims
        state.signed_in, state.user_name, state.user_email, state.user_sub = True, "Ada", session_claims["email"], session_claims["sub"]
        from reflex_logto import claim_rows

        state.claims = claim_rows(session_claims)
        states.append(state)
    grown = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(start, "filename"))
    tracemalloc.stop()
    pickled = sum(len(pickle.dumps(s.dict())) for s in states[:100]) / min(count, 100)
    return grown / count, pickled


async def main(counts: list[int]) -> None:
    print("| sessions | SQLite bytes/session | SQLite write ms | Redis bytes/session | Redis write ms "
          "| PostgreSQL bytes/session | PostgreSQL write ms | tab state bytes (heap) | tab state bytes (pickled) |")
    print("|---------:|---------------------:|----------------:|--------------------:|---------------:"
          "|------------------------:|--------------------:|-----------------------:|--------------------------:|")
    postgres = PostgresServer()
    try:
        for count in counts:
            per_session, write = await store_bytes(count)
            in_redis, redis_write = await redis_bytes(count)
            in_postgres, postgres_write = await postgres_bytes(postgres, count)
            heap, pickled = state_bytes(min(count, 2000))
            print(f"| {count} | {per_session:.0f} | {write * 1000:.3f} | {in_redis:.0f} | {redis_write * 1000:.3f} "
                  f"| {in_postgres:.0f} | {postgres_write * 1000:.3f} | {heap:.0f} | {pickled:.0f} |")
    finally:
        postgres.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1000, 10000])
    asyncio.run(main(parser.parse_args().sessions))
