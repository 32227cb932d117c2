"""The package's storages, for tests that must hold for each, and a look at what they keep."""

from __future__ import annotations

from reflex_logto.sessions.stores.postgres import PostgresStorage
from reflex_logto.sessions.stores.postgres_schema import TABLE_NAMES
from reflex_logto.sessions.stores.redis import RedisStorage
from reflex_logto.sessions.stores.sqlite import TABLES, SqliteStorage


async def everything_stored(storage) -> bytes:
    """Every byte the storage holds, keys included: what a leaked copy of it would show."""
    if isinstance(storage, SqliteStorage):
        return b"".join(
            value if isinstance(value, bytes) else str(value).encode()
            for table in TABLES
            for row in storage.execute(f"SELECT * FROM {table}")
            for value in row
        )
    if isinstance(storage, PostgresStorage):
        async with storage._connection() as connection:
            rows = [row for name in TABLE_NAMES for row in await connection.fetch(f"SELECT * FROM {storage.prefix}{name}")]
        return b"".join(value if isinstance(value, bytes) else str(value).encode() for row in rows for value in row)
    assert isinstance(storage, RedisStorage)
    chunks = []
    async for key in storage.redis.scan_iter():
        chunks.append(key)
        kind = (await storage.redis.type(key)).decode()
        if kind == "string":
            chunks.append(await storage.redis.get(key))
        elif kind == "hash":
            chunks.extend(b"".join(item) for item in (await storage.redis.hgetall(key)).items())
        elif kind == "set":
            chunks.extend(await storage.redis.smembers(key))
        elif kind == "zset":
            chunks.extend(member for member, _ in await storage.redis.zrange(key, 0, -1, withscores=True))
    return b"".join(chunks)
