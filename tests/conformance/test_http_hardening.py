"""The app's HTTP surface against a hostile browser, in production mode (one port serves the
pages and the backend): no cookie value in the log, no page that can be framed, no redirect to
a forged Host, CORS and the websocket for the app's own origin only
(src/reflex_logto/reflex/hardening.py). One app for the module, signed in over the wire."""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
import urllib.parse
import uuid

import httpx
import pytest
import websockets
from reflex.event import Event

from app.app import DEVELOPMENT
from reflex_logto.config import AuthConfig
from reflex_logto.errors import ConfigurationError
from reflex_logto.reflex.hardening import safe_location, security_headers
from reflex_logto.reflex.log_redaction import install_log_redaction
from tests.support.app_server import ROOT, AppServer, free_port
from tests.support.event_client import STATE, Tab, UserAgent

pytestmark = pytest.mark.browser

FOREIGN = "https://evil.example"
ANSWER_TIMEOUT = 30


@pytest.fixture(scope="module")
def app(dev_provider, tmp_path_factory):
    """The demo app in production mode on a free port, at a fresh client of the provider."""
    port = free_port()
    base_url = f"http://localhost:{port}"
    secret = secrets.token_urlsafe(32)
    dev_provider.put_client("hardening-tests", secret, base_url=base_url, client_name="Hardening tests")
    dev_provider.put_resource(f"{base_url}/api", ["read:demo"])
    log = ROOT / "test-output" / "app-hardening.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text("")
    server = AppServer(
        {
            "LOGTO_ENDPOINT": dev_provider.origin,
            "LOGTO_APP_ID": "hardening-tests",
            "LOGTO_APP_SECRET": secret,
            "LOGTO_BASE_URL": base_url,
            "LOGTO_COOKIE_SECRET": secrets.token_urlsafe(32),
            "LOGTO_SESSION_DB": str(tmp_path_factory.mktemp("hardening") / "sessions.sqlite3"),
            "LOGTO_ENV_FILE": "/nonexistent/.env",
            "LOGTO_SCOPES": " ".join(DEVELOPMENT.scopes),
            "LOGTO_RESOURCES": f"{base_url}/api",
        },
        port,
        log,
    )
    try:
        server.wait_until_up()
        yield server
    finally:
        server.stop()


async def signed_in_browser(app_url: str) -> tuple[dict[str, str], str]:
    """Click Sign in, sign in at the provider, finish on /callback: the browser's cookies and tab token."""
    agent = UserAgent(app_url)
    try:
        await (await agent.sign_in(("demo", "demo-password"))).close()
        cookies = {c.name: c.value for c in agent.http.cookies.jar if c.domain.removesuffix(".local") == agent.app_host}
        assert any(name.endswith("logto_session") for name in cookies), cookies
        return cookies, agent.token
    finally:
        await agent.aclose()


@pytest.fixture(scope="module")
def signed_in(app):
    """A browser's cookies for the app, signed in as demo, and its tab token."""
    return asyncio.run(signed_in_browser(app.url))


# 1. No cookie value in the log


def test_an_unknown_event_logs_no_cookie_value(app, signed_in):
    cookies, token = signed_in
    header = "; ".join(f"{name}={value}" for name, value in cookies.items())
    unknown = f"no_such_handler_{secrets.token_hex(4)}"
    start = len(app.log_path.read_text())

    async def send_unknown_event():
        tab = await Tab.connect(app.url, token, "/", header)
        await tab.send(unknown, state=STATE)
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while unknown not in app.log_path.read_text()[start:] and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        await tab.close()

    asyncio.run(send_unknown_event())
    logged = app.log_path.read_text()
    assert unknown in logged[start:], "Reflex logged nothing about the unknown event"
    assert "Error processing event" in logged[start:]
    unwrapped = re.sub(r"\s", "", logged)  # rich may wrap long lines
    secrets_held = {name: value for name, value in cookies.items() if not name.endswith("_signin_done")}
    # (the marker cookie, "1", holds nothing)
    assert set(secrets_held) >= {"logto_session", "logto_signin"}
    for name, value in secrets_held.items():
        assert value not in logged and value not in unwrapped, f"the log holds the value of the {name} cookie"


