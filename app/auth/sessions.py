"""Server-side sessions: the browser holds a random id, the server holds the rest.

The database keeps the id's SHA-256, the ID token's claims, and the tokens
sealed with a key derived from LOGTO_COOKIE_SECRET.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from typing import Any

from .config import SESSION_MAX_AGE
from .db import Database, digest
from .provider import TokenSet
from .sealing import SealError, Sealer

SESSION_ID_BYTES = 32


@dataclasses.dataclass(frozen=True)
class Session:
    sub: str
    claims: dict[str, Any]
    created_at: float
    expires_at: float


def looks_like_session_id(value: str | None) -> bool:
    """Cheap shape check before a database lookup: our ids are 43 URL-safe characters."""
    return bool(value) and len(value) == 43 and value.replace("-", "").replace("_", "").isalnum()


class SessionStore:
    def __init__(self, db: Database, sealer: Sealer, *, max_age: int = SESSION_MAX_AGE):
        self._db = db
        self._sealer = sealer
        self.max_age = max_age

    async def create(self, tokens: TokenSet, *, now: float | None = None) -> str:
        """Store a new session and return its id, newly random at every sign-in."""
        now = time.time() if now is None else now
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        key = digest(session_id)
        self._db.execute(
            "INSERT INTO sessions (id, sub, claims, tokens, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                key,
                tokens.claims["sub"],
                json.dumps(tokens.claims),
                self._sealer.seal(tokens.to_dict(), record=key),
                now,
                now + self.max_age,
            ),
        )
        return session_id

    async def get(self, session_id: str | None, *, now: float | None = None) -> Session | None:
        """The live session for this id; None for a missing, unknown or expired one."""
        if not looks_like_session_id(session_id):
            return None
        now = time.time() if now is None else now
        row = self._db.execute(
            "SELECT sub, claims, created_at, expires_at FROM sessions WHERE id = ? AND expires_at > ?",
            (digest(session_id), now),
        ).fetchone()
        if row is None:
            return None
        sub, claims, created_at, expires_at = row
        return Session(sub=sub, claims=json.loads(claims), created_at=created_at, expires_at=expires_at)

    async def delete(self, session_id: str | None) -> TokenSet | None:
        """End the session; return its tokens (for revocation and logout), if it existed."""
        if not looks_like_session_id(session_id):
            return None
        key = digest(session_id)
        row = self._db.execute("DELETE FROM sessions WHERE id = ? RETURNING tokens", (key,)).fetchone()
        if row is None:
            return None
        try:
            return TokenSet.from_dict(self._sealer.open(row[0], record=key))
        except SealError:
            return None
