"""The Sign in button's form route (`GET /auth/sign-in`): a page sends it before its tab can
call the handler, and it starts the sign-in the handler would, for this app's pages only."""

import urllib.parse

import httpx
import pytest

from reflex_logto.errors import InvalidTransaction
from reflex_logto.reflex import rate_limits, runtime
from reflex_logto.reflex.rate_limits import MAX_TRACKED, SIGN_IN_STARTS_PER_MINUTE, WINDOW, SlidingWindowLimiter
from reflex_logto.reflex.routes import auth_routes
from tests.support.fake_provider import APP_URL, FakeProvider, app_config

BINDING = "b" * 43
OWN_PAGE = {"sec-fetch-site": "same-origin", "sec-fetch-mode": "navigate"}


@pytest.fixture
def op():
    return FakeProvider()


@pytest.fixture(autouse=True)
def fresh_counts(monkeypatch):
    monkeypatch.setattr(rate_limits, "sign_in_starts", SlidingWindowLimiter(SIGN_IN_STARTS_PER_MINUTE, WINDOW, MAX_TRACKED))


@pytest.fixture
async def app(op, tmp_path):
    runtime.configure(app_config(op, session_db=str(tmp_path / "s.sqlite3")), backend_url=APP_URL, transport=op.transport())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=auth_routes()), base_url=APP_URL) as client:
        yield client
    await runtime.shutdown()


def stored_transactions() -> int:
    return runtime.get_flow().storage.execute("SELECT count(*) FROM transactions").fetchone()[0]


def send(app, form, headers=OWN_PAGE, binding: str | None = BINDING):
    """The form as a browser holding this sign-in cookie (or none) sends it."""
    app.cookies.clear()
    if binding:
        app.cookies.set(runtime.get_flow().cookies.binding_name, binding)
    return app.get("/auth/sign-in", params=form, headers=headers)


async def transaction_for(location: str, binding: str):
    """The transaction the provider URL names, taken as the callback would (bound to `binding`)."""
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))["state"]
    return await runtime.get_flow().transactions.take(state, binding)


async def test_a_page_s_form_goes_straight_to_the_provider_bound_to_the_browser(op, app):
    response = await send(app, {"return_to": "/profile?tab=sessions", "option": "default"})

    assert response.status_code == 303 and response.headers["cache-control"] == "no-store"
    location = response.headers["location"]
    assert location.startswith(f"{op.issuer}/auth?")
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert params["code_challenge_method"] == "S256" and "first_screen" not in params
    assert (await transaction_for(location, BINDING)).return_path == "/profile?tab=sessions"


async def test_another_browser_can_t_finish_what_the_form_started(app):
    response = await send(app, {"return_to": "/"})
    with pytest.raises(InvalidTransaction, match="in this browser"):
        await transaction_for(response.headers["location"], "c" * 43)
    assert (await transaction_for(response.headers["location"], BINDING)).return_path == "/"  # still its own


async def test_a_browser_without_the_sign_in_cookie_is_given_one(app):
    response = await send(app, {"return_to": "/"}, binding=None)
    assert response.status_code == 303
    given = runtime.get_flow().cookies.binding(response.headers["set-cookie"])
    assert given and given != BINDING and "HttpOnly" in response.headers["set-cookie"]
    assert (await transaction_for(response.headers["location"], given)).return_path == "/"


async def test_sign_up_asks_for_the_provider_s_sign_up_screen(app):
    response = await send(app, {"return_to": "/", "option": "sign_up"})
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(response.headers["location"]).query))
    assert params["first_screen"] == "register" and params["interaction_mode"] == "signUp"


@pytest.mark.parametrize(
    ("return_to", "comes_back_to"),
    [
        ("https://evil.example/steal", "/"),
        ("//evil.example/steal", "/"),
        ("/callback", "/"),  # Try again on the callback page comes back home
        ("/callback?code=x&state=y", "/"),
        ("", "/"),
        ("/admin", "/admin"),
    ],
)
async def test_only_a_page_of_this_app_is_returned_to(app, return_to, comes_back_to):
    response = await send(app, {"return_to": return_to})
    assert (await transaction_for(response.headers["location"], BINDING)).return_path == comes_back_to