def test_redaction_covers_every_form_of_a_cookie(caplog):
    """The same boundary in this process: Reflex's event processor logger, an Event as it logs it."""
    factory = logging.getLogRecordFactory()
    try:
        install_log_redaction(["__Host-logto_session", "__Host-logto_signin"])
        headers = {"host": "app.example", "cookie": "__Host-logto_session=S1; __Host-logto_signin=B1; other=O1"}
        event = Event(name="state.unknown", router_data={"pathname": "/", "headers": headers})
        processor = logging.getLogger("reflex_base.event.processor.event_processor")
        with caplog.at_level(logging.INFO):
            try:
                raise KeyError(f"No registered handler found for event: {event}")
            except KeyError:
                processor.exception(f"Error processing event queue entry for {event}:")
            processor.warning("raw %s", "Cookie: a=A1; b=B2\nSet-Cookie: __Host-logto_session=S2; HttpOnly")
            processor.warning("pairs %r, parsed %s", [(b"cookie", b"c=C1")], {"logto_session": "S3"})
        for value in ("S1", "B1", "O1", "A1", "B2", "S2", "C1", "S3"):
            assert value not in caplog.text
        assert "state.unknown" in caplog.text  # the rest is still there
    finally:
        logging.setLogRecordFactory(factory)


# 2. Framing


def same_origin_chain(url: str, **kwargs) -> list[httpx.Response]:
    """The response to `url` and to each redirect after it that stays on the app."""
    origin = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(url))
    chain = [httpx.get(url, **kwargs)]
    while chain[-1].is_redirect and len(chain) < 6:
        target = urllib.parse.urljoin(url, chain[-1].headers["location"])
        if not target.startswith(origin):
            break
        chain.append(httpx.get(target))
    return chain


def assert_no_framing(response: httpx.Response) -> None:
    csp = response.headers.get_list("content-security-policy")
    assert any("frame-ancestors 'none'" in policy for policy in csp), (response.url, response.headers)
    assert any("base-uri 'self'" in p and "object-src 'none'" in p for p in csp)
    assert response.headers.get("x-frame-options") == "DENY", response.url
    assert response.headers.get("x-content-type-options") == "nosniff", response.url


@pytest.mark.parametrize("path", ["/", "/profile", "/profile/", "/callback", "/auth/signed-out", "/ping", "/no-such-page"])
def test_every_response_forbids_framing(app, path):
    chain = same_origin_chain(app.url + path)
    for response in chain:
        assert_no_framing(response)
    assert chain[-1].status_code == (404 if path == "/no-such-page" else 200), chain[-1].url


def test_built_assets_forbid_framing_too(app):
    page = httpx.get(f"{app.url}/")
    scripts = re.findall(r'(?:src|href)="(/assets/[^"]+\.js)"', page.text)
    assert scripts, "no script on the home page"
    assert_no_framing(httpx.get(app.url + scripts[0]))


def test_frame_ancestors_setting():
    environ = {
        "LOGTO_ENDPOINT": "https://logto.example", "LOGTO_APP_ID": "app", "LOGTO_APP_SECRET": "secret",
        "LOGTO_BASE_URL": "https://app.example", "LOGTO_COOKIE_SECRET": "x" * 32,
    }
    assert AuthConfig.from_env(environ).frame_ancestors == "'none'"
    framed = AuthConfig.from_env({**environ, "LOGTO_FRAME_ANCESTORS": "https://parent.example"})
    headers = dict(security_headers(framed.frame_ancestors))
    assert headers[b"content-security-policy"].startswith(b"frame-ancestors https://parent.example;")
    assert b"x-frame-options" not in headers  # DENY would forbid the parent too
    assert dict(security_headers("'self'"))[b"x-frame-options"] == b"SAMEORIGIN"
    for wrong in ("*", "http://parent.example", "'none' https://parent.example", "https://a.example/path", "https://a;b"):
        with pytest.raises(ConfigurationError, match="LOGTO_FRAME_ANCESTORS"):
            AuthConfig.from_env({**environ, "LOGTO_FRAME_ANCESTORS": wrong})


