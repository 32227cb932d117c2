"""The store contract (`reflex_logto.sessions.stores.contract`), for the package's own two stores."""

import pytest

from reflex_logto.sessions.stores.contract import StorageContract
from reflex_logto.sessions.stores.redis import RedisStorage
from reflex_logto.sessions.stores.sqlite import SqliteStorage


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
