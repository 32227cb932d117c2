"""What the PostgreSQL store does beyond the contract: its tables made on first use under
its prefix, a restart or an outage of the server, and a purge nothing can hold up."""

import asyncio
import time

import asyncpg
import pytest

from reflex_logto.errors import ConfigurationError, StoreUnavailable
from reflex_logto.sessions.stores import digest, open_storage
from reflex_logto.sessions.stores.contract import _insert, _session
from reflex_logto.sessions.stores.postgres import PURGE_INTERVAL, PostgresStorage
from reflex_logto.sessions.stores.postgres_schema import SCHEMA_VERSION, TABLE_NAMES, schema_sql
from tests.support.app_server import free_port
from tests.support.postgres_server import emptied


async def _fetch(url: str, sql: str, *args):
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetch(sql, *args)
    finally:
        await connection.close()


async def test_workers_starting_together_make_the_tables_once_under_the_prefix(postgres_server):
    prefix = f"first_use_{time.time_ns()}_"[:30]
    stores = [PostgresStorage(postgres_server.url, prefix=prefix) for _ in range(4)]
    try:
        records = [_session(time.time()) for _ in stores]
        await asyncio.gather(*(_insert(store, record) for store, record in zip(stores, records, strict=True)))
        tables = await _fetch(postgres_server.url, "SELECT tablename FROM pg_tables WHERE tablename LIKE $1", prefix + "%")
        assert {row[0] for row in tables} == {prefix + name for name in (*TABLE_NAMES, "schema")}
        assert [tuple(row) for row in await _fetch(postgres_server.url, f"SELECT version FROM {prefix}schema")] == [(SCHEMA_VERSION,)]
        for record in records:
            assert await stores[0].get_session(record.key) is not None
    finally:
        for store in stores:
            await store.close()


async def test_the_schema_script_run_by_a_migration_tool_makes_a_working_store(postgres_server):
    prefix = f"migrated_{time.time_ns()}_"[:30]
    postgres_server.execute(schema_sql(prefix))  # psql, as a migration tool would
    store = PostgresStorage(postgres_server.url, prefix=prefix)
    try:
        await store.insert_transaction("txn-1", digest("state-1"), b"sealed", time.time() + 60, now=time.time(), limit=10)
        await store.claim_transaction("txn-1", digest("browser"), time.time(), expires_at=time.time() + 600, per_binding=5)
        assert (await store.take_transaction(digest("state-1"), digest("browser"))).id == "txn-1"
        assert [tuple(row) for row in await _fetch(postgres_server.url, f"SELECT version FROM {prefix}schema")] == [(SCHEMA_VERSION,)]
    finally:
        await store.close()


async def test_two_prefixes_are_two_stores_in_one_database(postgres_server):
    for prefix in ("app_one_", "app_two_"):
        await emptied(postgres_server.url, prefix)
    one, two = (PostgresStorage(postgres_server.url, prefix=prefix) for prefix in ("app_one_", "app_two_"))
    try:
        record = _session(time.time())
        await _insert(one, record)
        assert await one.get_session(record.key) is not None
        assert await two.get_session(record.key) is None
    finally:
        await one.close()
        await two.close()


@pytest.mark.parametrize("prefix", ["", "Logto_", "logto-", "1logto_", "logto_; DROP TABLE users; --", "x" * 32])
def test_a_prefix_that_is_not_a_plain_name_is_refused(prefix):
    with pytest.raises(ConfigurationError, match="table prefix"):
        PostgresStorage("postgresql://db/app", prefix=prefix)


async def test_tables_of_a_newer_release_are_left_alone(postgres_server):
    await emptied(postgres_server.url, "newer_")
    await _fetch(postgres_server.url, "UPDATE newer_schema SET version = $1", SCHEMA_VERSION + 1)
    store = PostgresStorage(postgres_server.url, prefix="newer_")
    try:
        with pytest.raises(StoreUnavailable, match="schema version"):
            await store.get_session(digest("any"))
        assert [tuple(row) for row in await _fetch(postgres_server.url, "SELECT version FROM newer_schema")] == [(SCHEMA_VERSION + 1,)]
    finally:
        await store.close()


