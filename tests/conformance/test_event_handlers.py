"""Every public event handler: declared, and harmless with forged or fuzzed input."""

from __future__ import annotations

import pytest
import reflex as rx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import app.app  # noqa: F401  (registers every page and state of the app)
import reflex_logto
from app.organization_state import OrganizationState
from reflex_logto.reflex.access import SESSION, access_rules
from reflex_logto.reflex.account_state import AccountState
from reflex_logto.reflex.state import AuthState
from tests.support.reflex_state import auth_state, navigation, run


def all_states(cls=rx.State):
    yield cls
    for sub in cls.get_substates():
        yield from all_states(sub)


HANDLER_ACCESS = access_rules()


def test_every_event_handler_has_a_declared_access_rule():
    handlers = {f"{cls.__name__}.{name}" for cls in all_states() for name in cls.event_handlers}
    assert handlers == set(HANDLER_ACCESS)
    reflex_logto.check_access_rules()  # what any app calls in its own tests


def test_the_demos_privileged_handlers_are_declared_so():
    assert {name for name, rule in HANDLER_ACCESS.items() if rule == SESSION} >= {
        "AccountState.end_session", "AdminState.load_overview", "ApiDemoState.call_api",
        "OrganizationState.switch_organization", "ProfileState.load_profile",
    }
    assert HANDLER_ACCESS["AuthState.sign_in"] == "anyone" and HANDLER_ACCESS["State.hydrate"] == "framework"


def test_a_handler_without_a_rule_is_named_and_refused():
    from reflex_base.registry import RegistrationContext

    token = RegistrationContext.set(RegistrationContext.get().fork())  # the app's own states stay as they are
    try:

        async def leak(self):
            pass

        leak.__qualname__ = "UndeclaredState.leak"
        type("UndeclaredState", (reflex_logto.AuthState,), {"__module__": __name__, "leak": rx.event(leak)})
        with pytest.raises(reflex_logto.ConfigurationError, match="UndeclaredState.leak"):
            reflex_logto.check_access_rules()
    finally:
        RegistrationContext.reset(token)
    reflex_logto.check_access_rules()


def test_no_state_of_the_app_offers_a_setter_to_setvar():
    for cls in (AuthState, AccountState):
        assert not [name for name in dir(cls) if name.startswith("set_") and name != "set_is_hydrated"]


def state_class(name: str):
    return next(cls for cls in all_states() if cls.__name__ == name)


@pytest.mark.parametrize("handler_name", [n for n, rule in HANDLER_ACCESS.items() if rule == SESSION])
@pytest.mark.parametrize("cookie", ["", "__Host-logto_session=" + "A" * 43, "__Host-logto_session=forged"])
async def test_privileged_handlers_refuse_without_a_session(rp, op, handler_name, cookie):
    await rp.sign_in()  # someone else's live session exists
    sessions_before = rp.count("sessions")
    class_name, name = handler_name.split(".")
    page = auth_state("/", cookie=cookie, state_class=state_class(class_name))
    page.signed_in = True  # a tab that believes (or claims) it is signed in
    before = {k: v for k, v in page.dict()[page.get_full_name()].items() if k not in ("signed_in", "loaded")}
    requests = len(op.requests)
    handler = getattr(page, name)
    await run(lambda: handler("some-handle") if name == "end_session" else handler())
    assert not page.signed_in
    after = {k: v for k, v in page.dict()[page.get_full_name()].items() if k in before}
    assert {k: v for k, v in after.items() if v != before[k]} in ({}, {"notice": "signed_out"}, {"notice": ""})
    assert rp.count("sessions") == sessions_before
    assert rp.exchange_requests(requests) == []


hostile = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=200) | st.binary(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
) | st.just("x" * 1_000_000) | st.just("\u0000\ud7ff\U0010ffff")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=hostile)
async def test_handlers_with_arguments_take_anything_without_harm(rp, op, value):
    if not rp.browser.cookies:
        await rp.sign_in()
    cookie = rp.cookie_header()
    account = auth_state("/", cookie=cookie, state_class=AccountState)
    await run(account.load_session)
    await run(account.load_sessions)
    sessions = rp.count("sessions")
    await run(lambda: account.end_session(value))
    await run(lambda: account.heartbeat(value))
    assert account.signed_in and rp.count("sessions") == sessions  # nothing ended by a forged handle
    with pytest.raises((AttributeError, TypeError, ValueError)):
        AuthState.setvar.fn(account, value, True) if isinstance(value, str) else AuthState.setvar.fn(account, "signed_in", value)
    assert account.signed_in is True  # unchanged: no setter to reach

    # Handlers that name something: an organization, a sign-in option.
    organizations = auth_state("/profile", cookie=cookie, state_class=OrganizationState)
    await run(organizations.load_session)
    requests = len(op.requests)
    await run(lambda: organizations.switch_organization(value))
    assert organizations.active_organization == "" and organizations.organization_claims == []
    assert rp.exchange_requests(requests) == []  # the user is in no organization: nothing asked
    signing_in = auth_state("/")
    start = navigation(await run(lambda: signing_in.sign_in_with(value)))
    assert start.startswith("https://app.example/auth/sign-in/")  # anything unknown: the default sign-in
    assert signing_in.error_code == ""
