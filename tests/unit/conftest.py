import pytest

from reflex_logto.sessions.stores.postgres import PostgresStorage
from reflex_logto.sessions.stores.redis import RedisStorage
from reflex_logto.sessions.stores.sqlite import SqliteStorage
from tests.support.postgres_server import emptied


@pytest.fixture(params=["sqlite", "redis", "postgres"])
async def open_storage(request, tmp_path):
    """Opens connections to one fresh, empty store, as many as a test wants (one per
    simulated worker process); each test that takes it runs against SQLite, Redis and PostgreSQL."""
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        server.flush()
    elif request.param == "postgres":
        server = request.getfixturevalue("postgres_server")
        await emptied(server.url, "unit_")
    opened = []

    def open_one():
        if request.param == "sqlite":
            store = SqliteStorage(str(tmp_path / "store.sqlite3"))
        elif request.param == "redis":
            store = RedisStorage(server.url)
        else:
            store = PostgresStorage(server.url, prefix="unit_")
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()


@pytest.fixture
def storage(open_storage):
    """A fresh, empty store (SQLite, then Redis, then PostgreSQL)."""
    return open_storage()


@pytest.fixture
def fresh_app():
    """A second rx.App in this process, with room for its own states; the app's own states,
    the package's configuration and its logger's level are as they were afterwards."""
    import logging

    import reflex as rx
    from reflex_base.registry import RegistrationContext

    from reflex_logto.reflex import runtime

    token = RegistrationContext.set(RegistrationContext.get().fork())
    configured = dict(vars(runtime))
    try:
        yield rx.App()
    finally:
        RegistrationContext.reset(token)
        for name in ("_config", "_backend_url", "_transport", "_storage", "_extras", "_flow"):
            setattr(runtime, name, configured[name])
        logging.getLogger("reflex_logto").setLevel(logging.NOTSET)

