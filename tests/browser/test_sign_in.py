"""A person signing in and out, in chromium, against the app in production mode."""

import re
import sqlite3
import time
import urllib.parse

import pytest
from playwright.sync_api import expect

from reflex_logto.sessions.sealing import Sealer

pytestmark = pytest.mark.browser

DEMO_USER, DEMO_PASSWORD = "demo", "demo-password"


def watch_websockets(page) -> list[str]:
    """Every websocket frame the page sends or receives, as text."""
    frames: list[str] = []

    def on_socket(ws):
        ws.on("framesent", lambda payload: frames.append(str(payload)))
        ws.on("framereceived", lambda payload: frames.append(str(payload)))

    page.on("websocket", on_socket)
    return frames


def sign_in_at_provider(page, username=DEMO_USER, password=DEMO_PASSWORD):
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def server_side_secrets(settings) -> list[str]:
    """Everything that must never reach the browser: tokens at rest, the client and cookie secrets."""
    env = settings["env"]
    sealer = Sealer(env["LOGTO_COOKIE_SECRET"])
    secrets = [env["LOGTO_APP_SECRET"], env["LOGTO_COOKIE_SECRET"]]
    with sqlite3.connect(env["LOGTO_SESSION_DB"]) as db:
        for key, blob in db.execute("SELECT id, tokens FROM sessions"):
            tokens = sealer.open(blob, record=key)
            secrets += [tokens["id_token"], tokens["access_token"], tokens["refresh_token"]]
    return [s for s in secrets if s]


def watch_documents(page) -> list[str]:
    """The HTML of every page the browser loads, as it arrived (before any script ran)."""
    documents: list[str] = []

    def on_response(response):
        if response.request.resource_type == "document" and response.status == 200:
            documents.append(response.text())

    page.on("response", on_response)
    return documents


def hold_websockets(page) -> None:
    """The page's websocket opens but never reaches the app: nothing it would bring arrives."""
    page.route_web_socket(re.compile(r"/_event"), lambda socket: None)


def browser_storage(page) -> str:
    return page.evaluate(
        "() => JSON.stringify([document.cookie, Object.entries(localStorage), Object.entries(sessionStorage)])"
    )


