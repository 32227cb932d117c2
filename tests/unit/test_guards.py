"""Protected pages and handlers: sign-in first, back to the page; roles checked on the server."""

import urllib.parse

import pytest
import reflex as rx

from app.admin_state import AdminState
from app.auth import AuthState, setup
from app.auth.guards import has_role
from tests.support.fake_provider import FakeProvider, app_config
from tests.support.reflex_state import auth_state, navigation, run
from tests.support.relying_party import RelyingParty


@pytest.fixture
def op():
    return FakeProvider()


@pytest.fixture
async def rp(op, tmp_path):
    party = RelyingParty(op, str(tmp_path / "sessions.sqlite3"))
    yield party
    await party.close()


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
    assert admin.forbidden is (not allowed)


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
        setup(app, app_config(op), protect_all_pages=True, public_routes=("/pricing",))
        for route in ("/", "/callback", "/pricing", "/reports", "/reports/[id]"):
            app.add_page(lambda: rx.text("x"), route=route, on_load=AuthState.load_session)
        guarded = {route for route, events in app._load_events.items() if "require_sign_in" in repr(events)}
        assert guarded == {"reports", "reports/[id]"}
    finally:
        RegistrationContext.reset(token)
