"""What the browser benchmarks share: the app in production mode against a fresh
development provider, both on free ports, stopped at the end."""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEMO_USERS = ROOT / "app" / "dev_users.json"

from reflex_logto.devprovider.launcher import DevProvider, start  # noqa: E402
from tests.support.app_server import AppServer, free_port, project_copy  # noqa: E402
from tests.support.postgres_server import PostgresServer  # noqa: E402
from tests.support.redis_server import RedisServer  # noqa: E402


def in_turns(items: list, round_number: int) -> list:
    """One round's order: as given in even rounds, reversed in odd ones (a, b, b, a, ...), so
    neither goes first every time. Round 0 warms the servers and is not counted."""
    return items if round_number % 2 == 0 else items[::-1]


@contextlib.contextmanager
def app_with_provider(
    client_id: str, extra_env: dict[str, str] | None = None, *, isolated: bool = False
) -> Iterator[tuple[DevProvider, str]]:
    """(the provider, the app's base URL), both running until the block ends.

    `extra_env` adds to the app's environment (say, REFLEX_REDIS_URL and GRANIAN_WORKERS).
    `isolated` runs the app from a copy of the project, whose frontend build no other
    run in the checkout can replace while this one is serving it.
    """
    state = Path(tempfile.mkdtemp(prefix=f"bench-{client_id}-"))
    provider = start(state / "provider", port=0, owner_pid=os.getpid(), users_file=DEMO_USERS)
    port = free_port()
    base = f"http://localhost:{port}"
    secret = secrets.token_urlsafe(32)
    provider.put_client(client_id, secret, base_url=base)
    env = {
        "LOGTO_ENDPOINT": provider.origin, "LOGTO_APP_ID": client_id, "LOGTO_APP_SECRET": secret,
        "LOGTO_BASE_URL": base, "LOGTO_COOKIE_SECRET": secrets.token_urlsafe(32),
        "LOGTO_SESSION_DB": str(state / "sessions.sqlite3"), "LOGTO_ENV_FILE": "/nonexistent",
        **(extra_env or {}),
    }
    project = project_copy(state / "project") if isolated else ROOT
    app = AppServer(env, port, state / "app.log", project=project)
    try:
        app.wait_until_up()
        yield provider, base
    finally:
        app.stop()
        provider.stop()


@contextlib.contextmanager
def app_with_users(
    client_id: str, users: int, workers: int = 1, *, postgres: bool = False, isolated: bool = False
) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """(the app's base URL, `users` accounts at its provider as (username, password)).

    One worker keeps the sessions in SQLite; with more, Reflex's state and the
    sessions go to a Redis (Debian's redis-server) started here; with `postgres`,
    the sessions go to a PostgreSQL started here instead. Account n is
    `user<n>`, "User <n>", with the email `load-user<n>@example.com`.
    """
    redis = RedisServer(Path(tempfile.mkdtemp(prefix="bench-redis-"))) if workers > 1 else None
    extra = {"REFLEX_REDIS_URL": redis.url, "GRANIAN_WORKERS": str(workers)} if redis else {}
    database = PostgresServer() if postgres else None
    if database:
        extra["LOGTO_SESSION_DB_URL"] = database.url
    sessions = "PostgreSQL" if database else "Redis" if redis else "SQLite"
    try:
        with app_with_provider(client_id, extra, isolated=isolated) as (provider, base):
            accounts = []
            for n in range(users):
                username, password = f"user{n:04d}", secrets.token_urlsafe(10)
                provider.put_user(username, password, name=f"User {n:04d}", email=f"load-{username}@example.com")
                accounts.append((username, password))
            print(f"app: {workers} worker(s), sessions in {sessions}")
            yield base, accounts
    finally:
        if redis:
            redis.stop()
        if database:
            database.close()
