"""Two app instances, each with two workers, behind one load balancer: what a
deployment on several machines looks like. Reflex keeps its state in Redis
(REFLEX_REDIS_URL), and the sessions are in the same Redis or, in the
`postgres` runs, in a PostgreSQL (LOGTO_SESSION_DB_URL); each instance has a
SQLite file of its own that nothing may depend on."""

import re
import secrets
import time

import pytest
from playwright.sync_api import expect

from app.app import DEVELOPMENT
from tests.browser.test_sign_in import sign_in_at_provider
from tests.support.app_server import ROOT, AppServer, free_port, project_copy
from tests.support.balancer import Balancer

pytestmark = pytest.mark.browser

WORKERS_PER_APP = 2


def check_with_provider(page, timeout: float = 20_000) -> None:
    """Click "Check with the sign-in service" on the profile page and wait for a new answer:
    the handler asks the provider for the user's info and says when, to the second."""
    answer = page.get_by_text(re.compile(r"^Confirmed by the sign-in service at"))
    before = answer.inner_text() if answer.count() else None
    if before is not None:
        time.sleep(1.05)  # the answer names its second: a new one within the same second would look alike
    page.get_by_role("button", name="Check with the sign-in service").click()
    expect(answer).to_be_visible(timeout=timeout)
    if before is not None:
        expect(answer).not_to_have_text(before)


def opened_websocket(request_lines: list[str]) -> bool:
    """Whether one of these connections was a page's websocket to the backend (Reflex's events)."""
    return any(line.startswith("GET /_event/") and "transport=websocket" in line for line in request_lines)


def websocket_reached(page, balancer, name: str, mark: int) -> bool:
    """Whether a page's websocket reached app `name` since `mark`, waiting for it a while: a page
    shows the user as its HTML arrives, and opens its websocket once React has hydrated it."""
    for _ in range(100):
        if opened_websocket(balancer.requests_to(name, mark)):
            return True
        page.wait_for_timeout(100)
    return False


@pytest.fixture(scope="module", params=["redis", "postgres"])
def cluster(request, dev_provider, redis_server, tmp_path_factory):
    """The two instances, with the sessions in Redis or PostgreSQL (`request.param`)."""
    store = request.param
    project = project_copy(tmp_path_factory.mktemp("project"))
    ports = {"a": free_port(), "b": free_port()}
    balancer = Balancer(ports)
    secret = secrets.token_urlsafe(32)
    dev_provider.put_client("several-workers", secret, base_url=balancer.url, client_name="Several workers")
    shared = {
        "LOGTO_ENDPOINT": dev_provider.origin,
        "LOGTO_APP_ID": "several-workers",
        "LOGTO_APP_SECRET": secret,
        "LOGTO_BASE_URL": balancer.url,
        "LOGTO_COOKIE_SECRET": secrets.token_urlsafe(32),
        "LOGTO_ENV_FILE": "/nonexistent/.env",
        "LOGTO_SCOPES": " ".join(DEVELOPMENT.scopes),
        "REFLEX_REDIS_URL": redis_server.url,  # Reflex's state and, by default, the sessions
        "REFLEX_API_URL": balancer.url,  # the pages reach the backend through the balancer too
        "GRANIAN_WORKERS": str(WORKERS_PER_APP),
    }
    if store == "postgres":
        postgres = request.getfixturevalue("postgres_server")
        shared["LOGTO_SESSION_DB_URL"] = postgres.url  # the sessions there; Reflex's state stays in Redis
    apps = {}
    try:
        for name, port in ports.items():
            own = {"LOGTO_SESSION_DB": str(tmp_path_factory.mktemp(f"app-{name}") / "sessions.sqlite3")}
            log = ROOT / "test-output" / f"app-{name}.log"
            log.write_text("")
            apps[name] = AppServer({**shared, **own}, port, log, project=project)
            apps[name].wait_until_up()  # one at a time: they build the same frontend
            assert len(apps[name].processes()) >= 1 + WORKERS_PER_APP
        yield {"apps": apps, "balancer": balancer, "url": balancer.url, "store": store}
    finally:
        for app in apps.values():
            app.stop()
        balancer.close()


@pytest.fixture(autouse=True)
def what_the_cluster_saw(cluster):
    """Printed after each test, which pytest shows when it fails: the requests each app got
    (paths only: the callback's query carries a code) and the end of each app's log."""
    start = len(cluster["balancer"].log)
    yield
    for backend, line in cluster["balancer"].log[start:]:
        print(f"{backend}: {line.split('?', 1)[0]}")
    for name, app in cluster["apps"].items():
        print(f"--- the end of app {name}'s log ---\n{app.log_path.read_text()[-2000:]}")


def asset_cache_installed(context, url: str) -> None:
    """Wait until the asset cache's service worker is active (it registers as a tab leaves for
    the provider), so none of its fetches is still under way when the test switches backends."""
    probe = context.new_page()
    probe.goto(f"{url}/auth/service-worker.js")  # a page of the origin that registers nothing
    probe.evaluate("() => navigator.serviceWorker.ready")
    probe.close()


