"""Refresh, single-flight, and the ways a session ends, against a scripted provider."""

import asyncio
import dataclasses
import time

import httpx
import pytest

from reflex_logto.errors import ProviderUnavailable
from reflex_logto.oidc.client import OidcClient
from reflex_logto.sessions.lifecycle import SessionEnded, SessionLifecycle
from reflex_logto.sessions.sealing import Sealer
from reflex_logto.sessions.store import SessionStore
from tests.support.fake_provider import FakeProvider, app_config, form


@pytest.fixture
def op():
    provider = FakeProvider()
    provider.nonce = "n-1"
    return provider


@pytest.fixture
async def parts(op, storage):
    client = OidcClient(app_config(op), transport=op.transport())
    sessions = SessionStore(storage, Sealer("c" * 32))
    yield client, sessions, SessionLifecycle(client, sessions)
    await client.aclose()


async def signed_in(op, parts, *, expires_in=3600):
    client, sessions, lifecycle = parts
    op.expires_in = expires_in
    tokens = await client.exchange_code(code="c", code_verifier="v" * 64, nonce="n-1")
    session_id = await sessions.create(tokens)
    return session_id, (await sessions.lookup(session_id)).session


async def test_tokens_not_due_are_served_without_a_request(op, parts):
    session_id, session = await signed_in(op, parts)
    tokens = await parts[2].fresh_tokens(session)
    assert tokens.access_token == "at-123"
    assert op.count("/token") == 1  # the code exchange only


async def test_due_tokens_are_refreshed_once_for_many_concurrent_callers(op, parts):
    session_id, session = await signed_in(op, parts, expires_in=4)  # due after 3 s
    session = await due(parts, session)
    results = await asyncio.gather(*(parts[2].fresh_tokens(session) for _ in range(10)))
    assert op.count("/token") == 2  # exchange + exactly one refresh
    assert {t.access_token for t in results} == {"at-2"}
    refresh = [r for r in op.requests if r.url.path.endswith("/token")][1]
    assert form(refresh)["refresh_token"] == "rt-456"
    # The rotated refresh token is what the store now holds.
    assert (await parts[1].tokens(session.key)).refresh_token == "rt-2"


async def test_refused_refresh_ends_the_session(op, parts):
    session_id, session = await signed_in(op, parts, expires_in=4)
    op.token_response = lambda request: httpx.Response(400, json={"error": "invalid_grant"})
    with pytest.raises(SessionEnded) as ended:
        await parts[2].fresh_tokens(await due(parts, session))
    assert ended.value.reason == "revoked"
    lookup = await parts[1].lookup(session_id)
    assert lookup.session is None and lookup.ended_reason == "revoked"


async def test_refreshed_id_token_for_another_user_ends_the_session(op, parts):
    session_id, session = await signed_in(op, parts, expires_in=4)
    op.claims = {**op.claims, "sub": "someone-else"}
    with pytest.raises(SessionEnded):
        await parts[2].fresh_tokens(await due(parts, session))
    assert (await parts[1].lookup(session_id)).session is None


async def test_refreshed_claims_replace_the_old_ones(op, parts):
    session_id, session = await signed_in(op, parts, expires_in=4)
    op.claims = {**op.claims, "name": "Ada Lovelace"}
    await parts[2].fresh_tokens(await due(parts, session))
    assert (await parts[1].lookup(session_id)).session.claims["name"] == "Ada Lovelace"


async def test_provider_down_keeps_a_still_valid_session(op, parts):
    session_id, session = await signed_in(op, parts, expires_in=400)

    def down(request):
        raise httpx.ConnectError("refused")

    op.token_response = down
    tokens = await parts[2].fresh_tokens(await due(parts, session))
    assert tokens.access_token == "at-123"  # not expired yet: keeps working
    assert (await parts[1].lookup(session_id)).session is not None


async def test_provider_down_after_expiry_says_so_and_loses_nothing(op, parts):
    client, sessions, lifecycle = parts
    session_id, session = await signed_in(op, parts, expires_in=4)
    session = await due(parts, session, expires_at=int(time.time()) - 1)
    op.token_response = lambda request: httpx.Response(503, text="down for maintenance")
    for _ in range(5):  # every tick of every tab...
        with pytest.raises(ProviderUnavailable):
            await lifecycle.fresh_tokens(session)
    assert op.count("/token") == 2  # ...but one attempt per retry interval
    # Back up, and the retry interval passed: the same session refreshes and carries on.
    op.token_response = op._good_token_response
    await sessions.end_refresh_wait(session.key)
    tokens = await lifecycle.fresh_tokens(session)
    assert tokens.access_token.startswith("at-")
    assert (await sessions.lookup(session_id)).session is not None


async def test_another_workers_lease_is_waited_for(op, parts):
    client, sessions, lifecycle = parts
    session_id, session = await signed_in(op, parts, expires_in=4)
    session = await due(parts, session, expires_at=int(time.time()) - 1)  # expired: it must wait
    assert await sessions.take_refresh_lease(session.key, "other-worker")
    waiting = asyncio.create_task(lifecycle.fresh_tokens(session))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    refreshed = await client.refresh(await sessions.tokens(session.key))
    assert await sessions.save_refreshed(session.key, "other-worker", refreshed)  # the other worker finishes
    assert (await waiting).access_token == refreshed.access_token
    assert op.count("/token") == 2