@pytest.mark.parametrize(
    ("headers", "starts"),
    [
        ({"sec-fetch-site": "same-origin"}, True),
        ({"sec-fetch-site": "none"}, True),  # typed, or bookmarked
        ({}, True),  # a browser that sends no Fetch Metadata: nothing to tell by
        ({"sec-fetch-site": "cross-site"}, False),
        ({"sec-fetch-site": "same-site"}, False),  # another origin of the site, unnamed
        ({"sec-fetch-site": "same-site", "referer": "https://blog.app.example/post"}, False),
        ({"sec-fetch-site": "same-site", "referer": f"{APP_URL}/"}, True),  # the app's own (dev mode's frontend)
    ],
)
async def test_a_navigation_from_another_site_lands_on_the_home_page_and_starts_nothing(app, headers, starts):
    response = await send(app, {"return_to": "/admin"}, headers=headers)
    assert response.status_code == 303
    if starts:
        assert stored_transactions() == 1 and response.headers["location"].startswith("https://op.example")
    else:
        assert stored_transactions() == 0 and response.headers["location"] == f"{APP_URL}/"


async def test_a_name_given_twice_is_refused(app):
    response = await send(app, [("return_to", "/"), ("return_to", "/admin")])
    assert response.status_code == 400 and stored_transactions() == 0


async def test_the_form_route_takes_gets_only_and_a_head_spends_nothing(app):
    assert (await app.post("/auth/sign-in", headers=OWN_PAGE)).status_code == 405
    head = await app.head("/auth/sign-in", params={"return_to": "/"}, headers=OWN_PAGE)
    assert head.status_code == 405 and stored_transactions() == 0


async def test_ten_starts_a_minute_from_one_browser_then_the_error_page(app):
    for _ in range(SIGN_IN_STARTS_PER_MINUTE):
        assert (await send(app, {"return_to": "/"})).status_code == 303
    stored = stored_transactions()
    refused = await send(app, {"return_to": "/"})
    assert refused.headers["location"] == f"{APP_URL}/callback?app_error=too_many_attempts"
    assert stored_transactions() == stored  # nothing stored for it
    other_browser = await send(app, {"return_to": "/"}, binding="c" * 43)  # counted apart
    assert "app_error" not in other_browser.headers["location"]


async def test_browsers_without_the_cookie_are_counted_by_their_address(app):
    for _ in range(SIGN_IN_STARTS_PER_MINUTE):
        assert "app_error" not in (await send(app, {"return_to": "/"}, binding=None)).headers["location"]
    refused = await send(app, {"return_to": "/"}, binding=None)
    assert refused.headers["location"] == f"{APP_URL}/callback?app_error=too_many_attempts"


async def test_a_broken_store_lands_on_the_error_page(app):
    runtime.get_flow().storage.connection.close()
    response = await send(app, {"return_to": "/"})
    assert response.status_code == 303
    assert response.headers["location"] == f"{APP_URL}/callback?app_error=default"


@pytest.mark.parametrize(
    ("backend_url", "action"),
    [
        (APP_URL, "/signin/sign-in"),  # one origin serves both (production): no host in the build
        ("http://localhost:8000", "http://localhost:8000/signin/sign-in"),  # dev mode's own backend
    ],
)
def test_a_sign_in_button_made_before_setup_sends_its_form_to_the_configured_route(op, tmp_path, backend_url, action):
    from reflex_logto.reflex.components import sign_in_button

    button = sign_in_button()  # as a page module may, as it loads
    config = app_config(op, session_db=str(tmp_path / "s.sqlite3"), routes_prefix="/signin")
    runtime.configure(config, backend_url=backend_url, transport=op.transport())
    rendered = str(button)
    assert f'action:"{action}"' in rendered and 'method:"get"' in rendered
    assert 'name:"return_to"' in rendered and "data-logto-form" in rendered


def test_a_sign_out_button_made_before_setup_posts_its_form_to_the_configured_route(op, tmp_path):
    from reflex_logto.reflex.components import sign_out_button

    button = sign_out_button()
    config = app_config(op, session_db=str(tmp_path / "s.sqlite3"), routes_prefix="/signin")
    runtime.configure(config, backend_url=APP_URL, transport=op.transport())
    rendered = str(button)
    assert 'action:"/signin/sign-out"' in rendered and 'method:"post"' in rendered
    assert '"data-logto-form":"sign-out"' in rendered and "auth_state.sign_out" in rendered