def test_sqlalchemy_urls_open_the_postgresql_store():
    for url in ("postgresql://db/app", "postgres://db/app", "postgresql+asyncpg://db/app", "postgresql+psycopg://db/app"):
        assert isinstance(open_storage(url, "unused.sqlite3"), PostgresStorage)


async def test_a_restart_loses_no_session_and_the_store_comes_back(postgres_server):
    await emptied(postgres_server.url, "restart_")
    store = PostgresStorage(postgres_server.url, prefix="restart_")
    try:
        record = _session(time.time())
        tokens = await _insert(store, record)
        postgres_server.stop()
        with pytest.raises(StoreUnavailable, match=r"^the session store \(PostgreSQL\) failed"):
            await store.get_session(record.key)
        with pytest.raises(StoreUnavailable):
            async with store.atomic():
                pass
        postgres_server.start()
        # The pool's old connections were closed with the server: at most one step sees that, then it reconnects.
        for _ in range(2):
            try:
                found = await store.get_session(record.key)
                break
            except StoreUnavailable:
                continue
        assert found is not None and found[0] == record
        assert await store.session_tokens(record.key) == tokens
    finally:
        if not postgres_server.is_running():
            postgres_server.start()
        await store.close()


async def test_a_refused_connection_names_no_password(postgres_server):
    url = postgres_server.url.replace(postgres_server.password, "wrong-password-1234")
    for store in (PostgresStorage(url), PostgresStorage(f"postgresql://app:pw-5678@127.0.0.1:{free_port()}/app")):
        with pytest.raises(StoreUnavailable) as refused:
            await store.get_session(digest("any"))
        assert "wrong-password-1234" not in str(refused.value) and "pw-5678" not in str(refused.value)
        await store.close()


async def test_a_purge_drops_expired_rows_and_skips_what_another_step_holds(postgres_server):
    await emptied(postgres_server.url, "purge_")
    store = PostgresStorage(postgres_server.url, prefix="purge_")
    holder = await asyncpg.connect(postgres_server.url)
    try:
        now = time.time()
        for n in range(3):
            await store.insert_handoff(f"old-{n}", "sign_in", digest("cookie"), b"sealed", now - 1, now=now)
        await store.insert_handoff("live", "sign_in", digest("cookie"), b"sealed", now + 600, now=now)
        gone = _session(now - 2000)
        await _insert(store, gone)
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM purge_handoffs WHERE id = 'old-0' FOR UPDATE")  # a step under way
            started = time.monotonic()
            await store.insert_session(_session(now), b"sealed", deadline=now + 100, now=now + PURGE_INTERVAL + 1)
            assert time.monotonic() - started < 1  # it did not wait for the row held
        left = {row[0] for row in await _fetch(postgres_server.url, "SELECT id FROM purge_handoffs")}
        assert left == {"old-0", "live"}
        assert await store.get_session(gone.key) is None
    finally:
        await holder.close()
        await store.close()


async def test_an_error_inside_atomic_rolls_back_and_leaves_no_connection_in_a_transaction(postgres_server):
    await emptied(postgres_server.url, "rollback_")
    store = PostgresStorage(postgres_server.url, prefix="rollback_")
    try:
        now = time.time()
        with pytest.raises(LookupError):
            async with store.atomic():
                await store.insert_handoff("handoff-1", "sign_in", digest("cookie"), b"sealed", now + 60, now=now)
                raise LookupError("the step after it failed")
        assert await store.take_handoff("handoff-1") is None  # rolled back
        idle_in_transaction = await _fetch(
            postgres_server.url, "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"
        )
        assert idle_in_transaction[0][0] == 0  # the pooled connection went back clean (no reset query is sent)
        async with store.atomic():
            await store.insert_handoff("handoff-2", "sign_in", digest("cookie"), b"sealed", now + 60, now=now)
        assert await store.take_handoff("handoff-2") is not None
    finally:
        await store.close()
