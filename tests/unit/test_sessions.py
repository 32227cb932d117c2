import dataclasses
import time

import pytest

from reflex_logto.oidc.client import TokenSet
from reflex_logto.sessions.sealing import Sealer
from reflex_logto.sessions.store import REFRESH_LEASE, SessionStore, looks_like_session_id
from reflex_logto.sessions.stores import digest
from tests.support.storages import everything_stored

NOW = time.time()
TOKENS = TokenSet(
    id_token="id.token.value",
    claims={"sub": "user-1", "name": "Ada"},
    access_token="access-token-value",
    refresh_token="refresh-token-value",
    expires_at=int(NOW) + 3600,
    scope="openid",
)


@pytest.fixture
def sessions(storage):
    return SessionStore(storage, Sealer("k" * 32), max_age=3600)


async def test_create_get_delete(sessions):
    session_id = await sessions.create(TOKENS, now=NOW)
    assert looks_like_session_id(session_id)
    session = (await sessions.lookup(session_id, now=NOW)).session
    assert session.sub == "user-1"
    assert session.claims == {"sub": "user-1", "name": "Ada"}
    assert await sessions.delete(session_id) == TOKENS
    assert (await sessions.lookup(session_id, now=NOW)).session is None
    assert await sessions.delete(session_id) is None


async def test_every_sign_in_gets_a_new_id(sessions):
    assert await sessions.create(TOKENS) != await sessions.create(TOKENS)


async def test_expired_session_is_signed_out(sessions):
    session_id = await sessions.create(TOKENS, now=NOW)
    assert (await sessions.lookup(session_id, now=NOW + 3601)).session is None


@pytest.mark.parametrize("forged", [None, "", "x", "A" * 43, "../" * 20, "é" * 43, "a" * 10_000])
async def test_forged_or_unknown_ids_are_signed_out(sessions, forged):
    assert (await sessions.lookup(forged, now=NOW)).session is None


async def test_store_keeps_neither_the_id_nor_the_tokens_in_clear(storage, sessions):
    session_id = await sessions.create(TOKENS, now=NOW)
    raw = await everything_stored(storage)
    for secret in (session_id, TOKENS.access_token, TOKENS.refresh_token, TOKENS.id_token):
        assert secret.encode() not in raw


@pytest.fixture
def timed(storage):
    return SessionStore(storage, Sealer("k" * 32), max_age=1000, idle_timeout=100)


async def test_idle_timeout_ends_the_session_and_says_why(timed):
    session_id = await timed.create(TOKENS, now=NOW)
    assert (await timed.lookup(session_id, now=NOW + 99)).session is not None
    lookup = await timed.lookup(session_id, now=NOW + 99 + 100)
    assert lookup.session is None and lookup.ended_reason == "idle"


async def test_use_keeps_it_alive_but_a_page_check_does_not(timed):
    session_id = await timed.create(TOKENS, now=NOW)
    await timed.lookup(session_id, now=NOW + 90)  # a page load: counts as use
    assert (await timed.lookup(session_id, now=NOW + 180, touch=False)).session is not None
    await timed.lookup(session_id, now=NOW + 260, touch=False)  # only checks: no use since NOW + 90
    assert (await timed.lookup(session_id, now=NOW + 270)).ended_reason == "idle"


async def test_absolute_lifetime_ends_even_an_active_session(timed):
    session_id = await timed.create(TOKENS, now=NOW)
    for minute in range(1, 16):
        assert (await timed.lookup(session_id, now=NOW + minute * 61)).session is not None
    lookup = await timed.lookup(session_id, now=NOW + 1000)
    assert lookup.session is None and lookup.ended_reason == "expired"


