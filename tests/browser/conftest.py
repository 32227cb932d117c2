import secrets
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from app.app import DEVELOPMENT
from tests.support.app_server import ROOT, AppServer, free_port
from tests.support.chromium import CHROMIUM, CHROMIUM_FLAGS

SCREENSHOTS = ROOT / "test-output" / "screenshots"

expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def app_settings(dev_provider, tmp_path_factory):
    """A client at the development provider for the app on a free port."""
    port = free_port()
    base_url = f"http://localhost:{port}"
    client_secret = secrets.token_urlsafe(32)
    dev_provider.put_client("browser-tests", client_secret, base_url=base_url, client_name="Browser tests")
    dev_provider.put_resource(f"{base_url}/api", ["read:demo"])
    return {
        "port": port,
        "env": {
            "LOGTO_ENDPOINT": dev_provider.origin,
            "LOGTO_APP_ID": "browser-tests",
            "LOGTO_APP_SECRET": client_secret,
            "LOGTO_BASE_URL": base_url,
            "LOGTO_COOKIE_SECRET": secrets.token_urlsafe(32),
            "LOGTO_SESSION_DB": str(tmp_path_factory.mktemp("app") / "sessions.sqlite3"),
            "LOGTO_ENV_FILE": "/nonexistent/.env",
            "LOGTO_SCOPES": " ".join(DEVELOPMENT.scopes),
            "LOGTO_RESOURCES": f"{base_url}/api",
        },
    }


@pytest.fixture(scope="session")
def app_server(app_settings, tmp_path_factory):
    """The app in production mode, one for the whole run."""
    log = ROOT / "test-output" / "app-prod.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text("")
    server = AppServer(app_settings["env"], app_settings["port"], log)
    try:
        server.wait_until_up()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def app_url(app_server):
    return app_server.url


@pytest.fixture(scope="module")
def chromium():
    # Module scope: Playwright's sync API runs an event loop on this thread,
    # which must be gone before asyncio tests run.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def context(chromium):
    """A fresh browser profile per test."""
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(20_000)
    yield context
    context.close()


@pytest.fixture
def screenshot(request):
    """Save a screenshot of `page` as test-output/screenshots/<test>-<step>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, step: str) -> Path:
        path = SCREENSHOTS / f"{request.node.name}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