async def test_two_worker_processes_refresh_once(op, open_storage):
    """Two processes' worth of everything (connections, clients, locks) on one store."""
    workers = []
    for _ in range(2):
        client = OidcClient(app_config(op), transport=op.transport())
        sessions = SessionStore(open_storage(), Sealer("c" * 32))
        workers.append((client, sessions, SessionLifecycle(client, sessions)))
    session_id, session = await signed_in(op, workers[0], expires_in=4)
    session = await due(workers[0], session, expires_at=int(time.time()) - 1)
    before = op.count("/token")
    results = await asyncio.gather(*(w[2].fresh_tokens(session) for w in workers for _ in range(3)))
    assert op.count("/token") == before + 1
    assert len({t.access_token for t in results}) == 1
    for client, *_ in workers:
        await client.aclose()


async def test_sign_out_during_a_refresh_revokes_the_new_grant(op, parts):
    client, sessions, lifecycle = parts
    session_id, session = await signed_in(op, parts, expires_in=4)
    session = await due(parts, session)
    answer = op.token_response

    async def sign_out_meanwhile(request):
        await sessions.end(session.key, "signed_out")  # another tab signs out while the provider answers
        return answer(request)

    op.token_response = sign_out_meanwhile
    with pytest.raises(SessionEnded) as ended:
        await lifecycle.fresh_tokens(session)
    assert ended.value.reason == "signed_out"
    revoked = [form(r)["token"] for r in op.requests if r.url.path.endswith("/revocation")]
    assert revoked == ["rt-2"]  # the refresh token issued meanwhile does not outlive the session


async def test_a_session_without_refresh_token_is_never_refreshed(op, parts):
    client, sessions, lifecycle = parts
    op.expires_in = 4
    tokens = await client.exchange_code(code="c", code_verifier="v" * 64, nonce="n-1")
    session_id = await sessions.create(dataclasses.replace(tokens, refresh_token=None))
    session = (await sessions.lookup(session_id)).session
    assert session.refresh_at is None
    assert not await lifecycle.keep_fresh(session)
    assert op.count("/token") == 1


async def due(parts, session, **token_changes):
    """Make the session's access token due for renewal, as time would."""
    sessions = parts[1]
    stored = await sessions.tokens(session.key)
    assert await sessions.take_refresh_lease(session.key, "test")
    assert await sessions.save_refreshed(session.key, "test", dataclasses.replace(stored, refresh_at=0, **token_changes))
    return dataclasses.replace(session, refresh_at=0)


async def test_a_slow_provider_does_not_hold_the_page(op, parts):
    client, sessions, lifecycle = parts
    session_id, session = await signed_in(op, parts, expires_in=400)
    session = await due(parts, session)
    gate = asyncio.Event()
    answer = op.token_response

    async def slow(request):
        await gate.wait()
        return answer(request)

    op.token_response = slow  # the transport below awaits it
    started = time.monotonic()
    assert await lifecycle.keep_fresh(session) is None  # answers within the page wait
    assert await lifecycle.keep_fresh(session) is None  # joins the same refresh, no second request
    assert time.monotonic() - started < 2
    gate.set()
    await asyncio.sleep(0.05)
    assert await lifecycle.keep_fresh(session) is True
    assert op.count("/token") == 2


async def test_a_refresh_keeps_the_cached_api_tokens(op, parts):
    client, sessions, lifecycle = parts
    session_id, session = await signed_in(op, parts, expires_in=4)
    stored = await sessions.tokens(session.key)
    cached = {"https://api.example": {"access_token": "api-at", "refresh_at": int(time.time()) + 600}}
    assert await sessions.take_refresh_lease(session.key, "t")
    assert await sessions.save_refreshed(session.key, "t", dataclasses.replace(stored, refresh_at=0, resource_tokens=cached))
    refreshed = await lifecycle.fresh_tokens(dataclasses.replace(session, refresh_at=0))
    assert refreshed.access_token != stored.access_token
    assert refreshed.resource_tokens == cached


async def test_a_refresh_refused_with_invalid_scope_ends_the_session_once_and_is_logged(op, parts, caplog):
    session_id, session = await signed_in(op, parts)
    session = await due(parts, session, expires_at=int(time.time()) - 1)  # expired too: once an outage
    op.token_response = lambda request: httpx.Response(
        400, json={"error": "invalid_scope", "error_description": "refresh token missing requested scopes"}
    )
    with caplog.at_level("WARNING", logger="reflex_logto"), pytest.raises(SessionEnded) as ended:
        await parts[2].fresh_tokens(session)
    assert ended.value.reason == "refresh_refused"  # a refusal, not "the provider is unavailable"
    assert any("invalid_scope" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)
    assert not any("rt-456" in r.getMessage() or "at-123" in r.getMessage() for r in caplog.records)
    refreshes = op.count("/token")
    with pytest.raises(SessionEnded):
        await parts[2].fresh_tokens(session)  # the next tick: no second ask
    assert op.count("/token") == refreshes
    assert (await parts[1].lookup(session_id)).ended_reason == "refresh_refused"


async def test_an_unreachable_provider_is_logged_every_time_even_after_the_token_expired(op, parts, caplog):
    session_id, session = await signed_in(op, parts)
    session = await due(parts, session, expires_at=int(time.time()) - 1)
    op.token_response = lambda request: httpx.Response(503)
    with caplog.at_level("WARNING", logger="reflex_logto"), pytest.raises(ProviderUnavailable):
        await parts[2].fresh_tokens(session)
    assert any("refresh failed" in r.getMessage() and "expired" in r.getMessage() for r in caplog.records)