def test_sign_in_reload_new_tab_and_sign_out(app_url, app_settings, context, screenshot):
    page = context.new_page()
    frames = watch_websockets(page)
    documents = watch_documents(page)
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Hello Logto")).to_be_visible()
    expect(page.get_by_text("You are not signed in.")).to_be_visible()
    screenshot(page, "1-signed-out")

    page.get_by_role("button", name="Sign in").click()
    sign_in_at_provider(page)
    screenshot(page, "2-provider-form")

    claims = page.get_by_role("table").filter(has_text="email_verified")
    expect(claims).to_be_visible()
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    expect(page.get_by_text("demo@example.com").first).to_be_visible()
    expect(claims.get_by_role("row").filter(has_text="email_verified")).to_contain_text("true")
    expect(claims.get_by_role("row").filter(has_text=re.compile(r"^exp"))).to_contain_text(" UTC")
    assert page.url == f"{app_url}/"
    screenshot(page, "3-signed-in")

    page.reload()
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    second_tab = context.new_page()
    frames += watch_websockets(second_tab)
    second_tab.goto(app_url)
    expect(second_tab.get_by_role("heading", name="Demo User")).to_be_visible()
    screenshot(second_tab, "4-new-tab")
    second_tab.close()

    # The session cookie is HttpOnly and SameSite=Lax; nothing secret is visible to scripts.
    session_cookie = next(c for c in context.cookies() if c["name"] == "logto_session")
    assert session_cookie["httpOnly"] and session_cookie["sameSite"] == "Lax" and session_cookie["path"] == "/"
    secrets = server_side_secrets(app_settings) + [session_cookie["value"]]
    assert len(secrets) >= 6
    visible = browser_storage(page) + "\n".join(frames) + "\n".join(documents)
    assert frames, "no websocket traffic was captured"
    assert any("Demo User" in document for document in documents), "no page carried its first state"
    for secret in secrets:
        assert secret not in visible

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are not signed in.")).to_be_visible()
    assert page.url == f"{app_url}/"
    assert "logto_session" not in [c["name"] for c in context.cookies()]
    screenshot(page, "5-signed-out-again")

    # Signed out at the provider too: signing in again shows its form.
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_pages_show_who_is_signed_in_before_their_websocket_answers(app_url, chromium, context, screenshot):
    # Signed out: the home page offers Sign in; a protected page, which would send the visitor
    # to sign in, keeps its spinner instead of flashing "signed out".
    held = chromium.new_context()
    page = held.new_page()
    hold_websockets(page)
    page.goto(app_url)
    expect(page.get_by_text("You are not signed in.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
    page.goto(f"{app_url}/profile")
    expect(page.get_by_text("Checking your sign-in…")).to_be_visible()
    expect(page.get_by_text("This page needs you to sign in.")).to_have_count(0)
    held.close()

    # Signed in: the user and every claim, with no word from the websocket.
    page = context.new_page()
    page.goto(app_url)
    page.get_by_role("button", name="Sign in").click()
    sign_in_at_provider(page)
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    page = context.new_page()
    hold_websockets(page)
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    expect(page.get_by_role("table").get_by_role("row").filter(has_text="email_verified")).to_contain_text("true")
    screenshot(page, "signed-in-before-the-websocket")
    assert page.locator("#__reflex_logto_first_state").count() == 0  # taken, and gone from the page


def test_the_websocket_s_answer_replaces_the_state_the_page_carried(app_url, context):
    """A session that ends between the page's response and its websocket's first answer: the
    answer says signed out, whole, though "signed out" is what a new page starts from."""
    page = context.new_page()
    page.goto(app_url)
    page.get_by_role("button", name="Sign in").click()
    sign_in_at_provider(page)
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()

    held: list = []
    received: list[str] = []
    page.route_web_socket(re.compile(r"/_event"), lambda socket: held.append(socket))
    page.reload()
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()  # carried by the page
    other = context.new_page()
    other.goto(app_url)
    other.get_by_role("button", name="Sign out").click()  # the session ends elsewhere
    expect(other.get_by_text("You are not signed in.")).to_be_visible()
    other.close()

    socket = held[0]
    server = socket.connect_to_server()
    server.on_message(lambda message: (received.append(str(message)), socket.send(message)))
    expect(page.get_by_text("You are not signed in.")).to_be_visible()
    first_answer = next(frame for frame in received if "auth_state" in frame)
    assert '"signed_in_rx_state_":false' in first_answer and '"claims_rx_state_":[]' in first_answer


def test_back_from_the_provider_the_page_goes_on_without_waiting_for_its_websocket(app_url, context, screenshot):
    page = context.new_page()
    page.goto(f"{app_url}/")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Username")).to_be_visible()
    hold_websockets(page)  # from here on, no websocket of this tab reaches the app
    sign_in_at_provider(page)
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    expect(page.get_by_role("table").get_by_role("row").filter(has_text="email_verified")).to_contain_text("true")
    expect(page).to_have_url(f"{app_url}/")
    screenshot(page, "back-without-the-websocket")


def test_back_from_the_provider_the_return_page_loads_once(app_url, context):
    """The callback page goes on by itself and its handler does nothing: the return page's
    on_load runs once, not again for a redirect to where the tab already is."""
    page = context.new_page()
    page.goto(f"{app_url}/")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Username")).to_be_visible()
    sockets: list[tuple[list[str], list[str]]] = []  # (sent, received) of each websocket from the callback page on

    def watch(ws):
        sent, received = [], []
        sockets.append((sent, received))
        ws.on("framesent", lambda payload: sent.append(str(payload)))
        ws.on("framereceived", lambda payload: received.append(str(payload)))

    page.on("websocket", watch)
    sign_in_at_provider(page)
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    page.wait_for_timeout(1500)  # room for a second load, were one coming
    assert len(sockets) == 1, "the way back opened more than one websocket"
    sent, received = sockets[0]
    assert not [frame for frame in received if '"_redirect"' in frame]  # the handler sent it nowhere
    # The home page's on_load, once: with its hydrate (the page loaded) or after the callback page's.
    loads = [frame for frame in sent if "on_load_internal" in frame or "hydrate_and_load" in frame]
    assert sum('"pathname":"/"' in frame for frame in loads) == 1, sent


def test_provider_error_is_shown_escaped_with_try_again(app_url, dev_provider, context, screenshot):
    page = context.new_page()
    authorizations: list[str] = []
    page.on("request", lambda request: authorizations.append(request.url) if "/oidc/auth?" in request.url else None)
    page.goto(app_url)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # The provider answers this browser's sign-in with an error whose text is hostile.
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(authorizations[0]).query))["state"]
    script = "<script>window.__injected = 1</script><img src=x onerror='window.__injected=2'>"
    page.goto(f"{app_url}/callback?" + urllib.parse.urlencode(
        {"error": "access_denied", "error_description": script, "state": state, "iss": dev_provider.issuer}
    ))
    expect(page.get_by_role("heading", name="Sign-in did not finish")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("The sign-in service did not sign you in.")
    expect(page.get_by_role("alert")).to_contain_text(script)
    assert page.evaluate("() => window.__injected") is None
    expect(page.get_by_role("button", name="Try again")).to_be_visible()
    screenshot(page, "error")


def test_replayed_callback_says_so_and_try_again_signs_in(app_url, context, screenshot):
    page = context.new_page()
    callbacks: list[str] = []
    page.on("request", lambda request: callbacks.append(request.url) if "/callback?code=" in request.url else None)
    page.goto(app_url)
    page.get_by_role("button", name="Sign in").click()
    sign_in_at_provider(page)
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    assert callbacks

    page.goto(callbacks[0])
    expect(page.get_by_role("alert")).to_contain_text("already used")
    screenshot(page, "replayed")
    page.get_by_role("button", name="Try again").click()
    # Still signed in at the provider: straight back, signed in.
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()


def test_callback_shows_signing_in_while_it_works(app_url, dev_provider, context, screenshot):
    page = context.new_page()
    page.goto(app_url)
    page.get_by_role("button", name="Sign in").click()
    sign_in_at_provider_form = page.get_by_role("heading", name="Sign in")
    expect(sign_in_at_provider_form).to_be_visible()
    dev_provider.set_delays({"/oidc/token": 2000})  # a slow provider, so the wait can be seen
    try:
        page.get_by_label("Username").fill(DEMO_USER)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("status")).to_contain_text("Signing in...")
        screenshot(page, "signing-in")
    finally:
        dev_provider.set_delays({})
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()


