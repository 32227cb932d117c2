import time

import pytest

from app.auth.db import Database
from app.auth.provider import TokenSet
from app.auth.sealing import Sealer
from app.auth.sessions import SessionStore, looks_like_session_id

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
def db():
    database = Database(":memory:")
    yield database
    database.close()


@pytest.fixture
def sessions(db):
    return SessionStore(db, Sealer("k" * 32), max_age=3600)


async def test_create_get_delete(sessions):
    session_id = await sessions.create(TOKENS, now=NOW)
    assert looks_like_session_id(session_id)
    session = await sessions.get(session_id, now=NOW)
    assert session.sub == "user-1"
    assert session.claims == {"sub": "user-1", "name": "Ada"}
    assert await sessions.delete(session_id) == TOKENS
    assert await sessions.get(session_id, now=NOW) is None
    assert await sessions.delete(session_id) is None


async def test_every_sign_in_gets_a_new_id(sessions):
    assert await sessions.create(TOKENS) != await sessions.create(TOKENS)


async def test_expired_session_is_signed_out(sessions):
    session_id = await sessions.create(TOKENS, now=NOW)
    assert await sessions.get(session_id, now=NOW + 3601) is None


@pytest.mark.parametrize("forged", [None, "", "x", "A" * 43, "../" * 20, "é" * 43, "a" * 10_000])
async def test_forged_or_unknown_ids_are_signed_out(sessions, forged):
    assert await sessions.get(forged, now=NOW) is None


async def test_database_keeps_neither_the_id_nor_the_tokens_in_clear(db, sessions):
    session_id = await sessions.create(TOKENS, now=NOW)
    raw = b"".join(v if isinstance(v, bytes) else str(v).encode() for row in db.execute("SELECT * FROM sessions") for v in row)
    for secret in (session_id, TOKENS.access_token, TOKENS.refresh_token, TOKENS.id_token):
        assert secret.encode() not in raw
