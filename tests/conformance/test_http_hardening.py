"""The app's HTTP surface against a hostile browser, in production mode (one port serves the
pages and the backend): no cookie value in the log, no page that can be framed, no redirect to
a forged Host, CORS and the websocket for the app's own origin only
(src/reflex_logto/reflex/hardening.py). One app for the module, signed in over the wire."""

from __future__ import annotations

import asyncio
import json
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
from reflex_logto.reflex.state import AuthState
from tests.support.app_server import ROOT, AppServer, free_port
from tests.support.provider_browser import ProviderBrowser

pytestmark = pytest.mark.browser

FOREIGN = "https://evil.example"
STATE = "reflex___state____state"
NAVIGATION = re.compile(r'window\.location\.(?:assign|replace)\("([^"]+)"\)')
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


# Reflex's event protocol: Socket.IO over a websocket (as bench/event_client.py speaks it)


async def open_tab(url: str, cookie: str, token: str, *, origin: str | None = None):
    """A page's websocket, connected and hydrating (which runs the page's on_load)."""
    parts = urllib.parse.urlsplit(url)
    socket = await websockets.connect(
        f"ws://{parts.netloc}/_event/?token={token}&EIO=4&transport=websocket",
        origin=origin or f"{parts.scheme}://{parts.netloc}",
        additional_headers={"Cookie": cookie} if cookie else None,
        open_timeout=ANSWER_TIMEOUT,
    )
    opening = await socket.recv()
    assert opening.startswith("0"), opening
    path = parts.path or "/"
    router_data = {"pathname": path, "asPath": path + (f"?{parts.query}" if parts.query else "")}
    if parts.query:
        router_data["query"] = dict(urllib.parse.parse_qsl(parts.query))
    hydrate = {"name": f"{STATE}.hydrate_and_load", "payload": {}, "router_data": router_data}
    await socket.send(f"40/_event,{json.dumps({'event': hydrate})}")
    return socket


async def send_event(socket, name: str, path: str = "/") -> None:
    event = {"name": name, "payload": {}, "router_data": {"pathname": path, "asPath": path}}
    await socket.send(f"42/_event,{json.dumps(['event', event])}")


async def navigation(socket) -> str:
    """The URL the app sends the tab to next (a `_call_script` setting window.location)."""
    async with asyncio.timeout(ANSWER_TIMEOUT):
        while True:
            frame = await socket.recv()
            if frame == "2":  # Engine.IO ping
                await socket.send("3")
            elif frame.startswith("42/_event,"):
                name, update = json.loads(frame[len("42/_event,"):])[:2]
                for event in (update.get("events") or []) if name == "event" else []:
                    code = event.get("payload", {}).get("javascript_code", "")
                    if event.get("name") == "_call_script" and (match := NAVIGATION.search(code)):
                        return json.loads(f'"{match.group(1)}"')


def cookie_header(http: httpx.Client) -> str:
    return "; ".join(f"{name}={value}" for name, value in http.cookies.items())


async def sign_in(app_url: str, provider_origin: str, http: httpx.Client, token: str) -> None:
    """Click Sign in, sign in at the provider, finish on /callback: `http` holds the session cookie."""
    auth = AuthState.get_full_name()
    tab = await open_tab(f"{app_url}/", "", token)
    await send_event(tab, f"{auth}.sign_in")
    start = await navigation(tab)
    await tab.close()
    to_provider = http.get(start)
    assert to_provider.status_code == 303, to_provider.text
    provider = ProviderBrowser(provider_origin)
    try:
        callback = provider.sign_in(to_provider.headers["location"], "demo", "demo-password")
    finally:
        provider.close()
    tab = await open_tab(callback, cookie_header(http), token)
    to_session = await navigation(tab)
    await tab.close()
    assert http.get(to_session).status_code == 303
    assert any(name.endswith("logto_session") for name in http.cookies), http.cookies


@pytest.fixture(scope="module")
def signed_in(app, dev_provider):
    """A browser's cookies for the app, signed in as demo, and its tab token."""
    token = str(uuid.uuid4())
    with httpx.Client(timeout=ANSWER_TIMEOUT) as http:
        asyncio.run(sign_in(app.url, dev_provider.origin, http, token))
        yield dict(http.cookies.items()), token


# 1. No cookie value in the log


def test_an_unknown_event_logs_no_cookie_value(app, signed_in):
    cookies, token = signed_in
    header = "; ".join(f"{name}={value}" for name, value in cookies.items())
    unknown = f"{STATE}.no_such_handler_{secrets.token_hex(4)}"
    start = len(app.log_path.read_text())

    async def send_unknown_event():
        tab = await open_tab(f"{app.url}/", header, token)
        await send_event(tab, unknown)
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
    assert set(secrets_held) == {"logto_session", "logto_signin"}  # the marker cookie ("1") holds nothing
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


@pytest.mark.parametrize("path", ["/profile", "/callback?x=1", "/auth/signed-out", "/auth/signed-out/", "/ping/"])
@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "EVIL.example"])
def test_no_redirect_follows_a_forged_host(app, path, host):
    response = httpx.get(app.url + path, headers={"Host": host})
    location = response.headers.get("location", "")
    assert "evil.example" not in location.lower(), location
    if path in ("/profile", "/callback?x=1"):  # the static files' trailing-slash redirect
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
        return await open_tab(f"{app.url}/", header, str(uuid.uuid4()), origin=origin)

    for origin in (FOREIGN, "null", app.url.replace("localhost", "127.0.0.1")):
        with pytest.raises(websockets.InvalidStatus) as refused:
            asyncio.run(connect(origin))
        assert refused.value.response.status_code == 403

    async def own_origin_connects():
        tab = await connect(app.url)
        await tab.close()

    asyncio.run(own_origin_connects())
