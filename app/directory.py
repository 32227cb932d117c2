"""The demo app's own record of its users: when each last signed in (fed by the on_sign_in hook)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from reflex_logto import TokenSet, get_config


class UserDirectory:
    def __init__(self, path: str):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS users (sub TEXT PRIMARY KEY, name TEXT, last_sign_in REAL, sign_ins INTEGER)"
        )

    async def record_sign_in(self, claims: dict[str, Any], tokens: TokenSet) -> None:
        """The on_sign_in hook: upsert the user's row."""
        self._db.execute(
            "INSERT INTO users (sub, name, last_sign_in, sign_ins) VALUES (?, ?, ?, 1) "
            "ON CONFLICT (sub) DO UPDATE SET name = excluded.name, last_sign_in = excluded.last_sign_in, "
            "sign_ins = sign_ins + 1",
            (claims["sub"], str(claims.get("name") or claims.get("username") or ""), time.time()),
        )

    def last_sign_in(self, sub: str) -> tuple[float, int] | None:
        row = self._db.execute("SELECT last_sign_in, sign_ins FROM users WHERE sub = ?", (sub,)).fetchone()
        return (row[0], row[1]) if row else None


_directory: tuple[int, UserDirectory] | None = None


def directory() -> UserDirectory:
    """This process's directory, next to the session store (opened after any fork)."""
    global _directory
    if _directory is None or _directory[0] != os.getpid():
        path = Path(get_config().session_db).with_name("users.sqlite3")
        _directory = (os.getpid(), UserDirectory(str(path)))
    return _directory[1]


async def record_sign_in(claims: dict[str, Any], tokens: TokenSet) -> None:
    """The app's on_sign_in hook."""
    await directory().record_sign_in(claims, tokens)
