"""LogtoPlugin: the same wiring as setup(app), from rxconfig.py, through Reflex's own plugin hook."""

from __future__ import annotations

import pytest
import reflex as rx
from reflex_base.registry import RegistrationContext
from starlette.applications import Starlette

import reflex_logto
from reflex_logto.reflex import runtime
from tests.support.fake_provider import app_config


def auth_routes_of(app) -> list[str]:
    """The paths of the Starlette app among the app's transformers (the package's routes)."""
    starlette = next(t for t in app.api_transformer if isinstance(t, Starlette))
    return starlette.routes


@pytest.fixture
def fresh_app():
    token = RegistrationContext.set(RegistrationContext.get().fork())
    configured = dict(vars(runtime))
    try:
        yield rx.App()
    finally:
        RegistrationContext.reset(token)
        for name in ("_config", "_backend_url", "_transport", "_storage", "_extras", "_flow"):
            setattr(runtime, name, configured[name])


def test_the_plugin_adds_the_callback_routes_and_guards_the_apps_pages(fresh_app, op):
    fresh_app.add_page(lambda: rx.text("home"), route="/", on_load=reflex_logto.AuthState.load_session)
    fresh_app.add_page(lambda: rx.text("reports"), route="/reports")
    plugin = reflex_logto.LogtoPlugin(config=app_config(op), protect_all_pages=True)
    fresh_app._register_plugin_pages([plugin])
    assert set(fresh_app._unevaluated_pages) == {"index", "reports", "callback"}
    assert "finish_sign_in" in repr(fresh_app._load_events["callback"])
    assert "require_sign_in" in repr(fresh_app._load_events["reports"])
    assert "require_sign_in" not in repr(fresh_app._load_events["index"])
    assert "/auth/sign-in/{txn_id}" in [route.path for route in auth_routes_of(fresh_app)]
    assert runtime.get_config().issuer == op.issuer


def test_an_app_page_at_the_callback_route_replaces_the_plugins(fresh_app, op):
    def own_callback() -> rx.Component:
        return rx.text("mine")

    fresh_app.add_page(own_callback, route="/callback", on_load=reflex_logto.AuthState.finish_sign_in)
    fresh_app._register_plugin_pages([reflex_logto.LogtoPlugin(config=app_config(op))])
    assert fresh_app._unevaluated_pages["callback"].component is own_callback
