"""Protected pages in the browser: sign in first and come back; roles refused on the server."""

import secrets

import pytest
from playwright.sync_api import expect

from tests.browser.test_sign_in import sign_in_at_provider

pytestmark = pytest.mark.browser


def test_a_protected_page_signs_in_first_and_comes_back(app_url, context, screenshot):
    page = context.new_page()
    page.goto(f"{app_url}/profile?tab=sessions")
    sign_in_at_provider(page)
    expect(page.get_by_role("heading", name="What the sign-in service says")).to_be_visible()
    assert page.url in (f"{app_url}/profile?tab=sessions", f"{app_url}/profile/?tab=sessions")  # prod adds the slash
    # User info, as the provider has it, with Logto's custom_data and identities.
    expect(page.get_by_role("status").filter(has_text="Confirmed by the sign-in service")).to_be_visible()
    userinfo = page.get_by_role("table").filter(has_text="custom_data")
    expect(userinfo).to_contain_text('"plan": "pro"')
    expect(userinfo).to_contain_text("identities")
    screenshot(page, "profile")


def test_the_admin_page_and_its_handler_refuse_a_user_without_the_role(app_url, dev_provider, context, screenshot):
    username, password = f"viewer-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    dev_provider.put_user(username, password, name="Vera Viewer", roles=["viewer"])
    page = context.new_page()
    page.goto(f"{app_url}/admin")
    sign_in_at_provider(page, username, password)
    expect(page.get_by_role("alert").filter(has_text="You don't have access to this page.")).to_be_visible()
    expect(page.get_by_text("Live sessions right now")).to_have_count(0)
    screenshot(page, "refused")


def test_the_admin_page_shows_its_data_to_an_admin(app_url, context, screenshot):
    page = context.new_page()
    page.goto(f"{app_url}/admin")
    sign_in_at_provider(page)  # the demo user has the admin role
    expect(page.get_by_text("Live sessions right now")).to_be_visible()
    screenshot(page, "admin")


def test_create_account_opens_the_sign_up_screen_and_signs_in(app_url, context, screenshot):
    page = context.new_page()
    page.goto(app_url)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Create account")).to_be_visible()
    screenshot(page, "sign-up-screen")
    page.get_by_label("Username").fill(f"newbie-{secrets.token_hex(3)}")
    page.get_by_label("Name", exact=True).fill("Nora Newbie")
    page.get_by_label("Password").fill(secrets.token_urlsafe(12))
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Nora Newbie")).to_be_visible()
    page.get_by_role("link", name="Your profile").click()
    expect(page.get_by_text("1 sign-in recorded")).to_be_visible()  # the app's on_sign_in hook ran
    screenshot(page, "new-account-profile")


def test_the_api_demo_returns_data_with_the_scope_and_refuses_without(app_url, dev_provider, chromium, context, screenshot):
    page = context.new_page()
    page.goto(f"{app_url}/profile")
    sign_in_at_provider(page)  # the demo user holds read:demo
    page.get_by_role("button", name="Call the API").click()
    expect(page.get_by_role("status").filter(has_text="Hello, dm8x2q4kz1pa")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="read:demo")).to_be_visible()
    screenshot(page, "api-allowed")

    username, password = f"noscope-{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    dev_provider.put_user(username, password, name="Nico Noscope")  # no API permission
    other = chromium.new_context()
    try:
        refused = other.new_page()
        refused.goto(f"{app_url}/profile")
        sign_in_at_provider(refused, username, password)
        refused.get_by_role("button", name="Call the API").click()
        expect(refused.get_by_role("status").filter(has_text="doesn't have the read:demo permission")).to_be_visible()
        screenshot(refused, "api-refused")
    finally:
        other.close()


def test_switching_organization_changes_the_organization_token(app_url, context, screenshot):
    page = context.new_page()
    page.goto(f"{app_url}/profile")
    sign_in_at_provider(page)  # the demo user: admin of org-acme, member of org-globex
    token = page.get_by_role("table").filter(has_text="urn:logto:organization:")  # the token's claims
    page.get_by_role("button", name="org-acme").click()
    expect(token).to_contain_text("urn:logto:organization:org-acme")
    expect(token).to_contain_text("invite:member")
    screenshot(page, "acme")
    page.get_by_role("button", name="org-globex").click()
    expect(token).to_contain_text("urn:logto:organization:org-globex")
    expect(token).not_to_contain_text("invite:member")  # a member there, not an admin
    screenshot(page, "globex")
