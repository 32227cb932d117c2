import os
import secrets

import pytest

from reflex_logto.devprovider.launcher import start
from tests.support.app_server import ROOT
from tests.support.fake_provider import FakeProvider
from tests.support.postgres_server import PostgresServer
from tests.support.redis_server import RedisServer
from tests.support.relying_party import RelyingParty

# The demo's users: `demo` with the admin role, the API's scope and two organizations.
DEMO_USERS = ROOT / "app" / "dev_users.json"


def pytest_configure(config):
    """Tests import the app module; point it at a provider it never contacts, so
    importing it starts no development provider."""
    for name, value in {
        "LOGTO_ENDPOINT": "https://logto.invalid",
        "LOGTO_APP_ID": "app-module-under-test",
        "LOGTO_APP_SECRET": "not-a-secret",
        "LOGTO_BASE_URL": "http://localhost:3000",
        "LOGTO_COOKIE_SECRET": "x" * 32,
    }.items():
        os.environ.setdefault(name, value)


def pytest_collection_modifyitems(items):
    """Fast tests first: unit, then integration, then the browser."""
    order = {"unit": 0, "integration": 1, "package": 2, "browser": 2}
    items.sort(key=lambda item: order.get(item.path.parent.name, 1))


@pytest.fixture(scope="session")
def dev_provider(tmp_path_factory):
    """The real development provider, on a free port, for this test run."""
    provider = start(tmp_path_factory.mktemp("dev-provider"), port=0, owner_pid=os.getpid(), users_file=DEMO_USERS)
    yield provider
    provider.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """Debian's redis-server on a free loopback port, for this test run."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """Debian's PostgreSQL, a cluster of its own on a free loopback port, for this test run."""
    server = PostgresServer()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def _no_env_file(monkeypatch):
    """A developer's own .env must not change what the tests see."""
    monkeypatch.setenv("LOGTO_ENV_FILE", "/nonexistent/.env")
    for name in ("LOGTO_SESSION_DB_URL", "REFLEX_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def registered_app(request, dev_provider):
    """A fresh client at the provider for an app living at http://localhost:3999.

    `@pytest.mark.client(access_token_ttl=4)` sets its metadata (token lifetimes).
    """
    marker = request.node.get_closest_marker("client")
    client_id = f"it-{secrets.token_hex(4)}"
    client_secret = secrets.token_urlsafe(32)
    base_url = "http://localhost:3999"
    dev_provider.put_client(client_id, client_secret, base_url=base_url, **(marker.kwargs if marker else {}))
    return {
        "LOGTO_ENDPOINT": dev_provider.origin,
        "LOGTO_APP_ID": client_id,
        "LOGTO_APP_SECRET": client_secret,
        "LOGTO_BASE_URL": base_url,
        "LOGTO_COOKIE_SECRET": secrets.token_urlsafe(32),
    }


@pytest.fixture
def op():
    """A scripted provider (an httpx transport) for the cases a real one never produces."""
    return FakeProvider()


@pytest.fixture
async def rp(op, tmp_path):
    """The app's real sign-in code, configured against `op`."""
    party = RelyingParty(op, str(tmp_path / "sessions.sqlite3"))
    yield party
    await party.close()


@pytest.fixture
async def api(op, tmp_path):
    """The demo's own API (`/api/demo`) over ASGI, checking tokens that `op` signs."""
    import httpx

    from app.api import api_routes
    from reflex_logto.reflex import runtime
    from tests.support.fake_provider import APP_URL, app_config

    config = app_config(op, session_db=str(tmp_path / "s.sqlite3"), resources=(f"{APP_URL}/api",))
    runtime.configure(config, backend_url=APP_URL, transport=op.transport())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api_routes()), base_url=APP_URL) as client:
        yield client
    await runtime.shutdown()
