"""Pages arrive rendered with the user they show, and the browser hydrates them as rendered:
a signed-in reload, and the way back from the provider, show the claims with no script run."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.test_sign_in import hold_websockets, sign_in_at_provider, watch_websockets

pytestmark = pytest.mark.browser

BLOCK = re.compile(r'<script type="application/json" id="__reflex_logto_first_state">.*?</script>', re.S)
# React's production build names a hydration mismatch by its error number (418: the HTML the
# server rendered didn't match the client's first render; 423, 425: the same, for a root or text).
HYDRATION_ERROR = re.compile(r"Minified React error #(418|423|425)|[Hh]ydrat")


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def html_of(response) -> str:
    """A document's HTML as it arrived, its state block left out."""
    return BLOCK.sub("", response.text())


def is_home_page(app_url: str):
    return lambda response: response.url == f"{app_url}/" and response.request.resource_type == "document"


def signed_in_page(app_url, context):
    page = context.new_page()
    page.goto(app_url)
    page.get_by_role("button", name="Sign in").click()
    sign_in_at_provider(page)
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    return page


def test_a_signed_in_reload_arrives_with_the_claims_in_its_html(app_url, context, screenshot):
    page = signed_in_page(app_url, context)
    errors = watch_errors(page)
    hold_websockets(page)  # nothing from the app but the page itself
    with page.expect_response(is_home_page(app_url)) as arrived:
        page.reload()

    html = html_of(arrived.value)
    assert arrived.value.status == 200 and "Demo User" in html and "email_verified" in html and "You are not signed in." not in html
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    expect(page.get_by_role("table").get_by_role("row").filter(has_text="email_verified")).to_contain_text("true")
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # hydration done: React reports a mismatch as it hydrates
    assert not [error for error in errors if HYDRATION_ERROR.search(error)], errors
    screenshot(page, "rendered-reload")


def test_a_picture_that_does_not_load_leaves_the_first_letter_of_the_name(app_url, context, screenshot):
    page = signed_in_page(app_url, context)
    page.route("**/avatar/**", lambda route: route.abort())
    page.reload()
    avatar = page.get_by_label("Signed-in user").locator("span[aria-hidden=true]").first
    expect(avatar).to_have_text("D")  # in view: the picture's layer is a background, and it has none
    screenshot(page, "avatar-without-its-picture")


def test_a_page_that_does_not_match_its_state_is_caught(app_url, context):
    """The check above can fail: a page whose HTML differs from what its state renders makes
    React report the mismatch (and draw the page again from the state)."""
    page = signed_in_page(app_url, context)
    errors = watch_errors(page)

    def altered(route):
        response = route.fetch(headers={**route.request.headers, "sec-fetch-dest": "document"})
        assert ">Demo User<" in response.text()  # rendered, signed in
        route.fulfill(response=response, body=response.text().replace(">Demo User<", ">Someone Else<"))

    page.route(app_url + "/", altered)
    hold_websockets(page)
    page.reload()
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()  # from the carried state
    page.wait_for_timeout(300)
    assert [error for error in errors if HYDRATION_ERROR.search(error)], errors


def test_back_from_the_provider_the_callback_sends_the_browser_to_the_rendered_page(app_url, context, screenshot):
    page = context.new_page()
    page.goto(app_url)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Username")).to_be_visible()
    errors = watch_errors(page)
    hold_websockets(page)
    with page.expect_response(is_home_page(app_url)) as arrived:
        sign_in_at_provider(page)

    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    assert page.url == f"{app_url}/"
    callback = arrived.value.request.redirected_from
    assert callback is not None and callback.url.startswith(f"{app_url}/callback?")
    assert callback.response().status == 303  # finished on the server; no page of its own
    html = html_of(arrived.value)
    assert arrived.value.status == 200 and "Demo User" in html and "email_verified" in html
    page.wait_for_timeout(300)
    assert not [error for error in errors if HYDRATION_ERROR.search(error)], errors
    screenshot(page, "rendered-way-back")


def test_a_rendered_page_s_buttons_take_clicks_once_react_has_hydrated_it(app_url, context):
    """Shown before the scripts run, a button would take a click that does nothing; Sign out's
    form does its work without them."""
    signed_in_page(app_url, context)
    page = without_scripts(context)
    page.goto(f"{app_url}/profile", wait_until="domcontentloaded")
    call_the_api = page.get_by_role("button", name="Call the API")
    expect(call_the_api).to_be_visible()
    assert call_the_api.evaluate("(button) => getComputedStyle(button).pointerEvents") == "none"
    page.goto(app_url, wait_until="domcontentloaded")
    sign_out = page.get_by_role("button", name="Sign out")
    assert sign_out.evaluate("(button) => getComputedStyle(button).pointerEvents") == "auto"

    page.unroute(SCRIPTS)
    page.goto(f"{app_url}/profile")
    expect(page.locator("#__reflex_logto_until_hydrated")).to_have_count(0)  # removed once hydrated
    assert call_the_api.evaluate("(button) => getComputedStyle(button).pointerEvents") == "auto"
    call_the_api.click()
    answer = call_the_api.locator("xpath=following-sibling::*[@role='status']")  # not the provider check's status
    expect(answer).to_have_text(re.compile(r"\w"))  # its handler answered
    page.context.close()


SCRIPTS = re.compile(r"/assets/.*\.js$")


def without_scripts(context, scripts: re.Pattern[str] = SCRIPTS):
    """A page with the browser's cookies, whose `scripts` never load: in a profile without the
    asset cache's worker, which would serve them from Cache Storage, past any route."""
    other = context.browser.new_context()
    other.add_cookies(context.cookies())
    page = other.new_page()
    page.route(scripts, lambda route: route.abort())
    return page


