"""The store contract (`reflex_logto.sessions.stores.contract`), for the package's own three stores."""

import time

import pytest

from reflex_logto.sessions.stores import digest
from reflex_logto.sessions.stores.contract import StorageContract, _insert, _session
from reflex_logto.sessions.stores.postgres import PostgresStorage
from reflex_logto.sessions.stores.redis import RedisStorage
from reflex_logto.sessions.stores.sqlite import SqliteStorage
from tests.support.postgres_server import emptied


class TestSqliteStorage(StorageContract):
    @pytest.fixture
    async def storage(self, tmp_path):
        store = SqliteStorage(str(tmp_path / "store.sqlite3"))
        yield store
        await store.close()


class TestRedisStorage(StorageContract):
    @pytest.fixture
    async def storage(self, redis_server):
        redis_server.flush()
        store = RedisStorage(redis_server.url)
        yield store
        await store.close()


class TestPostgresStorage(StorageContract):
    @pytest.fixture
    async def storage(self, postgres_server):
        await emptied(postgres_server.url, "contract_")
        store = PostgresStorage(postgres_server.url, prefix="contract_")
        yield store
        await store.close()


@pytest.mark.parametrize("version", [4, 3])
async def test_an_older_sqlite_file_is_rebuilt_keeping_sessions_from_version_4(tmp_path, version):
    path, now = str(tmp_path / "store.sqlite3"), time.time()
    store = SqliteStorage(path)
    record = _session(now)
    await _insert(store, record)
    await store.insert_transaction("txn-1", digest("state-1"), b"sealed", now + 60, now=now, limit=10)
    await store.claim_transaction("txn-1", digest("browser"), now, expires_at=now + 600, per_binding=5)
    store.execute(f"PRAGMA user_version = {version}")
    await store.close()
    store = SqliteStorage(path)
    try:
        assert store.execute("PRAGMA user_version").fetchone()[0] == 5
        assert (await store.get_session(record.key) is not None) == (version == 4)  # from 4 only transactions changed
        assert await store.take_transaction(digest("state-1"), digest("browser")) is None  # sign-ins under way start again
        assert store.execute("SELECT count(*) FROM sqlite_master WHERE name = 'transactions_eviction'").fetchone()[0] == 1
    finally:
        await store.close()
