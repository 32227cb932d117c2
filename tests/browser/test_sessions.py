"""Sessions as a person meets them: restarts, other tabs, the provider ending them."""

import secrets
import time

import pytest
from playwright.sync_api import expect

from tests.browser.test_sign_in import sign_in_at_provider

pytestmark = pytest.mark.browser


def signed_in_page(context, app_url, user=("demo", "demo-password", "Demo User")):
    username, password, name = user
    page = context.new_page()
    page.goto(app_url)
    page.get_by_role("button", name="Sign in").click()
    sign_in_at_provider(page, username, password)
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    return page


def claims_of(page) -> dict[str, str]:
    table = page.get_by_role("table").filter(has_text="email_verified")
    rows = table.locator("tbody tr").all()
    return {row.locator("th").inner_text(): row.locator("td").first.inner_text() for row in rows}


def test_signed_in_survives_a_restart_of_the_app(app_server, context, screenshot):
    page = signed_in_page(context, app_server.url)
    before = claims_of(page)
    app_server.restart()
    page.reload()
    expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    assert claims_of(page) == before
    screenshot(page, "after-restart")


def test_sign_out_in_one_tab_shows_in_the_other_within_two_seconds(app_url, context, screenshot):
    tab_a = signed_in_page(context, app_url)
    tab_b = context.new_page()
    tab_b.goto(app_url)
    expect(tab_b.get_by_role("heading", name="Demo User")).to_be_visible()

    tab_a.get_by_role("button", name="Sign out", exact=True).click()
    expect(tab_a.get_by_text("You are not signed in.")).to_be_visible()
    started = time.monotonic()
    expect(tab_b.get_by_text("You are not signed in.")).to_be_visible(timeout=2_000)
    assert time.monotonic() - started < 2
    expect(tab_b.get_by_role("status").filter(has_text="You signed out.")).to_be_visible()
    screenshot(tab_b, "other-tab")


def test_ending_the_session_at_the_provider_signs_the_app_out(app_url, dev_provider, context, screenshot):
    page = signed_in_page(context, app_url)
    screenshot(page, "signed-in-with-sessions")
    expect(page.get_by_role("heading", name="Sessions")).to_be_visible()
    expect(page.get_by_text("This browser")).to_be_visible()
    # The user signs out at the provider itself (another tab, no app involved):
    # the provider tells the app over the back channel.
    provider_tab = context.new_page()
    provider_tab.goto(f"{dev_provider.issuer}/session/end")
    expect(provider_tab.get_by_role("heading", name="Signed out")).to_be_visible()
    expect(page.get_by_text("You are not signed in.")).to_be_visible(timeout=2_000)
    expect(page.get_by_text("You signed out at the sign-in service.")).to_be_visible()
    screenshot(page, "after-provider-logout")


def test_ending_another_session_from_the_list(app_url, dev_provider, chromium, context, screenshot):
    user = (f"grace-{secrets.token_hex(3)}", "pw-" + secrets.token_hex(8), "Grace Hopper")
    dev_provider.put_user(user[0], user[1], name=user[2], email="grace@example.com")
    mine = signed_in_page(context, app_url, user)
    other_context = chromium.new_context()
    try:
        other = signed_in_page(other_context, app_url, user)
        mine.reload()
        rows = mine.get_by_role("table").filter(has_text="Last used").locator("tbody tr")
        expect(rows).to_have_count(2)
        screenshot(mine, "two-sessions")
        rows.filter(has=mine.get_by_role("button", name="End")).get_by_role("button", name="End").click()
        expect(rows).to_have_count(1)
        expect(other.get_by_text("This session was ended from another device.")).to_be_visible(timeout=2_000)
    finally:
        other_context.close()


def test_provider_outage_keeps_the_session_and_recovers(app_url, app_settings, dev_provider, context, screenshot):
    env = app_settings["env"]
    register = lambda **ttl: dev_provider.put_client(  # noqa: E731
        env["LOGTO_APP_ID"], env["LOGTO_APP_SECRET"], base_url=env["LOGTO_BASE_URL"], client_name="Browser tests", **ttl
    )
    register(access_token_ttl=4)
    try:
        page = signed_in_page(context, app_url)
        dev_provider.set_failures({"/oidc/token": 503})
        # Once the access token has really expired, the page says so, and stays signed in.
        outage = page.get_by_role("alert").filter(has_text="Can't reach the sign-in service")
        expect(outage).to_be_visible(timeout=10_000)
        expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
        screenshot(page, "outage")
        dev_provider.set_failures({})
        page.get_by_role("button", name="Retry now").click()
        expect(outage).to_be_hidden(timeout=3_000)
        expect(page.get_by_role("heading", name="Demo User")).to_be_visible()
    finally:
        dev_provider.set_failures({})
        register()