# 3. Redirects built from LOGTO_BASE_URL, never from the Host header


@pytest.mark.parametrize("path", ["/profile", "/admin?x=1", "/auth/signed-out", "/auth/signed-out/", "/ping/"])
@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "EVIL.example"])
def test_no_redirect_follows_a_forged_host(app, path, host):
    response = httpx.get(app.url + path, headers={"Host": host})
    location = response.headers.get("location", "")
    assert "evil.example" not in location.lower(), location
    if path in ("/profile", "/admin?x=1"):  # the static files' trailing-slash redirect
        assert response.is_redirect
        expected = path.replace("?", "/?") if "?" in path else path + "/"
        assert location == app.url + expected
    if urllib.parse.urlsplit(location).netloc:
        assert location.startswith(app.url + "/"), location


def test_only_locations_built_from_the_request_are_rewritten():
    scope = {"type": "http", "scheme": "http", "headers": [(b"host", b"evil.example")], "server": ("127.0.0.1", 3000)}
    own, serving = ("http://localhost:3000",), "http://localhost:3000"
    assert safe_location("http://evil.example/profile/?a=1", scope, own, serving) == f"{serving}/profile/?a=1"
    assert safe_location("http://127.0.0.1:3000/x", scope, own, serving) == f"{serving}/x"
    for kept in ("/relative?x=1", "http://localhost:3000/ok", "http://localhost:4000/oidc/auth?client_id=a"):
        assert safe_location(kept, scope, own, serving) == kept  # the provider's pages stay the provider's
    honest = {**scope, "headers": [(b"host", b"localhost:3000")]}
    assert safe_location("https://logto.example/oidc/auth", honest, own, serving) == "https://logto.example/oidc/auth"


# 4. CORS and the websocket: the app's own origin only


@pytest.mark.parametrize("path", ["/ping", "/", "/auth/signed-out", "/api/demo"])
def test_a_foreign_origin_gets_no_cors_grant(app, path):
    simple = httpx.get(app.url + path, headers={"Origin": FOREIGN, "Cookie": "logto_session=x"})
    preflight = httpx.options(app.url + path, headers={"Origin": FOREIGN, "Access-Control-Request-Method": "POST"})
    for response in (simple, preflight):
        assert "access-control-allow-origin" not in response.headers, (response.request.method, response.headers)
        # Reflex's outermost CORS layer sends Allow-Credentials to any Origin; without an
        # Allow-Origin it grants nothing (Fetch's CORS check fails on the origin first).
        assert FOREIGN not in str(response.headers)


def test_the_app_origin_gets_a_cors_grant(app):
    simple = httpx.get(f"{app.url}/ping", headers={"Origin": app.url})
    preflight = httpx.options(f"{app.url}/ping", headers={"Origin": app.url, "Access-Control-Request-Method": "POST"})
    for response in (simple, preflight):
        assert response.headers.get("access-control-allow-origin") == app.url
        assert response.headers.get("access-control-allow-credentials") == "true"


def test_a_foreign_origin_gets_no_socket(app, signed_in):
    cookies, _ = signed_in
    header = "; ".join(f"{name}={value}" for name, value in cookies.items())

    async def connect(origin: str):
        return await Tab.connect(app.url, str(uuid.uuid4()), "/", header, origin=origin)

    for origin in (FOREIGN, "null", app.url.replace("localhost", "127.0.0.1")):
        with pytest.raises(websockets.InvalidStatus) as refused:
            asyncio.run(connect(origin))
        assert refused.value.response.status_code == 403

    async def own_origin_connects():
        tab = await connect(app.url)
        await tab.close()

    asyncio.run(own_origin_connects())
