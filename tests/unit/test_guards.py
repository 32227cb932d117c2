"""Protected pages and handlers: sign-in first, back to the page; roles checked on the server."""

import urllib.parse

import pytest
import reflex as rx

from app.admin_state import AdminState
from reflex_logto import AuthState, setup
from reflex_logto.reflex.guards import has_role
from tests.support.fake_provider import app_config
from tests.support.reflex_state import auth_state, navigation, run


async def test_a_signed_out_visit_signs_in_and_lands_back_on_the_page(rp, op):
    page = auth_state("/orders/7?tab=items")
    start = navigation(await run(page.require_sign_in))
    assert start.startswith("https://app.example/auth/sign-in/")
    response = await rp.browser.get(start)
    op.nonce = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(response.headers["location"]).query))["nonce"]
    state = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(response.headers["location"]).query))["state"]
    callback, session_route = await rp.callback({"code": "c", "state": state, "iss": op.issuer})
    landed = (await rp.browser.get(session_route)).headers["location"]
    assert landed == "https://app.example/orders/7?tab=items"
    again = auth_state("/orders/7?tab=items", cookie=rp.cookie_header())
    assert navigation(await run(again.require_sign_in)) is None and again.signed_in


async def test_the_guard_never_loops_on_the_callback(rp):
    page = auth_state("/callback?code=x&state=y")
    assert navigation(await run(page.require_sign_in)) is None


@pytest.mark.parametrize(("roles", "allowed"), [(["admin"], True), (["viewer"], False), (None, False), ("admin", False)])
async def test_role_guarded_handler(rp, op, roles, allowed):
    op.claims = {**op.claims, "roles": roles}
    await rp.sign_in()
    admin = auth_state("/admin", cookie=rp.cookie_header(), state_class=AdminState)
    await run(admin.load_session)
    await run(admin.load_overview)
    assert (admin.active_sessions >= 1) is allowed


async def test_role_guarded_handler_refuses_a_forged_tab(rp, op):
    admin = auth_state("/admin", cookie="", state_class=AdminState)
    admin.signed_in, admin.roles = True, ["admin"]  # what the browser could claim
    await run(admin.load_overview)
    assert admin.active_sessions == -1 and not admin.signed_in


def test_has_role():
    assert has_role({"roles": ["admin", "x"]}, "admin")
    assert not has_role({"roles": "admin"}, "admin") and not has_role({}, "admin")


def test_secure_by_default_guards_every_page_but_the_public_ones(op):
    from reflex_base.registry import RegistrationContext

    token = RegistrationContext.set(RegistrationContext.get().fork())  # room for a second App in this process
    try:
        app = rx.App()
        setup(app, app_config(op), protect_all_pages=True, public_routes=("/pricing",), callback_page=None)
        for route in ("/", "/callback", "/pricing", "/reports", "/reports/[id]"):
            app.add_page(lambda: rx.text("x"), route=route, on_load=AuthState.load_session)
        guarded = {route for route, events in app._load_events.items() if "require_sign_in" in repr(events)}
        assert guarded == {"reports", "reports/[id]"}
    finally:
        RegistrationContext.reset(token)


async def test_requires_session_runs_every_kind_of_handler_and_refuses_without_a_session(rp, op):
    from reflex_logto.reflex.guards import requires_session

    ran = []

    @requires_session
    def plain(self):
        ran.append("plain")
        return rx.redirect("/x")

    @requires_session
    def generator(self):
        ran.append("generator")
        yield rx.redirect("/y")

    @requires_session
    async def coroutine(self):
        ran.append("coroutine")

    await rp.sign_in()
    for cookie, expected in ((rp.cookie_header(), ["plain", "generator", "coroutine"]), ("", [])):
        ran.clear()
        page = auth_state("/", cookie=cookie)
        events = [*await run(lambda page=page: plain(page)), *await run(lambda page=page: generator(page)), *await run(lambda page=page: coroutine(page))]
        assert ran == expected
        assert len(events) == (2 if expected else 0)


def test_requires_session_refuses_background_handlers():
    from reflex_logto.reflex.guards import requires_session

    async def work(self):
        pass

    work._background = True
    with pytest.raises(TypeError, match="background"):
        requires_session(work)


async def test_a_cookie_that_does_not_stick_shows_an_error_instead_of_looping(rp, op):
    page = auth_state("/reports")
    assert navigation(await run(page.require_sign_in))  # first visit: off to sign in
    # Back from a finished sign-in (its marker cookie stuck), but the session cookie did not:
    back = auth_state("/reports", cookie=f"{rp.flow.cookies.done_name}=1")
    assert navigation(await run(back.require_sign_in)) is None
    assert back.error_code == "session_not_kept" and "cookie" in back.error_message


async def test_back_to_a_protected_page_after_signing_out_offers_sign_in_not_a_cookie_error(rp, op):
    # Sign in, sign out, then Back to the protected page (twice, as from the provider's form).
    await rp.sign_in("/reports")
    page = auth_state("/reports", cookie=rp.cookie_header())
    await run(page.require_sign_in)
    assert page.signed_in
    signed_out = await rp.browser.get(navigation(await run(page.sign_out)))
    assert rp.flow.cookies.done_name in signed_out.headers.get("set-cookie", "")  # cleared with the session
    back = auth_state("/reports", cookie=rp.cookie_header())  # the same tab, back twice
    for _ in range(2):
        assert navigation(await run(back.require_sign_in))  # off to sign in
        assert back.error_code == ""


def test_protected_accepts_a_component_as_well_as_a_function():
    from reflex_logto.reflex.guards import protected

    page = protected(rx.text("hello"))
    assert page.__name__ == "protected_page"
    assert page() is not None


async def test_switching_to_an_organization_the_user_is_not_in_asks_nothing(rp, op):
    from app.organization_state import OrganizationState

    op.claims = {**op.claims, "organizations": ["org-a"]}
    await rp.sign_in()
    page = auth_state("/profile", cookie=rp.cookie_header(), state_class=OrganizationState)
    await run(page.load_session)
    await run(page.load_organizations)
    assert page.organizations == [{"id": "org-a", "roles": ""}]
    requests = len(op.requests)
    for forged in ("org-b", "", None, {"id": "org-a"}, "x" * 500):
        await run(lambda forged=forged: page.switch_organization(forged))
        assert page.active_organization == "" and page.organization_claims == []
    assert page.organization_error == "You are not a member of that organization."
    assert rp.exchange_requests(requests) == []


async def test_the_api_demo_says_what_to_configure_when_the_api_is_not_listed(rp, op):
    from app.api_state import ApiDemoState

    await rp.sign_in()  # LOGTO_RESOURCES is empty in this configuration
    page = auth_state("/profile", cookie=rp.cookie_header(), state_class=ApiDemoState)
    await run(page.load_session)
    await run(page.call_api)
    assert "LOGTO_RESOURCES" in page.api_result