async def test_user_sees_only_their_own_sessions(sessions):
    mine = await sessions.create(TOKENS, user_agent="Firefox", now=NOW)
    await sessions.create(TOKENS, user_agent="Chrome", now=NOW + 1)
    other = TokenSet(**{**TOKENS.to_dict(), "claims": {"sub": "user-2"}})
    await sessions.create(other, now=NOW)
    listed = await sessions.list_for("user-1", now=NOW + 2)
    assert [s.user_agent for s in listed] == ["Chrome", "Firefox"]
    assert len({s.handle for s in listed}) == 2
    assert all(mine not in repr(s) for s in listed)  # the list never carries a session id


async def test_a_refresh_lease_lapses_so_a_dead_worker_holds_nobody_up(sessions):
    session_id = await sessions.create(TOKENS, now=NOW)
    key = digest(session_id)
    assert await sessions.take_refresh_lease(key, "worker-a", now=NOW)
    assert not await sessions.take_refresh_lease(key, "worker-b", now=NOW + REFRESH_LEASE - 1)
    assert await sessions.take_refresh_lease(key, "worker-b", now=NOW + REFRESH_LEASE)


async def test_sessions_sealed_with_a_previous_secret_still_open(storage):
    old = SessionStore(storage, Sealer("old-secret" * 4))
    session_id = await old.create(TOKENS, now=NOW)
    rotated = SessionStore(storage, Sealer("new-secret" * 4, previous=("old-secret" * 4,)))
    session = (await rotated.lookup(session_id, now=NOW)).session
    assert (await rotated.tokens(session.key)) == TOKENS
    only_new = SessionStore(storage, Sealer("new-secret" * 4))
    assert await only_new.tokens(session.key) is None  # without the old secret: unreadable, not an error


async def test_dropping_a_previous_secret_ends_its_sessions(storage):
    session_id = await SessionStore(storage, Sealer("old-secret" * 4)).create(TOKENS, now=NOW)
    dropped = SessionStore(storage, Sealer("new-secret" * 4))
    lookup = await dropped.lookup(session_id, now=NOW)
    assert lookup.session is None and lookup.ended_reason == "expired"
    assert (await dropped.lookup(session_id, now=NOW)).session is None  # and stays ended


async def test_activity_keeps_a_short_idle_timeout_alive(storage):
    short = SessionStore(storage, Sealer("k" * 32), idle_timeout=30)
    session_id = await short.create(TOKENS, now=NOW)
    for second in range(10, 121, 10):  # a page load every 10 s for two minutes
        assert (await short.lookup(session_id, now=NOW + second)).session is not None, second


async def test_count_live_leaves_out_expired_and_idle_sessions(storage):
    store = SessionStore(storage, Sealer("k" * 32), max_age=1000, idle_timeout=100)
    await store.create(TOKENS, now=NOW)  # idle by NOW + 200
    await store.create(TOKENS, now=NOW + 150)
    await store.create(TOKENS, now=NOW - 990)  # past its lifetime by NOW + 200
    assert await store.count_live(now=NOW + 200) == 1


async def test_a_users_sessions_are_listed_most_recently_used_first(storage):
    store = SessionStore(storage, Sealer("k" * 32), idle_timeout=100)
    first = await store.create(TOKENS, now=NOW)
    second = await store.create(TOKENS, now=NOW + 10)
    await store.create(dataclasses.replace(TOKENS, claims={"sub": "someone-else"}), now=NOW)
    await store.lookup(first, now=NOW + 90)  # used again
    listed = await store.list_for("user-1", now=NOW + 95)
    assert [s.key for s in listed] == [digest(first), digest(second)]
    assert [s.key for s in await store.list_for("user-1", now=NOW + 150)] == [digest(first)]  # the other is idle
    await store.delete(first)
    assert await store.list_for("user-1", now=NOW + 150) == []


async def test_why_a_session_ended_is_kept_for_an_hour(sessions):
    session_id = await sessions.create(TOKENS, now=NOW)
    key = digest(session_id)
    await sessions.end(key, "signed_out", now=NOW)
    assert await sessions.ended_reason(key, now=NOW + 3599) == "signed_out"
    assert await sessions.ended_reason(key, now=NOW + 3601) is None