# Records, in the tab's sessionStorage (it survives the trip to the provider),
# the label of every button that was ever disabled, however briefly.
RECORD_DISABLED_BUTTONS = """
new MutationObserver(() => {
  const seen = new Set(JSON.parse(sessionStorage.getItem("disabled-buttons") || "[]"));
  for (const button of document.querySelectorAll("button[disabled]")) seen.add(button.textContent.trim());
  sessionStorage.setItem("disabled-buttons", JSON.stringify([...seen]));
}).observe(document, { subtree: true, childList: true, attributes: true });
"""


def test_buttons_show_progress_until_the_page_leaves(app_url, dev_provider, context):
    context.add_init_script(RECORD_DISABLED_BUTTONS)

    def slowly(route):  # far away: the page stays a while after the click
        time.sleep(0.4)
        route.continue_()

    # The first request of each trip (a route never sees the redirects that follow it): the
    # provider, or the start route where Sign in is clicked before the tab is live.
    context.route(
        lambda url: url.startswith(f"{dev_provider.origin}/oidc/auth?") or "/auth/sign-in?" in url
        or "/auth/signed-out/" in url,
        slowly,
    )
    page = context.new_page()
    page.goto(app_url)
    disabled = lambda: page.evaluate("() => JSON.parse(sessionStorage.getItem('disabled-buttons') || '[]')")  # noqa: E731
    expect(page.get_by_role("button", name="Sign in")).to_be_enabled()
    assert disabled() == []
    page.get_by_role("button", name="Sign in").click()
    sign_in_at_provider(page)
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    assert any("Sign in" in label for label in disabled())
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are not signed in.")).to_be_visible()
    assert any("Sign out" in label for label in disabled())