def signed_out_by_the_form(page, app_url) -> list[str]:
    """Every request the page makes to the sign-out route (the Sign out form's): its method and
    the Origin it says it comes from."""
    seen: list[str] = []
    page.on(
        "request",
        lambda request: seen.append(f"{request.method} {request.headers.get('origin')}")
        if request.url == f"{app_url}/auth/sign-out" else None,
    )
    return seen


def test_before_react_has_hydrated_the_page_sign_out_goes_by_its_form(app_url, context):
    signed_in_page(app_url, context)
    page = without_scripts(context, re.compile(r"/assets/entry\.client-.*\.js$"))  # React never hydrates
    sent = signed_out_by_the_form(page, app_url)
    page.goto(app_url)
    page.wait_for_function("typeof window.__reflexLogtoEarlyClick === 'function'")  # the app's modules ran
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are not signed in.")).to_be_visible()
    assert sent == [f"POST {app_url}"]
    assert not any(cookie["name"].endswith("logto_session") for cookie in page.context.cookies())
    page.context.close()


@pytest.mark.parametrize("referrer_policy", ["the app's", "no-referrer"])
def test_before_its_websocket_is_up_a_hydrated_page_signs_out_by_its_form(app_url, context, referrer_policy):
    signed_in_page(app_url, context)
    page = context.new_page()
    sent = signed_out_by_the_form(page, app_url)
    hold_websockets(page)  # the handler can't be called
    page.goto(app_url)
    expect(page.locator("#__reflex_logto_until_hydrated")).to_have_count(0)  # hydrated
    if referrer_policy == "no-referrer":
        # As the callback page's (which the tab keeps as it moves on in place): the form's POST
        # then says `Origin: null`, and only its Fetch Metadata says it is the app's.
        page.evaluate("document.head.append(Object.assign(document.createElement('meta'), {name: 'referrer', content: 'no-referrer'}))")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are not signed in.")).to_be_visible()
    assert sent == [f"POST {'null' if referrer_policy == 'no-referrer' else app_url}"]
    other = context.new_page()  # a tab of the same browser: the session is gone
    other.goto(app_url)
    expect(other.get_by_text("You are not signed in.")).to_be_visible()


def started_from_the_form(page, app_url) -> list[str]:
    """Every request the page makes to the sign-in start route (the Sign in form's)."""
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url) if request.url.startswith(f"{app_url}/auth/sign-in?") else None)
    return seen


def test_with_no_script_run_sign_in_and_sign_out_still_work(app_url, context, screenshot):
    """A rendered page shows Sign in before its scripts run; its form sends the sign-in the
    handler would start, and the way back needs no script either; nor does Sign out."""
    browser = context.browser.new_context(java_script_enabled=False)  # nor the asset cache's worker
    page = browser.new_page()
    started = started_from_the_form(page, app_url)
    pictures: list[int] = []
    page.on("response", lambda response: pictures.append(response.status) if "/avatar/" in response.url else None)
    page.goto(f"{app_url}/?from=no-script")
    sign_in = page.get_by_role("button", name="Sign in")
    expect(page.locator("#__reflex_logto_until_hydrated")).to_have_count(1)  # not hydrated, nor will it be
    assert sign_in.evaluate("(button) => getComputedStyle(button).pointerEvents") == "auto"
    sign_in.click()
    sign_in_at_provider(page)

    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    assert page.url == f"{app_url}/?from=no-script"  # back on the page it started on
    assert len(started) == 1 and "return_to=%2F%3Ffrom%3Dno-script" in started[0]
    avatar = page.get_by_label("Signed-in user").locator("span[aria-hidden=true] > span")  # the picture's layer
    assert re.search(r'/avatar/demo\.svg"?\)$', avatar.evaluate("(span) => getComputedStyle(span).backgroundImage"))
    page.wait_for_load_state("load")
    assert 200 in pictures  # fetched, with no script run
    screenshot(page, "signed-in-without-scripts")

    signed_out = signed_out_by_the_form(page, app_url)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Signing out…")).to_be_visible()  # at the provider
    page.get_by_role("button", name="Sign out").click()  # its own, shown where no script runs
    expect(page.get_by_text("You are not signed in.")).to_be_visible()
    assert signed_out == [f"POST {app_url}"] and page.url == f"{app_url}/"
    assert not any(cookie["name"].endswith("logto_session") for cookie in browser.cookies())
    browser.close()


def test_before_its_websocket_is_up_a_hydrated_page_signs_in_by_its_form(app_url, context):
    page = context.new_page()
    started = started_from_the_form(page, app_url)
    hold_websockets(page)  # the handler can't be called
    page.goto(app_url)
    expect(page.locator("#__reflex_logto_until_hydrated")).to_have_count(0)  # hydrated
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_label("Username")).to_be_visible()
    assert len(started) == 1 and "option=sign_up" in started[0]


def test_once_the_tab_is_live_sign_in_goes_to_the_handler(app_url, context):
    page = context.new_page()
    started = started_from_the_form(page, app_url)
    frames = watch_websockets(page)
    page.goto(app_url)
    for _ in range(200):  # the websocket's answer that the page's on_load has run
        if any('"is_hydrated_rx_state_":true' in frame for frame in frames):
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError(f"the tab never went live: {frames}")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Username")).to_be_visible()
    assert started == [] and any("auth_state.sign_in" in frame for frame in frames)
