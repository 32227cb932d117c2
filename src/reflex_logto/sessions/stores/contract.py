"""What every `Storage` must do: tests to run against your own.

Subclass `StorageContract` in a test module and give it a `storage` fixture
that yields a fresh, empty store (and closes it afterwards). With `pytest`
and `from reflex_logto.sessions.stores.contract import StorageContract`:

    class TestMyStore(StorageContract):
        @pytest.fixture
        async def storage(self):
            store = MyStore(...)  # fresh and empty
            yield store
            await store.close()

This module is for tests only, and nothing in the package imports it: it needs
pytest and pytest-asyncio, which the package does not depend on. Its tests are
marked `asyncio`, so they run in either of pytest-asyncio's modes; the async
fixture above is plain `@pytest.fixture` with `asyncio_mode = auto`, and
`@pytest_asyncio.fixture` in strict mode.

The tests call nothing but the `Storage` methods, each with times from one
caller's clock (epoch seconds, around now): a store checks expiry against the
`now` it is given, never against its own clock (by which it may clear a record
away once it has expired). The rules above a store (binding,
sealing, lifetimes) are `SessionStore`'s and `TransactionStore`'s, tested with
them; what a store hands back here is whatever it was given.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from dataclasses import replace

try:
    import pytest
except ImportError as err:  # pragma: no cover - only without the test dependencies
    raise ImportError("reflex_logto.sessions.stores.contract is for tests: it needs pytest and pytest-asyncio") from err

from reflex_logto.sessions.stores import HandoffRecord, SessionRecord, Storage, TransactionRecord, digest

__all__ = ["StorageContract"]

IDLE = 100.0  # seconds: the idle timeout the session tests assume
REASON_KEPT = 3600.0  # seconds an ended session's reason is kept, as SessionStore does
LIMIT = 1000  # transactions in all, for the tests not about that bound
PER_BINDING = 5  # claimed transactions per binding, likewise


def _blob(size: int = 64) -> bytes:
    """Sealed-looking bytes: any byte value at all, NULs included."""
    return b"\x02\x00\x01\xfe\xff" + os.urandom(size)


def _session(now: float, *, sub: str = "user-1", sid: str | None = "op-session-1", **changes) -> SessionRecord:
    """A session signed in at `now`, lasting 1000 s; `changes` to any field."""
    record = SessionRecord(
        key=digest(secrets.token_urlsafe(32)),
        handle=secrets.token_urlsafe(12),
        sub=sub,
        sid=sid,
        claims=json.dumps({"sub": sub, "name": "Ada Lovelace", "note": "café ✓"}, ensure_ascii=False),
        refresh_at=now + 3540.5,
        user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0 é",
        acting_party=None,
        created_at=now,
        last_used_at=now,
        expires_at=now + 1000,
    )
    return replace(record, **changes)


def _deadline(record: SessionRecord) -> float:
    """When a session ends unless used again, as SessionStore tells a store."""
    return min(record.expires_at, record.last_used_at + IDLE)


async def _insert(storage: Storage, record: SessionRecord, tokens: bytes | None = None) -> bytes:
    tokens = _blob() if tokens is None else tokens
    await storage.insert_session(record, tokens, deadline=_deadline(record), now=record.last_used_at)
    return tokens


async def _touch(storage: Storage, record: SessionRecord, now: float) -> None:
    await storage.touch_session(record.key, now, min(record.expires_at, now + IDLE))


async def _insert_txn(
    storage: Storage, txn_id: str, now: float, *, payload: bytes | None = None, lasting: float = 60, limit: int = LIMIT
) -> int:
    """A new, unclaimed transaction `txn_id` (state `state-<txn_id>`) lasting `lasting` s; how many it evicted."""
    payload = _blob() if payload is None else payload
    return await storage.insert_transaction(txn_id, digest(f"state-{txn_id}"), payload, now + lasting, now=now, limit=limit)


async def _claim(
    storage: Storage, txn_id: str, browser: str, now: float, *, lasting: float = 600, per_binding: int = PER_BINDING
) -> bytes | None:
    return await storage.claim_transaction(
        txn_id, digest(browser), now, expires_at=now + lasting, per_binding=per_binding
    )


BROWSERS = ("browser-a", "browser-b", *(f"browser-{n}" for n in range(20)))  # the bindings these tests claim for


async def _taken(storage: Storage, txn_ids: list[str]) -> list[str]:
    """Which of these transactions are still stored: each is taken with the binding it was
    claimed for, or, not claimed yet, claimed for a probe of its own and taken with that."""
    found = []
    for txn_id in txn_ids:
        probe = f"probe-{txn_id}"
        await _claim(storage, txn_id, probe, time.time())  # binds it only if unclaimed
        takes = [await storage.take_transaction(digest(f"state-{txn_id}"), digest(b)) for b in (*BROWSERS, probe)]
        if any(take is not None for take in takes):
            found.append(txn_id)
    return found


class StorageContract:
    """The tests every `Storage` passes; a subclass provides the `storage` fixture."""

    pytestmark = [pytest.mark.asyncio]

    # -- sign-in transactions ----------------------------------------------

    async def test_a_transaction_is_claimed_once(self, storage: Storage) -> None:
        now, payload = time.time(), _blob()
        await _insert_txn(storage, "txn-1", now, payload=payload)
        assert await _claim(storage, "txn-1", "browser-a", now) == payload
        assert await _claim(storage, "txn-1", "browser-b", now) is None
        assert await _claim(storage, "txn-1", "browser-a", now) is None
        assert await _claim(storage, "never-made", "browser-a", now) is None

    async def test_an_expired_transaction_cannot_be_claimed(self, storage: Storage) -> None:
        now = time.time()
        await _insert_txn(storage, "txn-1", now, lasting=60)
        assert await _claim(storage, "txn-1", "browser-a", now + 60) is None
        await _insert_txn(storage, "txn-2", now, lasting=60)
        assert await _claim(storage, "txn-2", "browser-a", now + 59.5) is not None

    async def test_a_transaction_is_taken_once_with_what_it_was_given(self, storage: Storage) -> None:
        now, payload = time.time(), _blob()
        await _insert_txn(storage, "txn-1", now, payload=payload)
        await _claim(storage, "txn-1", "browser-a", now, lasting=600.25)
        assert await storage.take_transaction(digest("another-state"), digest("browser-a")) is None
        taken = await storage.take_transaction(digest("state-txn-1"), digest("browser-a"))
        assert taken == TransactionRecord(id="txn-1", binding_hash=digest("browser-a"), payload=payload, expires_at=now + 600.25)
        assert await storage.take_transaction(digest("state-txn-1"), digest("browser-a")) is None
        assert await _claim(storage, "txn-1", "browser-a", now) is None  # taken: gone

    async def test_only_the_binding_a_transaction_was_claimed_for_takes_it(self, storage: Storage) -> None:
        now = time.time()
        await _insert_txn(storage, "txn-1", now)
        await _claim(storage, "txn-1", "browser-a", now)
        for other in (digest("browser-b"), None):
            assert await storage.take_transaction(digest("state-txn-1"), other) is None
        # Left as it was: the browser that started it still finishes its sign-in.
        assert await storage.take_transaction(digest("state-txn-1"), digest("browser-a")) is not None

    async def test_an_unclaimed_transaction_is_taken_by_nobody(self, storage: Storage) -> None:
        now = time.time()
        await _insert_txn(storage, "txn-1", now, lasting=60.5)
        for binding in (None, digest("browser-a")):
            assert await storage.take_transaction(digest("state-txn-1"), binding) is None
        assert await _claim(storage, "txn-1", "browser-a", now) is not None  # still there, still claimable

    async def test_claiming_moves_a_transactions_expiry(self, storage: Storage) -> None:
        now = time.time()
        await _insert_txn(storage, "txn-1", now, lasting=60)
        assert await _claim(storage, "txn-1", "browser-a", now + 50, lasting=600) is not None
        taken = await storage.take_transaction(digest("state-txn-1"), digest("browser-a"))
        assert taken is not None and taken.expires_at == now + 650  # from the claim, not the insert

    async def test_concurrent_takes_of_a_transaction_get_it_once(self, storage: Storage) -> None:
        now = time.time()
        await _insert_txn(storage, "txn-1", now)
        await _claim(storage, "txn-1", "browser-a", now)
        taken = await asyncio.gather(*(storage.take_transaction(digest("state-txn-1"), digest("browser-a")) for _ in range(5)))
        assert sum(found is not None for found in taken) == 1

    async def test_concurrent_claims_of_a_transaction_bind_it_once(self, storage: Storage) -> None:
        now = time.time()
        await _insert_txn(storage, "txn-1", now)
        claimed = await asyncio.gather(*(_claim(storage, "txn-1", f"browser-{n}", now) for n in range(5)))
        assert sum(payload is not None for payload in claimed) == 1
        winner = next(n for n, payload in enumerate(claimed) if payload is not None)
        taken = await storage.take_transaction(digest("state-txn-1"), digest(f"browser-{winner}"))
        assert taken is not None and taken.binding_hash == digest(f"browser-{winner}")

    # -- bounds on sign-in transactions --------------------------------------

    async def test_a_binding_keeps_its_newest_claims(self, storage: Storage) -> None:
        now = time.time()
        await _insert_txn(storage, "other-browsers", now)
        await _claim(storage, "other-browsers", "browser-b", now)  # the oldest claim of all, another browser's
        for n in range(7):
            await _insert_txn(storage, f"txn-{n}", now + n)
            assert await _claim(storage, f"txn-{n}", "browser-a", now + n, per_binding=5) is not None
        assert await _taken(storage, [f"txn-{n}" for n in range(7)]) == [f"txn-{n}" for n in range(2, 7)]
        assert await _taken(storage, ["other-browsers"]) == ["other-browsers"]

    async def test_the_transaction_just_claimed_always_stays(self, storage: Storage) -> None:
        now = time.time()
        for n in range(3):
            await _insert_txn(storage, f"txn-{n}", now)
        await _claim(storage, "txn-0", "browser-a", now, lasting=900)  # (another worker's clock runs ahead)
        await _claim(storage, "txn-1", "browser-a", now, lasting=600, per_binding=1)
        assert await _taken(storage, ["txn-0", "txn-1"]) == ["txn-1"]
        await _claim(storage, "txn-2", "browser-a", now + 1, per_binding=1)
        assert await _taken(storage, ["txn-2"]) == ["txn-2"]

    async def test_concurrent_claims_of_one_binding_keep_the_bound(self, storage: Storage) -> None:
        now = time.time()
        for n in range(12):
            await _insert_txn(storage, f"txn-{n}", now)
        claimed = await asyncio.gather(*(_claim(storage, f"txn-{n}", "browser-a", now, per_binding=5) for n in range(12)))
        assert all(payload is not None for payload in claimed)
        assert len(await _taken(storage, [f"txn-{n}" for n in range(12)])) == 5

    async def test_an_insert_at_the_limit_evicts_the_oldest_unclaimed_first(self, storage: Storage) -> None:
        now = time.time()
        for n in range(2):  # claimed, and expiring sooner than any unclaimed one
            await _insert_txn(storage, f"claimed-{n}", now, limit=4)
            await _claim(storage, f"claimed-{n}", f"browser-{n}", now, lasting=30 + n)
        for n in range(2):
            assert await _insert_txn(storage, f"unclaimed-{n}", now + n, limit=4) == 0
        assert await _insert_txn(storage, "new-0", now + 2, limit=4) == 1
        assert await _insert_txn(storage, "new-1", now + 3, limit=4) == 1
        assert await _taken(storage, ["unclaimed-0", "unclaimed-1"]) == []
        assert await _claim(storage, "unclaimed-0", "browser-a", now + 3) is None  # evicted: gone for good
        assert await _taken(storage, ["claimed-0", "claimed-1", "new-0", "new-1"]) == ["claimed-0", "claimed-1", "new-0", "new-1"]

    async def test_with_only_claimed_ones_an_insert_evicts_the_oldest_claimed(self, storage: Storage) -> None:
        now = time.time()
        for n in range(3):
            await _insert_txn(storage, f"claimed-{n}", now, limit=3)
            await _claim(storage, f"claimed-{n}", f"browser-{n}", now + n)
        assert await _insert_txn(storage, "new", now + 3, limit=3) == 1
        assert await _taken(storage, ["claimed-0", "claimed-1", "claimed-2", "new"]) == ["claimed-1", "claimed-2", "new"]

    async def test_expired_transactions_make_room_without_evicting(self, storage: Storage) -> None:
        now = time.time()
        for n in range(2):
            await _insert_txn(storage, f"old-{n}", now, lasting=10, limit=2)
        await _insert_txn(storage, "claimed-old", now, lasting=10, limit=3)
        await _claim(storage, "claimed-old", "browser-a", now, lasting=10)
        assert await _insert_txn(storage, "new-0", now + 20, limit=2) == 0
        assert await _insert_txn(storage, "new-1", now + 20, limit=2) == 0
        assert await _insert_txn(storage, "new-2", now + 20, limit=2) == 1
        assert await _taken(storage, ["new-0", "new-1", "new-2"]) == ["new-1", "new-2"]

    async def test_concurrent_inserts_keep_the_limit(self, storage: Storage) -> None:
        now = time.time()
        await asyncio.gather(*(_insert_txn(storage, f"txn-{n}", now, limit=5) for n in range(20)))
        assert len(await _taken(storage, [f"txn-{n}" for n in range(20)])) == 5

    # -- handoffs ------------------------------------------------------------

    async def test_a_handoff_is_taken_once_with_its_kind(self, storage: Storage) -> None:
        now, payload = time.time(), _blob()
        await storage.insert_handoff("handoff-1", "sign_in", digest("cookie"), payload, now + 60.5, now=now)
        await storage.insert_handoff("handoff-2", "sign_out", digest("cookie"), _blob(), now + 60, now=now)
        assert await storage.take_handoff("handoff-1") == HandoffRecord(
            kind="sign_in", binding_hash=digest("cookie"), payload=payload, expires_at=now + 60.5
        )
        assert await storage.take_handoff("handoff-1") is None
        second = await storage.take_handoff("handoff-2")
        assert second is not None and second.kind == "sign_out"
        assert await storage.take_handoff("never-made") is None

    async def test_concurrent_takes_of_a_handoff_get_it_once(self, storage: Storage) -> None:
        now = time.time()
        await storage.insert_handoff("handoff-1", "sign_in", digest("cookie"), _blob(), now + 60, now=now)
        taken = await asyncio.gather(*(storage.take_handoff("handoff-1") for _ in range(5)))
        assert sum(found is not None for found in taken) == 1

    # -- sessions ------------------------------------------------------------

    async def test_a_session_reads_back_as_it_was_stored(self, storage: Storage) -> None:
        now = time.time()
        full = _session(now, acting_party="admin-7")
        bare = _session(now, sid=None, refresh_at=None, user_agent="")
        for record in (full, bare):
            tokens = await _insert(storage, record)
            found = await storage.get_session(record.key)
            assert found is not None
            got, head = found
            assert got == record
            assert len(head) >= 5 and tokens.startswith(head)  # enough to know which key sealed it
            assert await storage.session_tokens(record.key) == tokens
        assert await storage.get_session(digest("never-made")) is None
        assert await storage.session_tokens(digest("never-made")) is None

    async def test_touching_a_session_moves_its_last_use(self, storage: Storage) -> None:
        now = time.time()
        record = _session(now)
        await _insert(storage, record)
        await _touch(storage, record, now + 61.5)
        found = await storage.get_session(record.key)
        assert found is not None and found[0] == replace(record, last_used_at=now + 61.5)
        await _touch(storage, _session(now), now + 62)  # never stored: nothing happens
        assert await storage.count_live(now + 62, now + 62 - IDLE) == 1

    async def test_ending_a_session_returns_its_tokens_and_keeps_why(self, storage: Storage) -> None:
        now = time.time()
        record = _session(now)
        tokens = await _insert(storage, record)
        assert await storage.ended_reason(record.key, now) is None  # still live
        assert await storage.end_session(record.key, "signed_out", now + REASON_KEPT, now=now) == tokens
        assert await storage.get_session(record.key) is None
        assert await storage.session_tokens(record.key) is None
        assert await storage.ended_reason(record.key, now + REASON_KEPT - 1) == "signed_out"
        assert await storage.ended_reason(record.key, now + REASON_KEPT) is None  # forgotten then
        assert await storage.ended_reason(digest("never-made"), now) is None

    async def test_a_session_ends_once(self, storage: Storage) -> None:
        now = time.time()
        record = _session(now)
        await _insert(storage, record)
        await storage.end_session(record.key, "signed_out", now + REASON_KEPT, now=now)
        assert await storage.end_session(record.key, "idle", now + REASON_KEPT, now=now + 1) is None
        assert await storage.ended_reason(record.key, now + 2) == "signed_out"  # the first reason stands
        await _touch(storage, record, now + 3)  # a late touch does not bring it back
        assert await storage.get_session(record.key) is None
        assert await storage.end_session(digest("never-made"), "idle", now + REASON_KEPT, now=now) is None
        assert await storage.ended_reason(digest("never-made"), now) is None

    async def test_a_users_sessions_most_recently_used_first(self, storage: Storage) -> None:
        now = time.time()
        first, second, third = (_session(now + n) for n in (0, 10, 20))
        for record in (first, second, third, _session(now, sub="user-2")):
            await _insert(storage, record)
        await _touch(storage, first, now + 30)
        listed = await storage.sessions_of("user-1", now + 40, now + 40 - IDLE)
        assert listed == [replace(first, last_used_at=now + 30), third, second]
        await storage.end_session(third.key, "signed_out", now + REASON_KEPT, now=now + 40)
        assert [s.key for s in await storage.sessions_of("user-1", now + 40, now + 40 - IDLE)] == [first.key, second.key]
        assert await storage.sessions_of("nobody", now + 40, now + 40 - IDLE) == []

    async def test_a_users_sessions_leave_out_idle_and_expired_ones(self, storage: Storage) -> None:
        now = time.time()
        idle = _session(now)  # last used at `now`: idle from now + IDLE on
        expired = _session(now - 900, last_used_at=now + 50)  # used lately, but its lifetime ends at now + 100
        for record in (idle, expired):
            await _insert(storage, record)
        listed = await storage.sessions_of("user-1", now + 99, now + 99 - IDLE)
        assert {s.key for s in listed} == {idle.key, expired.key}
        assert await storage.sessions_of("user-1", now + 100, now + 100 - IDLE) == []

    async def test_count_live_counts_sessions_within_both_lifetimes(self, storage: Storage) -> None:
        now = time.time()
        idle = _session(now)  # idle by now + 200
        touched = _session(now + 60)  # would be idle too, but is used again at now + 150
        fresh = _session(now + 150)
        expired = _session(now - 990)  # past its lifetime by now + 200
        ended = _session(now + 150)
        for record in (idle, touched, fresh, expired, ended):
            await _insert(storage, record)
        await _touch(storage, touched, now + 150)
        await storage.end_session(ended.key, "signed_out", now + REASON_KEPT, now=now + 160)
        assert await storage.count_live(now + 200, now + 200 - IDLE) == 2
        assert await storage.count_live(now + 250, now + 250 - IDLE) == 0

    async def test_session_keys_by_user_and_provider_session(self, storage: Storage) -> None:
        now = time.time()
        ada_1 = _session(now, sub="ada", sid="op-1")
        ada_2 = _session(now, sub="ada", sid="op-2")
        ada_bare = _session(now, sub="ada", sid=None)
        bob_1 = _session(now, sub="bob", sid="op-1")
        for record in (ada_1, ada_2, ada_bare, bob_1):
            await _insert(storage, record)
        assert sorted(await storage.session_keys("ada", None)) == sorted([ada_1.key, ada_2.key, ada_bare.key])
        assert sorted(await storage.session_keys(None, "op-1")) == sorted([ada_1.key, bob_1.key])
        assert await storage.session_keys("ada", "op-1") == [ada_1.key]
        assert await storage.session_keys("bob", "op-2") == []
        assert await storage.session_keys(None, None) == []
        await storage.end_session(ada_1.key, "signed_out", now + REASON_KEPT, now=now)
        assert await storage.session_keys("ada", "op-1") == []
        assert sorted(await storage.session_keys(None, "op-1")) == [bob_1.key]

    # -- refresh leases ------------------------------------------------------

    async def test_a_lease_is_held_by_one_owner_until_it_lapses(self, storage: Storage) -> None:
        now = time.time()
        record = _session(now)
        await _insert(storage, record)
        assert await storage.take_lease(record.key, "worker-a", now, now + 15)
        assert not await storage.take_lease(record.key, "worker-b", now + 1, now + 16)
        assert not await storage.take_lease(record.key, "worker-a", now + 14, now + 29)  # not even its owner's twice
        assert not await storage.lease_is_a_wait(record.key, now + 1)  # a refresh under way, not a wait
        assert await storage.take_lease(record.key, "worker-b", now + 15, now + 30)  # the holder died: it lapsed
        assert not await storage.take_lease(digest("never-made"), "worker-a", now, now + 15)

    async def test_concurrent_lease_takers_get_it_once(self, storage: Storage) -> None:
        now = time.time()
        record = _session(now)
        await _insert(storage, record)
        taken = await asyncio.gather(*(storage.take_lease(record.key, f"worker-{n}", now, now + 15) for n in range(5)))
        assert sum(taken) == 1

    async def test_only_the_owner_releases_a_lease(self, storage: Storage) -> None:
        now = time.time()
        record = _session(now)
        await _insert(storage, record)
        assert await storage.take_lease(record.key, "worker-a", now, now + 15)
        await storage.release_lease(record.key, "worker-b", 0)
        assert not await storage.take_lease(record.key, "worker-c", now + 1, now + 16)
        await storage.release_lease(record.key, "worker-a", 0)
        assert await storage.take_lease(record.key, "worker-c", now + 1, now + 16)
        await storage.release_lease(record.key, "worker-a", 0)  # a late release by the old owner changes nothing
        assert not await storage.take_lease(record.key, "worker-d", now + 2, now + 17)
        await storage.release_lease(digest("never-made"), "worker-a", 0)  # nothing to release: no error

    async def test_a_released_lease_can_leave_a_wait(self, storage: Storage) -> None:
        now = time.time()
        record = _session(now)
        await _insert(storage, record)
        assert not await storage.lease_is_a_wait(record.key, now)
        assert await storage.take_lease(record.key, "worker-a", now, now + 15)
        await storage.release_lease(record.key, "worker-a", now + 30)  # failed: nobody retries for 30 s
        assert await storage.lease_is_a_wait(record.key, now + 1)
        assert not await storage.take_lease(record.key, "worker-b", now + 1, now + 16)
        assert not await storage.lease_is_a_wait(record.key, now + 30)  # over
        await storage.end_wait(record.key)  # a user asks to retry now
        assert not await storage.lease_is_a_wait(record.key, now + 2)
        assert await storage.take_lease(record.key, "worker-b", now + 2, now + 17)
        await storage.end_wait(record.key)  # a refresh under way is no wait: left alone
        assert not await storage.take_lease(record.key, "worker-c", now + 3, now + 18)
        assert not await storage.lease_is_a_wait(digest("never-made"), now)
        await storage.end_wait(digest("never-made"))  # nothing to end: no error

    async def test_only_the_lease_owner_saves_refreshed_tokens(self, storage: Storage) -> None:
        now = time.time()
        record = _session(now)
        tokens = await _insert(storage, record)
        refreshed, claims = _blob(), '{"sub": "user-1", "name": "Ada King"}'
        assert not await storage.save_refreshed(record.key, "worker-a", refreshed, claims, now + 7200)  # no lease
        assert await storage.take_lease(record.key, "worker-a", now, now + 15)
        assert not await storage.save_refreshed(record.key, "worker-b", refreshed, claims, now + 7200)
        assert await storage.session_tokens(record.key) == tokens  # nothing written
        assert await storage.save_refreshed(record.key, "worker-a", refreshed, claims, now + 7200.5)
        assert await storage.session_tokens(record.key) == refreshed
        found = await storage.get_session(record.key)
        assert found is not None and found[0] == replace(record, claims=claims, refresh_at=now + 7200.5)
        assert await storage.take_lease(record.key, "worker-b", now + 1, now + 16)  # saving released it
        assert not await storage.save_refreshed(record.key, "worker-a", _blob(), claims, None)  # no longer its lease

    async def test_refreshed_tokens_may_have_no_renewal_time(self, storage: Storage) -> None:
        now = time.time()
        record = _session(now)
        await _insert(storage, record)
        assert await storage.take_lease(record.key, "worker-a", now, now + 15)
        assert await storage.save_refreshed(record.key, "worker-a", _blob(), record.claims, None)
        found = await storage.get_session(record.key)
        assert found is not None and found[0].refresh_at is None

    async def test_a_lapsed_owner_cannot_save_over_the_next_one(self, storage: Storage) -> None:
        now = time.time()
        record = _session(now)
        await _insert(storage, record)
        assert await storage.take_lease(record.key, "worker-a", now, now + 15)
        assert await storage.take_lease(record.key, "worker-b", now + 60, now + 75)
        assert not await storage.save_refreshed(record.key, "worker-a", _blob(), record.claims, None)
        assert await storage.save_refreshed(record.key, "worker-b", _blob(), record.claims, None)

    async def test_an_ended_session_saves_no_refreshed_tokens(self, storage: Storage) -> None:
        now = time.time()
        record = _session(now)
        await _insert(storage, record)
        assert await storage.take_lease(record.key, "worker-a", now, now + 15)
        await storage.end_session(record.key, "signed_out", now + REASON_KEPT, now=now + 1)
        assert not await storage.save_refreshed(record.key, "worker-a", _blob(), record.claims, None)
        assert await storage.session_tokens(record.key) is None
        assert not await storage.take_lease(record.key, "worker-b", now + 60, now + 75)

    # -- back-channel logout -------------------------------------------------

    async def test_a_logout_token_ends_the_sessions_it_names_once(self, storage: Storage) -> None:
        now = time.time()
        ada_1 = _session(now, sub="ada", sid="op-1")
        ada_2 = _session(now, sub="ada", sid="op-2")
        bob_1 = _session(now, sub="bob", sid="op-1")
        for record in (ada_1, ada_2, bob_1):
            await _insert(storage, record)
        until = now + REASON_KEPT
        assert await storage.spend_logout_token("jti-1", now + 120, "ada", "op-1", until, now=now) == 1
        assert await storage.spend_logout_token("jti-1", now + 120, "ada", "op-2", until, now=now) is None  # replayed
        assert await storage.get_session(ada_2.key) is not None  # the replay ended nothing
        assert await storage.get_session(bob_1.key) is not None  # the same provider session, another user
        assert await storage.ended_reason(ada_1.key, now + 1) == "provider_logout"
        assert await storage.spend_logout_token("jti-2", now + 120, None, "op-2", until, now=now) == 1
        assert await storage.spend_logout_token("jti-3", now + 120, "bob", None, until, now=now) == 1
        for record in (ada_1, ada_2, bob_1):
            assert await storage.get_session(record.key) is None
            assert await storage.ended_reason(record.key, until - 1) == "provider_logout"
            assert await storage.ended_reason(record.key, until) is None
        assert await storage.spend_logout_token("jti-4", now + 120, "ada", None, until, now=now) == 0  # none left
        assert await storage.spend_logout_token("jti-4", now + 120, "ada", None, until, now=now) is None

    async def test_a_logout_token_ends_all_of_a_users_sessions(self, storage: Storage) -> None:
        now = time.time()
        records = [_session(now, sub="ada", sid=sid) for sid in ("op-1", "op-2", None)]
        for record in records:
            await _insert(storage, record)
        assert await storage.spend_logout_token("jti-1", now + 120, "ada", None, now + REASON_KEPT, now=now) == 3
        assert await storage.sessions_of("ada", now, now - IDLE) == []
        assert await storage.count_live(now, now - IDLE) == 0

    async def test_concurrent_spends_of_a_logout_token_count_once(self, storage: Storage) -> None:
        now = time.time()
        for sid in ("op-1", "op-2"):
            await _insert(storage, _session(now, sub="ada", sid=sid))
        spent = await asyncio.gather(
            *(storage.spend_logout_token("jti-1", now + 120, "ada", None, now + REASON_KEPT, now=now) for _ in range(5))
        )
        assert sorted(spent, key=lambda ended: ended is None) == [2, None, None, None, None]

    # -- steps together ------------------------------------------------------

    async def test_steps_inside_atomic_take_effect(self, storage: Storage) -> None:
        now = time.time()
        record = _session(now)
        async with storage.atomic():
            await storage.insert_handoff("handoff-1", "sign_in", digest("cookie"), _blob(), now + 60, now=now)
            assert await storage.take_handoff("handoff-1") is not None
            await _insert(storage, record)
            await _insert_txn(storage, "txn-1", now)  # steps of several statements, too
            assert await _claim(storage, "txn-1", "browser-a", now) is not None
        assert await storage.get_session(record.key) is not None
        assert await storage.take_handoff("handoff-1") is None
        assert await _taken(storage, ["txn-1"]) == ["txn-1"]

    async def test_an_error_inside_atomic_comes_out(self, storage: Storage) -> None:
        now = time.time()
        with pytest.raises(LookupError):
            async with storage.atomic():
                await storage.insert_handoff("handoff-1", "sign_in", digest("cookie"), _blob(), now + 60, now=now)
                raise LookupError("the step after it failed")
        # Whether the insert stands is the store's affair (SQLite rolls it back, Redis keeps it);
        # the store must still work.
        await storage.insert_handoff("handoff-2", "sign_in", digest("cookie"), _blob(), now + 60, now=now)
        assert await storage.take_handoff("handoff-2") is not None