def test_sign_in_goes_straight_to_the_provider_bound_by_the_pages_cookie(app_url, dev_provider, context):
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(app_url)
    # The page gave this browser its sign-in cookie: HttpOnly, for the browser session only.
    binding = next(c for c in context.cookies() if c["name"] == "logto_signin")
    assert binding["httpOnly"] and binding["sameSite"] == "Lax" and binding["expires"] == -1
    page.get_by_role("button", name="Sign in").click()
    sign_in_at_provider(page)
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    # One hop fewer: the click went to the provider, not through the start route.
    assert not [url for url in requests if "/auth/sign-in/" in url], requests
    assert any(url.startswith(f"{dev_provider.origin}/oidc/auth?") for url in requests)
    assert next(c for c in context.cookies() if c["name"] == "logto_signin")["value"] == binding["value"]


def test_post_sign_out_landing_copes_with_unexpected_parameters(app_url, context):
    page = context.new_page()
    for query in ("?state=unexpected", "?state=", "?error=logout_failed&state=%3Cb%3E"):
        page.goto(f"{app_url}/{query}")
        expect(page.get_by_text("You are not signed in.")).to_be_visible()
        expect(page.get_by_role("alert")).to_have_count(0)


# Every script of the page, as the browser's resource timing tells where it came from.
SCRIPT_SOURCES = """() => performance.getEntriesByType("resource")
  .filter((entry) => new URL(entry.name).pathname.startsWith("/assets/") && entry.name.endsWith(".js"))
  .map((entry) => ({ path: new URL(entry.name).pathname, source: entry.deliveryType, route: entry.workerMatchedSourceType }))"""


def test_back_from_the_provider_in_one_page_load_with_scripts_from_the_asset_cache(app_url, context):
    page = context.new_page()
    page.goto(app_url)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # Leaving for the provider registered the asset cache: a service worker at the origin's
    # root, active once it holds the build. (A page of the origin that registers nothing.)
    probe = context.new_page()
    probe.goto(f"{app_url}/auth/service-worker.js")
    assert probe.evaluate("() => navigator.serviceWorker.ready.then((r) => r.scope)") == f"{app_url}/"
    probe.close()
    sign_in_at_provider(page)
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    assert page.url == f"{app_url}/"
    # One document on the way back: the home page, where the callback sent the browser.
    document = page.evaluate(
        "() => { const d = performance.getEntriesByType('navigation')[0]; return [new URL(d.name).pathname, d.deliveryType]; }"
    )
    assert document[0] == "/"
    assert document[1] != "cache-storage"  # the page itself (and its cookies) came from the server
    scripts = page.evaluate(SCRIPT_SOURCES)
    assert scripts and all(script["source"] == "cache-storage" for script in scripts), scripts
    assert all(script["route"] == "cache" for script in scripts), scripts  # the static route: no worker started
    # Back, the page releases the worker once it has loaded: later page loads take their
    # scripts from the HTTP cache, which is quicker. (When Chromium then drops it is Chromium's:
    # it hands a released worker on to a page that reloads one it controls, and has been seen
    # to keep one past the last page it controlled. Each page it still controls releases it.)
    page.wait_for_function("async () => !(await navigator.serviceWorker.getRegistration('/'))")
    page.reload()
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    page.wait_for_function("async () => !(await navigator.serviceWorker.getRegistration('/'))")