def test_sign_in_started_on_one_app_finishes_on_the_other_and_both_see_the_session(cluster, context, screenshot):
    balancer, url = cluster["balancer"], cluster["url"]
    page = context.new_page()

    balancer.route_to("a", drop_open=True)
    mark = len(balancer.log)
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()  # the handler runs on app a
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # the provider's form
    assert opened_websocket(balancer.requests_to("a", mark)) and not balancer.requests_to("b", mark)
    asset_cache_installed(context, url)  # its fetches, begun as the tab left, are over

    balancer.route_to("b", drop_open=True)
    mark = len(balancer.log)
    sign_in_at_provider(page)  # the callback, the session route and the home page: app b
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    assert websocket_reached(page, balancer, "b", mark)
    assert any(line.startswith("GET /callback") for line in balancer.requests_to("b", mark))
    assert not balancer.requests_to("a", mark)
    screenshot(page, "signed-in-on-b")

    balancer.route_to("a", drop_open=True)
    mark = len(balancer.log)
    page.reload()
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    page.get_by_role("link", name="Your profile").click()
    check_with_provider(page)  # a handler, on app a
    assert opened_websocket(balancer.requests_to("a", mark)) and not balancer.requests_to("b", mark)

    # Another tab of the same browser, held by app b, while this one stays on app a.
    balancer.route_to("b")
    other = context.browser.new_context()
    other.add_cookies(context.cookies())
    other_tab = other.new_page()
    other_tab.goto(url)
    expect(other_tab.get_by_role("heading", name="Demo User")).to_be_visible()
    assert websocket_reached(other_tab, balancer, "b", mark)

    page.get_by_role("link", name="← Home").click()
    page.get_by_role("button", name="Sign out").click()  # the handler runs on app a: its websocket is there
    expect(page.get_by_text("You are not signed in.")).to_be_visible()
    expect(other_tab.get_by_text("You are not signed in.")).to_be_visible(timeout=2_000)  # seen on app b
    screenshot(other_tab, "signed-out-seen-on-b")
    other.close()


@pytest.mark.parametrize("cluster", ["redis"], indirect=True)  # Reflex's own recovery: the same with either store
def test_a_worker_killed_and_its_app_restarted_loses_nothing(cluster, context, screenshot):
    apps, balancer, url = cluster["apps"], cluster["balancer"], cluster["url"]
    page = context.new_page()
    balancer.route_to("a", drop_open=True)
    page.goto(url)
    page.get_by_role("button", name="Sign in").click()
    sign_in_at_provider(page)
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()

    apps["a"].kill_worker()  # mid-session, with the tab open: app a goes down with it
    balancer.route_to("b", drop_open=True)
    mark = len(balancer.log)
    # The open tab reconnects by itself, to app b, whose handlers find its state and session.
    # In time, not at once: a worker killed mid-event holds the tab's state lock in Redis until
    # it expires (Reflex's 10 s), and a reconnect caught by the dying app waits out socket.io's
    # 20 s connect timeout.
    page.get_by_role("link", name="Your profile").click()
    check_with_provider(page, timeout=45_000)
    assert opened_websocket(balancer.requests_to("b", mark))

    apps["a"].restart()
    balancer.route_to("a", drop_open=True)
    mark = len(balancer.log)
    page.reload()
    check_with_provider(page)
    assert opened_websocket(balancer.requests_to("a", mark)) and not balancer.requests_to("b", mark)
    screenshot(page, "after-restart")
    page.get_by_role("link", name="← Home").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are not signed in.")).to_be_visible()


def sign_in_on(cluster, context, name: str):
    """A tab signed in through app `name`, showing the user."""
    cluster["balancer"].route_to(name, drop_open=True)
    page = context.new_page()
    page.goto(cluster["url"])
    page.get_by_role("button", name="Sign in").click()
    sign_in_at_provider(page)
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    return page


def session_cookie(context) -> str | None:
    return next((c["value"] for c in context.cookies() if c["name"] == "logto_session"), None)


@pytest.mark.parametrize("cluster", ["postgres"], indirect=True)
def test_a_postgresql_restart_loses_no_session(cluster, context, postgres_server, screenshot):
    page = sign_in_on(cluster, context, "a")
    postgres_server.restart()
    cluster["balancer"].route_to("b", drop_open=True)
    page.reload()
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    page.get_by_role("link", name="Your profile").click()
    check_with_provider(page)  # a handler re-resolving the session, on app b
    cluster["balancer"].route_to("a", drop_open=True)
    page.reload()
    check_with_provider(page)
    screenshot(page, "after-postgresql-restart")


@pytest.mark.parametrize("cluster", ["postgres"], indirect=True)
def test_postgresql_down_is_unavailable_for_a_moment_not_signed_out(cluster, context, postgres_server, screenshot):
    page = sign_in_on(cluster, context, "a")
    cookie = session_cookie(context)
    postgres_server.stop()
    try:
        page.reload()
        expect(page.get_by_text("Signing in is unavailable for a moment")).to_be_visible()
        expect(page.get_by_role("heading", name="Demo User")).to_have_count(0)  # nothing shown without the store
        expect(page.get_by_text("You are not signed in.")).to_have_count(0)  # nor signed out
        expect(page.get_by_text("Loading…")).to_have_count(0)  # nor a wait for what won't come
        screenshot(page, "postgresql-down")
        assert session_cookie(context) == cookie  # not signed out: the browser keeps its session
        # No handler failed on it (Reflex would show its "contact the administrator" toast).
        assert "Reflex Backend Exception" not in cluster["apps"]["a"].log_path.read_text()
    finally:
        postgres_server.start()
    for name in ("a", "b"):
        cluster["balancer"].route_to(name, drop_open=True)
        page.reload()
        expect(page.get_by_role("heading", name="Demo User")).to_be_visible()  # the same session, on both
    assert session_cookie(context) == cookie
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are not signed in.")).to_be_visible()
